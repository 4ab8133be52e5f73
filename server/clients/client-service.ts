import type { Lang } from '../i18n';
import { Op, UniqueConstraintError, col, fn, where } from 'sequelize';
import type { AuditLog, ActorContext } from '../audit';
import { Client, Department, Establishment, StaffAssignment, User, Employee, type Role } from '../db/models';
import { Conflict, NotFound, BadRequest } from '../errors';
import { mayAccessClient } from '../policies';
import { ownClient } from './own-client';
import { japanDay } from '../domain/dates';
import type { AccountService } from '../accounts/account-service';
import type { ClientKeys } from './client-keys';

export interface ClientInput {
  code: string;
  name: string;
  nameKana: string | null;
  requireAdminTotp: boolean;
}

/** Client companies (顧問先), their establishments, departments, users and the staff who handle them. */
export class ClientService {
  constructor(private readonly d: { audit: AuditLog; clientKeys: ClientKeys; accounts: AccountService }) {}

  /** The clients a user may see: all for the firm admin, the assigned ones for staff. */
  async listFor(user: User): Promise<Client[]> {
    if (user.role === 'firm_admin') return Client.findAll({ order: [['code', 'ASC']] });
    if (user.role === 'firm_staff') return this.assignedTo(user);
    const own = await ownClient(user);
    return own ? [own] : [];
  }

  /** The clients a firm user is assigned to (the firm admin sees every client but opens numbers only of these). */
  async assignedTo(user: User): Promise<Client[]> {
    const ids = (await StaffAssignment.findAll({ where: { userId: user.id } })).map((a) => a.clientId);
    return Client.findAll({ where: { id: { [Op.in]: ids } }, order: [['code', 'ASC']] });
  }

  /** One client, or NotFound when it does not exist or the user may not see it (the two look alike). */
  async getFor(user: User, clientId: string): Promise<Client> {
    if (!isUuid(clientId) || !(await mayAccessClient(user, clientId))) throw new NotFound();
    const client = clientId === user.clientId ? await ownClient(user) : await Client.findByPk(clientId);
    if (!client) throw new NotFound();
    return client;
  }

  async create(ctx: ActorContext, input: ClientInput): Promise<Client> {
    return this.d.audit.transaction(async (tx) => {
      // minato and MINATO would be one client to people (and are one to MariaDB's collation): the same code.
      if (await Client.findOne({ where: where(fn('lower', col('code')), input.code.toLowerCase()), transaction: tx })) throw new Conflict('client.codeTaken');
      const client = await Client.create(input, { transaction: tx });
      await this.d.clientKeys.createInitial(client.id, tx);
      await this.d.audit.record(tx, ctx, { operation: 'client.create', result: 'allowed', clientId: client.id, targetKind: 'client', targetId: client.id, targetLabel: `${client.code} ${client.name}` });
      return client;
    }).catch(rethrowUnique('client.codeTaken'));
  }

  async update(ctx: ActorContext, client: Client, input: Omit<ClientInput, 'code'>): Promise<void> {
    await this.d.audit.transaction(async (tx) => {
      await Client.update(input, { where: { id: client.id }, transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'client.update', result: 'allowed', clientId: client.id, targetKind: 'client', targetId: client.id, targetLabel: `${client.code} ${input.name}`, detail: `requireAdminTotp=${input.requireAdminTotp}` });
    });
  }

  async details(client: Client) {
    // Those who have left (leave date today or before, as hasLeft counts them) apart from those employed.
    const today = japanDay();
    const [establishments, departments, assignments, users, employeeCount, leaverCount] = await Promise.all([
      Establishment.findAll({ where: { clientId: client.id }, order: [['name', 'ASC']] }),
      Department.findAll({ where: { clientId: client.id }, order: [['code', 'ASC']] }),
      StaffAssignment.findAll({ where: { clientId: client.id } }),
      User.findAll({ where: { clientId: client.id }, order: [['role', 'ASC'], ['name', 'ASC']] }),
      Employee.count({ where: { clientId: client.id, [Op.or]: [{ leaveDate: null }, { leaveDate: { [Op.gt]: today } }] } }),
      Employee.count({ where: { clientId: client.id, leaveDate: { [Op.lte]: today } } }),
    ]);
    const staff = assignments.length
      ? await User.findAll({ where: { id: { [Op.in]: assignments.map((a) => a.userId) } }, order: [['name', 'ASC']] })
      : [];
    return { establishments, departments, assignments, staff, users, employeeCount, leaverCount };
  }

