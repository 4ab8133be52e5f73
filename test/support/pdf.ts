import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';

/**
 * Looking at PDFs the way people's tools do: poppler-utils (pdftotext, pdffonts, pdfsig,
 * pdftoppm; Debian package poppler-utils, which .ci/run installs) and a small PNG decoder for
 * "is anything drawn".
 */

export const ARTIFACTS = path.resolve(import.meta.dirname, process.env.DATABASE_URL ? '../artifacts/pdf-mysql' : '../artifacts/pdf'); // a MariaDB run keeps its own (CI runs both passes at once)

function tool(name: string, args: string[]): string {
  try {
    return execFileSync(name, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${name} is missing: apt-get install -y poppler-utils`);
    throw new Error(`${name} ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

/** Runs `fn` with `bytes` in a temporary file, then removes it. */
export function withPdfFile<T>(bytes: Uint8Array, fn: (file: string, dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-pdf-'));
  const file = path.join(dir, 'doc.pdf');
  fs.writeFileSync(file, bytes);
  try {
    return fn(file, dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The text of the document (or of pages first..last), as a reader copying it would get it. */
export function pdfText(bytes: Uint8Array, pages?: { first: number; last: number }): string {
  const range = pages ? ['-f', String(pages.first), '-l', String(pages.last)] : [];
  return withPdfFile(bytes, (file) => tool('pdftotext', [...range, '-enc', 'UTF-8', file, '-']));
}

export interface FontRow { name: string; type: string; encoding: string; embedded: boolean; subset: boolean; unicode: boolean }

export function pdfFonts(bytes: Uint8Array): FontRow[] {
  const out = withPdfFile(bytes, (file) => tool('pdffonts', [file]));
  return out.split('\n').slice(2).filter((l) => l.trim() !== '').map((line) => {
    // name, type (may contain spaces), encoding, emb, sub, uni, object, id
    const m = /^(\S+)\s+(.+?)\s+(\S+)\s+(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+\s*$/.exec(line);
    if (!m) throw new Error(`unexpected pdffonts line: ${line}`);
    return { name: m[1]!, type: m[2]!, encoding: m[3]!, embedded: m[4] === 'yes', subset: m[5] === 'yes', unicode: m[6] === 'yes' };
  });
}

/** pdfsig's report. It exits 0 whatever it finds, so callers read the text. */
export function pdfSig(bytes: Uint8Array): string {
  return withPdfFile(bytes, (file) => tool('pdfsig', [file]));
}

/** Page `page` rendered by pdftoppm as a PNG. */
export function renderPage(bytes: Uint8Array, page = 1, dpi = 50): Buffer {
  return withPdfFile(bytes, (file, dir) => {
    tool('pdftoppm', ['-r', String(dpi), '-png', '-f', String(page), '-l', String(page), '-singlefile', file, path.join(dir, 'page')]);
    return fs.readFileSync(path.join(dir, 'page.png'));
  });
}

export interface Bitmap { width: number; height: number; channels: number; pixels: Buffer }

/** Decodes an 8-bit, non-interlaced grey / RGB / RGBA PNG (what pdftoppm writes). */
export function decodePng(png: Buffer): Bitmap {
  if (!png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) throw new Error('not a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [bitDepth, colorType, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colorType!] ?? 0;
      if (bitDepth !== 8 || !channels || interlace !== 0) throw new Error(`unsupported PNG: depth ${bitDepth}, colour type ${colorType}, interlace ${interlace}`);
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[x - channels]! : 0;
      const b = prev[x]!;
      const c = x >= channels ? prev[x - channels]! : 0;
      let v = line[x]!;
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[x] = v & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

/** How many pixels are clearly darker than paper (any channel below 160). */
export function inkPixels(png: Buffer): number {
  const { width, height, channels, pixels } = decodePng(png);
  let ink = 0;
  for (let i = 0; i < width * height; i++) {
    let dark = false;
    for (let ch = 0; ch < Math.min(channels, 3); ch++) if (pixels[i * channels + ch]! < 160) dark = true;
    if (dark) ink++;
  }
  return ink;
}

/** Keeps a file for people to look at after the run (test/artifacts is git-ignored). */
export function keepArtifact(name: string, bytes: Uint8Array): string {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  fs.writeFileSync(file, bytes);
  return file;
}
