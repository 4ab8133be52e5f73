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

/**
 * A My Number written into free text a person typed or named a file with (12 digits together, or
 * grouped 4-4-4 by one kind of space or hyphen), replaced by asterisks: such text is shown, logged
 * and reported where numbers appear only masked. Digits next to other digits or letters, also across
 * one separator (a longer number, a code, a hash, a UUID), and other groupings (dates) are left alone.
 */
const MY_NUMBER_IN_TEXT = /(?<![0-9０-９A-Za-zＡ-Ｚａ-ｚ][ 　\-‐－]?)(?:[0-9０-９]{12}|[0-9０-９]{4}([ 　\-‐－])[0-9０-９]{4}\1[0-9０-９]{4})(?![ 　\-‐－]?[0-9０-９A-Za-zＡ-Ｚａ-ｚ])/g;

export function maskNumberRuns(text: string): string {
  return text.replace(MY_NUMBER_IN_TEXT, '************');
}

/** How a number may be shown anywhere but a reveal: the last two digits only. */
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
