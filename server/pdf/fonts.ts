import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { randomInt } from 'node:crypto';
import * as fontkit from 'fontkit';
import type { PDFDocument, PDFFont } from 'pdf-lib';

/**
 * Noto Sans JP for PDFs. pdf-lib does the embedding; this file covers what it gets wrong for
 * Japanese (see /work/shared/pitfalls.md, "PDF with Japanese text"):
 * - it speaks the fontkit 1 subset API (encodeStream), and the fork it documents corrupts CJK
 *   subsets, so upstream fontkit 2 is handed over through a small adapter;
 * - it names a subset font without the ABCDEF+ tag viewers and PDF/A expect;
 * - it draws a character the font lacks as an empty glyph without a word;
 * - it shapes every string with fontkit's layout engine (~40 µs a call), which dominates a
 *   10,000-row table. Japanese needs no shaping, so glyphs are looked up one character at a time
 *   and cached; widths then match the /W entries viewers use to place the glyphs.
 */

export type FontWeight = 'regular' | 'bold';

/** Drawn instead of a character the font lacks (げた記号, the typesetters' "missing" mark). */
export const MISSING_MARK = '〓';

const require = createRequire(import.meta.url);
const FONT_FILES: Record<FontWeight, string> = {
  regular: require.resolve('@expo-google-fonts/noto-sans-jp/400Regular/NotoSansJP_400Regular.ttf'),
  bold: require.resolve('@expo-google-fonts/noto-sans-jp/700Bold/NotoSansJP_700Bold.ttf'),
};

// 5.4 MB per weight: read once per process, then shared by every document.
const fontBytes = new Map<FontWeight, Promise<Uint8Array>>();
const characterSets = new Map<FontWeight, ReadonlySet<number>>();

