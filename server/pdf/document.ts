import { deflateSync } from 'node:zlib';
import { PDFDocument, PDFName, type PDFPage } from 'pdf-lib';
import { embedJapaneseFonts, type EmbeddedFont, type JapaneseFonts } from './fonts';
import { textWidth, truncateText, wrapText } from './line-break';

/**
 * A report document: A4 portrait, a running header (title, firm) and "n / total" footer, and a
 * cursor that flows titles, headings, paragraphs, label/value rows, tables and bar charts down the
 * pages, breaking pages by itself.
 *
 * Each page's content stream is written as PDF operator text and compressed once at the end,
 * rather than through pdf-lib's drawText/drawRectangle: those shape every string with fontkit and
 * keep one object per operator (≈ 650 ms and 345 MiB for 5,000 rows here). This way a 10,000-row
 * table takes a fraction of that. It is still synchronous CPU work: build large documents in a job
 * or a worker thread, never inside a request handler.
 */

export type Rgb = readonly [number, number, number];

export interface ReportOptions {
  /** in the running header and the document properties */
  title: string;
  /** the firm's name, in the running header and as the author */
  firmName: string;
  subject?: string;
  /** language of the document's own words (no-data notes) and its Lang entry; default ja */
  lang?: 'ja' | 'en';
  /** left of the page numbers, e.g. 作成日 令和7年11月23日 */
  footerNote?: string;
  createdAt?: Date;
}

export interface TableColumn {
  header: string;
  /** relative width; the table spans the text width */
  width: number;
  align?: 'left' | 'right' | 'center';
  /** wrap (default): long text takes more lines; clip: one line, cut with … */
  overflow?: 'wrap' | 'clip';
}

export interface TableSpec {
  columns: readonly TableColumn[];
  /** any iterable, so a generator can feed a long table without an array of it in memory */
  rows: Iterable<readonly (string | number | null | undefined)[]>;
  fontSize?: number;
  /** shown in one row when there are no rows */
  emptyText?: string;
}

export interface BarChartSpec {
  data: ReadonlyArray<{ label: string; value: number }>;
  /** top of the value axis; default: the largest value rounded up to 1, 2 or 5 × 10ⁿ */
  max?: number;
  /** height of the plot area in points (default 160) */
  height?: number;
  /** shown above the plot, e.g. 件数（日別） */
  caption?: string;
}

const A4: [number, number] = [595.28, 841.89];
const MARGIN_X = 48;
const CONTENT_TOP = A4[1] - 64;
const CONTENT_BOTTOM = 54;
const WIDTH = A4[0] - 2 * MARGIN_X;

const INK: Rgb = [0.13, 0.13, 0.15];
const MUTED: Rgb = [0.4, 0.4, 0.44];
const LINE: Rgb = [0.78, 0.78, 0.8];
const HEADER_FILL: Rgb = [0.9, 0.92, 0.95];
const ZEBRA_FILL: Rgb = [0.965, 0.97, 0.975];
const ACCENT: Rgb = [0.85, 0.42, 0.18];
const BAR: Rgb = [0.27, 0.45, 0.7];

/** Ideographic em box: 0.88 above the baseline, 0.12 below; used to centre text in a line box. */
const ASCENT = 0.88;

