import { randomUUID } from 'node:crypto';
import { Op, UniqueConstraintError, type Transaction } from 'sequelize';
import type { Logger } from 'pino';
import type { Mailer } from './mailer';
import type { KeyRing } from '../crypto/key-ring';
import { OutboxMail } from '../db/models';

export interface QueuedMail { dedupeKey: string; to: string; subject: string; text: string }

/** 1, 2, 4 … minutes, at most an hour: a mail server that is down for a day gets ~30 tries. */
export function backoffMs(attempts: number): number {
  return Math.min(60 * 60_000, 60_000 * 2 ** Math.max(0, attempts - 1));
}

/**
 * How long a claim on a mail holds: longer than any one send may take (the SMTP transport gives up
 * after SMTP_TIMEOUT_SECONDS of silence at any step, at most 90 s, of which a send has fewer than
 * ten), so no other instance takes a mail still being sent. A crashed instance's claim lapses after it.
 */
const LOCK_MS = 15 * 60_000;
const BATCH = 20;

/** What a sealed body starts with; a body queued before bodies were sealed has no such start. */
const SEALED = 'sealed:';
/** The label of the key (derived from the master key) that seals queued mail texts. */
export const OUTBOX_SECRET = 'outbox';

/** The sealed secret a kept body holds, or null for a body kept as text (queued before bodies were sealed, or emptied). */
export const sealedPartOf = (body: string): string | null => (body.startsWith(SEALED) ? body.slice(SEALED.length) : null);
/** A kept body holding this sealed secret. */
export const bodyHolding = (sealed: string): string => SEALED + sealed;

/** A queued text as it is kept: sealed under a key derived from the master key, bound to its row. */
export function sealBody(ring: KeyRing, id: string, text: string): string {
  return bodyHolding(ring.sealSecret(OUTBOX_SECRET, id, Buffer.from(text, 'utf8')));
}

/** The text of a kept body. */
export function openBody(ring: KeyRing, id: string, body: string): string {
  const sealed = sealedPartOf(body);
  return sealed === null ? body : ring.openSecret(OUTBOX_SECRET, id, sealed).toString('utf8');
}

/**
 * Mail that must arrive even if the mail server is down when it is due (report notices): kept in
 * the database, sent by whichever instance claims it first, retried with back-off. A row is
 * claimed by a conditional update, so two instances never send the same row at the same time; a
 * dedupe key makes queueing the same notice twice a no-op. A text may hold a working link (an
 * invitation's), so it is kept sealed, like a TOTP seed, and emptied once sent: a copy of the
 * database yields no link.
 */
export class MailOutbox {
  /**
   * Mails the server took whose row could not be marked sent: marked first in this instance's next
   * round, their claim holding meanwhile, so not sent again. (Kept in memory: if this process ends,
   * or the database stays away longer than the claim, another instance may send such a mail twice.)
   */
  private readonly sentUnmarked = new Map<string, number>();

  constructor(private readonly d: { mailer: Mailer; logger: Logger; ring: () => KeyRing }) {}

  /** Queues a mail; false when one with the same dedupe key is queued or sent already. */
  async enqueue(mail: QueuedMail, tx?: Transaction): Promise<boolean> {
    // Looked for first: a unique-key error inside a transaction would spoil it on some databases.
    if (await OutboxMail.count({ where: { dedupeKey: mail.dedupeKey }, transaction: tx })) return false;
    try {
      const id = randomUUID();
      await OutboxMail.create({
        id, dedupeKey: mail.dedupeKey, toAddress: mail.to, subject: mail.subject, body: sealBody(this.d.ring(), id, mail.text),
        nextAt: new Date(), lockedUntil: null, sentAt: null, lastError: null,
      }, { transaction: tx });
      return true;
    } catch (err) {
      if (!(err instanceof UniqueConstraintError)) throw err;
      return false;
    }
  }

  /**
   * Texts queued before texts were sealed (kept as written, perhaps with a working link): sealed now,
   * at start once the keys are loaded, each only if still as read. Returns how many.
   */
  async sealPlainBodies(): Promise<number> {
    let sealed = 0;
    const plain = await OutboxMail.findAll({ where: { sentAt: null, body: { [Op.notLike]: `${SEALED}%` } }, attributes: ['id', 'body'] });
    for (const row of plain) {
      if (row.body === '') continue;
      const [n] = await OutboxMail.update({ body: sealBody(this.d.ring(), row.id, row.body) }, { where: { id: row.id, sentAt: null, body: row.body } });
      sealed += n;
    }
    return sealed;
  }

  /** Sends what is due until nothing more goes (a refusal leaves the rest to the job's next round). */
  async deliverNow(): Promise<void> {
    while ((await this.deliverDue()) === BATCH);
  }

  /** Sends what is due; returns how many were sent. */
  async deliverDue(now = new Date()): Promise<number> {
    for (const [id, attempts] of this.sentUnmarked) {
      await this.markSent(id, attempts);
      this.sentUnmarked.delete(id);
    }
    const due = await OutboxMail.findAll({
      where: { sentAt: null, nextAt: { [Op.lte]: now }, [Op.or]: [{ lockedUntil: null }, { lockedUntil: { [Op.lt]: now } }] },
      order: [['nextAt', 'ASC']], limit: BATCH,
    });
    let sent = 0;
    const started = Date.now();
    for (const row of due) {
      // Each claim runs from when it is taken, not from the start of the batch (earlier sends took their time).
      const claimAt = new Date(now.getTime() + (Date.now() - started));
      const [claimed] = await OutboxMail.update({ lockedUntil: new Date(claimAt.getTime() + LOCK_MS) }, {
        where: { id: row.id, sentAt: null, [Op.or]: [{ lockedUntil: null }, { lockedUntil: { [Op.lt]: claimAt } }] },
      });
      if (claimed !== 1) continue;
      try {
        await this.d.mailer.send({ to: row.toAddress, subject: row.subject, text: openBody(this.d.ring(), row.id, row.body) });
      } catch (err) {
        const attempts = row.attempts + 1;
        const message = (err as Error).message.slice(0, 300);
        await OutboxMail.update({ attempts, lockedUntil: null, nextAt: new Date(now.getTime() + backoffMs(attempts)), lastError: message }, { where: { id: row.id } });
        this.d.logger.warn({ attempts, err: { message } }, 'queued mail not sent; will retry');
        continue;
      }
      sent++;
      try {
        await this.markSent(row.id, row.attempts + 1);
      } catch (err) {
        // Sent, but not yet marked so: a retry of the send would deliver it twice.
        this.sentUnmarked.set(row.id, row.attempts + 1);
        throw err;
      }
    }
    return sent;
  }

  private async markSent(id: string, attempts: number): Promise<void> {
    await OutboxMail.update({ sentAt: new Date(), lockedUntil: null, attempts, lastError: null, body: '' }, { where: { id } });
  }
}
