import { Op, type WhereOptions } from 'sequelize';
import { AuditEvent, Department, Dependant, Employee, Payee, StaffAssignment, StoredFile, type User } from '../db/models';
import { calendarDate } from '../domain/dates';
import { fileIdsSeenBy, visibleFilesWhere } from '../files/visibility';

export const LOG_PAGE_SIZE = 50;
export const LOG_SORTS = ['at', 'operation', 'actor', 'result'] as const;
export type LogSort = (typeof LOG_SORTS)[number];
const SORT_COLUMN: Record<LogSort, string> = { at: 'at', operation: 'operation', actor: 'actorName', result: 'result' };

export interface LogFilter {
  clientId?: string;
  from?: string;
  to?: string;
  departmentId?: string;
  employeeCode?: string;
  name?: string;
  operation?: string;
  operator?: string;
  result?: 'allowed' | 'denied' | 'error';
  sort: LogSort;
  desc: boolean;
}

const JST = 9 * 3600_000;
const dayStart = (iso: string) => new Date(Date.parse(`${iso}T00:00:00Z`) - JST);

/**
 * The clients a user may read the log of: all (firm admin), the assigned ones (staff), their own
 * (client admin); null means every client. Employees have no log view.
 */
export async function logScope(user: User): Promise<string[] | null> {
  if (user.role === 'firm_admin') return null;
  if (user.role === 'firm_staff') return (await StaffAssignment.findAll({ where: { userId: user.id } })).map((a) => a.clientId);
  if (user.role === 'client_admin' && user.clientId) return [user.clientId];
  return [];
}

/**
 * The department of each row's person (a dependant: their employee's), by target id, for the CSV's
 * 部門 columns. It is the department the person is in now, as the department filter reads it: rows
 * do not keep one of their own.
 */
export async function departmentsOfTargets(events: AuditEvent[]): Promise<Map<string, Department>> {
  const idsOf = (kind: string) => [...new Set(events.filter((e) => e.targetKind === kind && e.targetId).map((e) => e.targetId!))];
  const dependants = idsOf('dependant').length ? await Dependant.findAll({ where: { id: { [Op.in]: idsOf('dependant') } }, attributes: ['id', 'employeeId'] }) : [];
  const employeeIds = [...new Set([...idsOf('employee'), ...dependants.map((d) => d.employeeId)])];
  const employees = employeeIds.length ? await Employee.findAll({ where: { id: { [Op.in]: employeeIds }, departmentId: { [Op.ne]: null } }, attributes: ['id', 'departmentId'] }) : [];
  const departmentIds = [...new Set(employees.map((e) => e.departmentId!))];
  const departments = new Map((departmentIds.length ? await Department.findAll({ where: { id: { [Op.in]: departmentIds } } }) : []).map((d) => [d.id, d]));
  const ofEmployee = new Map(employees.flatMap((e) => (departments.has(e.departmentId!) ? [[e.id, departments.get(e.departmentId!)!] as const] : [])));
  const byTarget = new Map<string, Department>(ofEmployee);
  for (const d of dependants) { const dept = ofEmployee.get(d.employeeId); if (dept) byTarget.set(d.id, dept); }
  return byTarget;
}

/** The people (and their dependants) an employee code or a department names, as audit target ids. */
async function targetIds(clientIds: string[] | null, f: LogFilter): Promise<string[] | null> {
  if (!f.employeeCode && !f.departmentId) return null;
  const scope = clientIds ? { clientId: { [Op.in]: clientIds } } : {};
  const employees = await Employee.findAll({
    where: { ...scope, ...(f.employeeCode ? { employeeCode: f.employeeCode } : {}), ...(f.departmentId ? { departmentId: f.departmentId } : {}) },
    attributes: ['id'],
  });
  const ids = employees.map((e) => e.id);
  const dependants = ids.length ? await Dependant.findAll({ where: { employeeId: { [Op.in]: ids } }, attributes: ['id'] }) : [];
  const payees = f.employeeCode && !f.departmentId ? await Payee.findAll({ where: { ...scope, code: f.employeeCode }, attributes: ['id'] }) : [];
  return [...ids, ...dependants.map((d) => d.id), ...payees.map((p) => p.id)];
}

