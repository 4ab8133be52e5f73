import { randomUUID } from 'node:crypto';
import { Op, UniqueConstraintError, type Transaction } from 'sequelize';
import type { Logger } from 'pino';
import type { ActorContext, AuditLog } from '../audit';
import type { MailOutbox } from '../mail/outbox';
import { Client, Department, Dependant, Employee, Establishment, NumberRecord, Payee, User, type PayeeKind } from '../db/models';
import { translate, isLang, DEFAULT_LANG } from '../i18n';
import { BadRequest, NotFound } from '../errors';
import { addYears, rulesOf } from '../disposal/retention-rules';
import { hasLeft } from './people';

export interface EmployeeInput {
  employeeCode: string;
  name: string;
  nameKana: string | null;
  departmentId: string | null;
  establishmentId: string | null;
  hireDate: string | null;
  leaveDate: string | null;
}

export interface DependantInput { name: string; nameKana: string | null; relationship: string }
export interface PayeeInput { code: string; name: string; nameKana: string | null; kind: PayeeKind }

const UUID = /^[0-9a-f-]{36}$/i;

/**
 * A leave date before the hire date is a typing slip, and an expensive one: the deletion date
 * follows the leave date, so the numbers would be due for disposal at once.
 */
function checkLeaveAfterHire(hireDate: string | null, leaveDate: string | null): void {
  if (hireDate && leaveDate && leaveDate < hireDate) throw new BadRequest('people.leaveBeforeHire', { leaveDate: 'people.leaveBeforeHire' });
}

/** The fields of a correction that differ from the stored row (a blank and a null are the same). */
function changedFields<T extends object>(input: T, row: T): (keyof T)[] {
  return (Object.keys(input) as (keyof T)[]).filter((k) => (input[k] ?? null) !== (row[k] ?? null));
}

/** The people whose numbers a client keeps: employees, their dependants, and payees. */
export class PeopleService {
  constructor(private readonly d: { audit: AuditLog; outbox: MailOutbox; logger: Logger }) {}

  private async checkPlaces(clientId: string, input: Pick<EmployeeInput, 'departmentId' | 'establishmentId'>): Promise<void> {
    if (input.departmentId && !(UUID.test(input.departmentId) && await Department.count({ where: { id: input.departmentId, clientId } }))) {
      throw new BadRequest('form.invalid', { departmentId: 'form.invalid' });
    }
    if (input.establishmentId && !(UUID.test(input.establishmentId) && await Establishment.count({ where: { id: input.establishmentId, clientId } }))) {
      throw new BadRequest('form.invalid', { establishmentId: 'form.invalid' });
    }
  }

  /** In the caller's transaction when given one (an import adds many under one lock). */
  private within<T>(outer: Transaction | undefined, work: (tx: Transaction) => Promise<T>): Promise<T> {
    return outer ? work(outer) : this.d.audit.transaction(work);
  }

  async addEmployee(ctx: ActorContext, clientId: string, input: EmployeeInput, outer?: Transaction): Promise<Employee> {
    await this.checkPlaces(clientId, input);
    checkLeaveAfterHire(input.hireDate, input.leaveDate);
    const codeTaken = () => new BadRequest('people.codeTaken', { employeeCode: 'people.codeTaken' });
    return this.within(outer, async (tx) => {
      if (await Employee.count({ where: { clientId, employeeCode: input.employeeCode }, transaction: tx })) throw codeTaken();
      const e = await Employee.create({ clientId, ...input, userId: null }, { transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'person.create', result: 'allowed', clientId, targetKind: 'employee', targetId: e.id, targetLabel: `${e.employeeCode} ${e.name}` });
      return e;
    }).catch((err: unknown) => {
      // Two requests adding the same code at once: the unique index answers for the one that lost.
      if (err instanceof UniqueConstraintError) throw codeTaken();
      throw err;
    });
  }

  async employee(clientId: string, employeeId: string, tx?: Transaction): Promise<Employee> {
    const e = UUID.test(employeeId) ? await Employee.findOne({ where: { id: employeeId, clientId }, transaction: tx }) : null;
    if (!e) throw new NotFound();
    return e;
  }

