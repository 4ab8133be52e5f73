import { parse } from 'csv-parse/sync';
import { BadRequest } from '../errors';

/** Lines per file: an import holds its locks while it runs, so a file is kept to a size that runs in seconds. */
export const IMPORT_MAX_LINES = 2000;

export interface CsvRow { record: string[]; line: number }

/** UTF-8 (with or without BOM) as written by most tools, else Shift_JIS as Excel saves "CSV" in Japan. */
function decode(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('shift_jis').decode(bytes);
  }
}

/**
 * An uploaded CSV file as its heading line and rows (each with its line number in the file). The
 * bytes are wiped once read. An empty file, or one that is no text at all (a picture, an .xlsx chosen
 * by mistake), says so rather than "the headings are wrong".
 */
export function readCsv(bytes: Buffer): { header: string[]; rows: CsvRow[] } {
  if (bytes.every((b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09)) { bytes.fill(0); throw new BadRequest('vault.import.emptyFile', { file: 'vault.import.emptyFile' }); }
  if (bytes.subarray(0, 4096).includes(0)) { bytes.fill(0); throw new BadRequest('vault.import.notCsv', { file: 'vault.import.notCsv' }); }
  let parsed: { record: string[]; info: { lines: number } }[];
  try {
    parsed = parse(decode(bytes), { bom: true, skip_empty_lines: true, skip_records_with_empty_values: true, relax_column_count: true, trim: true, info: true }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch {
    throw new BadRequest('vault.import.unreadable', { file: 'vault.import.unreadable' });
  } finally {
    bytes.fill(0);
  }
  const header = parsed.shift()?.record ?? [];
  return { header, rows: parsed.map((p) => ({ record: p.record, line: p.info.lines })) };
}

/** After the headings were found: a file with no lines, or too many, is refused as a whole. */
export function checkRowCount(rows: CsvRow[]): void {
  if (rows.length === 0) throw new BadRequest('vault.import.empty', { file: 'vault.import.empty' });
  if (rows.length > IMPORT_MAX_LINES) throw new BadRequest('vault.import.tooMany', { file: 'vault.import.tooMany' });
}

/** The index of the first heading that is one of `names`, or -1. */
export function columnOf(header: string[], names: readonly string[]): number {
  return header.findIndex((h) => names.includes(h));
}

/** A cell shown back in the report only when it cannot be (part of) a number typed in the wrong column. */
export function shownCode(value: string): string {
  return /^[A-Za-z0-9_-]{1,30}$/.test(value) && !/\d{10,}/.test(value) ? value : '';
}

/** A dependant's name as typed, so a refused dependant's line can be found; never anything with a long run of digits. */
export function shownName(value: string): string {
  return value.length <= 100 && !/[0-9０-９]{6,}/.test(value.replace(/[\s\-－ー‐]/g, '')) ? value : '';
}

/**
 * A cell that may hold a My Number: 12 digits, as one run or in groups of four split by a space or a
 * hyphen (full-width forms too), standing on their own: not part of a longer run of letters, digits
 * and hyphens (a UUID's groups are never read as one).
 */
export function looksLikeMyNumber(value: string): boolean {
  return /(?<![0-9A-Za-z\-‐ー])\d{4}[\s\-‐ー]?\d{4}[\s\-‐ー]?\d{4}(?![0-9A-Za-z\-‐ー])/.test(value.normalize('NFKC'));
}

/**
 * A dependant's name as matched against the file: Excel users type 山田　花子 (full-width space),
 * 山田花子 or ﾔﾏﾀﾞ for what the portal holds as 山田 花子; width and spaces are not told apart.
 */
export function nameKey(name: string): string {
  return name.normalize('NFKC').replace(/\s+/g, '');
}