/**
 * The WHERE of a filtered log, always inside the user's scope. A % or _ typed into a text filter
 * only widens the match within that scope.
 */
export async function logWhere(user: User, f: LogFilter): Promise<WhereOptions<AuditEvent>> {
  const scope = await logScope(user);
  const and: WhereOptions<AuditEvent>[] = [];
  let clientIds = scope;
  if (f.clientId) clientIds = scope === null || scope.includes(f.clientId) ? [f.clientId] : [];
  if (clientIds !== null) and.push({ clientId: { [Op.in]: clientIds } });
  const from = f.from ? calendarDate(f.from) : null;
  const to = f.to ? calendarDate(f.to) : null;
  if (from) and.push({ at: { [Op.gte]: dayStart(from) } });
  if (to) and.push({ at: { [Op.lt]: new Date(dayStart(to).getTime() + 24 * 3600_000) } });
  const targets = await targetIds(clientIds, f);
  if (targets) and.push({ targetId: { [Op.in]: targets.length ? targets : ['-'] } });
  if (f.name) {
    // A name found in a file's name only for files the reader may see: a search must not tell what the others are called.
    const files = await StoredFile.findAll({
      where: { [Op.and]: [{ displayName: { [Op.like]: `%${f.name}%` } }, ...(clientIds ? [{ clientId: { [Op.in]: clientIds } }] : []), await visibleFilesWhere(user)] },
      attributes: ['id'], limit: 10_000,
    });
    and.push({ [Op.or]: [
      { targetLabel: { [Op.like]: `%${f.name}%` }, [Op.or]: [{ targetKind: { [Op.ne]: 'file' } }, { targetKind: null }] },
      { targetKind: 'file', targetId: { [Op.in]: files.length ? files.map((x) => x.id) : ['-'] } },
    ] });
  }
  if (f.operation) and.push({ operation: f.operation });
  if (f.operator) and.push({ actorName: { [Op.like]: `%${f.operator}%` } });
  if (f.result) and.push({ result: f.result });
  return { [Op.and]: and };
}

/**
 * A row about a file the reader may not see (what the firm sent one employee, what a company's
 * admins sent one of theirs) is shown, but not the file's name, which can say what it is about.
 * Changes the rows in memory only: the log itself is never altered.
 */
export async function withoutUnseenFileNames(user: User, rows: AuditEvent[]): Promise<AuditEvent[]> {
  const fileRows = rows.filter((r) => r.targetKind === 'file' && r.targetId);
  if (!fileRows.length) return rows;
  const seen = await fileIdsSeenBy(user, fileRows.map((r) => r.targetId!));
  for (const r of fileRows) if (!seen.has(r.targetId!)) r.targetLabel = null;
  return rows;
}

export async function queryLog(user: User, f: LogFilter, page: number, pageSize = LOG_PAGE_SIZE): Promise<{ rows: AuditEvent[]; total: number }> {
  const where = await logWhere(user, f);
  const [rows, total] = await Promise.all([
    AuditEvent.findAll({ where, order: [[SORT_COLUMN[f.sort], f.desc ? 'DESC' : 'ASC'], ['seq', f.desc ? 'DESC' : 'ASC']], limit: pageSize, offset: (page - 1) * pageSize }),
    AuditEvent.count({ where }),
  ]);
  return { rows: await withoutUnseenFileNames(user, rows), total };
}

export async function countLog(user: User, f: LogFilter): Promise<number> {
  return AuditEvent.count({ where: await logWhere(user, f) });
}

/** Every row of a filtered log, in batches, for the downloads (at most `cap`). */
export async function* allLogRows(user: User, f: LogFilter, cap = 100_000): AsyncGenerator<AuditEvent> {
  const where = await logWhere(user, f);
  let seen = 0;
  for (let offset = 0; seen < cap; offset += 1000) {
    const rows = await withoutUnseenFileNames(user, await AuditEvent.findAll({ where, order: [[SORT_COLUMN[f.sort], f.desc ? 'DESC' : 'ASC'], ['seq', f.desc ? 'DESC' : 'ASC']], limit: 1000, offset }));
    for (const r of rows) {
      if (seen++ >= cap) return;
      yield r;
    }
    if (rows.length < 1000) return;
  }
}