function loadFontBytes(weight: FontWeight): Promise<Uint8Array> {
  let bytes = fontBytes.get(weight);
  if (!bytes) {
    bytes = readFile(FONT_FILES[weight]).then((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    bytes.catch(() => fontBytes.delete(weight));
    fontBytes.set(weight, bytes);
  }
  return bytes;
}

/** The code points the font has glyphs for (computed once: walking the cmap takes ~35 ms). */
export async function fontCharacterSet(weight: FontWeight): Promise<ReadonlySet<number>> {
  let set = characterSets.get(weight);
  if (!set) {
    set = new Set(fontkit.create(await loadFontBytes(weight)).characterSet);
    characterSets.set(weight, set);
  }
  return set;
}

// Invisible code points that only modify their neighbour: dropped rather than marked missing,
// so 葛󠄀 (with an ideographic variation selector) prints as 葛.
const INVISIBLE = /[\u200B-\u200D\u2060\uFEFF\uFE00-\uFE0F\u{E0100}-\u{E01EF}]/gu;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/g;

/**
 * Makes `text` drawable in a font with `charset`: control characters become spaces, variation
 * selectors and zero-width characters go, and any other character the font lacks becomes 〓
 * (or ? should the font lack 〓 too), reported through `onMissing`.
 */
export function replaceMissingCharacters(text: string, charset: ReadonlySet<number>, onMissing?: (char: string) => void): string {
  const cleaned = text.replace(CONTROL, ' ').replace(INVISIBLE, '');
  let out = '';
  let changed = false;
  for (const ch of cleaned) {
    if (charset.has(ch.codePointAt(0)!)) { out += ch; continue; }
    changed = true;
    onMissing?.(ch);
    out += charset.has(MISSING_MARK.codePointAt(0)!) ? MISSING_MARK : '?';
  }
  return changed ? out : cleaned;
}

/** fontkit 2 behind the fontkit 1 interface pdf-lib expects. */
const fontkitForPdfLib = {
  create(bytes: Uint8Array): fontkit.Font {
    const font = fontkit.create(bytes);
    const createSubset = font.createSubset.bind(font);
    // Own properties on this one font and its subsets: nothing shared is patched.
    font.createSubset = () => {
      const subset = createSubset() as fontkit.Subset & { encodeStream?: () => EventEmitter };
      // pdf-lib listens for 'data' and 'end' right after the call, so emit on the next tick.
      subset.encodeStream = () => {
        const out = new EventEmitter();
        process.nextTick(() => {
          try {
            out.emit('data', subset.encode());
            out.emit('end');
          } catch (err) {
            out.emit('error', err);
          }
        });
        return out;
      };
      return subset;
    };
    return font;
  },
};

/** ABCDEF+: six capital letters marking a subset font, unique per embedding (ISO 32000 9.6.4). */
function subsetTag(): string {
  let tag = '';
  for (let i = 0; i < 6; i++) tag += String.fromCharCode(65 + randomInt(26));
  return tag;
}

interface CachedGlyph { hex: string; width: number }

/** One weight of Noto Sans JP embedded in one document, with per-character glyph and width caches. */
export class EmbeddedFont {
  private readonly glyphs = new Map<number, CachedGlyph>();

  constructor(
    readonly pdfFont: PDFFont,
    readonly characterSet: ReadonlySet<number>,
    private readonly onMissing?: (char: string) => void,
  ) {}

  /** `text` made drawable: see replaceMissingCharacters. */
  fit(text: string): string {
    return replaceMissingCharacters(text, this.characterSet, this.onMissing);
  }

  /** Width in points of fitted text at `size`. */
  widthOf(text: string, size: number): number {
    let width = 0;
    for (const ch of text) width += this.glyph(ch).width;
    return width * size;
  }

  /** Width in points of one character (a code point) at `size`. */
  charWidth(ch: string, size: number): number {
    return this.glyph(ch).width * size;
  }

  /** Fitted text as the hex glyph ids a Tj operator shows (Identity-H encoding). */
  encode(text: string): string {
    let hex = '';
    for (const ch of text) hex += this.glyph(ch).hex;
    return hex;
  }

  private glyph(ch: string): CachedGlyph {
    const cp = ch.codePointAt(0)!;
    let g = this.glyphs.get(cp);
    if (!g) {
      // The first use of a character goes through pdf-lib, which adds it to the subset (and its
      // ToUnicode map) and marks the font for embedding.
      if (!this.characterSet.has(cp)) throw new Error(`U+${cp.toString(16).toUpperCase()} is not in the font: fit() the text first`);
      g = { hex: this.pdfFont.encodeText(ch).asString(), width: this.pdfFont.widthOfTextAtSize(ch, 1) };
      this.glyphs.set(cp, g);
    }
    return g;
  }
}

export interface JapaneseFonts {
  regular: EmbeddedFont;
  bold: EmbeddedFont;
}

/**
 * Embeds Noto Sans JP regular and bold into `doc` as subsets (only the glyphs drawn end up in the
 * file: tens of KB instead of 5.4 MB per weight). `onMissing` hears of every replaced character.
 */
export async function embedJapaneseFonts(doc: PDFDocument, onMissing?: (char: string) => void): Promise<JapaneseFonts> {
  // pdf-lib types its fontkit parameter after fontkit 1's full API; it uses only what fontkit 2 has.
  doc.registerFontkit(fontkitForPdfLib as unknown as Parameters<PDFDocument['registerFontkit']>[0]);
  const embed = async (weight: FontWeight, psName: string) => {
    const [bytes, charset] = await Promise.all([loadFontBytes(weight), fontCharacterSet(weight)]);
    const pdfFont = await doc.embedFont(bytes, { subset: true, customName: `${subsetTag()}+${psName}` });
    return new EmbeddedFont(pdfFont, charset, onMissing);
  };
  const [regular, bold] = await Promise.all([embed('regular', 'NotoSansJP-Regular'), embed('bold', 'NotoSansJP-Bold')]);
  return { regular, bold };
}
