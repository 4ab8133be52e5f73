import { createHash } from 'node:crypto';

/** What a 廃棄・削除証明書 states: facts about what was destroyed, never the data itself. */
export interface CertificateItem {
  employeeCode: string | null;
  /** 山＊ 太＊ — the person, masked */
  maskedLabel: string;
  /** e.g. 個人番号（本人）, 個人番号（扶養家族）, ファイル（本人確認書類） */
  dataKind: string;
  /** why it was kept until now / why it goes: e.g. 保存期間満了（退職後7年） */
  reason: string;
  /** yyyy-mm-dd, Japan time */
  disposedOn: string;
}

export interface CertificateData {
  number: string;
  issuedAt: Date;
  client: { code: string; name: string };
  firmName: string;
  items: CertificateItem[];
  operator: string;
  approver: string;
  /** whole-client offboarding: every item and the client's keys */
  wholeClient: boolean;
  /** NIST SP 800-88 certificate of sanitization fields */
  method: string;
  category: string;
  verification: string;
  software: string;
  backups: string;
  /** the page anyone can check the certificate on, with number and fingerprint in the query */
  verifyUrl: string;
  fingerprint: string;
}

/**
 * The certificate's fingerprint: SHA-256 of its facts in a fixed order. It is printed and put in
 * the QR link, so a holder can check a certificate by number and fingerprint without the file.
 */
export function certificateFingerprint(d: Omit<CertificateData, 'fingerprint' | 'verifyUrl'>): string {
  const canonical = JSON.stringify([
    'akatsuki/disposal-certificate/v1', d.number, d.issuedAt.toISOString(), d.client.code, d.client.name, d.firmName,
    d.items.map((i) => [i.employeeCode, i.maskedLabel, i.dataKind, i.reason, i.disposedOn]), d.operator, d.approver, d.wholeClient,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
