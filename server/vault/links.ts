import { createHmac, randomInt } from 'node:crypto';
import { Op, literal, type Transaction } from 'sequelize';
import type { AuditLog, ActorContext } from '../audit';
import type { Keys } from '../crypto/keys';
import type { Config } from '../config';
import type { Mailer } from '../mail/mailer';
import { Client, Dependant, NumberRecord, VaultInvitation } from '../db/models';
import { newToken, safeEqualHex, sha256Hex } from '../crypto/tokens';
import { BadRequest, FieldConflict, MailUnavailable, NotFound } from '../errors';
import { DEFAULT_LANG, translate, type Lang } from '../i18n';
import { findPerson, hasLeft, type Person } from './people';
import type { NumberInput, VaultService } from './vault-service';

/** Wrong codes a link takes before it dies: 10^8 codes against 5 tries. */
export const MAX_CODE_ATTEMPTS = 5;

export interface LiveLink { invitation: VaultInvitation; person: Person; dependants: Dependant[] }

/** What a link's submission registered, for the thanks page: whose number, and its last two digits (never more). */
export interface LinkRegistered { person: Person; lastTwo: string }

/**
 * One-time registration links: for a payee, or an employee without a portal account (the printed
 * sheet). The link carries a random token; a separate 8-digit code (handed over another way) must
 * be typed too. Only keyed hashes of both are stored. A link works once, then it is dead.
 */
export class VaultLinks {
  constructor(private readonly d: { audit: AuditLog; keys: Keys; mailer: Mailer; vault: VaultService; config: Pick<Config, 'publicUrl' | 'vaultLinkDays'> }) {}

  private codeHash(code: string): string {
    return createHmac('sha256', this.d.keys.ring().derive('vault-link-code')).update(code).digest('hex');
  }

  /** Wrong codes this link still takes before it dies. */
  static triesLeft(link: LiveLink): number {
    return Math.max(0, MAX_CODE_ATTEMPTS - link.invitation.failedAttempts);
  }

  /**
   * One try of the code. The try is taken from the link's allowance before comparing, in one
   * conditional update, so guesses sent in parallel cannot make more than MAX_CODE_ATTEMPTS
   * comparisons; the right code gives its try back.
   */
  private async tryCode(link: LiveLink, code: string): Promise<boolean> {
    const [taken] = await VaultInvitation.update({ failedAttempts: literal('failed_attempts + 1') as unknown as number }, {
      where: { id: link.invitation.id, usedAt: null, failedAttempts: { [Op.lt]: MAX_CODE_ATTEMPTS } },
    });
    if (taken !== 1) throw new NotFound();
    if (!this.codeMatches(link, code)) return false;
    await VaultInvitation.update({ failedAttempts: literal('failed_attempts - 1') as unknown as number }, { where: { id: link.invitation.id } });
    return true;
  }

  private codeMatches(link: LiveLink, code: string): boolean {
    // Full-width digits (a Japanese IME's default) are the same code; spaces and hyphens are how people group it.
    const typed = code.normalize('NFKC').replace(/\D/g, '');
    return safeEqualHex(this.codeHash(typed), link.invitation.codeHash);
  }

  /**
   * `lang`: the language the admin asked in, of the mail and the sheet; the link opens its page in it
   * (`?lang=en`: a mail or sheet in English leads to a page in English, until the reader picks one).
   */
  async create(ctx: ActorContext, person: Person, createdBy: string | null, mail: { to: string } | null, lang: Lang = DEFAULT_LANG): Promise<{ url: string; code: string; expiresAt: Date }> {
    if (person.kind === 'dependant') throw new BadRequest();
    if (hasLeft(person) && (await NumberRecord.count({ where: { clientId: person.clientId, personKind: person.kind, personId: person.id, sealedNumber: null } }))) {
      throw new BadRequest('vault.number.disposedLeaver');
    }
    const token = newToken();
    const code = String(randomInt(0, 100_000_000)).padStart(8, '0');
    const expiresAt = new Date(Date.now() + this.d.config.vaultLinkDays * 24 * 3600_000);
    const url = `${this.d.config.publicUrl}/r/${token}${lang === DEFAULT_LANG ? '' : `?lang=${lang}`}`;
    // The mail carries the link only; the code goes another way (on screen for the admin to hand over).
    // Addressed to the person by name and sent in the company's name: an anonymous request for a My Number reads as phishing.
    // Sent before anything is written: a refused mail leaves the person's earlier link (perhaps on a printed sheet) working.
    if (mail) {
      const company = (await Client.findByPk(person.clientId))?.name ?? '';
      await this.d.mailer.send({
        to: mail.to,
        subject: translate(lang, 'mail.vaultLink.subject', { company }),
        text: translate(lang, 'mail.vaultLink.body', { link: url, days: this.d.config.vaultLinkDays, name: person.label, company }),
      }).catch(async (err: unknown) => {
        // The admin is told on the page; the log says a link was asked for and not sent.
        if (err instanceof MailUnavailable) {
          await this.d.audit.recordAlone(ctx, {
            operation: 'vault.link.create', result: 'error', clientId: person.clientId, targetKind: person.kind, targetId: person.id,
            targetLabel: this.d.vault.auditLabel(person), detail: 'mail refused',
          });
        }
        throw err;
      });
    }
    await this.d.audit.transaction(async (tx) => {
      // A new link replaces any earlier one for the person.
      await VaultInvitation.update({ usedAt: new Date() }, { where: { clientId: person.clientId, personKind: person.kind, personId: person.id, usedAt: null }, transaction: tx });
      await VaultInvitation.create({
        clientId: person.clientId, personKind: person.kind, personId: person.id, tokenHash: sha256Hex(token), codeHash: this.codeHash(code),
        expiresAt, usedAt: null, createdBy,
      }, { transaction: tx });
      await this.d.audit.record(tx, ctx, {
        operation: 'vault.link.create', result: 'allowed', clientId: person.clientId, targetKind: person.kind, targetId: person.id,
        targetLabel: this.d.vault.auditLabel(person), detail: mail ? 'mailed' : 'sheet',
      });
    });
    return { url, code, expiresAt };
  }

