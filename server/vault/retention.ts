import type { Person } from './people';

/** Years a number is kept after the person left (法定保存期間 of the forms that carry it). */
export const KEEP_YEARS_AFTER_LEAVING = 7;

/** 削除予定日 by default: 7 years after the person left; none while still employed (and for payees, until the retention rules say). */
export function defaultDeletionDate(person: Pick<Person, 'leaveDate'>): string | null {
  if (!person.leaveDate) return null;
  const [y, m, d] = person.leaveDate.split('-').map(Number);
  const target = new Date(Date.UTC(y! + KEEP_YEARS_AFTER_LEAVING, m! - 1, d!));
  // 29 February + 7 years falls on 1 March (Date rolls over), which keeps the full period.
  return target.toISOString().slice(0, 10);
}
