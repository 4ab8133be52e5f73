/** Dates as the 廃棄・削除証明書 prints them (Japan time), for the PDF and the verify page alike (without loading the PDF code). */

const warekiFormat = new Intl.DateTimeFormat('ja-JP-u-ca-japanese', { era: 'long', year: 'numeric', month: 'long', day: 'numeric', timeZone: 'Asia/Tokyo' });
const westernFormat = new Intl.DateTimeFormat('ja-JP', { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'Asia/Tokyo' });

/** 令和8年11月23日 (Japan time; 令和元年 for 2019-05-01 onwards in its first year). */
export function warekiDate(at: Date): string {
  return warekiFormat.format(at);
}

/** 令和8年11月23日（2026年11月23日）: the issue date as printed. */
export function issueDateLabel(at: Date): string {
  return `${warekiFormat.format(at)}（${westernFormat.format(at)}）`;
}
