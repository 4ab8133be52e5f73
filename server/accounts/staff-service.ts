import type { Lang } from '../i18n';
import { Op } from 'sequelize';
import type { ActorContext } from '../audit';
import { Client, StaffAssignment, User, FIRM_ROLES } from '../db/models';
import { NotFound } from '../errors';
import type { AccountService } from './account-service';
import { isUuid } from '../clients/client-service';

/** The firm's own people: staff (事務所職員) and admins (事務所管理者). */
export class StaffService {
  constructor(private readonly d: { accounts: AccountService }) {}

  list(): Promise<User[]> {
    return User.findAll({ where: { role: { [Op.in]: [...FIRM_ROLES] } }, order: [['role', 'ASC'], ['name', 'ASC']] });
  }

  /** The clients each firm user is assigned to (by code), for the staff page. */
  async assignedClients(): Promise<Map<string, Client[]>> {
    const [assignments, clients] = await Promise.all([StaffAssignment.findAll(), Client.findAll({ order: [['code', 'ASC']] })]);
    const byId = new Map(clients.map((c) => [c.id, c]));
    const out = new Map<string, Client[]>();
    for (const a of assignments) {
      const c = byId.get(a.clientId);
      if (c) out.set(a.userId, [...(out.get(a.userId) ?? []), c]);
    }
    for (const list of out.values()) list.sort((x, y) => x.code.localeCompare(y.code));
    return out;
  }

  listActiveStaff(): Promise<User[]> {
    // Firm admins can be assigned too: who may open a client's numbers is exactly its assignment list.
    return User.findAll({ where: { role: ['firm_admin', 'firm_staff'], disabledAt: null }, order: [['name', 'ASC']] });
  }

  async create(ctx: ActorContext, input: { email: string; name: string; role: 'firm_admin' | 'firm_staff'; lang?: Lang | null }): Promise<User> {
    return this.d.accounts.inviteUser(ctx, { ...input, clientId: null });
  }

  /** Any user, for the firm admin's enable/disable actions. */
  async find(userId: string): Promise<User> {
    const user = isUuid(userId) ? await User.findByPk(userId) : null;
    if (!user) throw new NotFound();
    return user;
  }
}
