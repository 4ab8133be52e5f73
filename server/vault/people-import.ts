import type { ActorContext, AuditLog } from '../audit';
import { z } from 'zod';
import { normaliseEmail, type AccountService } from '../accounts/account-service';
import { Department, User, type Employee } from '../db/models';
import { BadRequest, Conflict } from '../errors';
import { calendarDate } from '../domain/dates';
import { translate } from '../i18n';
import { listPeople } from './people';
import type { PeopleService } from './people-service';
import { checkRowCount, columnOf, looksLikeMyNumber, nameKey, readCsv, shownCode, shownName } from './csv-input';

/** The columns of a people file, in Japanese (as the template has them) or English. */
const COLUMNS = {
  employeeCode: ['社員コード', 'employee_code'],
  name: ['氏名', 'name'],
  nameKana: ['フリガナ', 'name_kana'],
  department: ['部門コード', 'department_code'],
  hireDate: ['入社日', 'hire_date'],
  dependant: ['扶養家族名', 'dependant_name'],
  dependantKana: ['扶養家族フリガナ', 'dependant_kana'],
  relationship: ['続柄', 'relationship'],
  email: ['メールアドレス', 'email'],
} as const;

export const PEOPLE_TEMPLATE = '社員コード,氏名,フリガナ,部門コード,入社日,メールアドレス,扶養家族名,扶養家族フリガナ,続柄\r\n';

/** The import page's column guide, from the same headings the reader accepts. */
export const PEOPLE_GUIDE = [
  { heading: COLUMNS.employeeCode[0], alias: COLUMNS.employeeCode[COLUMNS.employeeCode.length - 1], required: true, contentKey: 'people.import.guide.employeeCode', example: 'E001' },
  { heading: COLUMNS.name[0], alias: COLUMNS.name[COLUMNS.name.length - 1], required: true, contentKey: 'people.import.guide.name', example: '山田 太郎' },
  { heading: COLUMNS.nameKana[0], alias: COLUMNS.nameKana[COLUMNS.nameKana.length - 1], required: false, contentKey: 'people.import.guide.nameKana', example: 'ヤマダ タロウ' },
  { heading: COLUMNS.department[0], alias: COLUMNS.department[COLUMNS.department.length - 1], required: false, contentKey: 'people.import.guide.department', example: '100' },
  { heading: COLUMNS.hireDate[0], alias: COLUMNS.hireDate[COLUMNS.hireDate.length - 1], required: false, contentKey: 'people.import.guide.hireDate', example: '2020/04/01' },
  { heading: COLUMNS.email[0], alias: COLUMNS.email[COLUMNS.email.length - 1], required: false, contentKey: 'people.import.guide.email', example: 'yamada@example.jp' },
  { heading: COLUMNS.dependant[0], alias: COLUMNS.dependant[COLUMNS.dependant.length - 1], required: false, contentKey: 'people.import.guide.dependant', example: '山田 花子' },
  { heading: COLUMNS.dependantKana[0], alias: COLUMNS.dependantKana[COLUMNS.dependantKana.length - 1], required: false, contentKey: 'people.import.guide.dependantKana', example: 'ヤマダ ハナコ' },
  { heading: COLUMNS.relationship[0], alias: COLUMNS.relationship[COLUMNS.relationship.length - 1], required: false, contentKey: 'people.import.guide.relationship', example: '配偶者' },
] as const;

const RELATIONSHIP_VALUES = ['spouse', 'child', 'father', 'mother', 'other'] as const;

/** 続柄 as typed: the portal's own words in either language, or the stored values themselves. */
function relationshipOf(typed: string): string | null {
  const t = typed.normalize('NFKC').trim().toLowerCase();
  for (const r of RELATIONSHIP_VALUES) {
    if (t === r || t === translate('ja', `people.relationship.${r}`) || t === translate('en', `people.relationship.${r}`).toLowerCase()) return r;
  }
  // Words Japanese forms use for the same relationships.
  const aliases: Record<string, string> = { 妻: 'spouse', 夫: 'spouse', 長男: 'child', 長女: 'child', 次男: 'child', 次女: 'child', 三男: 'child', 三女: 'child', 実父: 'father', 実母: 'mother', 義父: 'other', 義母: 'other' };
  return aliases[t] ?? null;
}

