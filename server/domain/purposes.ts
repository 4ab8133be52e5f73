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
