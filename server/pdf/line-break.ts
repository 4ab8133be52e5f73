/**
 * Line breaking for Japanese mixed with Latin text. Japanese has no spaces, so a line may break
 * between any two characters, except where 禁則処理 (JIS X 4051, simplified) forbids it: closing
 * brackets, 。、 and small kana never start a line, opening brackets never end one. Runs of
 * printable ASCII (numbers, codes, **********18, mail addresses) stay whole unless they alone are
 * wider than the line.
 */

/** Characters that must not start a line (行頭禁則). */
const NO_LINE_START = new Set(
  '、。，．・：；？！゛゜ヽヾゝゞ々〻ー―‐〜～…‥）］｝」』〕〉》】〙〗〟’”｠»'
  + 'ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ'
  + ')]},.:;?!%％',
);
/** Characters that must not end a line (行末禁則). */
const NO_LINE_END = new Set('（［｛「『〔〈《【〘〖〝‘“｟«([{');

/** Width of one character (a code point) in points. */
export type CharWidth = (ch: string) => number;

export function textWidth(text: string, width: CharWidth): number {
  let w = 0;
  for (const ch of text) w += width(ch);
  return w;
}

/** Pieces that may not be split: an ASCII run, a run of spaces, or one other character. */
function tokens(text: string): string[] {
  return text.match(/[\x21-\x7E]+| +|[^]/gu) ?? [];
}

/** Tokens glued by 禁則: a no-start token joins the one before, a no-end token the one after. */
function units(text: string): string[] {
  const out: string[] = [];
  let carry = '';
  for (const t of tokens(text)) {
    const first = String.fromCodePoint(t.codePointAt(0)!);
    const last = Array.from(t).at(-1)!;
    if (NO_LINE_START.has(first) && out.length > 0 && carry === '' && !out.at(-1)!.endsWith(' ')) {
      out[out.length - 1] += t;
    } else {
      out.push(carry + t);
      carry = '';
    }
    if (NO_LINE_END.has(last) && t.length === last.length) carry = out.pop()!;
  }
  if (carry) out.push(carry);
  return out;
}

/** Splits a unit wider than the line into lines character by character. */
function hardBreak(unit: string, maxWidth: number, width: CharWidth): string[] {
  const lines: string[] = [];
  let line = '';
  let w = 0;
  for (const ch of unit) {
    const cw = width(ch);
    if (line !== '' && w + cw > maxWidth) {
      lines.push(line);
      line = '';
      w = 0;
    }
    line += ch;
    w += cw;
  }
  if (line !== '') lines.push(line);
  return lines;
}

/**
 * Breaks `text` into lines no wider than `maxWidth` (a character wider than the line still gets
 * a line of its own). Newlines in the text start new lines; an empty text gives one empty line.
 */
export function wrapText(text: string, maxWidth: number, width: CharWidth): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split(/\r\n|\r|\n/)) {
    // Most table cells fit: measure once and skip the tokenising.
    if (textWidth(paragraph, width) <= maxWidth) { lines.push(paragraph); continue; }
    const first = lines.length;
    let line = '';
    let w = 0;
    for (const unit of units(paragraph)) {
      const uw = textWidth(unit, width);
      if (w + uw <= maxWidth) { line += unit; w += uw; continue; }
      if (line.trim() !== '') lines.push(line.trimEnd());
      const start = unit.trimStart();
      if (start === '') { line = ''; w = 0; continue; }
      const sw = textWidth(start, width);
      if (sw <= maxWidth) { line = start; w = sw; continue; }
      const pieces = hardBreak(start, maxWidth, width);
      line = pieces.pop()!;
      w = textWidth(line, width);
      lines.push(...pieces);
    }
    if (line.trim() !== '' || lines.length === first) lines.push(line.trimEnd());
  }
  return lines;
}

/** `text` cut to `maxWidth`, ending in … when something was cut. */
export function truncateText(text: string, maxWidth: number, width: CharWidth, ellipsis = '…'): string {
  if (textWidth(text, width) <= maxWidth) return text;
  const room = maxWidth - textWidth(ellipsis, width);
  let out = '';
  let w = 0;
  for (const ch of text) {
    const cw = width(ch);
    if (w + cw > room) break;
    out += ch;
    w += cw;
  }
  return out + ellipsis;
}