  /**
   * Records the leave date; the 削除予定日 of the employee's and dependants' numbers follows it
   * (N years after). A date moved or cancelled by hand on the retention screen (予定解除) stays as it
   * was set: correcting a leave date must not undo a hold.
   */
  async setLeaveDate(ctx: ActorContext, clientId: string, employeeId: string, leaveDate: string | null): Promise<void> {
    const e = await this.employee(clientId, employeeId);
    checkLeaveAfterHire(e.hireDate, leaveDate);
    await this.d.audit.transaction(async (tx) => {
      await e.update({ leaveDate }, { transaction: tx });
      const dependantIds = (await Dependant.findAll({ where: { clientId, employeeId: e.id }, transaction: tx })).map((d) => d.id);
      const deletionDate = leaveDate ? addYears(leaveDate, (await rulesOf(clientId)).numberYears) : null;
      const people = [{ personKind: 'employee', personId: e.id }, ...(dependantIds.length ? [{ personKind: 'dependant', personId: dependantIds }] : [])];
      await NumberRecord.update({ deletionDate }, { where: { clientId, deletionDateByHand: false, [Op.or]: people }, transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'person.leave', result: 'allowed', clientId, targetKind: 'employee', targetId: e.id, targetLabel: `${e.employeeCode} ${e.name}`, detail: leaveDate ?? 'cleared' });
    });
  }

  /** The client's employee accounts not yet tied to an employee record: whom the employee's page may link. */
  async unlinkedAccounts(clientId: string): Promise<User[]> {
    const linked = (await Employee.findAll({ where: { clientId, userId: { [Op.ne]: null } }, attributes: ['userId'] })).map((e) => e.userId!);
    return User.findAll({ where: { clientId, role: 'employee', disabledAt: null, ...(linked.length ? { id: { [Op.notIn]: linked } } : {}) }, order: [['name', 'ASC']] });
  }

  /**
   * Ties an employee record to the portal account of the same person (or unties it, with null), so
   * that they can register their own and their dependants' numbers (じぶんで登録) and see what was
   * sent to them, earlier files too (a new address, re-invited). Only an employee account of the same
   * client, and only one record per account. A link taken from an account (unlinked, or another
   * linked instead) is told to that account's address, queued with the change: whoever held it
   * learns that someone else may now see what is addressed to them, and whom to ask.
   */
  async linkAccount(ctx: ActorContext, clientId: string, employeeId: string, userId: string | null, outer?: Transaction): Promise<void> {
    const e = await this.employee(clientId, employeeId, outer);
    let told = false;
    await this.within(outer, async (tx) => {
      let account: User | null = null;
      if (userId) {
        account = UUID.test(userId) ? await User.findOne({ where: { id: userId, clientId, role: 'employee', disabledAt: null }, transaction: tx }) : null;
        if (!account) throw new BadRequest('people.accountUnknown', { userId: 'people.accountUnknown' });
        if (await Employee.count({ where: { clientId, userId, id: { [Op.ne]: e.id } }, transaction: tx })) throw new BadRequest('people.accountTaken', { userId: 'people.accountTaken' });
      }
      // Read again under the transaction: the link as it is now, not as the page was read.
      const before = (await Employee.findOne({ where: { id: e.id, clientId }, attributes: ['userId'], transaction: tx }))?.userId ?? null;
      const previous = before && before !== account?.id ? await User.findByPk(before, { transaction: tx }) : null;
      await e.update({ userId: account?.id ?? null }, { transaction: tx });
      await this.d.audit.record(tx, ctx, {
        operation: 'person.account', result: 'allowed', clientId, targetKind: 'employee', targetId: e.id, targetLabel: `${e.employeeCode} ${e.name}`,
        detail: `${account ? `linked ${account.email}` : 'unlinked'}${previous ? ` (was ${previous.email}; told)` : ''}`,
      });
      if (previous) told = await this.queueLinkChangedNotice(previous, clientId, tx);
    });
    // Within a caller's transaction, the caller sends after its commit (as invitations go).
    if (told && !outer) void this.d.outbox.deliverNow().catch((err: unknown) => this.d.logger.warn({ err: { message: (err as Error).message } }, 'account link notice not sent yet; queued'));
  }

