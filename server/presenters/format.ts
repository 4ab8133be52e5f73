import type { Lang } from '../i18n';

const TZ = 'Asia/Tokyo';

// Making a formatter is slow (a 10,000-row report spent most of its time on it): one per language.
const FORMATTERS: Record<Lang, Intl.DateTimeFormat> = {
  ja: new Intl.DateTimeFormat('ja-JP', { timeZone: TZ, dateStyle: 'medium', timeStyle: 'short' }),
  en: new Intl.DateTimeFormat('en-GB', { timeZone: TZ, dateStyle: 'medium', timeStyle: 'short' }),
};

// The log is a record to reconstruct events from: its times carry seconds (two operations in one minute stay in order to the eye).
const TO_THE_SECOND: Record<Lang, Intl.DateTimeFormat> = {
  ja: new Intl.DateTimeFormat('ja-JP', { timeZone: TZ, dateStyle: 'medium', timeStyle: 'medium' }),
  en: new Intl.DateTimeFormat('en-GB', { timeZone: TZ, dateStyle: 'medium', timeStyle: 'medium' }),
};

export function formatDateTime(d: Date | null | undefined, lang: Lang, o: { seconds?: boolean } = {}): string {
  if (!d) return '';
  return (o.seconds ? TO_THE_SECOND : FORMATTERS)[lang].format(d);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** A size limit as people say it: whole gigabytes or megabytes (2 GB, not 2048 MB or 2.0 GB). */
export function formatLimit(bytes: number): string {
  const gib = 1024 ** 3;
  return bytes >= gib && bytes % gib === 0 ? `${bytes / gib} GB` : `${Math.floor(bytes / 1024 / 1024)} MB`;
}

/** An aside in brackets as each language writes it: 「田中（人事）」, "Tanaka (HR)". */
export function inParens(text: string, lang: Lang): string {
  return lang === 'ja' ? `（${text}）` : ` (${text})`;
}