  /** The live link for a token, or null: unknown, used, expired and worn out all look the same. */
  async find(token: string): Promise<LiveLink | null> {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return null;
    const invitation = await VaultInvitation.findOne({
      where: { tokenHash: sha256Hex(token), usedAt: null, expiresAt: { [Op.gt]: new Date() }, failedAttempts: { [Op.lt]: MAX_CODE_ATTEMPTS } },
    });
    if (!invitation) return null;
    const person = await findPerson(invitation.clientId, invitation.personKind, invitation.personId).catch(() => null);
    if (!person) return null;
    const dependants = person.kind === 'employee'
      ? await Dependant.findAll({ where: { clientId: person.clientId, employeeId: person.id }, order: [['createdAt', 'ASC']] })
      : [];
    return { invitation, person, dependants };
  }

  /**
   * The code typed on a link's page: one try taken from the link's allowance, and a wrong code
   * logged and answered beside the field. The page's card photos are taken only once it has passed.
   */
  async checkCode(ctx: ActorContext, link: LiveLink, code: string): Promise<void> {
    if (!(await this.tryCode(link, code))) await this.refuseCode(ctx, link);
  }

  private async refuseCode(ctx: ActorContext, link: LiveLink): Promise<never> {
    // A wrong code is nobody known (whoever holds the link), never the person the link is for.
    const who = ctx.actorId ? ctx : { ...ctx, actorName: null };
    await this.d.audit.recordAlone(who, { operation: 'vault.link.fail', result: 'denied', clientId: link.person.clientId, targetKind: link.person.kind, targetId: link.person.id, targetLabel: this.d.vault.auditLabel(link.person), detail: 'wrong code' });
    throw new BadRequest('vault.link.wrongCode', { code: 'vault.link.wrongCode' });
  }

  /**
   * Registers through a link: the code is checked, then the person's number (and, on an employee's
   * sheet, any dependants' numbers given) and the link's use land in one transaction.
   * `proof` is the code typed, or the id of the invitation whose code this visitor's session already
   * passed (a number refused after the right code is typed again without the code). `cardPhotos`
   * stores the card's photos in the same transaction and gives the id of the one the number points to.
   * Gives whose numbers were registered, the person's own first, each with its last two digits.
   */
  async submit(ctx: ActorContext, token: string, proof: { code: string } | { codeCheckedFor: string }, own: NumberInput, dependants: Map<string, NumberInput>, cardPhotos?: (tx: Transaction) => Promise<string | null>): Promise<LinkRegistered[]> {
    const link = await this.find(token);
    if (!link) throw new NotFound();
    if (!('codeCheckedFor' in proof)) await this.checkCode(ctx, link, proof.code);
    else if (proof.codeCheckedFor !== link.invitation.id) await this.refuseCode(ctx, link);
    return this.d.audit.transaction(async (tx) => {
      const [used] = await VaultInvitation.update({ usedAt: new Date() }, { where: { id: link.invitation.id, usedAt: null }, transaction: tx });
      if (used !== 1) throw new NotFound();
      const idFileId = cardPhotos ? await cardPhotos(tx) : null;
      const ownRecord = await this.d.vault.register(ctx, link.person, own, { source: 'link', confirmedByPerson: true, registeredBy: null, idFileId }, tx);
      const registered: LinkRegistered[] = [{ person: link.person, lastTwo: ownRecord.lastTwo ?? '**' }];
      for (const dep of link.dependants) {
        const input = dependants.get(dep.id);
        if (!input) continue;
        const person = await findPerson(link.person.clientId, 'dependant', dep.id, tx);
        try {
          const record = await this.d.vault.register(ctx, person, input, { source: 'link', confirmedByPerson: true, registeredBy: null }, tx);
          registered.push({ person, lastTwo: record.lastTwo ?? '**' });
        } catch (err) {
          // Name the dependant's own field, so the form shows the message beside it.
          if (err instanceof BadRequest || err instanceof FieldConflict) throw new BadRequest(err.messageKey, { [`dep_${dep.id}`]: err.messageKey });
          throw err;
        }
      }
      return registered;
    });
  }
}
