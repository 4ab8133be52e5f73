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
  /** who asked for the disposal (a person's name, or 自動廃棄 for the daily job) */
  requester: string;
  /** who approved it (a firm admin, or the client's standing approval) */
  approver: string;
  /** who carried out the erasure: the portal itself, on approval (EXECUTOR_ON_APPROVAL / EXECUTOR_AUTOMATIC) */
  executor: string;
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

/** The erasure is carried out by the portal when the firm admin approves (or, after a crash, by its resumption). */
export const EXECUTOR_ON_APPROVAL = 'システム（承認後に自動で実行）';
/** A disposal under the client's standing approval: the daily job carries it out. */
export const EXECUTOR_AUTOMATIC = 'システム（顧問先の事前承認に基づく日次の自動廃棄）';

/**
 * The certificate's fingerprint: SHA-256 of its facts in a fixed order. It is printed and put in
 * the QR link, so a holder can check a certificate by number and fingerprint without the file.
 */
export function certificateFingerprint(d: Omit<CertificateData, 'fingerprint' | 'verifyUrl'>): string {
  const canonical = JSON.stringify([
    // v2: requester, approver and executor (v1 had one "operator", the requester, printed as 実施者). The
    // fingerprint of an issued certificate is stored with it and never computed again, so v1 ones still verify.
    'akatsuki/disposal-certificate/v2', d.number, d.issuedAt.toISOString(), d.client.code, d.client.name, d.firmName,
    d.items.map((i) => [i.employeeCode, i.maskedLabel, i.dataKind, i.reason, i.disposedOn]), d.requester, d.approver, d.executor, d.wholeClient,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
