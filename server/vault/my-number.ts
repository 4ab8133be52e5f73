import { japanDay } from '../domain/dates';

/**
 * The My Number itself (個人番号): 12 digits, the last a check digit. Input from people is
 * normalised (full-width digits, spaces and hyphens as typed on phones), then checked.
 */
export type NumberProblem = 'vault.number.empty' | 'vault.number.notDigits' | 'vault.number.length' | 'vault.number.checkDigit';

const FULL_WIDTH_DIGIT = /[\uff10-\uff19]/g;
// Separators people type between groups of digits: spaces (ASCII, full-width) and hyphen-like marks.
const SEPARATORS = /[\s\u3000\-\u2010-\u2015\u2212\uff0d\u30fc]/g;

export function normaliseNumber(input: string): string {
  return input.replace(FULL_WIDTH_DIGIT, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0)).replace(SEPARATORS, '');
}

/** The check digit for the first 11 digits (個人番号の検査用数字, as the ordinance defines it). */
export function checkDigit(first11: string): number {
  let sum = 0;
  for (let n = 1; n <= 11; n++) {
    const p = Number(first11[11 - n]);
    const q = n <= 6 ? n + 1 : n - 5;
    sum += p * q;
  }
  const r = sum % 11;
  return r <= 1 ? 0 : 11 - r;
}

/** The normalised number, or the message key of what is wrong with it. */
export function parseMyNumber(input: string): { ok: true; number: string } | { ok: false; problem: NumberProblem } {
  const n = normaliseNumber(input ?? '');
  if (!n) return { ok: false, problem: 'vault.number.empty' };
  if (!/^\d+$/.test(n)) return { ok: false, problem: 'vault.number.notDigits' };
  if (n.length !== 12) return { ok: false, problem: 'vault.number.length' };
  if (checkDigit(n.slice(0, 11)) !== Number(n[11])) return { ok: false, problem: 'vault.number.checkDigit' };
  return { ok: true, number: n };
}

/** How a number may be shown anywhere but a reveal: the last two digits only. */
/**
 * Twelve digits in a row (ASCII or full-width, perhaps grouped by spaces or hyphens) in free text a
 * person typed or named a file with, replaced by asterisks: such a run may be a My Number, and free
 * text is shown, logged and reported where numbers appear only masked. Longer runs are left alone.
 */
const TWELVE_DIGITS = /(?<![0-9０-９])[0-9０-９](?:[ 　\-‐－]?[0-9０-９]){11}(?![0-9０-９])/g;

export function maskNumberRuns(text: string): string {
  return text.replace(TWELVE_DIGITS, '************');
}

export function maskNumber(lastTwo: string): string {
  return `**********${lastTwo}`;
}

/** The first notification cards (通知カード) were sent from 5 October 2015: no number card is older. */
export const FIRST_ISSUE_DATE = '2015-10-05';

/** What is wrong with a card's issue date (yyyy-mm-dd), or null: before the first cards, or after today in Japan. */
export function issueDateProblem(iso: string, today: string = japanDay()): 'vault.issueDate.tooEarly' | 'vault.issueDate.future' | null {
  if (iso < FIRST_ISSUE_DATE) return 'vault.issueDate.tooEarly';
  if (iso > today) return 'vault.issueDate.future';
  return null;
}
