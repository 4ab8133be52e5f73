import forge from 'node-forge';

/**
 * DER encoding through node-forge's ASN.1 layer only. forge's higher layers (pki, pkcs7) decode
 * and re-encode names, and get UTF8String names (Japanese) wrong; pieces taken from an existing
 * certificate are therefore carried over byte for byte with raw().
 */

const { asn1 } = forge;
const { Class, Type } = asn1;
export type Asn1 = forge.asn1.Asn1;

const bin = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('binary');

export const seq = (...items: Asn1[]): Asn1 => asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, items);
export const set = (...items: Asn1[]): Asn1 => asn1.create(Class.UNIVERSAL, Type.SET, true, items);
export const oid = (id: string): Asn1 => asn1.create(Class.UNIVERSAL, Type.OID, false, asn1.oidToDer(id).getBytes());
export const nul = (): Asn1 => asn1.create(Class.UNIVERSAL, Type.NULL, false, '');
export const bool = (v: boolean): Asn1 => asn1.create(Class.UNIVERSAL, Type.BOOLEAN, false, v ? '\xff' : '\x00');
export const octets = (b: Uint8Array): Asn1 => asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, bin(b));
export const utf8 = (s: string): Asn1 => asn1.create(Class.UNIVERSAL, Type.UTF8, false, Buffer.from(s, 'utf8').toString('binary'));
export const printable = (s: string): Asn1 => asn1.create(Class.UNIVERSAL, Type.PRINTABLESTRING, false, s);

/** A small non-negative INTEGER (versions). */
export const int = (n: number): Asn1 => asn1.create(Class.UNIVERSAL, Type.INTEGER, false, asn1.integerToDer(n).getBytes());

/** A non-negative INTEGER from big-endian bytes (serial numbers). */
export function unsignedInt(bytes: Uint8Array): Asn1 {
  let b = Buffer.from(bytes);
  while (b.length > 1 && b[0] === 0 && b[1]! < 0x80) b = b.subarray(1);
  if (b[0]! >= 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return asn1.create(Class.UNIVERSAL, Type.INTEGER, false, bin(b));
}

/** A BIT STRING of whole bytes, or of `unusedBits` fewer bits (key usage flags). */
export const bits = (b: Uint8Array, unusedBits = 0): Asn1 =>
  asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, String.fromCharCode(unusedBits) + bin(b));

/** UTCTime through 2049, GeneralizedTime after, as RFC 5280 asks. */
export function time(d: Date): Asn1 {
  const year = d.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? asn1.create(Class.UNIVERSAL, Type.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(Class.UNIVERSAL, Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

/** [n] EXPLICIT or, given several items, a constructed [n] IMPLICIT SET/SEQUENCE of them. */
export const tagged = (n: number, ...items: Asn1[]): Asn1 => asn1.create(Class.CONTEXT_SPECIFIC, n, true, items);

export function encode(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

/**
 * A node that encodes to exactly `der` (one complete TLV with a one-byte tag): the tag byte is
 * kept whole and the content copied unparsed. Checked, because forge would silently normalise
 * some encodings (e.g. an INTEGER with a redundant leading byte).
 */
export function raw(der: Uint8Array): Asn1 {
  const b = Buffer.from(der);
  const tag = b[0]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('raw(): multi-byte tags are not supported');
  const lengthByte = b[1]!;
  const headerLength = lengthByte < 0x80 ? 2 : 2 + (lengthByte & 0x7f);
  const node = asn1.create((tag & 0xc0) as forge.asn1.Class, (tag & 0x3f) as forge.asn1.Type, false, b.subarray(headerLength).toString('binary'));
  if (!encode(node).equals(b)) throw new Error('raw(): the bytes are not one DER element');
  return node;
}

/** A SET OF in DER order (elements sorted by their encodings), as signed attributes must be. */
export function derSet(items: Asn1[]): Asn1 {
  const sorted = items.map((item) => ({ item, der: encode(item) })).sort((a, b) => Buffer.compare(a.der, b.der));
  return set(...sorted.map((s) => s.item));
}
