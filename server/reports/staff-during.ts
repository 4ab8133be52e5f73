import { Op } from 'sequelize';
import { AuditEvent, StaffAssignment, User } from '../db/models';
import type { Period } from './periods';

export interface StaffInPeriod {
  name: string;
  /** Enabled now: may open the client's numbers (after re-authentication, with a purpose). */
  mayReveal: boolean;
  /** When their assignment began or ended within the period, in order; empty when assigned throughout. */
  changes: { at: Date; kind: 'from' | 'until' }[];
}

/**
 * The firm's members assigned to the client at any moment of the period, not merely today: a report
 * built after someone was unassigned still names them for the weeks they could open the numbers. The
 * assignment log (its create and delete rows) gives the spans; an assignment older than the log
 * counts from before the period.
 */
export async function staffDuring(clientId: string, period: Period): Promise<StaffInPeriod[]> {
  const [events, current] = await Promise.all([
    AuditEvent.findAll({
      where: { clientId, operation: { [Op.in]: ['assignment.create', 'assignment.delete'] }, result: 'allowed', at: { [Op.lt]: period.end } },
      order: [['seq', 'ASC']], attributes: ['operation', 'targetId', 'at'],
    }),
    StaffAssignment.findAll({ where: { clientId, createdAt: { [Op.lt]: period.end } }, attributes: ['userId', 'createdAt'] }),
  ]);
  // Each user's spans up to the period's end: [from, until), null for "before the log" / "still assigned".
  const spans = new Map<string, { from: Date | null; until: Date | null }[]>();
  const of = (userId: string) => spans.get(userId) ?? (spans.set(userId, []), spans.get(userId)!);
  for (const e of events) {
    if (!e.targetId) continue;
    const list = of(e.targetId);
    const open = list.at(-1)?.until === null ? list.at(-1) : undefined;
    if (e.operation === 'assignment.create') {
      if (!open) list.push({ from: e.at, until: null });
    } else if (open) open.until = e.at;
    else list.push({ from: null, until: e.at });
  }
  // An assignment in place at the period's end with no open span in the log (made before the log, or by a seed).
  for (const a of current) {
    const list = of(a.userId);
    if (list.at(-1)?.until !== null) list.push({ from: a.createdAt, until: null });
  }
  const within = (d: Date | null) => d !== null && d.getTime() >= period.start.getTime() && d.getTime() < period.end.getTime();
  // The spans that reach into the period (none starts after it: the log and the rows were read up to its end).
  const inPeriod = new Map([...spans.entries()]
    .map(([id, list]) => [id, list.filter((s) => s.until === null || s.until.getTime() > period.start.getTime())] as const)
    .filter(([, list]) => list.length > 0));
  if (!inPeriod.size) return [];
  const users = await User.findAll({ where: { id: { [Op.in]: [...inPeriod.keys()] } }, attributes: ['id', 'name', 'disabledAt'], order: [['name', 'ASC']] });
  return users.map((u) => {
    const changes = inPeriod.get(u.id)!.flatMap((s) => [
      ...(within(s.from) ? [{ at: s.from!, kind: 'from' as const }] : []),
      ...(within(s.until) ? [{ at: s.until!, kind: 'until' as const }] : []),
    ]);
    return { name: u.name, mayReveal: !u.disabledAt, changes };
  });
}
