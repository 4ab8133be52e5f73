import { parse } from 'csv-parse/sync';
import type { Sequelize } from 'sequelize';
import type { ActorContext, AuditLog } from '../audit';
import { Dependant, Employee } from '../db/models';
import { FieldConflict, BadRequest } from '../errors';
import { parseMyNumber } from './my-number';
import { calendarDate } from '../domain/dates';
import { findPerson } from './people';
import type { VaultService } from './vault-service';

/** The columns of an import file, in Japanese (as the template has them) or English. */
const COLUMNS = {
  employeeCode: ['社員コード', 'employee_code'],
  dependant: ['扶養家族名', 'dependant_name'],
  issueDate: ['発行日', 'issue_date'],
  number: ['マイナンバー', '個人番号', 'my_number'],
} as const;

export const IMPORT_TEMPLATE = '社員コード,扶養家族名,発行日,マイナンバー\r\n';

export interface ImportRejection { line: number; employeeCode: string; problem: string }
export interface ImportReport { imported: number; rejected: ImportRejection[] }

/** UTF-8 (with or without BOM) as written by most tools, else Shift_JIS as Excel saves "CSV" in Japan. */
function decode(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('shift_jis').decode(bytes);
  }
}

/** The issue date of a line: null when blank, undefined when it is not a real calendar day. */
function issueDateOf(v: string): string | null | undefined {
  return v ? (calendarDate(v) ?? undefined) : null;
}

/**
 * 代理登録 by file, for a first migration: each line is checked on its own; good lines are
 * registered together in one transaction, rejected lines come back with their line number and
 * reason (never the number). The file itself is only ever held in memory, and wiped after.
 */
export async function importNumbers(d: { sequelize: Sequelize; audit: AuditLog; vault: VaultService }, ctx: ActorContext, clientId: string, registeredBy: string, bytes: Buffer): Promise<ImportReport> {
  let rows: string[][];
  try {
    rows = parse(decode(bytes), { bom: true, skip_empty_lines: true, relax_column_count: true, trim: true }) as string[][];
  } catch {
    throw new BadRequest('vault.import.unreadable', { file: 'vault.import.unreadable' });
  } finally {
    bytes.fill(0);
  }
  const header = rows.shift() ?? [];
  const col = (names: readonly string[]) => header.findIndex((h) => names.includes(h));
  const at = { employeeCode: col(COLUMNS.employeeCode), dependant: col(COLUMNS.dependant), issueDate: col(COLUMNS.issueDate), number: col(COLUMNS.number) };
  if (at.employeeCode < 0 || at.number < 0) throw new BadRequest('vault.import.header', { file: 'vault.import.header' });
  if (rows.length === 0) throw new BadRequest('vault.import.empty', { file: 'vault.import.empty' });

  const rejected: ImportRejection[] = [];
  let imported = 0;
  const seen = new Set<string>();
  await d.sequelize.transaction(async (tx) => {
    for (const [i, row] of rows.entries()) {
      const line = i + 2;
      const employeeCode = row[at.employeeCode] ?? '';
      const reject = (problem: string) => rejected.push({ line, employeeCode, problem });
      const parsed = parseMyNumber(row[at.number] ?? '');
      if (!parsed.ok) { reject(parsed.problem); continue; }
      const issueDate = issueDateOf(at.issueDate >= 0 ? row[at.issueDate] ?? '' : '');
      if (issueDate === undefined) { reject('vault.import.badDate'); continue; }
      if (seen.has(parsed.number)) { reject('vault.import.duplicateInFile'); continue; }
      const employee = await Employee.findOne({ where: { clientId, employeeCode }, transaction: tx });
      if (!employee) { reject('vault.import.unknownEmployee'); continue; }
      const dependantName = at.dependant >= 0 ? (row[at.dependant] ?? '') : '';
      const dependant = dependantName ? await Dependant.findOne({ where: { clientId, employeeId: employee.id, name: dependantName }, transaction: tx }) : null;
      if (dependantName && !dependant) { reject('vault.import.unknownDependant'); continue; }
      const person = await findPerson(clientId, dependant ? 'dependant' : 'employee', dependant ? dependant.id : employee.id, tx);
      try {
        await d.vault.register(ctx, person, { number: parsed.number, issueDate }, { source: 'import', registeredBy }, tx);
        seen.add(parsed.number);
        imported++;
      } catch (err) {
        if (err instanceof FieldConflict || err instanceof BadRequest) { reject(err.messageKey); continue; }
        throw err;
      }
    }
    await d.audit.record(tx, ctx, { operation: 'vault.import', result: 'allowed', clientId, detail: `${imported} imported, ${rejected.length} rejected` });
  });
  return { imported, rejected };
}
