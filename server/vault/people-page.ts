import { QueryTypes, type Sequelize } from 'sequelize';
import type { NumberStatus, PersonKind } from '../db/models';

/**
 * A person's place in the list: their number's status; 'missing' when none was ever registered;
 * 'disposed' when theirs was disposed of (a leaver, kept apart so that it is not asked for again).
 */
export type ListStatus = NumberStatus | 'missing' | 'disposed';

export interface PeopleFilter {
  departmentId?: string;
  employeeCode?: string;
  name?: string;
  status?: ListStatus;
  /** only people holding a number (the retention list) */
  withNumber?: boolean;
  /** only numbers due for deletion on or before this day (YYYY-MM-DD) */
  dueBy?: string;
  /** only numbers with no deletion date */
  noDeletionDate?: boolean;
}

/** Which people one page of the list shows, in list order, and how many match in all. */
export interface PeoplePage { ids: { kind: PersonKind; id: string }[]; total: number }

/** LIKE's wildcards in a typed name match themselves ('!' is the escape: a backslash would mean different things to MySQL and SQLite). */
const likeOf = (text: string) => `%${text.replace(/[!%_]/g, (c) => `!${c}`)}%`;

/**
 * One page of a client's people — each employee followed by their dependants, then the payees,
 * as listPeople orders them — chosen and counted in SQL, so a page costs the same for a client of
 * fifty people as for one of five thousand (it used to load everyone and every record, then slice).
 * The name matches anywhere in the label: an employee's name, or for a dependant either the
 * employee's or their own.
 */
