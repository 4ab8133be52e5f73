import { createHash, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { OID } from './oids';
import { bits, bool, encode, int, octets, oid, printable, raw, seq, set, tagged, time, unsignedInt, utf8, nul, type Asn1 } from './der-write';
import { children, decodeOid, decodeString, expectTag, readDer, type Tlv } from './der-read';

/**
 * X.509 certificates as the signer needs them: making the firm's self-signed one (node:crypto
 * signs, names are written as UTF8String so 暁社会保険労務士事務所 survives) and reading the few
 * fields CMS needs, byte for byte.
 */

export interface NewCertificate {
  publicKey: KeyObject;
  privateKey: KeyObject;
  commonName: string;
  organization?: string;
  /** ISO 3166 two-letter code */
  country?: string;
  validYears: number;
  now?: Date;
}

/** The signature algorithm a key signs certificates with (SHA-256 for both kinds). */
function signatureAlgorithm(key: KeyObject): Asn1 {
  switch (key.asymmetricKeyType) {
    case 'rsa': return seq(oid(OID.sha256WithRSA), nul());
    case 'ec': return seq(oid(OID.ecdsaWithSha256));
    default: throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
  }
}

function name(n: Pick<NewCertificate, 'commonName' | 'organization' | 'country'>): Asn1 {
  const rdn = (type: string, value: Asn1) => set(seq(oid(type), value));
  return seq(
    ...(n.country ? [rdn(OID.country, printable(n.country))] : []),
    ...(n.organization ? [rdn(OID.organization, utf8(n.organization))] : []),
    rdn(OID.commonName, utf8(n.commonName)),
  );
}

const extension = (id: string, critical: boolean, value: Asn1) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(encode(value)));

/** A self-signed end-entity certificate for signing documents; returns its DER. */
export function selfSignedCertificate(c: NewCertificate): Buffer {
  const now = c.now ?? new Date();
  // An hour back, so a verifier whose clock is slightly behind still sees it as valid.
  const notBefore = new Date(now.getTime() - 60 * 60_000);
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + c.validYears);
  const spki = c.publicKey.export({ type: 'spki', format: 'der' });
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const subject = name(c);
  const tbs = seq(
    tagged(0, int(2)),
    unsignedInt(serial),
    signatureAlgorithm(c.privateKey),
    subject,
    seq(time(notBefore), time(notAfter)),
    subject,
    raw(spki),
    tagged(3, seq(
      extension(OID.basicConstraints, true, seq()),
      // digitalSignature and nonRepudiation (contentCommitment): bits 0 and 1
      extension(OID.keyUsage, true, bits(Buffer.from([0xc0]), 6)),
      extension(OID.extKeyUsage, false, seq(oid(OID.documentSigning), oid(OID.emailProtection))),
      extension(OID.subjectKeyIdentifier, false, octets(createHash('sha1').update(spki).digest())),
    )),
  );
  const tbsDer = encode(tbs);
  const signature = sign('sha256', tbsDer, c.privateKey);
  return encode(seq(raw(tbsDer), signatureAlgorithm(c.privateKey), bits(signature)));
}

export interface CertificateFields {
  /** the issuer Name and serialNumber INTEGER elements, exactly as encoded */
  issuer: Buffer;
  serial: Buffer;
  subject: Buffer;
  /** the subject's common name (or its whole subject text without one) */
  commonName: string;
}

/** tbsCertificate's fields in order, with the optional [0] version skipped. */
function tbsFields(certDer: Buffer): Tlv[] {
  const cert = children(expectTag(readDer(certDer), 0x30, 'a certificate'));
  const fields = children(expectTag(cert[0], 0x30, 'a tbsCertificate'));
  return fields[0]?.tag === 0xa0 ? fields.slice(1) : fields;
}

export function commonNameOf(nameTlv: Tlv): string | undefined {
  for (const rdn of children(nameTlv)) {
    for (const atv of children(rdn)) {
      const [type, value] = children(atv);
      if (type && value && decodeOid(type) === OID.commonName) return decodeString(value);
    }
  }
  return undefined;
}

export function certificateFields(certDer: Buffer): CertificateFields {
  const [serial, , issuer, , subject] = tbsFields(certDer);
  expectTag(serial, 0x02, 'a serial number');
  expectTag(issuer, 0x30, 'an issuer name');
  expectTag(subject, 0x30, 'a subject name');
  return {
    issuer: issuer!.der,
    serial: serial!.der,
    subject: subject!.der,
    commonName: commonNameOf(subject!) ?? new X509Certificate(certDer).subject,
  };
}

export function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}

export function fromPem(pem: string): Buffer {
  return new X509Certificate(pem).raw;
}
