import type { Lang } from '../i18n';

const TZ = 'Asia/Tokyo';

export function formatDateTime(d: Date | null | undefined, lang: Lang): string {
  if (!d) return '';
  return new Intl.DateTimeFormat(lang === 'ja' ? 'ja-JP' : 'en-GB', { timeZone: TZ, dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