/** A number as PDF operator text: two decimals are finer than any printer. */
function n(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function rgb(c: Rgb): string {
  return `${n(c[0])} ${n(c[1])} ${n(c[2])}`;
}

/** The smallest of 1, 2, 5 × 10ⁿ that is at least `v`. */
function niceStep(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Gridline values: round steps (whole ones for counts), about five of them, up to `max` or just above the largest value. */
function axisTicks(largest: number, max: number | undefined, counts: boolean): number[] {
  const top = max !== undefined && max > 0 ? max : Math.max(largest, counts ? 1 : Number.MIN_VALUE);
  const step = Math.max(niceStep(top / 5), counts ? 1 : 0);
  const ticks: number[] = [];
  for (let i = 0; i * step < top - 1e-9; i++) ticks.push(i * step);
  if (max !== undefined && max > 0) {
    if (ticks.length > 1 && max - ticks.at(-1)! < step / 2) ticks.pop();
    ticks.push(max);
  } else {
    ticks.push(ticks.length * step);
  }
  return ticks;
}

/** The document's own words (everything else arrives as text from the caller). */
const WORDS = {
  ja: { noRows: '該当するデータはありません', noData: 'データなし' },
  en: { noRows: 'No entries', noData: 'No data' },
} as const;

const numberFormat = new Intl.NumberFormat('ja-JP', { maximumFractionDigits: 2 });

interface PageState {
  page: PDFPage;
  ops: string[];
}

export class ReportDocument {
  private readonly pages: PageState[] = [];
  private y = CONTENT_TOP;
  private finished = false;
  private readonly fontKeys = new Map<EmbeddedFont, string>();

  private constructor(
    private readonly pdf: PDFDocument,
    private readonly fonts: JapaneseFonts,
    private readonly options: ReportOptions,
    /** Characters the font lacks, drawn as 〓: worth a log line by the caller. */
    readonly missingCharacters: ReadonlySet<string>,
  ) {
    this.fontKeys.set(fonts.regular, 'F1');
    this.fontKeys.set(fonts.bold, 'F2');
  }

  static async create(options: ReportOptions): Promise<ReportDocument> {
    const pdf = await PDFDocument.create();
    const missing = new Set<string>();
    const fonts = await embedJapaneseFonts(pdf, (ch) => missing.add(ch));
    const doc = new ReportDocument(pdf, fonts, options, missing);
    doc.newPage();
    return doc;
  }

  private get words(): (typeof WORDS)[keyof typeof WORDS] {
    return WORDS[this.options.lang ?? 'ja'];
  }

  get pageCount(): number {
    return this.pages.length;
  }

  // ——— content ———

  title(text: string): this {
    const size = 18;
    const lines = this.wrap(this.fonts.bold, text, size, WIDTH);
    for (const line of lines) {
      this.ensure(size * 1.5);
      this.drawText(line, MARGIN_X, this.y - size * ASCENT, size, this.fonts.bold, INK);
      this.y -= size * 1.5;
    }
    this.y -= 6;
    return this;
  }

  heading(text: string): this {
    const size = 12.5;
    const lh = size * 1.5;
    const lines = this.wrap(this.fonts.bold, text, size, WIDTH - 10);
    // Keep a heading with at least a few lines of what follows it.
    this.ensure(lines.length * lh + 48);
    this.y -= 6;
    this.fillRect(MARGIN_X, this.y - lines.length * lh + 2, 3.5, lines.length * lh - 4, ACCENT);
    for (const line of lines) {
      this.drawText(line, MARGIN_X + 10, this.y - (lh - size) / 2 - size * ASCENT, size, this.fonts.bold, INK);
      this.y -= lh;
    }
    this.y -= 6;
    return this;
  }

  /** Wrapped text; `mono` sets it monospaced (hashes, codes) and may break it anywhere. */
  paragraph(text: string, opts: { size?: number; bold?: boolean; color?: Rgb; mono?: boolean } = {}): this {
    const size = opts.size ?? (opts.mono ? 9 : 10);
    const lh = size * 1.7;
    const font = opts.bold ? this.fonts.bold : this.fonts.regular;
    const lines = opts.mono
      ? wrapText(font.fit(text), WIDTH, (ch) => this.monoCells(font, ch) * font.charWidth('0', size))
      : this.wrap(font, text, size, WIDTH);
    for (const line of lines) {
      this.ensure(lh);
      const y = this.y - (lh - size) / 2 - size * ASCENT;
      if (opts.mono) this.drawMono(line, MARGIN_X, y, size, font, opts.color ?? INK);
      else this.drawText(line, MARGIN_X, y, size, font, opts.color ?? INK);
      this.y -= lh;
    }
    this.y -= size * 0.6;
    return this;
  }

  /** Label/value rows (氏名: …), labels in a narrow muted column, values wrapped beside them. */
  keyValues(rows: ReadonlyArray<readonly [string, string]>, opts: { labelWidth?: number; size?: number } = {}): this {
    const size = opts.size ?? 10;
    const lh = size * 1.6;
    const labelWidth = opts.labelWidth ?? 120;
    const valueWidth = WIDTH - labelWidth - 8;
    for (const [label, value] of rows) {
      const labels = this.wrap(this.fonts.bold, label, size, labelWidth - 4);
      const values = this.wrap(this.fonts.regular, value, size, valueWidth);
      const h = Math.max(labels.length, values.length) * lh + 6;
      this.ensure(h);
      labels.forEach((line, i) => this.drawText(line, MARGIN_X, this.y - 3 - i * lh - (lh - size) / 2 - size * ASCENT, size, this.fonts.bold, MUTED));
      values.forEach((line, i) => this.drawText(line, MARGIN_X + labelWidth + 8, this.y - 3 - i * lh - (lh - size) / 2 - size * ASCENT, size, this.fonts.regular, INK));
      this.y -= h;
      this.hLine(MARGIN_X, MARGIN_X + WIDTH, this.y, LINE, 0.4);
    }
    this.y -= 10;
    return this;
  }

  /** A table whose header row is repeated on every page it runs onto. */
  table(spec: TableSpec): this {
    const size = spec.fontSize ?? 9;
    const lh = size * 1.45;
    const padX = 4;
    const padY = 3;
    const total = spec.columns.reduce((s, c) => s + c.width, 0);
    if (!(total > 0) || spec.columns.some((c) => !(c.width >= 0))) throw new Error('table: column widths must be positive');
    const widths = spec.columns.map((c) => (c.width / total) * WIDTH);
    const xs = widths.map((_, i) => MARGIN_X + widths.slice(0, i).reduce((s, w) => s + w, 0));
    const inner = widths.map((w) => Math.max(1, w - 2 * padX));

    const headerCells = spec.columns.map((c, i) => this.wrap(this.fonts.bold, c.header, size, inner[i]!));
    const headerHeight = Math.max(...headerCells.map((l) => l.length)) * lh + 2 * padY;
    const drawHeader = () => {
      this.fillRect(MARGIN_X, this.y - headerHeight, WIDTH, headerHeight, HEADER_FILL);
      headerCells.forEach((lines, i) => this.cellLines(lines, xs[i]! + padX, inner[i]!, spec.columns[i]!.align, size, lh, padY, this.fonts.bold));
      this.y -= headerHeight;
      this.hLine(MARGIN_X, MARGIN_X + WIDTH, this.y, INK, 0.6);
    };

    this.ensure(headerHeight + lh + 2 * padY);
    drawHeader();
    let index = 0;
    for (const row of spec.rows) {
      const cells = spec.columns.map((c, i) => {
        const text = this.fonts.regular.fit(row[i] === null || row[i] === undefined ? '' : String(row[i]));
        return c.overflow === 'clip'
          ? [truncateText(text.replace(/\s+/g, ' '), inner[i]!, this.measure(this.fonts.regular, size))]
          : wrapText(text, inner[i]!, this.measure(this.fonts.regular, size));
      });
      let lineCount = Math.max(1, ...cells.map((l) => l.length));
      if (this.y - (lineCount * lh + 2 * padY) < CONTENT_BOTTOM) {
        this.newPage();
        drawHeader();
      }
      // A cell taller than a whole page is cut to what fits, its last line ending in ….
      const room = Math.floor((this.y - CONTENT_BOTTOM - 2 * padY) / lh);
      if (lineCount > room) {
        lineCount = Math.max(1, room);
        cells.forEach((lines, i) => {
          if (lines.length > lineCount) {
            lines.length = lineCount;
            lines[lineCount - 1] = truncateText(`${lines[lineCount - 1]}…`, inner[i]!, this.measure(this.fonts.regular, size));
          }
        });
      }
      const h = lineCount * lh + 2 * padY;
      if (index % 2 === 1) this.fillRect(MARGIN_X, this.y - h, WIDTH, h, ZEBRA_FILL);
      cells.forEach((lines, i) => this.cellLines(lines, xs[i]! + padX, inner[i]!, spec.columns[i]!.align, size, lh, padY, this.fonts.regular));
      this.y -= h;
      this.hLine(MARGIN_X, MARGIN_X + WIDTH, this.y, LINE, 0.3);
      index++;
    }
    if (index === 0) {
      const text = this.fonts.regular.fit(spec.emptyText ?? this.words.noRows);
      this.cellLines([text], MARGIN_X + padX, WIDTH - 2 * padX, 'center', size, lh, padY, this.fonts.regular);
      this.y -= lh + 2 * padY;
      this.hLine(MARGIN_X, MARGIN_X + WIDTH, this.y, LINE, 0.3);
    }
    this.y -= 12;
    return this;
  }

  /** A vertical bar chart (e.g. accesses per day), drawn with rectangles and lines. */
  barChart(spec: BarChartSpec): this {
    const values = spec.data.map((d) => d.value);
    if (values.some((v) => !Number.isFinite(v) || v < 0)) throw new Error('barChart: values must be finite and not negative');
    const plotHeight = spec.height ?? 160;
    const labelSize = 7;
    const captionHeight = spec.caption ? 18 : 0;
    this.ensure(captionHeight + plotHeight + 40);

    if (spec.caption) {
      this.drawText(this.fonts.bold.fit(spec.caption), MARGIN_X, this.y - 10 * ASCENT - 2, 10, this.fonts.bold, INK);
      this.y -= captionHeight;
    }
    const ticks = axisTicks(Math.max(0, ...values), spec.max, values.every(Number.isInteger));
    const max = ticks.at(-1)!;
    const tickLabels = ticks.map((t) => this.fonts.regular.fit(numberFormat.format(t)));
    const axisWidth = Math.max(...tickLabels.map((t) => this.fonts.regular.widthOf(t, labelSize))) + 6;
    const left = MARGIN_X + axisWidth;
    const right = MARGIN_X + WIDTH;
    // Room above the plot for the value over a bar that reaches the top.
    const top = this.y - 16;
    const bottom = top - plotHeight;

    ticks.forEach((t, i) => {
      const y = bottom + (t / max) * plotHeight;
      if (i > 0) this.hLine(left, right, y, LINE, 0.3);
      this.drawText(tickLabels[i]!, left - 4 - this.fonts.regular.widthOf(tickLabels[i]!, labelSize), y - labelSize * 0.35, labelSize, this.fonts.regular, MUTED);
    });

    const count = values.length;
    if (count === 0) {
      const text = this.fonts.regular.fit(this.words.noData);
      this.drawText(text, (left + right - this.fonts.regular.widthOf(text, 9)) / 2, bottom + plotHeight / 2, 9, this.fonts.regular, MUTED);
    } else {
      const slot = (right - left) / count;
      const barWidth = Math.max(0.5, slot * 0.64);
      const labels = spec.data.map((d) => this.fonts.regular.fit(d.label));
      const widest = Math.max(...labels.map((l) => this.fonts.regular.widthOf(l, labelSize)));
      // Thin out the axis labels so neighbours never overlap (31 days on A4 fit about every other).
      const step = Math.max(1, Math.ceil((widest + 4) / slot));
      const valueTexts = values.map((v) => this.fonts.regular.fit(numberFormat.format(v)));
      const valuesFit = valueTexts.every((t) => this.fonts.regular.widthOf(t, 6.5) <= slot - 1);
      values.forEach((v, i) => {
        const x = left + i * slot + (slot - barWidth) / 2;
        const h = Math.min(v, max) / max * plotHeight;
        if (h > 0) this.fillRect(x, bottom, barWidth, h, BAR);
        if (valuesFit && v > 0) {
          const t = valueTexts[i]!;
          this.drawText(t, x + (barWidth - this.fonts.regular.widthOf(t, 6.5)) / 2, bottom + h + 2, 6.5, this.fonts.regular, INK);
        }
        if (i % step === 0) {
          const l = labels[i]!;
          this.drawText(l, left + i * slot + (slot - this.fonts.regular.widthOf(l, labelSize)) / 2, bottom - 4 - labelSize * ASCENT, labelSize, this.fonts.regular, MUTED);
        }
      });
    }
    this.hLine(left, right, bottom, INK, 0.8);
    this.vLine(left, bottom, top, INK, 0.8);
    this.y = bottom - 4 - labelSize - 14;
    return this;
  }

  rule(): this {
    this.ensure(14);
    this.y -= 6;
    this.hLine(MARGIN_X, MARGIN_X + WIDTH, this.y, LINE, 0.8);
    this.y -= 8;
    return this;
  }

  space(points: number): this {
    this.y -= points;
    if (this.y < CONTENT_BOTTOM) this.newPage();
    return this;
  }

  pageBreak(): this {
    this.newPage();
    return this;
  }

  /** Writes headers, footers ("1 / 3", now that the total is known) and the file. Once only. */
  async finish(): Promise<Uint8Array> {
    if (this.finished) throw new Error('finish() was already called');
    this.finished = true;
    const { title, firmName, footerNote } = this.options;
    const total = this.pages.length;
    const firm = this.fonts.regular.fit(firmName);
    const firmWidth = this.fonts.regular.widthOf(firm, 8.5);
    const headTitle = truncateText(this.fonts.regular.fit(title), WIDTH - firmWidth - 16, this.measure(this.fonts.regular, 8.5));
    const note = footerNote ? truncateText(this.fonts.regular.fit(footerNote), WIDTH / 2 - 40, this.measure(this.fonts.regular, 8)) : '';
    this.pages.forEach((p, i) => {
      const ops = p.ops;
      const put = (s: string) => ops.push(s);
      const text = (t: string, x: number, y: number, size: number) =>
        put(`BT ${rgb(MUTED)} rg /F1 ${n(size)} Tf ${n(x)} ${n(y)} Td <${this.fonts.regular.encode(t)}> Tj ET\n`);
      text(headTitle, MARGIN_X, A4[1] - 38, 8.5);
      text(firm, MARGIN_X + WIDTH - firmWidth, A4[1] - 38, 8.5);
      put(`${rgb(LINE)} RG 0.6 w ${n(MARGIN_X)} ${n(A4[1] - 44)} m ${n(MARGIN_X + WIDTH)} ${n(A4[1] - 44)} l S\n`);
      const pageNo = `${i + 1} / ${total}`;
      text(pageNo, (A4[0] - this.fonts.regular.widthOf(pageNo, 8.5)) / 2, 28, 8.5);
      if (note) text(note, MARGIN_X, 28, 8);

      const stream = this.pdf.context.stream(deflateSync(Buffer.from(ops.join(''), 'latin1')), { Filter: 'FlateDecode' });
      p.page.node.addContentStream(this.pdf.context.register(stream));
      p.page.node.setFontDictionary(PDFName.of('F1'), this.fonts.regular.pdfFont.ref);
      p.page.node.setFontDictionary(PDFName.of('F2'), this.fonts.bold.pdfFont.ref);
    });

    const at = this.options.createdAt ?? new Date();
    this.pdf.setTitle(title, { showInWindowTitleBar: true });
    this.pdf.setAuthor(firmName);
    if (this.options.subject) this.pdf.setSubject(this.options.subject);
    this.pdf.setCreator('暁ポータル');
    this.pdf.setProducer('暁ポータル (pdf-lib)');
    this.pdf.setLanguage(this.options.lang === 'en' ? 'en' : 'ja-JP');
    this.pdf.setCreationDate(at);
    this.pdf.setModificationDate(at);
    return this.pdf.save();
  }

  // ——— drawing primitives ———

  private newPage(): void {
    const page = this.pdf.addPage(A4);
    this.pages.push({ page, ops: [] });
    this.y = CONTENT_TOP;
  }

  /** Starts a new page unless `height` fits (or the page is still empty, where nothing would help). */
  private ensure(height: number): void {
    if (this.y - height < CONTENT_BOTTOM && this.y < CONTENT_TOP) this.newPage();
  }

  private get ops(): string[] {
    return this.pages.at(-1)!.ops;
  }

  private measure(font: EmbeddedFont, size: number): (ch: string) => number {
    return (ch) => font.charWidth(ch, size);
  }

  private wrap(font: EmbeddedFont, text: string, size: number, width: number): string[] {
    return wrapText(font.fit(text), width, this.measure(font, size));
  }

  /** `text` must have been fitted to the font. Operator text stays ASCII: glyphs go as hex. */
  private drawText(text: string, x: number, y: number, size: number, font: EmbeddedFont, color: Rgb): void {
    if (text === '') return;
    this.ops.push(`BT ${rgb(color)} rg /${this.fontKeys.get(font)} ${n(size)} Tf ${n(x)} ${n(y)} Td <${font.encode(text)}> Tj ET\n`);
  }

  /** Cells a character takes in monospaced text: one the width of a digit, two for wide characters (kanji). */
  private monoCells(font: EmbeddedFont, ch: string): number {
    return font.charWidth(ch, 1) > font.charWidth('0', 1) * 1.2 ? 2 : 1;
  }

  /**
   * Noto Sans JP has no monospaced face, and its digits are already of one width: each other
   * glyph is centred in its cells by TJ adjustments. Copying or extracting the text would read
   * the wider gaps (around an f) as spaces, so the line carries its exact text as /ActualText.
   */
  private drawMono(text: string, x: number, y: number, size: number, font: EmbeddedFont, color: Rgb): void {
    let tj = '';
    for (const ch of text) {
      const half = (this.monoCells(font, ch) * font.charWidth('0', 1) - font.charWidth(ch, 1)) * 500;
      tj += half > 0.5 ? `${n(-half)} <${font.encode(ch)}> ${n(-half)} ` : `<${font.encode(ch)}> `;
    }
    const actual = Buffer.from(`\uFEFF${text}`, 'utf16le').swap16().toString('hex');
    this.ops.push(`/Span <</ActualText <${actual}>>> BDC BT ${rgb(color)} rg /${this.fontKeys.get(font)} ${n(size)} Tf ${n(x)} ${n(y)} Td [${tj}] TJ ET EMC\n`);
  }

  private cellLines(lines: readonly string[], x: number, width: number, align: TableColumn['align'], size: number, lh: number, padY: number, font: EmbeddedFont): void {
    lines.forEach((line, i) => {
      const w = align === 'right' || align === 'center' ? textWidth(line, this.measure(font, size)) : 0;
      const dx = align === 'right' ? width - w : align === 'center' ? (width - w) / 2 : 0;
      this.drawText(line, x + dx, this.y - padY - i * lh - (lh - size) / 2 - size * ASCENT, size, font, INK);
    });
  }

  private fillRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    this.ops.push(`${rgb(color)} rg ${n(x)} ${n(y)} ${n(w)} ${n(h)} re f\n`);
  }

  private hLine(x1: number, x2: number, y: number, color: Rgb, width: number): void {
    this.ops.push(`${rgb(color)} RG ${n(width)} w ${n(x1)} ${n(y)} m ${n(x2)} ${n(y)} l S\n`);
  }

  private vLine(x: number, y1: number, y2: number, color: Rgb, width: number): void {
    this.ops.push(`${rgb(color)} RG ${n(width)} w ${n(x)} ${n(y1)} m ${n(x)} ${n(y2)} l S\n`);
  }
}
