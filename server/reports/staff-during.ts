import { Op } from 'sequelize';
import { AuditEvent, StaffAssignment, User } from '../db/models';
import type { Period } from './periods';

export interface StaffInPeriod {
  name: string;
  /** Could open the client's numbers (after re-authentication, with a purpose) at some moment of the
   *  period: assigned and their account not disabled at the same time. */
  mayReveal: boolean;
  /** When their assignment began or ended, or their account was disabled or enabled again, while
   *  assigned within the period, in order; empty when assigned and enabled throughout. */
  changes: { at: Date; kind: 'from' | 'until' | 'disabled' | 'enabled' }[];
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
  const ids = [...inPeriod.keys()];
  const [users, toggles] = await Promise.all([
    User.findAll({ where: { id: { [Op.in]: ids } }, attributes: ['id', 'name', 'disabledAt'], order: [['name', 'ASC']] }),
    // The firm's accounts belong to no client, so their disable and enable rows carry none.
    AuditEvent.findAll({
      where: { clientId: null, operation: { [Op.in]: ['user.disable', 'user.enable'] }, result: 'allowed', targetId: { [Op.in]: ids } },
      order: [['seq', 'ASC']], attributes: ['operation', 'targetId', 'at'],
    }),
  ]);
  return users.map((u) => {
    const assigned = inPeriod.get(u.id)!;
    const userToggles = toggles.filter((e) => e.targetId === u.id);
    const enabled = enabledSpans(userToggles, !u.disabledAt);
    const whileAssigned = (d: Date) => within(d) && assigned.some((s) => (s.from === null || s.from.getTime() <= d.getTime()) && (s.until === null || d.getTime() < s.until.getTime()));
    const changes = [
      ...assigned.flatMap((s) => [
        ...(within(s.from) ? [{ at: s.from!, kind: 'from' as const }] : []),
        ...(within(s.until) ? [{ at: s.until!, kind: 'until' as const }] : []),
      ]),
      ...userToggles.filter((e) => whileAssigned(e.at)).map((e) => ({ at: e.at, kind: e.operation === 'user.disable' ? 'disabled' as const : 'enabled' as const })),
    ].sort((a, b) => a.at.getTime() - b.at.getTime());
    const clip = (s: Span) => ({ from: Math.max(s.from?.getTime() ?? -Infinity, period.start.getTime()), until: Math.min(s.until?.getTime() ?? Infinity, period.end.getTime()) });
    const mayReveal = assigned.map(clip).some((a) => enabled.map(clip).some((e) => Math.max(a.from, e.from) < Math.min(a.until, e.until)));
    return { name: u.name, mayReveal, changes };
  });
}

type Span = { from: Date | null; until: Date | null };

/** The spans an account was enabled in, from its disable and enable rows (in order); before the
 *  first row it was in the state that row left, and with no rows it has always been as it is now. */
function enabledSpans(toggles: AuditEvent[], enabledNow: boolean): Span[] {
  let open: Date | null | undefined = (toggles[0] ? toggles[0].operation === 'user.disable' : enabledNow) ? null : undefined;
  const spans: Span[] = [];
  for (const e of toggles) {
    if (e.operation === 'user.disable' && open !== undefined) { spans.push({ from: open, until: e.at }); open = undefined; }
    else if (e.operation === 'user.enable' && open === undefined) open = e.at;
  }
  if (open !== undefined) spans.push({ from: open, until: null });
  return spans;
}
