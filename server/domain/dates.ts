/**
 * A calendar date written yyyy-mm-dd (or yyyy/m/d as spreadsheets write it), as ISO yyyy-mm-dd,
 * or null when it is not a real day. Date.parse would roll 2021-02-30 over to 2 March.
 */
export function calendarDate(value: string): string | null {
  const m = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$/.exec(value.trim());
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return date.toISOString().slice(0, 10);
}

/** The calendar day in Japan (yyyy-mm-dd) at a moment, now by default: how dates are written and compared here. */
export function japanDay(at: Date = new Date()): string {
  return new Date(at.getTime() + 9 * 3600_000).toISOString().slice(0, 10);
}
