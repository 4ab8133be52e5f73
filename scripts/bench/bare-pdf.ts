/**
 * The ceiling of the access report figure: a PDF of the same table rows laid out with pdf-lib alone —
 * no app code, no signature, no sealing, no storage. A4 portrait, the same 7 columns and 7 pt text,
 * a bold header row on every page, one page.drawText() per cell (pdf-lib's own text path: it shapes
 * every string through fontkit), Noto Sans JP regular and bold embedded as subsets (the same font
 * files the portal uses), saved to bytes.
 *
 * pdf-lib needs a fontkit to embed a TrueType font. The only fontkit installed is fontkit 2, which
 * lacks the encodeStream() pdf-lib calls on a subset; the few lines below provide it (the same
 * minimal shim any pdf-lib + fontkit 2 user needs), written here rather than imported from the
 * portal so nothing of the portal's PDF code is measured.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as fontkit from 'fontkit';
import { PDFDocument, rgb } from 'pdf-lib';

const require = createRequire(import.meta.url);
const REGULAR = require.resolve('@expo-google-fonts/noto-sans-jp/400Regular/NotoSansJP_400Regular.ttf');
const BOLD = require.resolve('@expo-google-fonts/noto-sans-jp/700Bold/NotoSansJP_700Bold.ttf');

let fonts: { regular: Uint8Array; bold: Uint8Array } | null = null;
/** The font files, read once per process (as the portal does): not part of the timed build. */
export function loadBareFonts() {
  fonts ??= { regular: new Uint8Array(readFileSync(REGULAR)), bold: new Uint8Array(readFileSync(BOLD)) };
  return fonts;
}

const fontkitShim = {
  create(bytes: Uint8Array) {
    const font = fontkit.create(bytes);
    const createSubset = font.createSubset.bind(font);
    font.createSubset = () => {
      const subset = createSubset() as fontkit.Subset & { encodeStream?: () => EventEmitter };
      subset.encodeStream = () => {
        const out = new EventEmitter();
        process.nextTick(() => { out.emit('data', subset.encode()); out.emit('end'); });
        return out;
      };
      return subset;
    };
    return font;
  },
};

const A4: [number, number] = [595.28, 841.89];
const MARGIN_X = 48;
const TOP = A4[1] - 64;
const BOTTOM = 56;
const SIZE = 7;
const LINE = 10;
/** the access report listing's column widths (relative) */
const WIDTHS = [2.2, 2, 2.6, 2, 2.4, 1.8, 1];

/** Lays out `header` + `rows` as a table with pdf-lib alone; returns the PDF's bytes and page count. */
export async function barePdf(header: string[], rows: string[][]): Promise<{ bytes: Uint8Array; pages: number }> {
  const { regular, bold } = loadBareFonts();
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkitShim as unknown as Parameters<PDFDocument['registerFontkit']>[0]);
  const [r, b] = await Promise.all([doc.embedFont(regular, { subset: true }), doc.embedFont(bold, { subset: true })]);
  const total = WIDTHS.reduce((s, w) => s + w, 0);
  const usable = A4[0] - 2 * MARGIN_X;
  const xs = WIDTHS.map((_, i) => MARGIN_X + (WIDTHS.slice(0, i).reduce((s, w) => s + w, 0) / total) * usable);
  const ink = rgb(0.1, 0.1, 0.1);
  let page = doc.addPage(A4);
  let y = TOP;
  const headerRow = () => {
    header.forEach((h, i) => page.drawText(h, { x: xs[i]!, y, size: SIZE, font: b, color: ink }));
    y -= LINE;
  };
  headerRow();
  for (const row of rows) {
    if (y < BOTTOM) {
      page = doc.addPage(A4);
      y = TOP;
      headerRow();
    }
    row.forEach((c, i) => { if (c) page.drawText(c, { x: xs[i]!, y, size: SIZE, font: r, color: ink }); });
    y -= LINE;
  }
  const bytes = await doc.save();
  return { bytes, pages: doc.getPageCount() };
}
