import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { deflateSync } from 'node:zlib';
import * as fontkit from 'fontkit';
import QRCode from 'qrcode';
import { PDFDocument, PDFHexString, PDFName, type PDFPage, type PDFRef } from 'pdf-lib';
import { embedJapaneseFonts, type EmbeddedFont, type JapaneseFonts } from '../pdf/fonts';
import { truncateText, wrapText } from '../pdf/line-break';
import { certificateFingerprint, type CertificateData, type CertificateItem } from './certificate-data';
import { issueDateLabel, warekiDate } from './wareki';

/**
 * The 廃棄・削除証明書 as an A4 PDF in Japanese, unsigned (the caller signs it with the firm's
 * identity). Page 1 carries the number and issue date (和暦 and western), the title, the client,
 * the statement and the list of what was destroyed; the list flows over as many pages as it needs
 * with its header row repeated; the last page ends with the NIST SP 800-88 record, who requested,
 * who approved and who carried out the erasure (the portal, on approval), the firm as issuer (with a seal-style mark), and the QR code, URL and fingerprint
 * anyone holding the file can check it with. Every page has "n / total".
 *
 * Drawn like server/pdf/document.ts — operators written as text, glyphs as cached hex ids, one
 * compressed stream per page — because the layout (a box beside a QR image, a seal, link
 * annotations) is not one ReportDocument can flow.
 */

export const CERTIFICATE_TITLE = '廃棄・削除証明書';
/** How electronic data is destroyed: the method column of every item. */
export const ELECTRONIC_DISPOSAL_METHOD = '暗号鍵の消去およびデータの削除（復元不可能）';
export const CERTIFICATE_STATEMENT = '当事務所は、下記の特定個人情報等を、復元不可能な方法により廃棄・削除したことを証明します。';
export const WHOLE_CLIENT_STATEMENT = '顧問先のすべてのデータと暗号鍵を消去しました。';
/** Under the box's heading 真正性の確認 (not repeated before it), and before the URL it points to (下記, not この). */
export const VERIFY_NOTE = 'QRコードまたは下記のURLの検証ページで、本PDFをアップロードするか証明書番号とSHA-256を入力すると、当事務所が発行した証明書であることを確認できます。';

export interface RenderCertificateOptions {
  /** hears of each character the font lacks (drawn as 〓): worth a log line */
  onMissingCharacter?: (char: string) => void;
}

// ——— dates ———

export { warekiDate, issueDateLabel };

/** A yyyy-mm-dd day (Japan time) as a Date at its start, or null if it is not one. */
function dayOf(ymd: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(ymd)) return null;
  const d = new Date(`${ymd}T00:00:00+09:00`);
  return Number.isNaN(d.getTime()) ? null : d;
}

// ——— page geometry and colours ———

type Rgb = readonly [number, number, number];

const PAGE: [number, number] = [595.28, 841.89];
const MX = 48;
const WIDTH = PAGE[0] - 2 * MX;
const RIGHT = MX + WIDTH;
const FIRST_TOP = PAGE[1] - 44;
const NEXT_TOP = PAGE[1] - 66;
const BOTTOM = 58;

const INK: Rgb = [0.12, 0.12, 0.14];
const MUTED: Rgb = [0.4, 0.4, 0.44];
const LINE: Rgb = [0.62, 0.62, 0.66];
const HAIR: Rgb = [0.8, 0.8, 0.83];
const HEADER_FILL: Rgb = [0.9, 0.92, 0.95];
const LABEL_FILL: Rgb = [0.95, 0.96, 0.97];
const ZEBRA: Rgb = [0.975, 0.978, 0.982];
const SEAL: Rgb = [0.8, 0.1, 0.1];
const LINK: Rgb = [0.1, 0.25, 0.6];
const NOTICE_FILL: Rgb = [0.99, 0.955, 0.93];
const ACCENT: Rgb = [0.85, 0.42, 0.18];

/** Ideographic em box: 0.88 above the baseline. */
const ASCENT = 0.88;

