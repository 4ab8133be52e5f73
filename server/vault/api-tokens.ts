import { Op } from 'sequelize';
import type { ActorContext, AuditLog } from '../audit';
import { ApiToken, Client, StaffAssignment, User } from '../db/models';
import { newToken, sha256Hex } from '../crypto/tokens';
import { BadRequest, NotFound } from '../errors';
import { PROCEDURES, type Procedure } from '../domain/purposes';

/** Tokens start with this, so a leaked one is recognisable to secret scanners and to people. */
export const TOKEN_PREFIX = 'akp_';
export const MAX_TOKEN_DAYS = 366;

export interface TokenInput { name: string; clientIds: string[]; purposes: Procedure[]; days: number }

export interface TokenScope { token: ApiToken; clientIds: Set<string>; purposes: Set<string> }

/**
 * Tokens for the firm's own applications (payroll, labour software). Only a hash is stored; each
 * token names the clients and purposes it may read numbers for, and expires.
 */
export class ApiTokens {
  constructor(private readonly d: { audit: AuditLog }) {}

  async create(ctx: ActorContext, createdBy: string, input: TokenInput): Promise<{ token: ApiToken; secret: string }> {
    if (input.clientIds.length === 0) throw new BadRequest('api.clientsRequired', { clientIds: 'api.clientsRequired' });
    if (input.purposes.length === 0 || input.purposes.some((p) => !PROCEDURES.includes(p))) throw new BadRequest('api.purposesRequired', { purposes: 'api.purposesRequired' });
    if (!Number.isInteger(input.days) || input.days < 1 || input.days > MAX_TOKEN_DAYS) throw new BadRequest('api.daysInvalid', { days: 'api.daysInvalid' });
    const clients = await Client.count({ where: { id: { [Op.in]: input.clientIds } } });
    if (clients !== new Set(input.clientIds).size) throw new BadRequest('api.clientsRequired', { clientIds: 'api.clientsRequired' });
    // Nobody hands an application more than they may open themselves: only clients they are assigned to.
    const assigned = await StaffAssignment.count({ where: { userId: createdBy, clientId: { [Op.in]: input.clientIds } } });
    if (assigned !== new Set(input.clientIds).size) throw new BadRequest('api.clientsNotAssigned', { clientIds: 'api.clientsNotAssigned' });
    const secret = `${TOKEN_PREFIX}${newToken()}`;
    const token = await this.d.audit.transaction(async (tx) => {
      const t = await ApiToken.create({
        name: input.name, tokenHash: sha256Hex(secret), prefix: secret.slice(0, 12), clientIds: [...new Set(input.clientIds)].join(','),
        purposes: [...new Set(input.purposes)].join(','), expiresAt: new Date(Date.now() + input.days * 24 * 3600_000),
        revokedAt: null, lastUsedAt: null, createdBy,
      }, { transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'api.token.create', result: 'allowed', targetKind: 'api_token', targetId: t.id, targetLabel: t.name, detail: `${t.prefix}… clients=${input.clientIds.length} purposes=${t.purposes}` });
      return t;
    });
    return { token, secret };
  }

  async list(): Promise<ApiToken[]> {
    return ApiToken.findAll({ order: [['createdAt', 'DESC']] });
  }

  async revoke(ctx: ActorContext, tokenId: string): Promise<void> {
    const t = /^[0-9a-f-]{36}$/i.test(tokenId) ? await ApiToken.findByPk(tokenId) : null;
    if (!t) throw new NotFound();
    await this.d.audit.transaction(async (tx) => {
      await t.update({ revokedAt: t.revokedAt ?? new Date() }, { transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'api.token.revoke', result: 'allowed', targetKind: 'api_token', targetId: t.id, targetLabel: t.name });
    });
  }

  /** Whether the token's maker is still enabled and assigned to the client (checked on every read). */
  async makerMayStillRead(token: ApiToken, clientId: string): Promise<boolean> {
    if (!token.createdBy) return false;
    const maker = await User.findByPk(token.createdBy);
    if (!maker || maker.disabledAt || (maker.role !== 'firm_admin' && maker.role !== 'firm_staff')) return false;
    return (await StaffAssignment.count({ where: { userId: maker.id, clientId } })) > 0;
  }

  /** The live token for a presented secret, or null (unknown, revoked and expired look the same). */
  async authenticate(secret: string): Promise<TokenScope | null> {
    if (!secret.startsWith(TOKEN_PREFIX) || secret.length > 200) return null;
    const token = await ApiToken.findOne({ where: { tokenHash: sha256Hex(secret), revokedAt: null, expiresAt: { [Op.gt]: new Date() } } });
    if (!token) return null;
    // Written at most once a minute: the mark is for people, not for counting.
    if (!token.lastUsedAt || Date.now() - token.lastUsedAt.getTime() > 60_000) await token.update({ lastUsedAt: new Date() });
    return { token, clientIds: new Set(token.clientIds.split(',')), purposes: new Set(token.purposes.split(',')) };
  }
}
