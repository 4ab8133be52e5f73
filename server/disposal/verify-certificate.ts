import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import type { SignedPdfCheck } from '../pdf/sign-pdf';

/**
 * Is this 廃棄・削除証明書 one the firm issued? Two ways to ask, for anyone holding a certificate:
 *
 * - the file itself: genuine only when its SHA-256 is that of an issued certificate AND a
 *   signature by the firm's certificate covers the whole file and verifies. A file that carries
 *   the firm's signature or certificate but is not one on record, or whose signature is broken
 *   (a changed byte, an appended update), is not genuine. Anything else — not a PDF, unsigned,
 *   signed by someone else — tells nothing about the firm: unknown.
 * - the number and the fingerprint printed on it (or the file's SHA-256): genuine when they match
 *   the record, not genuine when the number exists but the hex differs, unknown otherwise.
 *
 * Answers are the three words; the *Record variants also hand back the record a genuine one matched,
 * so the caller can show what the portal's own record says (number, issue date, issuer, client, how
 * many items) — only for a genuine one, and never anything typed or read from the file.
 */

export type CertificateCheck = 'genuine' | 'not_genuine' | 'unknown';

export const CERTIFICATE_NUMBER_PATTERN = /^DC-\d{4}-\d{6}$/;
const HEX64 = /^[0-9a-f]{64}$/;
/** Longer input is not a number or a hash: no need to normalise megabytes of it. */
const MAX_INPUT = 200;

export interface CertificateFileDeps<R extends { number: string } = { number: string }> {
  /** the issued certificate whose file has this SHA-256 (lowercase hex), if any */
  findBySha256(hex: string): Promise<R | null>;
  /**
   * The firm's signing certificate in PEM (PdfSigner.identity().certificatePem). After a change of
   * key or a move to a CA-issued PKCS#12, pass the earlier certificates too, or the certificates
   * signed with them stop being recognised.
   */
  trustedCertificatePem: string | readonly string[];
}

export interface CertificateNumberDeps<R extends { fingerprint: string; sha256: string } = { fingerprint: string; sha256: string }> {
  findByNumber(number: string): Promise<R | null>;
}

/** An answer with the record it was found genuine against (null unless genuine): what the page may name. */
export interface CertificateCheckWithRecord<R> {
  answer: CertificateCheck;
  record: R | null;
}

/** "%PDF-" within the first KiB, where readers look for it. */
function looksLikePdf(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 1024)).includes('%PDF-', 0, 'latin1');
}

/** Whether the certificate a signature names is one of ours or issued by one of ours (whether or not the signature holds). */
function signerIsOurs(check: SignedPdfCheck, anchors: readonly X509Certificate[]): boolean {
  if (!check.certificatePem) return false;
  let signer: X509Certificate;
  try {
    signer = new X509Certificate(check.certificatePem);
  } catch {
    return false;
  }
  return anchors.some((a) => a.raw.equals(signer.raw) || (signer.checkIssued(a) && signer.verify(a.publicKey)));
}

/**
 * Whether one of our own (end-entity) certificates is written into the file, as a signature's hex
 * /Contents carries it: a signature damaged beyond parsing still says whose it claims to be. CA
 * certificates are left out — others' signatures carry them in their chains too.
 */
function carriesOurCertificate(bytes: Uint8Array, anchors: readonly X509Certificate[]): boolean {
  const file = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return anchors.filter((a) => !a.ca).some((a) => {
    const hex = a.raw.toString('hex');
    return file.includes(hex, 0, 'latin1') || file.includes(hex.toUpperCase(), 0, 'latin1');
  });
}

/** Checks an uploaded file against the issued certificates and the firm's signature. */
export async function checkCertificateFile(bytes: Uint8Array, deps: CertificateFileDeps): Promise<CertificateCheck> {
  return (await checkCertificateFileRecord(bytes, deps)).answer;
}

/** checkCertificateFile, with the issued certificate's record when (and only when) the file is genuine. */
export async function checkCertificateFileRecord<R extends { number: string }>(bytes: Uint8Array, deps: CertificateFileDeps<R>): Promise<CertificateCheckWithRecord<R>> {
  const trusted = typeof deps.trustedCertificatePem === 'string' ? [deps.trustedCertificatePem] : [...deps.trustedCertificatePem];
  if (trusted.length === 0) throw new Error('checkCertificateFile: no trusted certificate given');
  // A certificate that cannot be read is the portal's misconfiguration, not the holder's file: it throws.
  const anchors = trusted.map((pem) => new X509Certificate(pem));
  if (!looksLikePdf(bytes)) return { answer: 'unknown', record: null };

  let check: SignedPdfCheck;
  try {
    // pdf-lib loads with the first file checked, not with every process.
    const { verifySignedPdf } = await import('../pdf/sign-pdf');
    check = await verifySignedPdf(bytes, { trusted });
  } catch (err) {
    // A damaged signature can trip the certificate parser: it is simply not a valid one.
    check = { valid: false, problem: err instanceof Error ? err.message : String(err) };
  }
  if (check.valid) {
    // Intact and signed by the firm: genuine if it is one of the certificates issued, byte for byte.
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const record = await deps.findBySha256(sha256);
    return record ? { answer: 'genuine', record } : { answer: 'not_genuine', record: null };
  }
  if (signerIsOurs(check, anchors) || carriesOurCertificate(bytes, anchors)) return { answer: 'not_genuine', record: null };
  return { answer: 'unknown', record: null };
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), 'latin1');
  const y = Buffer.from(b, 'latin1');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Checks a certificate number and the hex printed on it (the fingerprint of its facts) or the
 * SHA-256 of its file. Typed input is forgiven full-width characters, surrounding spaces, a
 * lowercase dc- and spaces inside the hex; anything else that is not DC-yyyy-nnnnnn and 64 hex
 * digits is unknown without a look-up.
 */
export async function checkCertificateNumber(number: string, sha256: string, deps: CertificateNumberDeps): Promise<CertificateCheck> {
  return (await checkCertificateNumberRecord(number, sha256, deps)).answer;
}

/** checkCertificateNumber, with the issued certificate's record when (and only when) the number and hex match it. */
export async function checkCertificateNumberRecord<R extends { fingerprint: string; sha256: string }>(number: string, sha256: string, deps: CertificateNumberDeps<R>): Promise<CertificateCheckWithRecord<R>> {
  const unknown = { answer: 'unknown' as const, record: null };
  if (typeof number !== 'string' || typeof sha256 !== 'string' || number.length > MAX_INPUT || sha256.length > MAX_INPUT) return unknown;
  const num = number.normalize('NFKC').trim().toUpperCase();
  const hex = sha256.normalize('NFKC').replace(/\s+/g, '').toLowerCase();
  if (!CERTIFICATE_NUMBER_PATTERN.test(num) || !HEX64.test(hex)) return unknown;
  const record = await deps.findByNumber(num);
  if (!record) return unknown;
  return [record.fingerprint, record.sha256].some((v) => typeof v === 'string' && sameHex(v, hex)) ? { answer: 'genuine', record } : { answer: 'not_genuine', record: null };
}
