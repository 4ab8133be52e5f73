import type { ReportFrequency } from '../db/models';

/** Japan has no daylight saving: Asia/Tokyo is always UTC+9. */
const JST_OFFSET_MS = 9 * 3600_000;

export interface Period {
  /** 2026-10, 2026-Q3 or 2026 */
  key: string;
  frequency: ReportFrequency;
  /** first and last day, yyyy-mm-dd, Japan time */
  startDate: string;
  endDate: string;
  /** [start, end) as instants */
  start: Date;
  end: Date;
}

const pad = (n: number) => String(n).padStart(2, '0');
const jstMidnight = (y: number, m: number, d: number) => new Date(Date.UTC(y, m - 1, d) - JST_OFFSET_MS);
const isoDay = (y: number, m: number, d: number) => `${y}-${pad(m)}-${pad(d)}`;
const lastDay = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();

function build(frequency: ReportFrequency, y: number, firstMonth: number, months: number, key: string): Period {
  const endYear = y + Math.floor((firstMonth - 1 + months) / 12);
  const endMonthExclusive = ((firstMonth - 1 + months) % 12) + 1;
  const lastMonth = firstMonth + months - 1;
  return {
    key, frequency,
    startDate: isoDay(y, firstMonth, 1),
    endDate: isoDay(y, lastMonth, lastDay(y, lastMonth)),
    start: jstMidnight(y, firstMonth, 1),
    end: jstMidnight(endYear, endMonthExclusive, 1),
  };
}

/** The period a key names, or null when the key is not one (2026-10, 2026-Q4, 2026). */
export function parsePeriod(key: string): Period | null {
  let m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(key);
  if (m) return build('monthly', Number(m[1]), Number(m[2]), 1, key);
  m = /^(\d{4})-Q([1-4])$/.exec(key);
  if (m) return build('quarterly', Number(m[1]), (Number(m[2]) - 1) * 3 + 1, 3, key);
  m = /^(\d{4})$/.exec(key);
  if (m) return build('yearly', Number(m[1]), 1, 12, key);
  return null;
}

/** The period of a frequency that contains an instant (Japan time). */
export function periodContaining(frequency: ReportFrequency, at: Date): Period {
  const jst = new Date(at.getTime() + JST_OFFSET_MS);
  const y = jst.getUTCFullYear();
  const month = jst.getUTCMonth() + 1;
  if (frequency === 'monthly') return parsePeriod(`${y}-${pad(month)}`)!;
  if (frequency === 'quarterly') return parsePeriod(`${y}-Q${Math.floor((month - 1) / 3) + 1}`)!;
  return parsePeriod(String(y))!;
}

/** The period just before one of the same frequency. */
export function previousPeriod(p: Period): Period {
  return periodContaining(p.frequency, new Date(p.start.getTime() - 1));
}

/**
 * The finished periods a client is owed as of `now`, newest first: from the last finished one
 * back to the one its data began in, at most `limit` (catching up after downtime, not forever).
 */
export function duePeriods(frequency: ReportFrequency, now: Date, since: Date, limit = 12): Period[] {
  const out: Period[] = [];
  let p = previousPeriod(periodContaining(frequency, now));
  while (out.length < limit && p.end.getTime() > since.getTime()) {
    out.push(p);
    p = previousPeriod(p);
  }
  return out;
}

/** 2026年10月, 2026年 第3四半期, 2026年 — the period as people say it. */
export function periodLabel(p: Period, lang: 'ja' | 'en'): string {
  const [y, rest] = p.key.split('-');
  if (p.frequency === 'monthly') return lang === 'ja' ? `${y}年${Number(rest)}月` : `${new Date(Date.UTC(Number(y), Number(rest) - 1, 1)).toLocaleString('en-GB', { month: 'long', timeZone: 'UTC' })} ${y}`;
  if (p.frequency === 'quarterly') return lang === 'ja' ? `${y}年 第${rest!.slice(1)}四半期` : `${rest} ${y}`;
  return lang === 'ja' ? `${y}年` : String(y);
}