export interface PeopleImportRejection { line: number; employeeCode: string; name: string; problem: string }
export interface PeopleImportReport { employees: number; dependants: number; invited: number; unchanged: number; rejected: PeopleImportRejection[] }

/**
 * The employee list (and dependants) from a file, for a client's first set-up: a line without a
 * dependant's name is an employee, a line with one is that employee's dependant (the employee
 * already held or on an earlier line). People already held are left as they are (corrections are
 * made on the employee's page); good lines are added together, under a lock on the client, refused
 * lines come back with their line number and reason. No My Numbers here: those come by 代理登録, the number import or じぶんで登録.
 */
export async function importPeople(d: { people: PeopleService; accounts: AccountService; audit: AuditLog }, ctx: ActorContext, clientId: string, bytes: Buffer): Promise<PeopleImportReport> {
  const { header, rows } = readCsv(bytes);
  const col = (names: readonly string[]) => columnOf(header, names);
  const at = {
    employeeCode: col(COLUMNS.employeeCode), name: col(COLUMNS.name), nameKana: col(COLUMNS.nameKana), department: col(COLUMNS.department),
    hireDate: col(COLUMNS.hireDate), dependant: col(COLUMNS.dependant), dependantKana: col(COLUMNS.dependantKana), relationship: col(COLUMNS.relationship),
    email: col(COLUMNS.email),
  };
  if (at.employeeCode < 0 || at.name < 0) throw new BadRequest('people.import.header', { file: 'people.import.header' });
  checkRowCount(rows);

  const report: PeopleImportReport = { employees: 0, dependants: 0, invited: 0, unchanged: 0, rejected: [] };
  // One import at a time (a double tap on a phone): the second waits for the log's head, then reads what the first added.
  await d.audit.transaction(async (tx) => {
    const people = await listPeople(clientId);
    // Codes are matched whatever their case, as MySQL's collation does: E001 and e001 are one code on either database.
    const codeKey = (code: string) => code.toLowerCase();
    const employees = new Map<string, { id: string; code: string; name: string; hasAccount: boolean }>(people.filter((p) => p.kind === 'employee')
      .map((p) => [codeKey(p.employeeCode!), { id: p.id, code: p.employeeCode!, name: p.employee!.name, hasAccount: Boolean(p.employee!.userId) }]));
    const dependants = new Set(people.filter((p) => p.kind === 'dependant').map((p) => `${p.employee!.id}|${nameKey(p.dependant!.name)}`));
    const departments = new Map((await Department.findAll({ where: { clientId }, transaction: tx })).map((dep) => [dep.code, dep.id]));
    /** Codes whose employee line was refused in this file: their dependants' lines are refused too, never put under someone else. */
    const refusedCodes = new Set<string>();

    type Cell = (i: number) => string;

    /** An employee's line: added (and invited when it gives an address), or left as held; a refusal's key otherwise. */
    const employeeLine = async (cell: Cell, employeeCode: string): Promise<string | null> => {
      const name = cell(at.name);
      if (!name || name.length > 100) return 'people.import.noName';
      // An address invites the employee to the portal (じぶんで登録), their account tied to them at once.
      const emailText = cell(at.email);
      const email = emailText ? normaliseEmail(emailText.normalize('NFKC')) : null;
      if (email !== null && (email.length > 190 || !z.email().safeParse(email).success)) return 'people.import.badEmail';
      if (email !== null && await User.count({ where: { email }, transaction: tx })) return 'account.emailTaken';
      const invite = async (employeeId: string, employeeName: string) => {
        if (email === null) return;
        const user = await d.accounts.createUser(ctx, { email, name: employeeName, role: 'employee', clientId }, tx);
        await d.people.linkAccount(ctx, clientId, employeeId, user.id, tx);
        report.invited++;
      };
      const held = employees.get(codeKey(employeeCode));
      if (held) {
        // The same person again (a second upload of the same file) is no error; another name, or the code in another case, is.
        if (held.code !== employeeCode) return 'people.import.codeCase';
        if (nameKey(held.name) !== nameKey(name)) return 'people.import.codeOtherName';
        if (!held.hasAccount) { await invite(held.id, held.name); held.hasAccount = email !== null; }
        report.unchanged++;
        return null;
      }
      const departmentCode = cell(at.department);
      const departmentId = departmentCode ? departments.get(departmentCode) : null;
      if (departmentId === undefined) return 'people.import.unknownDepartment';
      const hireText = cell(at.hireDate);
      const hireDate = hireText ? calendarDate(hireText) : null;
      if (hireText && !hireDate) return 'people.import.badHireDate';
      const kana = cell(at.nameKana);
      const e: Employee = await d.people.addEmployee(ctx, clientId, {
        employeeCode, name, nameKana: kana ? kana.slice(0, 100) : null, departmentId, establishmentId: null, hireDate, leaveDate: null,
      }, tx);
      await invite(e.id, e.name);
      employees.set(codeKey(employeeCode), { id: e.id, code: e.employeeCode, name: e.name, hasAccount: email !== null });
      report.employees++;
      return null;
    };

    /** A dependant's line, under the employee held under its code; a refusal's key otherwise. */
    const dependantLine = async (cell: Cell, employeeCode: string, dependantName: string): Promise<string | null> => {
      if (refusedCodes.has(codeKey(employeeCode))) return 'people.import.employeeRefused';
      const held = employees.get(codeKey(employeeCode));
      if (!held || held.code !== employeeCode) return 'vault.import.unknownEmployee';
      // A dependant's line that names its employee must name the one held under the code.
      const employeeName = cell(at.name);
      if (employeeName && nameKey(employeeName) !== nameKey(held.name)) return 'people.import.dependantOfOther';
      if (dependantName.length > 100) return 'people.import.noName';
      const key = `${held.id}|${nameKey(dependantName)}`;
      if (dependants.has(key)) { report.unchanged++; return null; }
      const relationship = relationshipOf(cell(at.relationship));
      if (!relationship) return 'people.import.relationship';
      const kana = cell(at.dependantKana);
      await d.people.addDependant(ctx, clientId, held.id, { name: dependantName, nameKana: kana ? kana.slice(0, 100) : null, relationship }, tx);
      dependants.add(key);
      report.dependants++;
      return null;
    };

    for (const { record: row, line } of rows) {
      const cell: Cell = (i) => (i >= 0 ? (row[i] ?? '').trim() : '');
      const employeeCode = cell(at.employeeCode);
      const dependantName = cell(at.dependant);
      let problem: string | null;
      // This file holds no My Numbers: a cell that looks like one is refused, never stored or logged.
      if (row.some((c) => looksLikeMyNumber(c))) problem = 'people.import.looksLikeNumber';
      else if (!/^[A-Za-z0-9_-]{1,30}$/.test(employeeCode)) problem = 'people.import.badCode';
      else {
        try {
          problem = dependantName ? await dependantLine(cell, employeeCode, dependantName) : await employeeLine(cell, employeeCode);
        } catch (err) {
          if (!(err instanceof BadRequest || err instanceof Conflict)) throw err;
          problem = err.messageKey;
        }
      }
      if (problem) {
        report.rejected.push({ line, employeeCode: shownCode(employeeCode), name: shownName(dependantName || cell(at.name)), problem });
        if (!dependantName) refusedCodes.add(codeKey(employeeCode));
      }
    }
    await d.audit.record(tx, ctx, {
      operation: 'people.import', result: 'allowed', clientId,
      detail: `${report.employees} employees, ${report.dependants} dependants added, ${report.invited} invited, ${report.unchanged} unchanged, ${report.rejected.length} rejected`,
    });
  });
  if (report.invited) d.accounts.sendQueued();
  return report;
}