  /** The notice to an account whose link was taken: the company and whom to ask, no name, no number, no link to follow. */
  private async queueLinkChangedNotice(previous: User, clientId: string, tx: Transaction): Promise<boolean> {
    const lang = isLang(previous.lang) ? previous.lang : DEFAULT_LANG;
    const company = (await Client.findByPk(clientId, { transaction: tx }))?.name ?? '';
    return this.d.outbox.enqueue({
      // Each change its own notice (an account linked, unlinked and linked again is told twice).
      dedupeKey: `account-link:${previous.id}:${randomUUID()}`,
      to: previous.email,
      subject: translate(lang, 'mail.accountLinkChanged.subject', { company }),
      text: translate(lang, 'mail.accountLinkChanged.body', { company }),
    }, tx);
  }

  /**
   * Corrects an employee's details (a typo in the name, a transfer, a new code). The leave date has
   * its own step, since the numbers' deletion date follows it. Logged with the fields changed.
   */
  async updateEmployee(ctx: ActorContext, clientId: string, employeeId: string, input: Omit<EmployeeInput, 'leaveDate'>): Promise<void> {
    const e = await this.employee(clientId, employeeId);
    await this.checkPlaces(clientId, input);
    checkLeaveAfterHire(input.hireDate, e.leaveDate);
    await this.d.audit.transaction(async (tx) => {
      if (input.employeeCode !== e.employeeCode && await Employee.count({ where: { clientId, employeeCode: input.employeeCode, id: { [Op.ne]: e.id } }, transaction: tx })) {
        throw new BadRequest('people.codeTaken', { employeeCode: 'people.codeTaken' });
      }
      const changed = changedFields(input, e);
      if (changed.length === 0) return;
      const before = `${e.employeeCode} ${e.name}`;
      await e.update(input, { transaction: tx });
      await this.d.audit.record(tx, ctx, {
        operation: 'person.update', result: 'allowed', clientId, targetKind: 'employee', targetId: e.id, targetLabel: `${e.employeeCode} ${e.name}`,
        detail: `changed: ${changed.join(', ')}${changed.includes('name') || changed.includes('employeeCode') ? ` (was ${before})` : ''}`.slice(0, 500),
      });
    });
  }

  /** Corrects a dependant's name, reading or relationship (続柄); only a dependant of that employee. */
  async updateDependant(ctx: ActorContext, clientId: string, employeeId: string, dependantId: string, input: DependantInput): Promise<Dependant> {
    const e = await this.employee(clientId, employeeId);
    const d = UUID.test(dependantId) ? await Dependant.findOne({ where: { id: dependantId, clientId, employeeId: e.id } }) : null;
    if (!d) throw new NotFound();
    return this.d.audit.transaction(async (tx) => {
      const changed = changedFields(input, d);
      if (changed.length === 0) return d;
      const before = d.name;
      await d.update(input, { transaction: tx });
      await this.d.audit.record(tx, ctx, {
        operation: 'person.update', result: 'allowed', clientId, targetKind: 'dependant', targetId: d.id, targetLabel: `${e.employeeCode} ${e.name} > ${d.name}`,
        detail: `changed: ${changed.join(', ')}${changed.includes('name') ? ` (was ${before})` : ''}`.slice(0, 500),
      });
      return d;
    });
  }

  async addDependant(ctx: ActorContext, clientId: string, employeeId: string, input: DependantInput, outer?: Transaction): Promise<Dependant> {
    const e = await this.employee(clientId, employeeId, outer);
    // After leaving there is no filing left that needs a new dependant's number: it would only wait
    // as 未登録 (a rehire clears the leave date first, as for the employee's own number).
    if (hasLeft(e)) throw new BadRequest('people.dependantLeaver', { _form: 'people.dependantLeaver' });
    return this.within(outer, async (tx) => {
      const d = await Dependant.create({ clientId, employeeId: e.id, ...input }, { transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'person.create', result: 'allowed', clientId, targetKind: 'dependant', targetId: d.id, targetLabel: `${e.employeeCode} ${e.name} > ${d.name}` });
      return d;
    });
  }

  async addPayee(ctx: ActorContext, clientId: string, input: PayeeInput): Promise<Payee> {
    return this.d.audit.transaction(async (tx) => {
      if (await Payee.count({ where: { clientId, code: input.code }, transaction: tx })) throw new BadRequest('people.codeTaken', { code: 'people.codeTaken' });
      const p = await Payee.create({ clientId, ...input }, { transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'person.create', result: 'allowed', clientId, targetKind: 'payee', targetId: p.id, targetLabel: `${p.code} ${p.name}` });
      return p;
    });
  }
}