function n(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function rgb(c: Rgb): string {
  return `${n(c[0])} ${n(c[1])} ${n(c[2])}`;
}

function utf16Hex(text: string): string {
  return Buffer.from(`\uFEFF${text}`, 'utf16le').swap16().toString('hex');
}

// ——— the seal's outlines ———

const require = createRequire(import.meta.url);
let sealFont: Promise<fontkit.Font> | null = null;

/** Bold Noto Sans JP read with fontkit for glyph outlines: the seal is drawn as paths, not text. */
function loadSealFont(): Promise<fontkit.Font> {
  sealFont ??= readFile(require.resolve('@expo-google-fonts/noto-sans-jp/700Bold/NotoSansJP_700Bold.ttf'))
    .then((b) => fontkit.create(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
  sealFont.catch(() => { sealFont = null; });
  return sealFont;
}

interface PathCommand { command: string; args: number[] }

/**
 * One glyph's outline as PDF path operators, drawn in a `w` × `h` box whose top left is at
 * (x, top): the em square is stretched to the box, as seal engravers stretch characters to fill it.
 */
function glyphPath(font: fontkit.Font, ch: string, x: number, top: number, w: number, h: number): string {
  const glyph = font.glyphForCodePoint(ch.codePointAt(0)!) as fontkit.Glyph & { path: { commands: PathCommand[] } };
  const sx = w / font.unitsPerEm;
  const sy = h / font.unitsPerEm;
  // Centre the glyph in its box (full-width glyphs are already one em wide).
  const dx = x + (w - glyph.advanceWidth * sx) / 2;
  const baseline = top - h * ASCENT;
  const px = (v: number) => n(dx + v * sx);
  const py = (v: number) => n(baseline + v * sy);
  let out = '';
  let cx = 0;
  let cy = 0;
  for (const { command, args: a } of glyph.path.commands) {
    if (command === 'moveTo') { out += `${px(a[0]!)} ${py(a[1]!)} m `; [cx, cy] = [a[0]!, a[1]!]; }
    else if (command === 'lineTo') { out += `${px(a[0]!)} ${py(a[1]!)} l `; [cx, cy] = [a[0]!, a[1]!]; }
    else if (command === 'quadraticCurveTo') {
      // A quadratic Bézier as the cubic with control points two thirds of the way to its one.
      const [qx, qy, x2, y2] = a as [number, number, number, number];
      out += `${px(cx + (2 / 3) * (qx - cx))} ${py(cy + (2 / 3) * (qy - cy))} ${px(x2 + (2 / 3) * (qx - x2))} ${py(y2 + (2 / 3) * (qy - y2))} ${px(x2)} ${py(y2)} c `;
      [cx, cy] = [x2, y2];
    } else if (command === 'bezierCurveTo') {
      out += `${px(a[0]!)} ${py(a[1]!)} ${px(a[2]!)} ${py(a[3]!)} ${px(a[4]!)} ${py(a[5]!)} c `;
      [cx, cy] = [a[4]!, a[5]!];
    } else if (command === 'closePath') out += 'h ';
  }
  return out;
}

// ——— drawing ———

interface PageState { page: PDFPage; ops: string[]; annots: PDFRef[] }

class Sheet {
  readonly pages: PageState[] = [];
  y = FIRST_TOP;
  private readonly keys = new Map<EmbeddedFont, string>();

  constructor(readonly pdf: PDFDocument, readonly fonts: JapaneseFonts) {
    this.keys.set(fonts.regular, 'F1');
    this.keys.set(fonts.bold, 'F2');
  }

  get ops(): string[] {
    return this.pages.at(-1)!.ops;
  }

  get pageIndex(): number {
    return this.pages.length - 1;
  }

  newPage(): void {
    this.pages.push({ page: this.pdf.addPage(PAGE), ops: [], annots: [] });
    this.y = this.pages.length === 1 ? FIRST_TOP : NEXT_TOP;
  }

  /** True if `height` fits below the cursor; otherwise starts a page (and returns false). */
  ensure(height: number): boolean {
    if (this.y - height >= BOTTOM) return true;
    this.newPage();
    return false;
  }

  width(text: string, size: number, font: EmbeddedFont = this.fonts.regular, spacing = 0): number {
    const fitted = font.fit(text);
    return font.widthOf(fitted, size) + spacing * Math.max(0, Array.from(fitted).length - 1);
  }

  wrap(text: string, size: number, width: number, font: EmbeddedFont = this.fonts.regular): string[] {
    return wrapText(font.fit(text), width, (ch) => font.charWidth(ch, size));
  }

  truncate(text: string, size: number, width: number, font: EmbeddedFont = this.fonts.regular): string {
    return truncateText(font.fit(text), width, (ch) => font.charWidth(ch, size));
  }

  /** Text with its baseline at `y`; `spacing` spreads the characters (extraction still reads the plain text). */
  text(text: string, x: number, y: number, size: number, o: { font?: EmbeddedFont; color?: Rgb; spacing?: number; page?: number } = {}): void {
    const font = o.font ?? this.fonts.regular;
    const fitted = font.fit(text);
    if (fitted === '') return;
    const ops = o.page === undefined ? this.ops : this.pages[o.page]!.ops;
    const show = `BT ${rgb(o.color ?? INK)} rg /${this.keys.get(font)} ${n(size)} Tf ${o.spacing ? `${n(o.spacing)} Tc ` : ''}${n(x)} ${n(y)} Td <${font.encode(fitted)}> Tj ET`;
    ops.push(o.spacing ? `q /Span <</ActualText <${utf16Hex(fitted)}>>> BDC ${show} EMC Q\n` : `${show}\n`);
  }

  /** Text with the top of its line box at `top` (line height `lh`). */
  textTop(text: string, x: number, top: number, size: number, lh: number, o: Parameters<Sheet['text']>[4] = {}): void {
    this.text(text, x, top - (lh - size) / 2 - size * ASCENT, size, o);
  }

  /**
   * Monospaced text (hashes): Noto Sans JP has no monospaced face, so each glyph is centred in a
   * digit-wide cell with TJ adjustments, and the exact text rides along as /ActualText.
   */
  mono(text: string, x: number, y: number, size: number, color: Rgb = INK): number {
    const font = this.fonts.regular;
    const fitted = font.fit(text);
    const cell = font.charWidth('0', 1);
    let tj = '';
    for (const ch of fitted) {
      const half = (cell - font.charWidth(ch, 1)) * 500;
      tj += Math.abs(half) > 0.5 ? `${n(-half)} <${font.encode(ch)}> ${n(-half)} ` : `<${font.encode(ch)}> `;
    }
    this.ops.push(`/Span <</ActualText <${utf16Hex(fitted)}>>> BDC BT ${rgb(color)} rg /F1 ${n(size)} Tf ${n(x)} ${n(y)} Td [${tj}] TJ ET EMC\n`);
    return Array.from(fitted).length * cell * size;
  }

  fillRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    this.ops.push(`${rgb(color)} rg ${n(x)} ${n(y)} ${n(w)} ${n(h)} re f\n`);
  }

  strokeRect(x: number, y: number, w: number, h: number, color: Rgb, width: number): void {
    this.ops.push(`${rgb(color)} RG ${n(width)} w ${n(x)} ${n(y)} ${n(w)} ${n(h)} re S\n`);
  }

  line(x1: number, y1: number, x2: number, y2: number, color: Rgb, width: number, page?: number): void {
    (page === undefined ? this.ops : this.pages[page]!.ops).push(`${rgb(color)} RG ${n(width)} w ${n(x1)} ${n(y1)} m ${n(x2)} ${n(y2)} l S\n`);
  }

  image(name: string, ref: PDFRef, x: number, y: number, w: number, h: number): void {
    this.pages.at(-1)!.page.node.setXObject(PDFName.of(name), ref);
    this.ops.push(`q ${n(w)} 0 0 ${n(h)} ${n(x)} ${n(y)} cm /${name} Do Q\n`);
  }

  /** A clickable area opening `url`. */
  link(url: string, x: number, y: number, w: number, h: number): void {
    const annot = this.pdf.context.obj({
      Type: 'Annot', Subtype: 'Link', Rect: [x, y, x + w, y + h].map((v) => Math.round(v * 100) / 100), Border: [0, 0, 0],
      A: { Type: 'Action', S: 'URI', URI: PDFHexString.of(Buffer.from(url, 'utf8').toString('hex')) },
    });
    this.pages.at(-1)!.annots.push(this.pdf.context.register(annot));
  }
}

// ——— the certificate ———

interface Column { header: string; width: number; align?: 'left' | 'center' }

const COLUMNS: readonly Column[] = [
  { header: 'No.', width: 22, align: 'center' },
  { header: '社員コード', width: 50 },
  { header: '氏名（一部伏字）', width: 73 },
  { header: 'データの種類', width: 88 },
  { header: '理由', width: 109 },
  { header: '廃棄日', width: 51, align: 'center' },
  { header: '方法', width: 0 },
];

/** A reason longer than this goes below the table as ※n, so a long free-text reason is not printed in every row. */
const REASON_INLINE_MAX = 30;

function displayDay(ymd: string): string {
  return /^\d{4}-\d{2}-\d{2}$/.test(ymd) ? ymd.replaceAll('-', '/') : ymd;
}

export async function renderCertificate(data: CertificateData, options: RenderCertificateOptions = {}): Promise<Uint8Array> {
  if (!/^[0-9a-f]{64}$/.test(data.fingerprint)) throw new Error('renderCertificate: the fingerprint must be 64 lowercase hex digits');
  if (certificateFingerprint(data) !== data.fingerprint) throw new Error('renderCertificate: the fingerprint is not that of the certificate\'s facts');
  if (!/^https?:\/\/\S+$/.test(data.verifyUrl)) throw new Error('renderCertificate: verifyUrl must be an http(s) URL');
  if (Number.isNaN(data.issuedAt.getTime())) throw new Error('renderCertificate: issuedAt is not a date');

  const pdf = await PDFDocument.create();
  const [fonts, seal, qrPng] = await Promise.all([
    embedJapaneseFonts(pdf, options.onMissingCharacter),
    loadSealFont(),
    QRCode.toBuffer(data.verifyUrl, { type: 'png', margin: 1, width: 240 }),
  ]);
  const qr = await pdf.embedPng(qrPng);
  const s = new Sheet(pdf, fonts);
  const { regular, bold } = fonts;
  s.newPage();

  // ——— page 1 head: number and date top right, title, client ———
  for (const [i, line] of [`証明書番号：${data.number}`, `発行日：${issueDateLabel(data.issuedAt)}`].entries()) {
    s.text(line, RIGHT - s.width(line, 9.5), s.y - 9.5 * ASCENT - i * 15, 9.5);
  }
  s.y -= 52;
  {
    const size = 22;
    const spacing = size * 0.3;
    const w = s.width(CERTIFICATE_TITLE, size, bold, spacing);
    s.text(CERTIFICATE_TITLE, (PAGE[0] - w) / 2, s.y - size * ASCENT, size, { font: bold, spacing });
    s.line((PAGE[0] - w) / 2 - 16, s.y - size - 8, (PAGE[0] + w) / 2 + 16, s.y - size - 8, INK, 1.2);
    s.y -= size + 36;
  }
  {
    const size = 13;
    const lines = s.wrap(`${data.client.name}　御中`, size, WIDTH * 0.62, bold);
    for (const line of lines) {
      s.textTop(line, MX, s.y, size, size * 1.5, { font: bold });
      s.y -= size * 1.5;
    }
    s.line(MX, s.y - 1, MX + WIDTH * 0.62, s.y - 1, INK, 0.8);
    s.y -= 5;
    s.textTop(`顧問先コード：${data.client.code}`, MX, s.y, 8.5, 14, { color: MUTED });
    s.y -= 26;
  }

  // ——— statement ———
  const paragraph = (text: string, size: number, o: { font?: EmbeddedFont; color?: Rgb; x?: number; width?: number } = {}) => {
    const lh = size * 1.75;
    for (const line of s.wrap(text, size, o.width ?? WIDTH, o.font)) {
      s.ensure(lh);
      s.textTop(line, o.x ?? MX, s.y, size, lh, { font: o.font, color: o.color });
      s.y -= lh;
    }
  };
  paragraph(CERTIFICATE_STATEMENT, 10.5);
  s.y -= 6;
  if (data.wholeClient) {
    const detail = '本件は顧問先単位の消去です。当事務所が保有していた当該顧問先の特定個人情報等を含むすべてのデータを削除し、顧問先ごとの暗号鍵を消去しました。';
    const pad = 8;
    const detailLines = s.wrap(detail, 9, WIDTH - 2 * pad - 6);
    const h = 10.5 * 1.6 + detailLines.length * 9 * 1.6 + 2 * pad;
    s.ensure(h);
    s.fillRect(MX, s.y - h, WIDTH, h, NOTICE_FILL);
    s.fillRect(MX, s.y - h, 3, h, ACCENT);
    let top = s.y - pad;
    s.textTop(WHOLE_CLIENT_STATEMENT, MX + pad + 6, top, 10.5, 10.5 * 1.6, { font: bold });
    top -= 10.5 * 1.6;
    for (const line of detailLines) {
      s.textTop(line, MX + pad + 6, top, 9, 9 * 1.6);
      top -= 9 * 1.6;
    }
    s.y -= h + 10;
  }
  {
    const w = s.width('記', 11, bold);
    s.ensure(24);
    s.textTop('記', (PAGE[0] - w) / 2, s.y, 11, 18, { font: bold });
    s.y -= 22;
  }
  const days = data.items.map((i) => i.disposedOn).filter((d) => dayOf(d)).sort();
  const lastDay = days.length ? dayOf(days.at(-1)!)! : null;
  s.ensure(20);
  s.textTop(`対象件数：${data.items.length}件${lastDay ? `　　削除完了日：${warekiDate(lastDay)}` : ''}`, MX, s.y, 9.5, 16);
  s.y -= 20;

  // ——— the items ———
  const longReasons = [...new Set(data.items.map((i) => i.reason).filter((r) => Array.from(r).length > REASON_INLINE_MAX))];
  const reasonCell = (r: string) => {
    const k = longReasons.indexOf(r);
    return k < 0 ? r : `※${k + 1}（下記）`;
  };
  drawItems(s, data.items, reasonCell);
  {
    const notes = [
      '※ 氏名は個人情報保護のため一部を伏字にしています。個人番号そのものは本証明書に記載していません。',
      ...longReasons.map((r, k) => `※${k + 1} 理由：${r}`),
    ];
    for (const note of notes) paragraph(note, 7.5, { color: MUTED });
    s.ensure(18);
    s.textTop('以上', RIGHT - s.width('以上', 10), s.y, 10, 16);
    s.y -= 24;
  }

  // ——— NIST SP 800-88 record ———
  {
    const rows: [string, string][] = [
      ['消去の区分', data.category],
      ['消去の方法', data.method],
      ['消去の確認方法', data.verification],
      ['使用ソフトウェア', data.software],
      ['バックアップ', data.backups],
    ];
    const size = 7.5;
    const lh = size * 1.5;
    const labelW = 84;
    const pad = 3;
    const cells = rows.map(([label, value]) => ({ label, lines: s.wrap(value || '—', size, WIDTH - labelW - 2 * pad) }));
    const heights = cells.map((c) => c.lines.length * lh + 2 * pad);
    // The heading stays with the first row; the whole record stays together when it fits a page.
    const total = 18 + heights.reduce((a, b) => a + b, 0);
    s.ensure(Math.min(total, 18 + heights[0]!));
    if (total <= FIRST_TOP - BOTTOM) s.ensure(total);
    s.textTop('消去の記録（NIST SP 800-88 に基づく項目）', MX, s.y, 9, 15, { font: bold });
    s.y -= 18;
    s.line(MX, s.y, RIGHT, s.y, LINE, 0.6);
    cells.forEach((c, i) => {
      const h = heights[i]!;
      if (!s.ensure(h)) s.line(MX, s.y, RIGHT, s.y, LINE, 0.6);
      s.fillRect(MX, s.y - h, labelW, h, LABEL_FILL);
      s.textTop(c.label, MX + pad, s.y - pad, size, lh, { font: bold, color: MUTED });
      c.lines.forEach((line, j) => s.textTop(line, MX + labelW + pad, s.y - pad - j * lh, size, lh));
      s.line(MX + labelW, s.y, MX + labelW, s.y - h, LINE, 0.4);
      s.y -= h;
      s.line(MX, s.y, RIGHT, s.y, LINE, 0.6);
    });
    s.y -= 18;
  }

  // ——— who asked, who approved, who carried out the erasure; the issuer ———
  {
    // A ruled list on the left: names wrap in their cell (a client admin's name may carry the company's), never cut.
    const rows: [string, string][] = [['申請者', data.requester], ['承認者', data.approver], ['実施者', data.executor]];
    const listW = 242;
    const labelW = 46;
    const size = 9;
    const lh = size * 1.5;
    const pad = 4;
    const cells = rows.map(([label, value]) => ({ label, lines: s.wrap(value || '—', size, listW - labelW - 2 * pad) }));
    const heights = cells.map((c) => c.lines.length * lh + 2 * pad);
    const listH = heights.reduce((a, b) => a + b, 0);
    // The issuer: the firm's name, and a seal-style mark of it (drawn as outlines, so text tools read the name once).
    const sealSize = 58;
    const sealChars = sealCharacters(bold.fit(data.firmName));
    const issuerX = MX + listW + 22;
    const nameW = RIGHT - (sealChars ? sealSize + 10 : 0) - issuerX;
    // One line when the name allows (down to 10 points), wrapped beyond that.
    const nameSize = Math.max(10, Math.min(13, nameW / s.width(data.firmName, 1, bold)));
    const nameLines = s.wrap(data.firmName, nameSize, nameW, bold);
    const issuerH = 14 + nameLines.length * nameSize * 1.45 + 14;
    const height = Math.max(listH, issuerH, sealSize + 6);
    s.ensure(height);
    const top = s.y;
    let y = top;
    s.line(MX, y, MX + listW, y, INK, 0.7);
    cells.forEach((c, i) => {
      const h = heights[i]!;
      s.fillRect(MX, y - h, labelW, h, LABEL_FILL);
      s.textTop(c.label, MX + pad, y - pad, 8, lh, { font: bold });
      c.lines.forEach((line, j) => s.textTop(line, MX + labelW + pad, y - pad - j * lh, size, lh));
      s.line(MX + labelW, y, MX + labelW, y - h, LINE, 0.4);
      y -= h;
      s.line(MX, y, MX + listW, y, i === cells.length - 1 ? INK : LINE, i === cells.length - 1 ? 0.7 : 0.4);
    });
    s.line(MX, top, MX, y, INK, 0.7);
    s.line(MX + listW, top, MX + listW, y, INK, 0.7);
    s.textTop('発行者', issuerX, top, 8, 12, { color: MUTED });
    let iy = top - 14;
    for (const line of nameLines) {
      s.textTop(line, issuerX, iy, nameSize, nameSize * 1.45, { font: bold });
      iy -= nameSize * 1.45;
    }
    s.textTop('（電子署名により発行）', issuerX, iy - 2, 7.5, 12, { color: MUTED });
    if (sealChars) drawSeal(s, seal, sealChars, RIGHT - sealSize, top - 2, sealSize);
    s.y = Math.min(top - height, iy - 14) - 12;
  }

  // ——— how to check it: QR, URL, fingerprint; at the foot of the last page ———
  {
    const pad = 10;
    const qrSize = 80;
    const textX = MX + pad + qrSize + 14;
    const textW = RIGHT - pad - textX;
    const explain = s.wrap(`本証明書には当事務所の電子署名が付与されています。${VERIFY_NOTE}`, 8, textW);
    const urlLabel = 'URL：';
    const urlX = MX + pad + s.width(urlLabel, 8);
    const urlW = RIGHT - pad - urlX;
    const urlSize = Math.max(6, Math.min(8, (urlW / s.width(data.verifyUrl, 1)) * 0.98));
    const urlLines = s.wrap(data.verifyUrl, urlSize, urlW);
    const urlLh = Math.max(12, urlSize * 1.5);
    const upperH = Math.max(qrSize, 17 + explain.length * 12.5 + 2 + 12);
    const h = pad + upperH + 6 + urlLines.length * urlLh + 12 + pad;
    s.ensure(h + 8);
    // Pinned to the foot of the page, like the example certificate.
    const top = BOTTOM + h;
    s.strokeRect(MX, BOTTOM, WIDTH, h, LINE, 0.6);
    const qrY = top - pad - qrSize;
    s.image('Qr', qr.ref, MX + pad, qrY, qrSize, qrSize);
    s.link(data.verifyUrl, MX + pad, qrY, qrSize, qrSize);
    let y = top - pad;
    s.textTop('真正性の確認', textX, y, 10, 17, { font: bold });
    y -= 17;
    for (const line of explain) {
      s.textTop(line, textX, y, 8, 12.5);
      y -= 12.5;
    }
    y -= 2;
    s.textTop(`証明書番号：${data.number}`, textX, y, 8, 12, { font: bold });
    // Under the QR code, across the box: the URL and the fingerprint.
    y = top - pad - upperH - 6;
    const urlTop = y;
    s.textTop(urlLabel, MX + pad, y, 8, urlLh, { color: MUTED });
    for (const line of urlLines) {
      s.textTop(line, urlX, y, urlSize, urlLh, { color: LINK });
      y -= urlLh;
    }
    s.link(data.verifyUrl, urlX, y, urlW, urlTop - y);
    const label = 'SHA-256：';
    s.textTop(label, MX + pad, y, 8, 12, { color: MUTED });
    s.mono(data.fingerprint, MX + pad + s.width(label, 8), y - (12 - 7.5) / 2 - 7.5 * ASCENT, 7.5);
    s.y = BOTTOM;
  }

  // ——— running heads, feet, page numbers; streams and annotations ———
  const total = s.pages.length;
  // The foot names the firm whole: smaller type for a long name (down to 6 points), and without it only when even that is too wide.
  const footW = WIDTH - 80;
  const footFull = `${data.firmName}　${CERTIFICATE_TITLE}　${data.number}`;
  const footFits = s.width(footFull, 6) <= footW;
  const footLeft = footFits ? footFull : `${CERTIFICATE_TITLE}　${data.number}`;
  const footSize = Math.max(6, Math.min(8, (footW / s.width(footLeft, 1)) * 0.99));
  s.pages.forEach((p, i) => {
    if (i > 0) {
      s.text(`${CERTIFICATE_TITLE}（続き）`, MX, PAGE[1] - 40, 8.5, { color: MUTED, page: i });
      const right = `証明書番号：${data.number}`;
      s.text(right, RIGHT - s.width(right, 8.5), PAGE[1] - 40, 8.5, { color: MUTED, page: i });
      s.line(MX, PAGE[1] - 47, RIGHT, PAGE[1] - 47, HAIR, 0.6, i);
    }
    s.line(MX, 44, RIGHT, 44, HAIR, 0.6, i);
    s.text(footLeft, MX, 31, footSize, { color: MUTED, page: i });
    const pageNo = `${i + 1} / ${total}`;
    s.text(pageNo, RIGHT - s.width(pageNo, 8.5), 31, 8.5, { color: MUTED, page: i });

    const stream = pdf.context.stream(deflateSync(Buffer.from(p.ops.join(''), 'latin1')), { Filter: 'FlateDecode' });
    p.page.node.addContentStream(pdf.context.register(stream));
    p.page.node.setFontDictionary(PDFName.of('F1'), regular.pdfFont.ref);
    p.page.node.setFontDictionary(PDFName.of('F2'), bold.pdfFont.ref);
    if (p.annots.length) p.page.node.set(PDFName.of('Annots'), pdf.context.obj(p.annots));
  });

  pdf.setTitle(`${CERTIFICATE_TITLE} ${data.number}`, { showInWindowTitleBar: true });
  pdf.setAuthor(data.firmName);
  pdf.setSubject(`${data.client.name} 特定個人情報等の廃棄・削除の証明`);
  pdf.setKeywords([data.number, `sha256:${data.fingerprint}`]);
  pdf.setCreator('暁ポータル');
  pdf.setProducer('暁ポータル (pdf-lib)');
  pdf.setLanguage('ja-JP');
  pdf.setCreationDate(data.issuedAt);
  pdf.setModificationDate(data.issuedAt);
  return pdf.save();
}

/** The list of items: a ruled table whose header row repeats on every page it runs onto. */
function drawItems(s: Sheet, items: readonly CertificateItem[], reasonCell: (r: string) => string): void {
  const size = 8;
  const lh = size * 1.45;
  const padX = 4;
  const padY = 4;
  const fixed = COLUMNS.reduce((a, c) => a + c.width, 0);
  const widths = COLUMNS.map((c) => c.width || WIDTH - fixed);
  const xs = widths.map((_, i) => MX + widths.slice(0, i).reduce((a, w) => a + w, 0));
  const inner = widths.map((w) => w - 2 * padX);
  const { regular, bold } = s.fonts;
  const headerCells = COLUMNS.map((c, i) => s.wrap(c.header, size, inner[i]!, bold));
  const headerH = Math.max(...headerCells.map((l) => l.length)) * lh + 2 * padY;

  const cellLines = (lines: readonly string[], i: number, top: number, font: EmbeddedFont) => {
    lines.forEach((line, j) => {
      const dx = COLUMNS[i]!.align === 'center' ? (inner[i]! - font.widthOf(line, size)) / 2 : 0;
      s.textTop(line, xs[i]! + padX + dx, top - padY - j * lh, size, lh, { font });
    });
  };
  let segmentTop = 0;
  let headerBottom = 0;
  const header = () => {
    segmentTop = s.y;
    s.fillRect(MX, s.y - headerH, WIDTH, headerH, HEADER_FILL);
    headerCells.forEach((lines, i) => cellLines(lines, i, s.y, bold));
    s.line(MX, s.y, RIGHT, s.y, INK, 0.8);
    s.y -= headerH;
    headerBottom = s.y;
    s.line(MX, s.y, RIGHT, s.y, INK, 0.6);
  };
  const closeSegment = () => {
    for (const x of [...xs, RIGHT]) {
      const outer = x === MX || x === RIGHT;
      // With no rows the note spans the table: column rules stop at the header.
      s.line(x, segmentTop, x, outer || items.length > 0 ? s.y : headerBottom, outer ? INK : LINE, outer ? 0.8 : 0.4);
    }
    s.line(MX, s.y, RIGHT, s.y, INK, 0.8);
  };

  s.ensure(headerH + lh * 2 + 2 * padY);
  header();
  if (items.length === 0) {
    const text = '個別の対象はありません';
    s.textTop(text, (PAGE[0] - s.width(text, size)) / 2, s.y - padY, size, lh, { color: MUTED });
    s.y -= lh + 2 * padY;
  }
  const room = FIRST_TOP - BOTTOM - headerH - 2 * padY;
  items.forEach((item, k) => {
    const values = [String(k + 1), item.employeeCode || '—', item.maskedLabel, item.dataKind, reasonCell(item.reason), displayDay(item.disposedOn), ELECTRONIC_DISPOSAL_METHOD];
    const cells = values.map((v, i) => wrapText(regular.fit(v), inner[i]!, (ch) => regular.charWidth(ch, size)));
    // A row never needs more than a page; a cell that would (a huge label) is cut with ….
    const maxLines = Math.floor(room / lh);
    for (const [i, lines] of cells.entries()) {
      if (lines.length > maxLines) {
        lines.length = maxLines;
        lines[maxLines - 1] = s.truncate(`${lines[maxLines - 1]}…`, size, inner[i]!);
      }
    }
    const h = Math.max(1, ...cells.map((l) => l.length)) * lh + 2 * padY;
    if (s.y - h < BOTTOM) {
      closeSegment();
      s.newPage();
      header();
    }
    if (k % 2 === 1) s.fillRect(MX, s.y - h, WIDTH, h, ZEBRA);
    cells.forEach((lines, i) => cellLines(lines, i, s.y, regular));
    s.y -= h;
    s.line(MX, s.y, RIGHT, s.y, LINE, 0.4);
  });
  closeSegment();
  s.y -= 8;
}

/** Characters whose vertical presentation form (Noto Sans JP has them all) replaces them in the seal's columns. */
const VERTICAL_FORMS: Record<string, string> = {
  '（': '︵', '）': '︶', '(': '︵', ')': '︶', '「': '﹁', '」': '﹂', '『': '﹃', '』': '﹄', '【': '︻', '】': '︼', '、': '︑', '。': '︒', 'ー': '丨',
};

/**
 * A square seal-style mark (角印) of the firm's name followed by 印, read top to bottom in columns
 * from the right, drawn in red as glyph outlines. Names too long to read in the seal get none.
 */
export function sealCharacters(firmName: string): string[] | null {
  // Read top to bottom: brackets and marks take their vertical forms (（デモ） stood sideways otherwise).
  const chars = Array.from(firmName.replace(/[\s　]/g, '')).filter((ch) => ch !== '〓').map((ch) => VERTICAL_FORMS[ch] ?? ch);
  if (!chars.length) return null;
  if (chars.at(-1) !== '印') chars.push('印');
  return chars.length > 30 ? null : chars;
}

function drawSeal(s: Sheet, font: fontkit.Font, chars: readonly string[], x: number, top: number, size: number): void {
  const cols = Math.ceil(Math.sqrt(chars.length));
  const rows = Math.ceil(chars.length / cols);
  const inset = 6;
  const cellW = (size - 2 * inset) / cols;
  const cellH = (size - 2 * inset) / rows;
  const gw = cellW * 0.94;
  const gh = cellH * 0.94;
  let paths = '';
  chars.forEach((ch, i) => {
    const col = Math.floor(i / rows);
    const row = i % rows;
    const cx = x + size - inset - (col + 1) * cellW + (cellW - gw) / 2;
    const cy = top - inset - row * cellH - (cellH - gh) / 2;
    paths += glyphPath(font, ch, cx, cy, gw, gh);
  });
  s.ops.push(`q ${rgb(SEAL)} RG 2.2 w ${n(x + 1.1)} ${n(top - size + 1.1)} ${n(size - 2.2)} ${n(size - 2.2)} re S 0.6 w ${n(x + 4)} ${n(top - size + 4)} ${n(size - 8)} ${n(size - 8)} re S ${rgb(SEAL)} rg ${paths}f Q\n`);
}
