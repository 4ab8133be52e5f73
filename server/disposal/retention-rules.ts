import type { ActorContext, AuditLog } from '../audit';
import { CATEGORIES, RetentionRule, type Category } from '../db/models';
import { BadRequest } from '../errors';
import { japanDay } from '../domain/dates';

/** fileYears: years per category; null = files of that category get no deletion date */
export interface Rules { numberYears: number; payeeYears: number; fileYears: Partial<Record<Category, number | null>>; autoDispose: boolean }

/** Seven years for everything unless the client's rules say otherwise (the longest 法定保存期間 of the forms involved). */
const DEFAULT_YEARS = 7;
const defaultFiles = (): Rules['fileYears'] => Object.fromEntries(CATEGORIES.map((c) => [c, DEFAULT_YEARS]));

export const DEFAULT_RULES: Rules = { numberYears: DEFAULT_YEARS, payeeYears: DEFAULT_YEARS, fileYears: defaultFiles(), autoDispose: false };

/** yyyy-mm-dd plus whole years (29 February rolls to 1 March, keeping the full period). */
export function addYears(isoDay: string, years: number): string {
  const [y, m, d] = isoDay.split('-').map(Number);
  return new Date(Date.UTC(y! + years, m! - 1, d!)).toISOString().slice(0, 10);
}

export async function rulesOf(clientId: string): Promise<Rules> {
  const r = await RetentionRule.findByPk(clientId);
  if (!r) return DEFAULT_RULES;
  let stored: Rules['fileYears'] = {};
  try { stored = r.fileYears ? JSON.parse(r.fileYears) as Rules['fileYears'] : {}; } catch { stored = {}; }
  return { numberYears: r.numberYears, payeeYears: r.payeeYears, fileYears: { ...defaultFiles(), ...stored }, autoDispose: r.autoDispose };
}

/** Saves a client's rules (each 1–50 years), logged. Dates already set are not moved: that is done item by item. */
export async function saveRules(d: { audit: AuditLog }, ctx: ActorContext, clientId: string, rules: Rules): Promise<void> {
  const years = (n: number) => Number.isInteger(n) && n >= 1 && n <= 50;
  if (!years(rules.numberYears) || !years(rules.payeeYears) || Object.entries(rules.fileYears).some(([c, n]) => !CATEGORIES.includes(c as Category) || (n !== null && !years(n!)))) {
    throw new BadRequest('retention.yearsInvalid', { years: 'retention.yearsInvalid' });
  }
  await d.audit.transaction(async (tx) => {
    await RetentionRule.upsert({ clientId, numberYears: rules.numberYears, payeeYears: rules.payeeYears, fileYears: JSON.stringify(rules.fileYears), autoDispose: rules.autoDispose }, { transaction: tx });
    await d.audit.record(tx, ctx, {
      operation: 'retention.rules', result: 'allowed', clientId,
      detail: `numbers ${rules.numberYears}y after leaving, payees ${rules.payeeYears}y, files ${JSON.stringify(rules.fileYears)}, auto ${rules.autoDispose ? 'on' : 'off'}`,
    });
  });
}

/** 削除予定日 of a new number: N years after the person left (none while employed), or after a payee's registration. */
export async function deletionDateFor(person: { clientId: string; kind: string; leaveDate: string | null }, today = japanDay()): Promise<string | null> {
  return ruleDateOf(person, await rulesOf(person.clientId), today);
}

/** The date the rules give a number registered on `registeredOn`. */
export function ruleDateOf(person: { kind: string; leaveDate: string | null }, rules: Rules, registeredOn: string): string | null {
  if (person.kind === 'payee') return addYears(registeredOn, rules.payeeYears);
  return person.leaveDate ? addYears(person.leaveDate, rules.numberYears) : null;
}
