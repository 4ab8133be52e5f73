import { stringify } from 'csv-stringify/sync';

/**
 * A cell a spreadsheet will not run: text starting with = + - @ or a tab / carriage return is
 * prefixed with an apostrophe (OWASP's CSV-injection advice), so it is shown, never evaluated.
 */
export function safeCell(value: string | number | null | undefined): string {
  const s = value == null ? '' : String(value);
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

/** CSV as spreadsheet software opens it directly: UTF-8 with a BOM, CRLF lines, every cell made safe. */
export function toCsv(header: string[], rows: (string | number | null)[][]): Buffer {
  const body = stringify([header, ...rows].map((r) => r.map(safeCell)), { record_delimiter: '\r\n', quoted_string: true });
  return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body, 'utf8')]);
}
