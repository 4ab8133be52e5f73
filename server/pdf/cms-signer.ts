import { createHash, sign, type KeyObject } from 'node:crypto';
import { OID } from './oids';
import { derSet, encode, int, octets, oid, nul, raw, seq, set, tagged, time, type Asn1 } from './der-write';
import { certificateFields } from './certificate';

/**
 * CMS (PKCS#7) detached SignedData, as a PDF signature's /Contents holds it (adbe.pkcs7.detached).
 * node:crypto signs; node-forge's ASN.1 layer only encodes. @signpdf/signer-p12 is not used: it
 * re-encodes the issuer name through forge's certificate objects, which breaks UTF8String
 * (Japanese) names so that verifiers report the signature invalid, and it re-parses the PKCS#12
 * on every call. Here the issuer and serial are copied from the certificate byte for byte.
 */

export interface SigningKey {
  privateKey: KeyObject;
  /** the signer's certificate, DER */
  certificate: Buffer;
  /** issuing CA certificates (DER) to embed, so verifiers can build the chain */
  chain?: readonly Buffer[];
}

/** How the key's signature is named in SignerInfo (RSA PKCS#1 v1.5 or ECDSA, over SHA-256). */
function signatureAlgorithm(key: KeyObject): Asn1 {
  switch (key.asymmetricKeyType) {
    case 'rsa': return seq(oid(OID.rsaEncryption), nul());
    case 'ec': return seq(oid(OID.ecdsaWithSha256));
    default: throw new Error(`cannot sign with a ${key.asymmetricKeyType ?? 'symmetric'} key: RSA or ECDSA only`);
  }
}

const attribute = (type: string, value: Asn1) => seq(oid(type), set(value));

/**
 * Signs `content` (given in pieces: a PDF's bytes on either side of the signature hole) and
 * returns the DER of a ContentInfo holding the detached SignedData.
 */
export function signDetached(content: readonly Uint8Array[], key: SigningKey, signingTime: Date = new Date()): Buffer {
  const algorithm = signatureAlgorithm(key.privateKey);
  const digest = createHash('sha256');
  for (const piece of content) digest.update(piece);
  const cert = certificateFields(key.certificate);

  const signedAttributes = [
    attribute(OID.contentType, oid(OID.data)),
    attribute(OID.signingTime, time(signingTime)),
    attribute(OID.messageDigest, octets(digest.digest())),
    // ESS signing-certificate-v2 (RFC 5035): binds the signature to this very certificate, so it
    // cannot be passed off as made under another one with the same key.
    attribute(OID.signingCertificateV2, seq(seq(seq(octets(createHash('sha256').update(key.certificate).digest()))))),
  ];
  // What is signed is the DER of the attributes as a SET OF; in SignerInfo they are [0] IMPLICIT.
  const attributesSet = derSet(signedAttributes);
  const signature = sign('sha256', encode(attributesSet), key.privateKey);

  const sha256 = seq(oid(OID.sha256), nul());
  const signerInfo = seq(
    int(1),
    seq(raw(cert.issuer), raw(cert.serial)),
    sha256,
    tagged(0, ...(attributesSet.value as Asn1[])),
    algorithm,
    octets(signature),
  );
  const signedData = seq(
    int(1),
    set(sha256),
    seq(oid(OID.data)),
    tagged(0, raw(key.certificate), ...(key.chain ?? []).map((c) => raw(c))),
    set(signerInfo),
  );
  return encode(seq(oid(OID.signedData), tagged(0, signedData)));
}
