import { createHash, verify, X509Certificate } from 'node:crypto';
import { DIGEST_BY_OID, OID } from './oids';
import { children, decodeOid, decodeTime, DerError, expectTag, readDer, type Tlv } from './der-read';
import { certificateFields } from './certificate';

/**
 * Offline verification of a detached CMS SignedData over given content: the message digest, the
 * signature over the signed attributes (as they were encoded), and that the embedded signer
 * certificate was valid at the signing time. Whom to trust is the caller's question.
 */

export interface CmsVerification {
  ok: boolean;
  /** why not, in English, for logs and the operator */
  problem?: string;
  certificate?: X509Certificate;
  /** every certificate in the SignedData (the signer's and any chain) */
  certificates?: X509Certificate[];
  signingTime?: Date;
}

const SIGNATURE_DIGEST: Record<string, 'sha256' | 'sha384' | 'sha512' | undefined> = {
  [OID.rsaEncryption]: undefined,
  [OID.ecPublicKey]: undefined,
  [OID.sha256WithRSA]: 'sha256',
  [OID.sha384WithRSA]: 'sha384',
  [OID.sha512WithRSA]: 'sha512',
  [OID.ecdsaWithSha256]: 'sha256',
  [OID.ecdsaWithSha384]: 'sha384',
  [OID.ecdsaWithSha512]: 'sha512',
};

function attributes(signedAttrs: Tlv): Map<string, Tlv[]> {
  const out = new Map<string, Tlv[]>();
  for (const attr of children(signedAttrs)) {
    const [type, values] = children(expectTag(attr, 0x30, 'an attribute'));
    const id = decodeOid(type!);
    if (out.has(id)) throw new DerError(`attribute ${id} appears twice`);
    out.set(id, children(expectTag(values, 0x31, 'attribute values')));
  }
  return out;
}

function single(attrs: Map<string, Tlv[]>, id: string, what: string): Tlv {
  const values = attrs.get(id);
  if (!values || values.length !== 1) throw new DerError(`the ${what} attribute is missing`);
  return values[0]!;
}

export function verifyDetached(cms: Buffer, content: readonly Uint8Array[]): CmsVerification {
  try {
    return check(cms, content);
  } catch (err) {
    if (err instanceof DerError) return { ok: false, problem: `malformed signature: ${err.message}` };
    throw err;
  }
}

function check(cms: Buffer, content: readonly Uint8Array[]): CmsVerification {
  const [type, wrapped] = children(expectTag(readDer(cms, true), 0x30, 'a ContentInfo'));
  if (decodeOid(type!) !== OID.signedData) return { ok: false, problem: 'not a SignedData' };
  const [signedData] = children(expectTag(wrapped, 0xa0, '[0] content'));
  const parts = children(expectTag(signedData, 0x30, 'a SignedData'));
  const encap = children(expectTag(parts[2], 0x30, 'encapContentInfo'));
  if (encap.length !== 1) return { ok: false, problem: 'the signature is not detached' };
  const certificates = parts.find((p) => p.tag === 0xa0);
  const signerInfos = children(expectTag(parts.at(-1), 0x31, 'signerInfos'));
  if (signerInfos.length !== 1) return { ok: false, problem: `expected one signer, found ${signerInfos.length}` };
  const certs = certificates ? children(certificates).map((c) => new X509Certificate(c.der)) : [];

  const [, sid, digestAlg, signedAttrs, signatureAlg, signatureValue] = children(expectTag(signerInfos[0], 0x30, 'a SignerInfo'));
  expectTag(sid, 0x30, 'an issuerAndSerialNumber signer id');
  const [sidIssuer, sidSerial] = children(sid!);
  const certificate = certs.find((c) => {
    const f = certificateFields(c.raw);
    return f.issuer.equals(sidIssuer!.der) && f.serial.equals(sidSerial!.der);
  });
  if (!certificate) return { ok: false, problem: 'the signer certificate is not in the signature', certificates: certs };

  const digestName = DIGEST_BY_OID[decodeOid(children(expectTag(digestAlg, 0x30, 'a digest algorithm'))[0]!)];
  if (!digestName) return { ok: false, problem: 'unsupported digest algorithm', certificate, certificates: certs };
  const sigAlgOid = decodeOid(children(expectTag(signatureAlg, 0x30, 'a signature algorithm'))[0]!);
  if (!(sigAlgOid in SIGNATURE_DIGEST)) return { ok: false, problem: `unsupported signature algorithm ${sigAlgOid}`, certificate, certificates: certs };
  const signatureDigest = SIGNATURE_DIGEST[sigAlgOid] ?? digestName;

  const attrs = attributes(expectTag(signedAttrs, 0xa0, 'signed attributes'));
  if (decodeOid(single(attrs, OID.contentType, 'content type')) !== OID.data) return { ok: false, problem: 'the content type is not data', certificate, certificates: certs };
  const digest = createHash(digestName);
  for (const piece of content) digest.update(piece);
  const messageDigest = expectTag(single(attrs, OID.messageDigest, 'message digest'), 0x04, 'an OCTET STRING').content;
  const signingTimeAttr = attrs.get(OID.signingTime)?.[0];
  const signingTime = signingTimeAttr ? decodeTime(signingTimeAttr) : undefined;
  const result = { certificate, certificates: certs, signingTime };
  if (!digest.digest().equals(messageDigest)) return { ok: false, problem: 'digest mismatch: the document was changed after signing', ...result };

  const essCert = attrs.get(OID.signingCertificateV2)?.[0];
  if (essCert) {
    const [firstId] = children(children(expectTag(essCert, 0x30, 'SigningCertificateV2'))[0]!);
    const idParts = children(expectTag(firstId, 0x30, 'an ESSCertIDv2'));
    const hashAlg = idParts[0]!.tag === 0x30 ? DIGEST_BY_OID[decodeOid(children(idParts[0]!)[0]!)] : 'sha256';
    const certHash = idParts.find((p) => p.tag === 0x04)?.content;
    if (!hashAlg || !certHash || !createHash(hashAlg).update(certificate.raw).digest().equals(certHash)) {
      return { ok: false, problem: 'the signing-certificate attribute names another certificate', ...result };
    }
  }

  // Signed attributes are signed as a SET OF (tag 0x31), though carried as [0] IMPLICIT.
  const signedBytes = Buffer.concat([Buffer.from([0x31]), signedAttrs!.der.subarray(1)]);
  const signature = expectTag(signatureValue, 0x04, 'a signature value').content;
  let good: boolean;
  try {
    good = verify(signatureDigest, signedBytes, { key: certificate.publicKey, dsaEncoding: 'der' }, signature);
  } catch {
    good = false;
  }
  if (!good) return { ok: false, problem: 'the signature does not verify with the embedded certificate', ...result };

  if (signingTime) {
    const from = new Date(certificate.validFrom);
    const to = new Date(certificate.validTo);
    if (signingTime < from || signingTime > to) return { ok: false, problem: 'signed outside the certificate\'s validity period', ...result };
  }
  return { ok: true, ...result };
}
