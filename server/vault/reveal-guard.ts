import { Op, type Sequelize } from 'sequelize';
import type { Logger } from 'pino';
import type { AuditLog, ActorContext } from '../audit';
import type { Mailer } from '../mail/mailer';
import type { Config } from '../config';
import { AuditEvent, Client, User } from '../db/models';
import { TooManyRequests } from '../errors';
import { translate, isLang, DEFAULT_LANG } from '../i18n';

/** Operations that show or test a stored number, counted together against one user's burst limit. */
export const GUARDED_OPERATIONS = ['vault.reveal', 'vault.check', 'vault.api.read'];

/**
 * Throttles a burst of reveals by one actor. The count comes from the audit log itself, so every
 * instance of the portal sees the same count and nothing lives in process memory. The first
 * refusal in a window raises an alert to the firm admins and the client's admins.
 */
export class RevealGuard {
  constructor(private readonly d: { sequelize: Sequelize; audit: AuditLog; mailer: Mailer; logger: Logger; config: Pick<Config, 'revealBurstMax' | 'revealBurstWindowSeconds' | 'publicUrl'> }) {}

  async check(ctx: ActorContext, clientId: string, operation: string, count = 1): Promise<void> {
    if (!ctx.actorId) return;
    const windowMs = this.d.config.revealBurstWindowSeconds * 1000;
    const since = new Date(Date.now() - windowMs);
    const recent = await AuditEvent.count({
      where: { actorId: ctx.actorId, operation: { [Op.in]: GUARDED_OPERATIONS }, result: 'allowed', at: { [Op.gte]: since } },
    });
    if (recent + count <= this.d.config.revealBurstMax) return;
    const alerted = await AuditEvent.count({ where: { actorId: ctx.actorId, operation: 'vault.burst', at: { [Op.gte]: since } } });
    await this.d.audit.recordAlone(ctx, {
      operation: alerted ? operation : 'vault.burst', result: 'denied', clientId,
      detail: `burst: ${recent} in ${this.d.config.revealBurstWindowSeconds}s`,
    });
    if (!alerted) await this.alert(ctx, clientId);
    throw new TooManyRequests(this.d.config.revealBurstWindowSeconds);
  }

  /** The notice names who and when, never a person or a number. A mail failure is logged, not fatal. */
  private async alert(ctx: ActorContext, clientId: string): Promise<void> {
    const client = await Client.findByPk(clientId);
    const recipients = await User.findAll({
      where: { disabledAt: null, [Op.or]: [{ role: 'firm_admin' }, { role: 'client_admin', clientId }] },
    });
    for (const r of recipients.filter((u) => u.passwordHash)) {
      const lang = isLang(r.lang) ? r.lang : DEFAULT_LANG;
      try {
        await this.d.mailer.send({
          to: r.email,
          subject: translate(lang, 'mail.revealBurst.subject'),
          text: translate(lang, 'mail.revealBurst.body', {
            operator: ctx.actorName ?? '', client: client?.name ?? '', link: `${this.d.config.publicUrl}/home`,
          }),
        });
      } catch (err) {
        this.d.logger.warn({ err: { message: (err as Error).message } }, 'reveal-burst alert could not be sent');
      }
    }
  }
}