  async addEstablishment(ctx: ActorContext, client: Client, input: { name: string; address: string | null }): Promise<void> {
    await this.d.audit.transaction(async (tx) => {
      const row = await Establishment.create({ clientId: client.id, ...input }, { transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'establishment.create', result: 'allowed', clientId: client.id, targetKind: 'establishment', targetId: row.id, targetLabel: row.name });
    });
  }

  async addDepartment(ctx: ActorContext, client: Client, input: { code: string; name: string }): Promise<void> {
    await this.d.audit.transaction(async (tx) => {
      if (await Department.findOne({ where: { clientId: client.id, code: input.code }, transaction: tx })) throw new Conflict('department.codeTaken');
      const row = await Department.create({ clientId: client.id, ...input }, { transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'department.create', result: 'allowed', clientId: client.id, targetKind: 'department', targetId: row.id, targetLabel: `${row.code} ${row.name}` });
    }).catch(rethrowUnique('department.codeTaken'));
  }

  async assignStaff(ctx: ActorContext, client: Client, staffUserId: string): Promise<void> {
    // The list's first line (「職員を選んでください」) sent as it is: say that, not that the choice is not staff.
    if (!staffUserId.trim()) throw new BadRequest('assignment.chooseStaff', { userId: 'assignment.chooseStaff' });
    await this.d.audit.transaction(async (tx) => {
      const staff = isUuid(staffUserId) ? await User.findByPk(staffUserId, { transaction: tx }) : null;
      if (!staff || (staff.role !== 'firm_staff' && staff.role !== 'firm_admin') || staff.disabledAt) throw new BadRequest('assignment.notStaff', { userId: 'assignment.notStaff' });
      if (await StaffAssignment.findOne({ where: { clientId: client.id, userId: staff.id }, transaction: tx })) return;
      await StaffAssignment.create({ clientId: client.id, userId: staff.id }, { transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'assignment.create', result: 'allowed', clientId: client.id, targetKind: 'user', targetId: staff.id, targetLabel: staff.name });
    });
  }

  async unassignStaff(ctx: ActorContext, client: Client, staffUserId: string): Promise<void> {
    // The list's first line (「職員を選んでください」) sent as it is: say that, not that the choice is not staff.
    if (!staffUserId.trim()) throw new BadRequest('assignment.chooseStaff', { userId: 'assignment.chooseStaff' });
    await this.d.audit.transaction(async (tx) => {
      const staff = isUuid(staffUserId) ? await User.findByPk(staffUserId, { transaction: tx }) : null;
      const removed = staff ? await StaffAssignment.destroy({ where: { clientId: client.id, userId: staff.id }, transaction: tx }) : 0;
      if (!staff || removed === 0) throw new NotFound();
      await this.d.audit.record(tx, ctx, { operation: 'assignment.delete', result: 'allowed', clientId: client.id, targetKind: 'user', targetId: staff.id, targetLabel: staff.name });
    });
  }

  /** A user of the client company (client admin or employee); they get a link to choose a password. */
  async createClientUser(ctx: ActorContext, client: Client, input: { email: string; name: string; role: Extract<Role, 'client_admin' | 'employee'>; lang?: Lang | null }): Promise<User> {
    return this.d.accounts.inviteUser(ctx, { ...input, clientId: client.id });
  }

  /** A user of this client, or NotFound (users of other clients are not found, not forbidden). */
  async clientUser(client: Client, userId: string): Promise<User> {
    const user = isUuid(userId) ? await User.findOne({ where: { id: userId, clientId: client.id } }) : null;
    if (!user) throw new NotFound();
    return user;
  }
}

export function isUuid(v: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);
}

function rethrowUnique(messageKey: string) {
  return (err: unknown): never => {
    if (err instanceof UniqueConstraintError) throw new Conflict(messageKey);
    throw err;
  };
}
