/**
 * A minimal DER reader for what verification needs: exact byte ranges of elements (signed
 * attributes are verified as they were encoded, an issuer is compared byte for byte), nothing
 * re-encoded. Single-byte tags and definite lengths only: BER input is refused, not guessed at.
 */

export interface Tlv {
  /** the whole tag byte: class, constructed bit and number */
  tag: number;
  /** the element's bytes, header included */
  der: Buffer;
  content: Buffer;
}

export class DerError extends Error {}

export function readTlv(buf: Buffer, offset = 0): Tlv & { end: number } {
  if (offset + 2 > buf.length) throw new DerError('truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tag');
  let length = buf[offset + 1]!;
  let header = 2;
  if (length === 0x80) throw new DerError('indefinite length (BER)');
  if (length > 0x80) {
    const count = length & 0x7f;
    if (count > 4 || offset + 2 + count > buf.length) throw new DerError('bad length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[offset + 2 + i]!;
    header += count;
  }
  const end = offset + header + length;
  if (end > buf.length) throw new DerError('element runs past its container');
  return { tag, der: buf.subarray(offset, end), content: buf.subarray(offset + header, end), end };
}

/** The elements inside a constructed element. */
export function children(t: Tlv): Tlv[] {
  if (!(t.tag & 0x20)) throw new DerError('not a constructed element');
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < t.content.length) {
    const child = readTlv(t.content, offset);
    out.push(child);
    offset = child.end;
  }
  return out;
}

/** Reads exactly one element filling `buf` (trailing zero padding allowed: a PDF /Contents hole). */
export function readDer(buf: Buffer, allowZeroPadding = false): Tlv {
  const t = readTlv(buf, 0);
  const rest = buf.subarray(t.end);
  if (rest.length > 0 && !(allowZeroPadding && rest.every((b) => b === 0))) throw new DerError('trailing bytes');
  return t;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new DerError(`expected ${what}`);
  return t;
}

export function decodeOid(t: Tlv): string {
  const b = expectTag(t, 0x06, 'an OBJECT IDENTIFIER').content;
  const parts: number[] = [];
  let value = 0;
  for (const byte of b) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) { parts.push(value); value = 0; }
  }
  const first = parts.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}

/** UTCTime or GeneralizedTime (Z form, as DER requires). */
export function decodeTime(t: Tlv): Date {
  const s = t.content.toString('latin1');
  const m = t.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
    : t.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(s) : null;
  if (!m) throw new DerError('expected a UTCTime or GeneralizedTime');
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year < 50 ? 2000 : 1900;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

/** The directory string types a certificate name may use, decoded to text. */
export function decodeString(t: Tlv): string {
  switch (t.tag) {
    case 0x0c: return t.content.toString('utf8'); // UTF8String
    case 0x1e: return Buffer.from(t.content).swap16().toString('utf16le'); // BMPString (UTF-16BE)
    case 0x13: case 0x16: case 0x14: return t.content.toString('latin1'); // Printable, IA5, Teletex
    default: throw new DerError(`unsupported string type 0x${t.tag.toString(16)}`);
  }
}
