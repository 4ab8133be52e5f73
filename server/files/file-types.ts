import { fileTypeFromBuffer } from 'file-type';
import { extensionOf } from './names';

/**
 * What may be uploaded, checked against the file's first bytes, not its name or the browser's
 * claim. HTML, SVG, scripts and executables are never accepted. The name's extension must agree with
 * the bytes, so "payroll.pdf" that is really HTML is refused.
 */
interface Allowed { mime: string; extensions: string[] }

const BY_DETECTED: Record<string, Allowed> = {
  pdf: { mime: 'application/pdf', extensions: ['pdf'] },
  png: { mime: 'image/png', extensions: ['png'] },
  jpg: { mime: 'image/jpeg', extensions: ['jpg', 'jpeg'] },
  gif: { mime: 'image/gif', extensions: ['gif'] },
  webp: { mime: 'image/webp', extensions: ['webp'] },
  heic: { mime: 'image/heic', extensions: ['heic', 'heif'] },
  tif: { mime: 'image/tiff', extensions: ['tif', 'tiff'] },
  docx: { mime: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', extensions: ['docx'] },
  xlsx: { mime: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', extensions: ['xlsx'] },
  pptx: { mime: 'application/vnd.openxmlformats-officedocument.presentationml.presentation', extensions: ['pptx'] },
  // Old Office files are OLE compound documents; file-type names them 'cfb'.
  cfb: { mime: 'application/vnd.ms-office', extensions: ['doc', 'xls', 'ppt'] },
  zip: { mime: 'application/zip', extensions: ['zip'] },
};

/** Plain text has no signature: accepted for these extensions when the bytes look like text. */
const TEXT: Record<string, string> = { csv: 'text/csv', txt: 'text/plain' };

export const ACCEPTED_EXTENSIONS = [...new Set([...Object.values(BY_DETECTED).flatMap((a) => a.extensions), ...Object.keys(TEXT)])];

/** What a photo or scan of a number card may be: a picture a phone takes, or a PDF from a scanner. */
const ID_IMAGE_TYPES = [BY_DETECTED.jpg!, BY_DETECTED.png!, BY_DETECTED.heic!, BY_DETECTED.webp!, BY_DETECTED.pdf!];
export const ID_IMAGE_EXTENSIONS = ID_IMAGE_TYPES.flatMap((t) => t.extensions);
export const isIdImage = (mime: string) => ID_IMAGE_TYPES.some((t) => t.mime === mime);

/** Enough bytes for every signature above (file-type reads up to 4100 for some formats). */
export const SNIFF_BYTES = 4100;

/** A refusal says whether the bytes contradict a name the portal takes (a file pretending), or the name's type is simply not taken. */
export type TypeVerdict = { ok: true; mime: string } | { ok: false; mismatch: boolean };

export async function checkType(head: Buffer, displayName: string): Promise<TypeVerdict> {
  const ext = extensionOf(displayName);
  const refused = { ok: false as const, mismatch: ACCEPTED_EXTENSIONS.includes(ext) };
  const detected = await fileTypeFromBuffer(head);
  if (detected) {
    const allowed = BY_DETECTED[detected.ext];
    return allowed && allowed.extensions.includes(ext) ? { ok: true, mime: allowed.mime } : refused;
  }
  if (TEXT[ext] && looksLikeText(head)) return { ok: true, mime: `${TEXT[ext]}; charset=utf-8` };
  return refused;
}

/**
 * No NUL and few control bytes, and not markup a browser would run: after a byte-order mark and
 * white space, nothing that opens a tag (`<body onload=…>`, `<!doctype`, `<?xml`). A CSV or a note
 * does not start that way.
 */
function looksLikeText(head: Buffer): boolean {
  if (head.includes(0)) return false;
  let controls = 0;
  for (const b of head) if (b < 0x09 || (b > 0x0d && b < 0x20)) controls++;
  if (controls > head.length / 100) return false;
  const start = head.subarray(0, 512).toString('utf8').replace(/^\uFEFF/, '').trimStart();
  return !/^<[!?a-z]/i.test(start);
}
