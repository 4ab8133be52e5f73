/**
 * Why firm staff open a My Number (利用目的) and where the filing goes (提出先). Keys are stored in
 * the audit log; labels live in the locale files under purpose.* and office.*.
 */
export const PROCEDURES = [
  'withholding_slip', // 源泉徴収票
  'salary_payment_report', // 給与支払報告書
  'dependant_declaration', // 扶養控除等申告書
  'employment_insurance_acquire', // 雇用保険被保険者資格取得届
  'employment_insurance_loss', // 雇用保険被保険者資格喪失届
  'social_insurance_acquire', // 健康保険・厚生年金保険被保険者資格取得届
  'social_insurance_loss', // 健康保険・厚生年金保険被保険者資格喪失届
  'dependant_change', // 被扶養者異動届
  'pension_category3', // 国民年金第3号被保険者関係届
  'payment_record', // 支払調書
] as const;

export const OFFICES = [
  'tax_office', // 税務署
  'municipality', // 市区町村
  'hello_work', // 公共職業安定所（ハローワーク）
  'pension_office', // 年金事務所
  'health_insurance', // 健康保険組合・協会けんぽ
] as const;

export type Procedure = (typeof PROCEDURES)[number];
export type Office = (typeof OFFICES)[number];

/**
 * Where each procedure is filed. A purpose stated with an office it is never filed at (源泉徴収票 to
 * ハローワーク) would make the log claim what cannot have happened, so it is refused. 源泉徴収票 and
 * 給与支払報告書 are one four-part form filed together, hence both offices for the former.
 */
export const OFFICES_FOR: Record<Procedure, readonly Office[]> = {
  withholding_slip: ['tax_office', 'municipality'],
  salary_payment_report: ['municipality'],
  dependant_declaration: ['tax_office'],
  employment_insurance_acquire: ['hello_work'],
  employment_insurance_loss: ['hello_work'],
  social_insurance_acquire: ['pension_office', 'health_insurance'],
  social_insurance_loss: ['pension_office', 'health_insurance'],
  dependant_change: ['pension_office', 'health_insurance'],
  pension_category3: ['pension_office'],
  payment_record: ['tax_office'],
};

export const officeFits = (procedure: Procedure, office: Office): boolean => OFFICES_FOR[procedure].includes(office);

/** A payee (a lecturer, a landlord) is in the vault for the 支払調書 only. */
export const PAYEE_PROCEDURES: readonly Procedure[] = ['payment_record'];

/**
 * A dependant's number goes on the forms that list dependants (源泉徴収票 and 給与支払報告書 with
 * their dependants, 扶養控除等申告書, 被扶養者異動届, the spouse's 第3号被保険者関係届), never on the
 * insured employee's own 雇用保険 or 社会保険 資格取得・喪失届.
 */
export const DEPENDANT_PROCEDURES: readonly Procedure[] = ['withholding_slip', 'salary_payment_report', 'dependant_declaration', 'dependant_change', 'pension_category3'];

/** Why a number of this kind of person may not be opened for the procedure (message key and log detail), or null. */
export function procedureRefusal(personKind: 'employee' | 'dependant' | 'payee', procedure: Procedure): { key: string; detail: string } | null {
  if (personKind === 'payee' && !PAYEE_PROCEDURES.includes(procedure)) return { key: 'vault.payeePurpose', detail: 'purpose not for a payee' };
  if (personKind === 'dependant' && !DEPENDANT_PROCEDURES.includes(procedure)) return { key: 'vault.dependantPurpose', detail: 'purpose not for a dependant' };
  return null;
}

/** The purpose and office a form sent, where they are on the lists: free text never reaches the log or a page again. */
export function listedPurpose(body: unknown): { purpose?: Procedure; office?: Office } {
  const b = (body ?? {}) as Record<string, unknown>;
  return { purpose: PROCEDURES.find((p) => p === b.purpose), office: OFFICES.find((o) => o === b.office) };
}
