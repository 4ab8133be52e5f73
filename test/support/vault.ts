import { expect } from 'chai';
import { Op, type Sequelize } from 'sequelize';
import { AuditEvent, AuditHead, Dependant, Employee, NumberRecord, Payee, type User } from '../../server/db/models';
import type { ActorContext } from '../../server/audit';
import { checkDigit } from '../../server/vault/my-number';
import { findPerson, listPeople, type Person } from '../../server/vault/people';
import type { ListedPerson, ListFilter, Purpose } from '../../server/vault/vault-service';
import type { AppError } from '../../server/errors';

/** A valid My Number made from a seed: 11 digits from the seed, then the check digit the ordinance gives. */
export function validNumber(seed: number): string {
  const first11 = String((31_415_926_535 + seed * 7_919) % 100_000_000_000).padStart(11, '0');
  return `${first11}${checkDigit(first11)}`;
}

/** A valid My Number whose first 11 digits are the seed itself (zero-padded): seeds chosen by a test stay readable. */
export function numberFrom(seed: number): string {
  const first11 = String(seed).padStart(11, '0').slice(-11);
  return `${first11}${checkDigit(first11)}`;
}

/** The same number with a wrong check digit. */
export function wrongCheckDigit(number: string): string {
  return `${number.slice(0, 11)}${(Number(number[11]) + 1) % 10}`;
}

/**
 * Runs of 12 digits in a text, ids and tokens aside: a UUID's last group is 12 hex digits and is all digits
 * about once in 280 ids, which made "no 12-digit run" checks fail by chance.
 */
export function twelveDigitRunsOutsideIds(text: string): string[] {
  // Ids and the 64-hex-digit CSRF token hold runs of decimal digits now and then (a token does on about one page in fourteen).
  return text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>').replace(/\b[0-9a-f]{32,}\b/gi, '<token>').match(/\d{12}/g) ?? [];
}

/** '123456789018' → '１２３４５６７８９０１８' */
export function fullWidth(number: string): string {
  return number.replace(/[0-9]/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0));
}

/** The context a service is given when a user acts (as the web layer builds it). */
export function actorOf(user: User, channel = 'test:vault'): ActorContext {
  return { actorId: user.id, actorName: user.name, actorRole: user.role, ip: '127.0.0.1', userAgent: 'vault-test', channel };
}

export const PURPOSE: Purpose = { purpose: 'withholding_slip', office: 'tax_office' };

let counter = 0;
const nextCode = (prefix: string) => `${prefix}${String(++counter).padStart(4, '0')}`;

export async function makeEmployee(clientId: string, o: { employeeCode?: string; name?: string; departmentId?: string | null; leaveDate?: string | null } = {}): Promise<{ employee: Employee; person: Person }> {
  const employee = await Employee.create({
    clientId, employeeCode: o.employeeCode ?? nextCode('E'), name: o.name ?? `社員${counter}`, nameKana: null,
    departmentId: o.departmentId ?? null, establishmentId: null, hireDate: null, leaveDate: o.leaveDate ?? null, userId: null,
  });
  return { employee, person: await findPerson(clientId, 'employee', employee.id) };
}

export async function makeDependant(clientId: string, employeeId: string, name: string): Promise<{ dependant: Dependant; person: Person }> {
  const dependant = await Dependant.create({ clientId, employeeId, name, nameKana: null, relationship: 'child' });
  return { dependant, person: await findPerson(clientId, 'dependant', dependant.id) };
}

export async function makePayee(clientId: string, o: { code?: string; name?: string } = {}): Promise<{ payee: Payee; person: Person }> {
  const payee = await Payee.create({ clientId, code: o.code ?? nextCode('P'), name: o.name ?? `支払先${counter}`, nameKana: null, kind: 'expert' });
  return { payee, person: await findPerson(clientId, 'payee', payee.id) };
}

/** Runs fn, which must reject with an error of the given class; hands the error back for more checks. */
export async function rejects<E extends Error>(fn: () => Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  let caught: unknown = null;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a ${type.name}`).to.be.instanceOf(type);
  return caught as E;
}

export const keyOf = (err: unknown) => (err as AppError).messageKey;

export async function auditRows(where: Record<string, unknown> = {}): Promise<AuditEvent[]> {
  return AuditEvent.findAll({ where, order: [['seq', 'ASC']] });
}

/** Puts the audit head back where the chain ends (after a test destroyed it to make writes fail). */
export async function restoreAuditHead(): Promise<void> {
  const last = await AuditEvent.findOne({ order: [['seq', 'DESC']] });
  await AuditHead.destroy({ where: { id: 1 } });
  await AuditHead.create({ id: 1, seq: last ? last.seq : 0, hash: last ? last.hash : '0'.repeat(64) });
}

function tableName(t: unknown): string {
  if (typeof t === 'string') return t;
  const o = t as { tableName?: string; name?: string };
  return String(o.tableName ?? o.name);
}

function cellTexts(v: unknown): string[] {
  if (v === null || v === undefined) return [];
  if (Buffer.isBuffer(v)) return [v.toString('utf8'), v.toString('latin1')];
  if (v instanceof Date) return [v.toISOString()];
  return [String(v)];
}

/**
 * Every table the database has, every row, every column: where any of the needles occurs.
 * Returns the tables scanned too, so a test can show the scan was not empty.
 */
export async function scanDatabase(sequelize: Sequelize, needles: string[]): Promise<{ tables: string[]; rows: number; hits: string[] }> {
  const qi = sequelize.getQueryInterface();
  const tables = ((await qi.showAllTables()) as unknown[]).map(tableName).filter((t) => !t.startsWith('sqlite_'));
  const hits: string[] = [];
  let rows = 0;
  for (const table of tables) {
    const [result] = await sequelize.query(`SELECT * FROM ${qi.quoteIdentifier(table)}`);
    for (const row of result as Record<string, unknown>[]) {
      rows++;
      for (const [column, value] of Object.entries(row)) {
        for (const text of cellTexts(value)) {
          for (const needle of needles) if (text.includes(needle)) hits.push(`${table}.${column} holds ${needle}`);
        }
      }
    }
  }
  return { tables, rows, hits };
}

/**
 * The whole list the portal's pages are cut from, built in memory the slow and obvious way (every
 * person, every number, filtered in JavaScript): the oracle the SQL paging is checked against.
 */
export async function wholeList(clientId: string, filter: ListFilter): Promise<ListedPerson[]> {
  const records = await NumberRecord.findAll({ where: { clientId, sealedNumber: { [Op.ne]: null } } });
  const byPerson = new Map(records.map((r) => [`${r.personKind}:${r.personId}`, r]));
  return (await listPeople(clientId, filter))
    .map((person) => ({ person, record: byPerson.get(`${person.kind}:${person.id}`) ?? null }))
    .filter(({ record }) => (filter.status === 'missing' ? !record : !filter.status || record?.status === filter.status))
    .filter(({ record }) => !(filter.withNumber || filter.dueBy || filter.noDeletionDate) || record)
    .filter(({ record }) => !filter.dueBy || Boolean(record?.deletionDate && record.deletionDate <= filter.dueBy))
    .filter(({ record }) => !filter.noDeletionDate || !record?.deletionDate);
}