export async function pageOfPeople(sequelize: Sequelize, clientId: string, filter: PeopleFilter, offset: number, limit: number): Promise<PeoplePage> {
  const { from, replacements } = matching(clientId, filter);
  const [count] = await sequelize.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${from}`, { replacements, type: QueryTypes.SELECT });
  const ids = await sequelize.query<{ kind: PersonKind; id: string }>(
    `SELECT people.kind AS kind, people.id AS id FROM ${from} ORDER BY people.grp, people.code, people.owner, people.sub, people.at, people.id LIMIT :limit OFFSET :offset`,
    { replacements: { ...replacements, offset, limit }, type: QueryTypes.SELECT },
  );
  return { ids: ids.map((row) => ({ kind: row.kind, id: row.id })), total: Number(count?.n ?? 0) };
}

/** The ids of the numbers (records with a ciphertext) of every person the filter matches, on every page. */
export async function recordIdsMatching(sequelize: Sequelize, clientId: string, filter: PeopleFilter): Promise<string[]> {
  const { from, replacements } = matching(clientId, { ...filter, withNumber: true });
  const rows = await sequelize.query<{ id: string }>(`SELECT r.id AS id FROM ${from}`, { replacements, type: QueryTypes.SELECT });
  return rows.map((row) => row.id);
}

export interface DueOfMatching { held: number; due: number; nextDate: string | null }

/**
 * Of the numbers the filter matches (its due condition left aside): how many, how many are due for deletion on `today` or before, and the
 * earliest deletion date still to come (null when none has one: people still employed have none).
 */
export async function dueOfMatching(sequelize: Sequelize, clientId: string, filter: PeopleFilter, today: string): Promise<DueOfMatching> {
  const { from, replacements } = matching(clientId, { ...filter, withNumber: true, dueBy: undefined });
  const [row] = await sequelize.query<{ held: number | string; due: number | string | null; next: string | Date | null }>(
    `SELECT COUNT(*) AS held, SUM(CASE WHEN r.deletion_date <= :today THEN 1 ELSE 0 END) AS due, MIN(CASE WHEN r.deletion_date > :today THEN r.deletion_date END) AS next FROM ${from}`,
    { replacements: { ...replacements, today }, type: QueryTypes.SELECT },
  );
  const next = row?.next ?? null;
  return { held: Number(row?.held ?? 0), due: Number(row?.due ?? 0), nextDate: next === null ? null : typeof next === 'string' ? next.slice(0, 10) : next.toISOString().slice(0, 10) };
}

/** A person's number (the record still holding a ciphertext), joined as `r`. */
const RECORD_JOIN = 'number_records r ON r.client_id = :clientId AND r.person_kind = people.kind AND r.person_id = people.id AND r.sealed_number IS NOT NULL';
/** A person's record, held or disposed of (one a person), joined as `r`. */
const ANY_RECORD_JOIN = 'number_records r ON r.client_id = :clientId AND r.person_kind = people.kind AND r.person_id = people.id';
/** The ListStatus of a person LEFT JOINed to ANY_RECORD_JOIN. */
const LIST_STATUS = "CASE WHEN r.id IS NULL THEN 'missing' WHEN r.sealed_number IS NULL THEN 'disposed' ELSE r.status END";

/** How many of a client's people are in each list status, in one query. */
export async function countByStatus(sequelize: Sequelize, clientId: string): Promise<Partial<Record<ListStatus, number>>> {
  const { from, replacements } = matching(clientId, {});
  const rows = await sequelize.query<{ status: ListStatus; n: number | string }>(
    `SELECT ${LIST_STATUS} AS status, COUNT(*) AS n FROM ${from} LEFT JOIN ${ANY_RECORD_JOIN} GROUP BY ${LIST_STATUS}`,
    { replacements, type: QueryTypes.SELECT },
  );
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
}

/** countByStatus for many clients in one query (the firm's home lists every client with its counts). */
export async function countByStatusOfClients(sequelize: Sequelize, clientIds: string[]): Promise<Map<string, Partial<Record<ListStatus, number>>>> {
  const out = new Map<string, Partial<Record<ListStatus, number>>>();
  if (clientIds.length === 0) return out;
  const rows = await sequelize.query<{ clientId: string; status: ListStatus; n: number | string }>(
    `SELECT people.client_id AS "clientId", ${LIST_STATUS} AS status, COUNT(*) AS n FROM (
        SELECT 'employee' AS kind, e.id AS id, e.client_id AS client_id FROM employees e WHERE e.client_id IN (:clientIds)
        UNION ALL SELECT 'dependant', d.id, d.client_id FROM dependants d WHERE d.client_id IN (:clientIds)
        UNION ALL SELECT 'payee', p.id, p.client_id FROM payees p WHERE p.client_id IN (:clientIds)
      ) people
      LEFT JOIN number_records r ON r.client_id = people.client_id AND r.person_kind = people.kind AND r.person_id = people.id
      GROUP BY people.client_id, ${LIST_STATUS}`,
    { replacements: { clientIds }, type: QueryTypes.SELECT },
  );
  for (const row of rows) {
    const counts = out.get(row.clientId) ?? {};
    counts[row.status] = Number(row.n);
    out.set(row.clientId, counts);
  }
  return out;
}

/**
 * The FROM clause of the people a filter matches (alias `people`, and `r` for their number when
 * the filter asks about numbers): employees, their dependants and payees in one UNION ALL.
 */
function matching(clientId: string, filter: PeopleFilter): { from: string; replacements: Record<string, unknown> } {
  const r: Record<string, unknown> = { clientId };
  const employeeWhere: string[] = [];
  if (filter.departmentId) { employeeWhere.push('e.department_id = :departmentId'); r.departmentId = filter.departmentId; }
  if (filter.employeeCode) { employeeWhere.push('e.employee_code = :code'); r.code = filter.employeeCode; }
  const name = filter.name?.trim();
  if (name) r.name = likeOf(name);
  const and = (conds: string[]) => conds.map((c) => ` AND ${c}`).join('');
  const nameIs = (column: string) => `${column} LIKE :name ESCAPE '!'`;

  const parts = [
    `SELECT 'employee' AS kind, e.id AS id, 0 AS grp, e.employee_code AS code, e.id AS owner, 0 AS sub, e.created_at AS at
       FROM employees e WHERE e.client_id = :clientId${and(employeeWhere)}${name ? and([nameIs('e.name')]) : ''}`,
    `SELECT 'dependant', d.id, 0, e.employee_code, e.id, 1, d.created_at
       FROM dependants d JOIN employees e ON e.id = d.employee_id AND e.client_id = d.client_id
       WHERE d.client_id = :clientId${and(employeeWhere)}${name ? and([`(${nameIs('e.name')} OR ${nameIs('d.name')})`]) : ''}`,
  ];
  // Payees belong to no department: a department filter leaves them out.
  if (!filter.departmentId) {
    parts.push(`SELECT 'payee', p.id, 1, p.code, p.id, 0, p.created_at
       FROM payees p WHERE p.client_id = :clientId${filter.employeeCode ? ' AND p.code = :code' : ''}${name ? and([nameIs('p.name')]) : ''}`);
  }
  let from = `(${parts.join(' UNION ALL ')}) people`;
  const recordWhere: string[] = [];
  if (filter.withNumber) recordWhere.push('r.id IS NOT NULL');
  if (filter.status && filter.status !== 'missing' && filter.status !== 'disposed') { recordWhere.push('r.status = :status'); r.status = filter.status; }
  if (filter.dueBy) { recordWhere.push('r.deletion_date <= :dueBy'); r.dueBy = filter.dueBy; }
  if (filter.noDeletionDate) recordWhere.push('r.deletion_date IS NULL');
  if (filter.status === 'missing') from += ` LEFT JOIN ${ANY_RECORD_JOIN} WHERE r.id IS NULL${and(recordWhere)}`;
  else if (filter.status === 'disposed') from += ` JOIN ${ANY_RECORD_JOIN} WHERE r.sealed_number IS NULL${and(recordWhere)}`;
  else if (recordWhere.length) from += ` JOIN ${RECORD_JOIN} WHERE ${recordWhere.join(' AND ')}`;
  return { from, replacements: r };
}
