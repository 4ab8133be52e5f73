import { Client, DisposalCertificate, DisposalItem, DisposalRequest } from '../db/models';
import { translate, type Lang } from '../i18n';
import { clientLabel } from '../presenters/client';
import { issueDateLabel } from './wareki';
import { checkCertificateFileRecord, checkCertificateNumberRecord, type CertificateCheck } from './verify-certificate';

/**
 * The public check (/verify) against the portal's own register of issued certificates. A genuine
 * answer names which certificate was checked — its number, issue date, issuer, the client it is for
 * and how many items it certifies — from the record, never from the uploaded file or what was typed,
 * and never anything about a person (no names, no numbers: the items are only counted). Any other
 * answer names nothing.
 */

export interface VerifiedCertificate {
  number: string;
  issuedAt: Date;
  /** the firm that runs this portal (the certificate's 発行者) */
  issuer: string;
  client: { code: string; name: string } | null;
  itemCount: number;
  wholeClient: boolean;
}

export interface CertificateVerification {
  answer: CertificateCheck;
  /** only for a genuine certificate */
  certificate: VerifiedCertificate | null;
}

export interface LookupDeps {
  firmName(): Promise<string>;
}

/** What the record says of an issued certificate. */
async function factsOf(cert: DisposalCertificate, deps: LookupDeps): Promise<VerifiedCertificate> {
  const [client, request, itemCount, issuer] = await Promise.all([
    Client.findByPk(cert.clientId, { attributes: ['code', 'name'] }),
    DisposalRequest.findByPk(cert.requestId, { attributes: ['scope'] }),
    DisposalItem.count({ where: { requestId: cert.requestId } }),
    deps.firmName(),
  ]);
  return {
    number: cert.number, issuedAt: cert.issuedAt, issuer, itemCount, wholeClient: request?.scope === 'client',
    client: client ? { code: client.code, name: client.name } : null,
  };
}

const findByNumber = (number: string) => DisposalCertificate.findOne({ where: { number } });
const findBySha256 = (sha256: string) => DisposalCertificate.findOne({ where: { sha256 } });

/** An uploaded PDF: genuine only when signed by the firm and, byte for byte, one issued. */
export async function verifyCertificateUpload(bytes: Uint8Array, deps: LookupDeps & { trustedCertificatePem: string | readonly string[] }): Promise<CertificateVerification> {
  const { answer, record } = await checkCertificateFileRecord(bytes, { findBySha256, trustedCertificatePem: deps.trustedCertificatePem });
  return { answer, certificate: answer === 'genuine' && record ? await factsOf(record, deps) : null };
}

/** A number with the fingerprint printed on the certificate (or its file's SHA-256), typed or from the QR link. */
export async function verifyCertificateNumber(number: string, sha256: string, deps: LookupDeps): Promise<CertificateVerification> {
  const { answer, record } = await checkCertificateNumberRecord(number, sha256, { findByNumber });
  return { answer, certificate: answer === 'genuine' && record ? await factsOf(record, deps) : null };
}

const englishDate = new Intl.DateTimeFormat('en-GB', { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'Asia/Tokyo' });

/** The verified certificate as the page shows it: the issue date as printed on it (和暦 and western) in Japanese. */
export function presentVerified(v: VerifiedCertificate, lang: Lang) {
  return {
    number: v.number,
    issuedOn: lang === 'ja' ? issueDateLabel(v.issuedAt) : englishDate.format(v.issuedAt),
    issuer: v.issuer || '—',
    client: v.client ? clientLabel(v.client) : '—',
    items: translate(lang, v.wholeClient ? 'verify.record.countWhole' : 'verify.record.count', { count: v.itemCount }),
  };
}
