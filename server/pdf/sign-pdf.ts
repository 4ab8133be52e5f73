import { X509Certificate } from 'node:crypto';
import { PDFContext, PDFDict, PDFDocument, PDFHexString, PDFName, PDFObjectParser, PDFString } from 'pdf-lib';
import { pdflibAddPlaceholder } from '@signpdf/placeholder-pdf-lib';
import { SignPdf, Signer } from '@signpdf/signpdf';
import { signDetached, type SigningKey } from './cms-signer';
import { verifyDetached } from './cms-verify';
import { certificateFields, fromPem, toPem } from './certificate';

/**
 * Signing a finished PDF (an invisible signature field on page 1, adbe.pkcs7.detached) and
 * checking such a signature offline, without trusting anything the file says about itself.
 */

export interface SignatureMeta {
  /** 署名の理由, e.g. 取扱状況報告書の発行 */
  reason: string;
  /** the signer's name as shown by viewers; default: the certificate's common name */
  name?: string;
  location?: string;
  contactInfo?: string;
  signingTime?: Date;
}

/**
 * A text string for a PDF dictionary that @signpdf/placeholder-pdf-lib writes as given between
 * parentheses (pdf-lib's PDFString does no escaping and keeps only the low byte of each char):
 * ASCII stays readable, anything else becomes UTF-16BE with a byte-order mark; ( ) \ and every
 * non-printable byte are escaped, since UTF-16 of 」 (U+300D) or 小 (U+5C0F) contains CR or \.
 */
