import { Op, literal, type WhereOptions } from 'sequelize';
import { Employee, StaffAssignment, StoredFile, type Direction, type User } from '../db/models';

/**
 * Which files a user may see, as one query condition (used for lists and for single files alike,
 * so a file outside it is simply not found):
 * - firm admin: every file; firm staff: files of their assigned clients, and what the firm sent to all;
 *   neither sees what a company's admins sent one of its employees;
 * - client admin: their company's files to and from the firm, what the company's admins sent one
 *   employee, and what the firm sent to all;
 * - employee: what they sent themselves, and what the firm or their company addressed to them alone.
 */
export async function visibleFilesWhere(user: User): Promise<WhereOptions<StoredFile>> {
  // What a company's own admins send one of its employees (a payslip made in-house) stays between them: not the firm's.
  const notCompanyToEmployee = { [Op.or]: [{ direction: { [Op.ne]: 'to_employee' } }, { senderId: { [Op.in]: literal(`(SELECT id FROM users WHERE role IN ('firm_admin', 'firm_staff'))`) } }] };
  switch (user.role) {
    case 'firm_admin':
      return notCompanyToEmployee;
    case 'firm_staff': {
      const clientIds = (await StaffAssignment.findAll({ where: { userId: user.id } })).map((a) => a.clientId);
      return { [Op.and]: [{ [Op.or]: [{ clientId: { [Op.in]: clientIds } }, { direction: 'to_all' }] }, notCompanyToEmployee] };
    }
    case 'client_admin': {
      // What the firm sends one employee (a payslip) is that employee's; what the company's own admins send one is theirs too.
      const clientId = StoredFile.sequelize!.escape(user.clientId ?? '');
      return {
        [Op.or]: [
          { clientId: user.clientId, direction: { [Op.in]: ['to_firm', 'to_client'] } },
          { clientId: user.clientId, direction: 'to_employee', senderId: { [Op.in]: literal(`(SELECT id FROM users WHERE client_id = ${clientId} AND role = 'client_admin')`) } },
          { direction: 'to_all' },
        ],
      };
    }
    case 'employee': {
      if (!user.clientId) return { id: { [Op.in]: [] } };
      const employeeIds = (await Employee.findAll({ where: { userId: user.id, clientId: user.clientId } })).map((e) => e.id);
      return {
        clientId: user.clientId,
        [Op.or]: [
          { direction: 'to_firm', senderId: user.id },
          { direction: 'to_employee', employeeId: { [Op.in]: employeeIds } },
        ],
      };
    }
  }
}

/** Of these file ids, those the user may see (whatever the files' state now). */
export async function fileIdsSeenBy(user: User, ids: string[]): Promise<Set<string>> {
  const unique = [...new Set(ids)].filter((id) => /^[0-9a-f-]{36}$/i.test(id));
  if (!unique.length) return new Set();
  const seen = await StoredFile.findAll({ where: { [Op.and]: [{ id: { [Op.in]: unique } }, await visibleFilesWhere(user)] }, attributes: ['id'] });
  return new Set(seen.map((f) => f.id));
}

/**
 * The directions a user's side sends in (their 送信済み box; the rest they can see is received): the
 * firm sends to clients, employees and all; a company to the firm, and its admins to one employee.
 */
export function sentBy(user: Pick<User, 'role'>): Direction[] {
  switch (user.role) {
    case 'firm_admin': case 'firm_staff': return ['to_client', 'to_employee', 'to_all'];
    case 'client_admin': return ['to_firm', 'to_employee'];
    case 'employee': return ['to_firm'];
  }
}

/**
 * The boxes of the file list. A client admin has one more: what the company's people sent the firm
 * themselves (employees' own files, the card photos of じぶんで登録 and of one-time links). The admin can see those, but did not
 * send them and does not receive them: they are neither 送ったファイル nor 受け取ったファイル.
 */
export type Box = 'all' | 'received' | 'sent' | 'employees';

export function boxesOf(user: Pick<User, 'role'>): Box[] {
  return user.role === 'client_admin' ? ['all', 'received', 'sent', 'employees'] : ['all', 'received', 'sent'];
}

/** The users who are some company's admins (a subquery): what they send the firm is their company's own sending. */
const CLIENT_ADMINS = `(SELECT id FROM users WHERE role = 'client_admin')`;

/**
 * Files the company's people sent the firm themselves (seen by their client admin): an employee's own,
 * and what a person sent through a one-time link (filed under the admin who issued it).
 */
const sentByEmployees = (): WhereOptions<StoredFile> => ({
  direction: 'to_firm', [Op.or]: [{ senderId: { [Op.notIn]: literal(CLIENT_ADMINS) } }, { throughLink: true }],
});

/** A box's condition, within what the user may see (`visibleFilesWhere`); null for every file. */
export function boxWhere(user: Pick<User, 'role'>, box: Box): WhereOptions<StoredFile> | null {
  switch (box) {
    case 'all': return null;
    // What the user's side receives: the directions their side does not send in.
    case 'received': return { direction: { [Op.notIn]: sentBy(user) } };
    case 'sent':
      // A client admin's side is the company's admins: what the company's employees sent is not theirs.
      return user.role === 'client_admin'
        ? { [Op.or]: [{ direction: 'to_employee' }, { direction: 'to_firm', senderId: { [Op.in]: literal(CLIENT_ADMINS) }, throughLink: false }] }
        : { direction: { [Op.in]: sentBy(user) } };
    case 'employees': return user.role === 'client_admin' ? sentByEmployees() : { id: { [Op.in]: [] } };
  }
}

/**
 * The readers whose opening of a file the user may learn of, as SQL on `user_id` (a subquery), or
 * null for anyone: the firm sees every reader; a client's people see their own company's and the
 * firm's, never another client's (a file sent to all clients is opened by many).
 */
export function readersVisibleToSql(user: Pick<User, 'clientId'>): string | null {
  if (!user.clientId) return null;
  return `(SELECT id FROM users WHERE client_id = ${StoredFile.sequelize!.escape(user.clientId)} OR role IN ('firm_admin', 'firm_staff'))`;
}

/**
 * 未読 — one rule for the file list's badge and the count on the home page: a file in the user's
 * received box that nobody on their side has opened (as far as the user may learn of readers).
 * Card photos never count: no badge may invite anyone to open a My Number image to clear it.
 */
export function unreadWhere(user: Pick<User, 'role' | 'clientId'>): WhereOptions<StoredFile> {
  const readers = readersVisibleToSql(user);
  const opened = literal(`(SELECT file_id FROM file_reads${readers ? ` WHERE user_id IN ${readers}` : ''})`);
  return { [Op.and]: [boxWhere(user, 'received')!, { cardPhoto: false }, { id: { [Op.notIn]: opened } }] };
}

/** Whether the user is on the receiving side of a file (their opening counts as 既読). */
export function isRecipientSide(user: User, file: StoredFile): boolean {
  if (file.senderId === user.id) return false;
  // A file for one employee is received by that employee alone (another admin of the company opening it is no receipt).
  if (file.direction === 'to_employee') return user.role === 'employee';
  const firm = user.role === 'firm_admin' || user.role === 'firm_staff';
  return file.direction === 'to_firm' ? firm : !firm;
}
