/**
 * The one table of `npm run bench` (and of `npm run load` / `npm run soak` on their own): every
 * figure beside its target, a ceiling measured in the same run and the ratio to it.
 *
 * The ratio is always value ÷ ceiling. For a rate (MB/s, req/s) a higher ratio is better; for a time
 * or a memory figure it says how many times the bare ceiling the portal needs (lower is better).
 */
export type Verdict = 'OK' | 'MISSED' | 'info';

export interface TableRow {
  figure: string;
  value: string;
  target: string;
  ceiling: string;
  ratio: string;
  verdict: Verdict;
}

/** value ÷ ceiling, or — when the ceiling was not measured (0, NaN) */
export function ratioOf(value: number, ceiling: number, digits = 2): string {
  if (!Number.isFinite(value) || !Number.isFinite(ceiling) || ceiling === 0) return '—';
  const r = value / ceiling;
  // Small ratios keep two significant digits (0.0021 rather than 0.00).
  return r !== 0 && Math.abs(r) < 0.1 ? r.toPrecision(2) : r.toFixed(digits);
}

/** A figure with a target: its verdict is OK or MISSED. */
export function judged(figure: string, value: string, target: string, ceiling: string, ratio: string, good: boolean): TableRow {
  return { figure, value, target, ceiling, ratio, verdict: good ? 'OK' : 'MISSED' };
}

/** A figure without a target (orientation): verdict "info". */
export function info(figure: string, value: string, ceiling = '', ratio = ''): TableRow {
  return { figure, value, target: '', ceiling, ratio, verdict: 'info' };
}

const HEAD = ['figure', 'value', 'target', 'ceiling (same run)', 'ratio to ceiling', 'verdict'];

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** The rows as a markdown table, columns padded so it also reads well in a terminal. */
export function markdownTable(rows: TableRow[]): string {
  const all = [HEAD, ...rows.map((r) => [r.figure, r.value, r.target, r.ceiling, r.ratio, r.verdict === 'MISSED' ? '**MISSED**' : r.verdict].map(cell))];
  const width = HEAD.map((_, i) => Math.max(...all.map((r) => [...r[i]!].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c + ' '.repeat(width[i]! - [...c].length)).join(' | ')} |`;
  return [line(all[0]!), `|${width.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...all.slice(1).map(line)].join('\n');
}

export const f1 = (n: number) => n.toFixed(1);
