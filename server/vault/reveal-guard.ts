import { randomUUID } from 'node:crypto';
import { Op, type Transaction } from 'sequelize';
import type { Logger } from 'pino';
import type { AuditLog, ActorContext } from '../audit';
import type { MailOutbox } from '../mail/outbox';
import type { Config } from '../config';
import { ApiToken, AuditEvent, Client, User } from '../db/models';
import { TooManyRequests } from '../errors';
import { translate, isLang, DEFAULT_LANG } from '../i18n';

/** Operations that show or test one stored number, counted together against one actor's burst limit. */
export const GUARDED_OPERATIONS = ['vault.reveal', 'vault.check', 'vault.api.read'];

/** A print or an export: one row a person, and one request against the limit. */
export const BATCH_OPERATIONS = ['vault.print', 'vault.export'];

/** The detail of a print's or an export's row: which of how many people it was ("1 of 40"). */
export const batchDetail = (index: number, total: number) => `${index + 1} of ${total}`;

/** The detail of a client admin's opening of a card photo (the firm's carry a purpose instead). */
export const CARD_PHOTO_DETAIL = 'card photo';

/**
 * What counts against the limit: those, each print or export once (its first row), the firm's
 * downloads of files holding My Numbers (the only downloads logged with a purpose) and a client
 * admin's openings of card photos. A file may hold
 * many numbers but is one action, so it counts one: someone stopped for a burst of reveals cannot
 * carry on by downloading the card photos, nor print or export again and again.
 */
const COUNTED = {
  [Op.or]: [
    { operation: { [Op.in]: GUARDED_OPERATIONS } },
    { operation: { [Op.in]: BATCH_OPERATIONS }, detail: { [Op.like]: '1 of %' } },
    { operation: 'file.download', purpose: { [Op.ne]: null } },
    { operation: 'file.download', detail: CARD_PHOTO_DETAIL },
  ],
};

/** Thrown inside a transaction when the burst limit is reached, so the transaction writes nothing. */
export class BurstExceeded extends Error {}

/**
 * Throttles a burst of reveals by one actor. The count comes from the audit log itself, read while
 * the log's head row is locked — the same lock every audit write takes — so parallel requests on
 * any instance see each other's rows and nothing lives in process memory. The first refusal in a
 * window raises one alert to the firm admins and the client's admins.
 */
export class RevealGuard {
  constructor(private readonly d: { audit: AuditLog; outbox: MailOutbox; logger: Logger; config: Pick<Config, 'revealBurstMax' | 'revealBurstWindowSeconds' | 'publicUrl'> }) {}

  private since(): Date {
    return new Date(Date.now() - this.d.config.revealBurstWindowSeconds * 1000);
  }

  /**
   * The actor ids that are one person's hands: the person and every API token they made. An
   * application reads under its token's id, so without this a person stopped for a burst could
   * make a token and carry on, a fresh allowance a token.
   */
  private async handsOf(tx: Transaction, ctx: ActorContext): Promise<string[]> {
    const actorId = ctx.actorId!;
    const person = ctx.actorRole === 'api'
      ? (await ApiToken.findByPk(actorId, { attributes: ['createdBy'], transaction: tx }))?.createdBy ?? null
      : actorId;
    if (!person) return [actorId];
    const tokens = await ApiToken.findAll({ where: { createdBy: person }, attributes: ['id'], transaction: tx });
    return [...new Set([actorId, person, ...tokens.map((t) => t.id)])];
  }

  /** Whether `count` more openings fit in the window; call inside the transaction that will write their rows. */
  async fits(tx: Transaction, ctx: ActorContext, count: number): Promise<boolean> {
    if (!ctx.actorId) return true;
    await this.d.audit.serialise(tx);
    const recent = await AuditEvent.count({
      where: { actorId: { [Op.in]: await this.handsOf(tx, ctx) }, ...COUNTED, result: 'allowed', at: { [Op.gte]: this.since() } },
      transaction: tx,
    });
    return recent + count <= this.d.config.revealBurstMax;
  }

  /** Runs `work` only if it fits; otherwise records the refusal (and the alert, once per window) and throws 429. */
  async within<T>(ctx: ActorContext, clientId: string, operation: string, count: number, work: (tx: Transaction) => Promise<T>): Promise<T> {
    try {
      return await this.d.audit.transaction(async (tx) => {
        if (!(await this.fits(tx, ctx, count))) throw new BurstExceeded();
        return work(tx);
      });
    } catch (err) {
      if (!(err instanceof BurstExceeded)) throw err;
      await this.refuse(ctx, clientId, operation);
      throw new TooManyRequests(this.d.config.revealBurstWindowSeconds);
    }
  }

  /**
   * A refusal for this burst: the first in the window is the 'vault.burst' row and the alert, queued
   * with the row (a mail server down at that moment delays the alert, never loses it).
   */
  async refuse(ctx: ActorContext, clientId: string, operation: string): Promise<void> {
    const alerted = await this.d.audit.transaction(async (tx) => {
      const hands = ctx.actorId ? await this.handsOf(tx, ctx) : [];
      const earlier = await AuditEvent.count({ where: { actorId: { [Op.in]: hands }, operation: 'vault.burst', at: { [Op.gte]: this.since() } }, transaction: tx });
      await this.d.audit.record(tx, ctx, {
        operation: earlier ? operation : 'vault.burst', result: 'denied', clientId,
        detail: `burst: more than ${this.d.config.revealBurstMax} in ${this.d.config.revealBurstWindowSeconds}s`,
      });
      if (earlier === 0) await this.queueAlert(tx, ctx, clientId);
      return earlier === 0;
    });
    if (alerted) void this.d.outbox.deliverNow().catch((err: unknown) => this.d.logger.warn({ err: { message: (err as Error).message } }, 'reveal-burst alert not sent yet; queued'));
  }

  /** The notice names who and when, never a person or a number. */
  private async queueAlert(tx: Transaction, ctx: ActorContext, clientId: string): Promise<void> {
    const client = await Client.findByPk(clientId, { transaction: tx });
    const recipients = await User.findAll({
      where: { disabledAt: null, [Op.or]: [{ role: 'firm_admin' }, { role: 'client_admin', clientId }] }, transaction: tx,
    });
    const burst = randomUUID();
    for (const r of recipients.filter((u) => u.passwordHash)) {
      const lang = isLang(r.lang) ? r.lang : DEFAULT_LANG;
      await this.d.outbox.enqueue({
        dedupeKey: `burst:${burst}:${r.id}`,
        to: r.email,
        subject: translate(lang, 'mail.revealBurst.subject'),
        text: translate(lang, 'mail.revealBurst.body', {
          operator: ctx.actorName ?? '', client: client?.name ?? '', link: `${this.d.config.publicUrl}/home`,
        }),
      }, tx);
    }
  }
}