export function pdfTextString(text: string): string {
  const ascii = /^[\x20-\x7E]*$/.test(text);
  const bytes = ascii ? Buffer.from(text, 'latin1') : Buffer.from(`\uFEFF${text}`, 'utf16le').swap16();
  let out = '';
  for (const b of bytes) {
    if (b === 0x28 || b === 0x29 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b < 0x20 || b > 0x7e) out += `\\${b.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(b);
  }
  return out;
}

class CmsPdfSigner extends Signer {
  constructor(private readonly key: SigningKey) {
    super();
  }

  override async sign(content: Buffer, signingTime?: Date): Promise<Buffer> {
    return signDetached([content], this.key, signingTime);
  }
}

/** Room for the CMS in hex digits: certificates, a 512-byte signature and attributes, with margin. */
function signatureLength(key: SigningKey): number {
  const bytes = key.certificate.length + (key.chain ?? []).reduce((s, c) => s + c.length, 0) + 2048;
  return Math.max(8192, Math.ceil((bytes * 2) / 1024) * 1024);
}

/** Returns `pdfBytes` with a signature over all of it. Builds on pdf-lib: CPU-bound, like building. */
export async function signPdf(pdfBytes: Uint8Array, key: SigningKey, meta: SignatureMeta): Promise<Uint8Array> {
  // Whole seconds: /M and the CMS signingTime then agree exactly.
  const signingTime = new Date(Math.floor((meta.signingTime ?? new Date()).getTime() / 1000) * 1000);
  // pdf-lib rewrites the whole file, which would break a signature already in it.
  if (/\/ByteRange\s*\[/.test(Buffer.from(pdfBytes.buffer, pdfBytes.byteOffset, pdfBytes.byteLength).toString('latin1'))) {
    throw new Error('signPdf: the PDF is already signed');
  }
  const doc = await PDFDocument.load(pdfBytes, { updateMetadata: false });
  pdflibAddPlaceholder({
    pdfDoc: doc,
    reason: pdfTextString(meta.reason),
    name: pdfTextString(meta.name ?? certificateFields(key.certificate).commonName),
    location: pdfTextString(meta.location ?? ''),
    contactInfo: pdfTextString(meta.contactInfo ?? ''),
    signingTime,
    signatureLength: signatureLength(key),
    appName: 'AkatsukiPortal',
  });
  const prepared = await doc.save({ useObjectStreams: false });
  const signed = await new SignPdf().sign(Buffer.from(prepared), new CmsPdfSigner(key), signingTime);
  return new Uint8Array(signed.buffer, signed.byteOffset, signed.byteLength);
}

export interface SignedPdfCheck {
  /** true only when a signature covers the whole file and verifies (and, if asked, the signer is trusted) */
  valid: boolean;
  /** the signer certificate's common name */
  signer?: string;
  reason?: string;
  /** the signing time inside the signature (signed), not the dictionary's /M */
  signedAt?: Date;
  name?: string;
  location?: string;
  /** SHA-256 fingerprint of the signer certificate, AA:BB:… */
  fingerprint256?: string;
  certificatePem?: string;
  /** why the file is not valid */
  problem?: string;
}

export interface VerifyOptions {
  /**
   * Certificates (PEM) to accept as the signer or as an issuer of its chain. Without them any
   * intact signature is valid — including one a forger made with a certificate of his own that
   * carries the firm's name; certificate:verify should pass the firm's certificates.
   */
  trusted?: readonly string[];
}

interface Candidate { range: [number, number, number, number]; dictStart: number }

/** Every /ByteRange [0 b c d] in the file whose hole is a hex string and whose ranges reach the end. */
function candidates(pdf: Buffer): Candidate[] {
  const text = pdf.toString('latin1');
  const out: Candidate[] = [];
  for (const m of text.matchAll(/\/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]/g)) {
    const [a, b, c, d] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
    if (a !== 0 || !(b > 0) || !(c > b + 1) || c + d !== pdf.length) continue;
    if (pdf[b] !== 0x3c || pdf[c - 1] !== 0x3e || !/^[0-9A-Fa-f]*$/.test(text.slice(b + 1, c - 1))) continue;
    // The signature dictionary is the one the /ByteRange sits in: it opens after "obj".
    const objAt = text.lastIndexOf(' obj', m.index);
    const dictStart = objAt < 0 ? -1 : text.indexOf('<<', objAt);
    if (dictStart < 0 || dictStart > m.index) continue;
    out.push({ range: [a, b, c, d], dictStart });
  }
  return out;
}

function textOf(dict: PDFDict, key: string): string | undefined {
  const v = dict.get(PDFName.of(key));
  return v instanceof PDFString || v instanceof PDFHexString ? v.decodeText() : undefined;
}

/** Whether `cert` is trusted directly or through certificates embedded in the signature. */
function trustedPath(cert: X509Certificate, embedded: readonly X509Certificate[], trusted: readonly X509Certificate[]): boolean {
  let current = cert;
  for (let depth = 0; depth < 6; depth++) {
    if (trusted.some((t) => t.raw.equals(current.raw))) return true;
    const anchor = trusted.find((t) => current.checkIssued(t) && current.verify(t.publicKey));
    if (anchor) return true;
    const parent = embedded.find((e) => !e.raw.equals(current.raw) && current.checkIssued(e) && current.verify(e.publicKey));
    if (!parent) return false;
    current = parent;
  }
  return false;
}

/**
 * Checks a signed PDF offline: some signature's /ByteRange must cover the whole file except its
 * own /Contents hole (so nothing was appended or changed), its message digest must match those
 * bytes, and its signature must verify with the certificate embedded in it.
 */
export async function verifySignedPdf(bytes: Uint8Array, opts: VerifyOptions = {}): Promise<SignedPdfCheck> {
  const pdf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found = candidates(pdf);
  if (found.length === 0) return { valid: false, problem: 'no signature covers the whole file' };
  let last: SignedPdfCheck = { valid: false };
  for (const { range: [, b, c, d], dictStart } of found.reverse()) {
    const cms = Buffer.from(pdf.toString('latin1', b + 1, c - 1), 'hex');
    const check = verifyDetached(cms, [pdf.subarray(0, b), pdf.subarray(c, c + d)]);
    let dict: PDFDict;
    try {
      const parsed = PDFObjectParser.forBytes(pdf.subarray(dictStart), PDFContext.create()).parseObject();
      if (!(parsed instanceof PDFDict)) throw new Error('not a dictionary');
      dict = parsed;
    } catch {
      last = { valid: false, problem: 'the signature dictionary cannot be read' };
      continue;
    }
    const cert = check.certificate;
    last = {
      valid: check.ok,
      signer: cert ? certificateFields(cert.raw).commonName : undefined,
      reason: textOf(dict, 'Reason'),
      name: textOf(dict, 'Name'),
      location: textOf(dict, 'Location'),
      signedAt: check.signingTime,
      fingerprint256: cert?.fingerprint256,
      certificatePem: cert ? toPem(cert.raw) : undefined,
      problem: check.problem,
    };
    if (check.ok && cert && opts.trusted) {
      const anchors = opts.trusted.map((pem) => new X509Certificate(fromPem(pem)));
      if (!trustedPath(cert, check.certificates ?? [], anchors)) last = { ...last, valid: false, problem: 'the signer is not one of the trusted certificates' };
    }
    if (last.valid) return last;
  }
  return last;
}
