import { Op } from 'sequelize';
import type { ActorContext, AuditLog } from '../audit';
import { NumberRecord } from '../db/models';
import { FieldConflict, BadRequest } from '../errors';
import { normaliseNumber, parseMyNumber } from './my-number';
import { calendarDate } from '../domain/dates';
import { listPeople } from './people';
import type { VaultService } from './vault-service';
import { checkRowCount, columnOf, nameKey, readCsv, shownCode, shownName } from './csv-input';

export { IMPORT_MAX_LINES } from './csv-input';

/** The columns of an import file, in Japanese (as the template has them) or English. */
const COLUMNS = {
  employeeCode: ['社員コード', 'employee_code'],
  dependant: ['扶養家族名', 'dependant_name'],
  issueDate: ['発行日', 'issue_date'],
  number: ['マイナンバー', '個人番号', 'my_number'],
} as const;

export const IMPORT_TEMPLATE = '社員コード,扶養家族名,発行日,マイナンバー\r\n';

/** The import page's column guide, from the same headings the reader accepts (no real number as an example). */
export const IMPORT_GUIDE = [
  { heading: COLUMNS.employeeCode[0], required: true, contentKey: 'vault.import.guide.employeeCode', example: 'E001' },
  { heading: COLUMNS.dependant[0], required: false, contentKey: 'vault.import.guide.dependant', example: '山田 花子' },
  { heading: COLUMNS.issueDate[0], required: false, contentKey: 'vault.import.guide.issueDate', example: '2016/01/01' },
  { heading: COLUMNS.number[0], required: true, contentKey: 'vault.import.guide.number', example: null },
] as const;

export interface ImportRejection { line: number; employeeCode: string; dependant: string; problem: string }
export interface ImportReport { imported: number; rejected: ImportRejection[] }

/** The issue date of a line: null when blank, undefined when it is not a real calendar day. */
function issueDateOf(v: string): string | null | undefined {
  return v ? (calendarDate(v) ?? undefined) : null;
}

/** What Excel does to 12-digit cells, named so the HR person knows what to fix. */
function numberProblem(raw: string): string | null {
  if (/\d[.,]?\d*E\+\d+/i.test(raw)) return 'vault.import.excelExponent';
  const parsed = parseMyNumber(raw);
  if (parsed.ok) return null;
  if (parsed.problem === 'vault.number.length' && /^\d{9,11}$/.test(normaliseNumber(raw))) return 'vault.import.leadingZero';
  return parsed.problem;
}

/**
 * 代理登録 by file, for a first migration: each line is checked on its own; good lines are
 * registered together in one transaction, rejected lines come back with their line number and
 * reason (never the number). A person who already has a number is not overwritten (that is a
 * correction, made one at a time). The file itself is only ever held in memory, and wiped after.
 */
export async function importNumbers(d: { audit: AuditLog; vault: VaultService }, ctx: ActorContext, clientId: string, registeredBy: string, bytes: Buffer): Promise<ImportReport> {
  const { header, rows } = readCsv(bytes);
  const col = (names: readonly string[]) => columnOf(header, names);
  const at = { employeeCode: col(COLUMNS.employeeCode), dependant: col(COLUMNS.dependant), issueDate: col(COLUMNS.issueDate), number: col(COLUMNS.number) };
  if (at.employeeCode < 0 || at.number < 0) throw new BadRequest('vault.import.header', { file: 'vault.import.header' });
  checkRowCount(rows);

  // Matched in code, not by the database's collation (MySQL would take e001 for E001, SQLite not).
  const people = await listPeople(clientId);
  const employees = new Map(people.filter((p) => p.kind === 'employee').map((p) => [p.employeeCode!, p]));
  const dependants = new Map(people.filter((p) => p.kind === 'dependant').map((p) => [`${p.employee!.id}|${nameKey(p.dependant!.name)}`, p]));

  const rejected: ImportRejection[] = [];
  let imported = 0;
  const seenNumbers = new Set<string>();
  const seenPeople = new Set<string>();
  await d.audit.transaction(async (tx) => {
    // Read under the log's head, which every registration takes first: a number registered meanwhile
    // (the person's own, or the same file sent twice) is seen here and never overwritten.
    const held = new Set((await NumberRecord.findAll({ where: { clientId, sealedNumber: { [Op.ne]: null } }, attributes: ['personKind', 'personId'], transaction: tx })).map((r) => `${r.personKind}:${r.personId}`));
    for (const { record: row, line } of rows) {
      const employeeCode = row[at.employeeCode] ?? '';
      const reject = (problem: string) => rejected.push({ line, employeeCode: shownCode(employeeCode), dependant: at.dependant >= 0 ? shownName(row[at.dependant] ?? '') : '', problem });
      const raw = row[at.number] ?? '';
      const problem = numberProblem(raw);
      if (problem) { reject(problem); continue; }
      const number = normaliseNumber(raw);
      const issueDate = issueDateOf(at.issueDate >= 0 ? row[at.issueDate] ?? '' : '');
      if (issueDate === undefined) { reject('vault.import.badDate'); continue; }
      if (seenNumbers.has(number)) { reject('vault.import.duplicateInFile'); continue; }
      const employee = employees.get(employeeCode);
      if (!employee) { reject('vault.import.unknownEmployee'); continue; }
      const dependantName = at.dependant >= 0 ? (row[at.dependant] ?? '') : '';
      const dependant = dependantName ? dependants.get(`${employee.id}|${nameKey(dependantName)}`) : null;
      if (dependantName && !dependant) { reject('vault.import.unknownDependant'); continue; }
      const key = dependant ? `dependant:${dependant.id}` : `employee:${employee.id}`;
      if (seenPeople.has(key)) { reject('vault.import.personTwice'); continue; }
      if (held.has(key)) { reject('vault.import.alreadyRegistered'); continue; }
      const person = dependant ?? employee;
      try {
        await d.vault.register(ctx, person, { number, issueDate }, { source: 'import', registeredBy }, tx);
        seenNumbers.add(number);
        seenPeople.add(key);
        imported++;
      } catch (err) {
        if (err instanceof FieldConflict || err instanceof BadRequest) {
          // The line tells the typist the number is someone else's in the company: logged, as on the other screens.
          await d.vault.recordRefusedAsDuplicate(ctx, person, 'import', err.fieldErrors, tx);
          reject(err.messageKey);
          continue;
        }
        throw err;
      }
    }
    await d.audit.record(tx, ctx, { operation: 'vault.import', result: 'allowed', clientId, detail: `${imported} imported, ${rejected.length} rejected` });
  });
  return { imported, rejected };
}
