import { createHmac } from 'node:crypto';
import { Op, UniqueConstraintError, type Transaction } from 'sequelize';
import type { Config } from '../config';
import type { AuditLog, ActorContext } from '../audit';
import type { Keys } from '../crypto/keys';
import type { Mailer } from '../mail/mailer';
import type { MailOutbox } from '../mail/outbox';
import { Client, Firm, OneTimeToken, RecoveryCode, SessionRow, User, type Role } from '../db/models';
import { ownClient } from '../clients/own-client';
import { BadRequest, Conflict, DeadLink, MailUnavailable, NotFound } from '../errors';
import { hashPassword, passwordProblem, verifyPassword } from '../auth/passwords';
import { personalWordsOf } from './personal-words';
import { checkTotp, totpSecretFrom, totpUri } from '../auth/totp';
import { hashRecoveryCode, newRecoveryCodes } from '../auth/recovery-codes';
import type { LoginThrottle } from '../auth/login-throttle';
import { totpRequired } from '../policies';
import { translate, isLang, DEFAULT_LANG, type Lang } from '../i18n';
import { consumeToken, findLiveToken, issueToken } from './tokens';
import { newToken } from '../crypto/tokens';

const RESET_TTL_MS = 30 * 60 * 1000;
const EMAIL_CHANGE_TTL_MS = 60 * 60 * 1000;
const INVITE_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const TOTP_LABEL = 'totp';
const TOTP_PENDING_LABEL = 'totp-pending-seed';

export interface AccountDeps {
  audit: AuditLog;
  keys: Keys;
  mailer: Mailer;
  outbox: MailOutbox;
  throttle: LoginThrottle;
  config: Pick<Config, 'publicUrl'>;
}

export interface NewUser {
  email: string;
  name: string;
  role: Role;
  clientId: string | null;
  /** the language of the invitation and, until they choose, of their screens and mails */
  lang?: Lang | null;
}

export type SecondFactorMethod = 'totp' | 'recovery';

/** Accounts: creation, passwords, TOTP, recovery codes, disabling. Every change is audited in its transaction. */
export class AccountService {
  constructor(private readonly d: AccountDeps) {}

  /**
   * One person invited (a staff member, a client's user): the mail with the single-use link to choose
   * a password goes first, outside the transaction that writes the user (which holds the log's head),
   * so a mail server that refuses leaves no user behind (503: added again later) and a slow one holds
   * up nobody else. Should the write then fail, the mailed link simply does not work.
   */
  async inviteUser(ctx: ActorContext, input: NewUser): Promise<User> {
    if (await User.findOne({ where: { email: normaliseEmail(input.email) } })) throw new Conflict('account.emailTaken');
    const raw = newToken();
    await this.d.mailer.send(await this.inviteMail(ctx, input, raw));
    return this.d.audit.transaction((tx) => this.createUser(ctx, input, tx, { raw }))
      .catch((err: unknown) => {
        if (err instanceof UniqueConstraintError) throw new Conflict('account.emailTaken');
        throw err;
      });
  }

  /**
   * Writes a user without a password, with the single-use link to choose one, in the caller's
   * transaction: with `raw`, the link already mailed (inviteUser); without, the invite is queued in
   * the outbox with the rows, for many at a time (an import), and goes out after commit (sendQueued).
   */
  async createUser(ctx: ActorContext, input: NewUser, tx: Transaction, o: { raw?: string } = {}): Promise<User> {
    const email = normaliseEmail(input.email);
    if (await User.findOne({ where: { email }, transaction: tx })) throw new Conflict('account.emailTaken');
    const user = await User.create({
      email, name: input.name.trim(), role: input.role, clientId: input.clientId, passwordHash: null,
      totpSecretSealed: null, totpEnabledAt: null, totpLastStep: null, disabledAt: null, passwordChangedAt: null, lang: input.lang ?? null,
    }, { transaction: tx });
    const raw = await issueToken('invite', user.id, INVITE_TTL_MS, tx, null, o.raw);
    await this.d.audit.record(tx, ctx, { operation: 'user.create', result: 'allowed', clientId: input.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name, detail: input.role });
    if (!o.raw) await this.d.outbox.enqueue({ dedupeKey: `invite:${user.id}`, ...(await this.inviteMail(ctx, input, raw, tx)) }, tx);
    return user;
  }

  /** Who invites them, from where, and for which company: a mail from a site they have never heard of would look like phishing. */
  private async inviteMail(ctx: ActorContext, input: NewUser, raw: string, tx?: Transaction): Promise<{ to: string; subject: string; text: string }> {
    const lang = langOf({ lang: input.lang ?? null });
    const firm = (await Firm.findByPk(1, { transaction: tx }))?.name || translate(lang, 'app.name');
    const org = input.clientId ? (await Client.findByPk(input.clientId, { transaction: tx }))?.name || firm : firm;
    // A client admin invites for their own company; the firm (or the first-run set-up) invites in the firm's name.
    const inviterOrg = ctx.actorRole === 'client_admin' ? org : firm;
    const params = {
      link: `${this.d.config.publicUrl}/password/set/${raw}`, org: inviterOrg, inviter: ctx.actorName ?? '',
      forOrg: org === inviterOrg ? '' : translate(lang, 'mail.invite.forOrg', { org }),
    };
    return { to: normaliseEmail(input.email), subject: translate(lang, 'mail.invite.subject', params), text: translate(lang, 'mail.invite.body', { name: input.name.trim(), ...params }) };
  }

  /** Sends the queued invites now, after their transaction committed; what the mail server refuses, the outbox's job tries again. */
  sendQueued(): void {
    void this.d.outbox.deliverNow().catch(() => undefined);
  }

  /** Password check for sign-in, throttled per (account, IP) and per IP. Unknown and wrong look the same. */
  async checkPassword(email: string, password: string, ip: string): Promise<User | null> {
    await this.d.throttle.attempt(email, ip);
    const user = await User.findOne({ where: { email: normaliseEmail(email) } });
    const ok = await verifyPassword(user && !user.disabledAt ? user.passwordHash : null, password);
    return ok && user ? user : null;
  }

  /**
   * Takes one try before a password, code or passkey is checked (it stays counted as a failure
   * unless loginSucceeded gives it back). Throttle keys are an e-mail address (password steps) or
   * `totp:<user id>` (the code step).
   */
  async attemptThrottled(key: string, ip: string): Promise<void> {
    await this.d.throttle.attempt(key, ip);
  }

  async loginSucceeded(key: string, ip: string): Promise<void> {
    await this.d.throttle.succeed(key, ip);
  }

  /** The sign-in's code step: also counted per account across all addresses (see LoginThrottle). */
  async attemptCodeThrottled(userId: string, ip: string): Promise<void> {
    await this.d.throttle.attemptCode(`totp:${userId}`, ip);
  }

  async codeSucceeded(userId: string, ip: string): Promise<void> {
    await this.d.throttle.codeSucceeded(`totp:${userId}`, ip);
  }

  async clientOf(user: User): Promise<Client | null> {
    return ownClient(user);
  }

  async needsTotp(user: User): Promise<boolean> {
    return totpRequired(user, await this.clientOf(user));
  }

  /**
   * Checks a TOTP code (or a recovery code) and burns it in the same statement, so a code works
   * once even when two requests race. Returns how it passed, or null.
   */
  async verifySecondFactor(user: User, code: string): Promise<SecondFactorMethod | null> {
    if (!user.totpSecretSealed) return null;
    const secret = this.d.keys.ring().openSecret(TOTP_LABEL, user.id, user.totpSecretSealed).toString('utf8');
    const step = await checkTotp(secret, code, user.totpLastStep);
    if (step !== null) {
      const [n] = await User.update({ totpLastStep: step }, {
        where: { id: user.id, [Op.or]: [{ totpLastStep: null }, { totpLastStep: { [Op.lt]: step } }] },
      });
      return n === 1 ? 'totp' : null;
    }
    if (/^[a-z0-9]{5}-?[a-z0-9]{5}$/i.test(code.trim())) {
      const [n] = await RecoveryCode.update({ usedAt: new Date() }, {
        where: { userId: user.id, codeHash: hashRecoveryCode(code), usedAt: null },
      });
      if (n === 1) return 'recovery';
    }
    return null;
  }

  /**
   * After a refused code: whether it is the authenticator's right code for a time step already
   * spent (typically the one just used to sign in, still on the app's screen). The page can then say
   * to wait for the next code instead of "wrong code". Asked only after the right password, and the
   * code still counts as a failed try; nothing about the code is stored.
   */
  async codeAlreadyUsed(user: User, code: string): Promise<boolean> {
    if (!user.totpSecretSealed) return false;
    const fresh = await User.findByPk(user.id, { attributes: ['id', 'totpLastStep'] });
    const last = fresh?.totpLastStep ?? null;
    if (last === null) return false;
    const secret = this.d.keys.ring().openSecret(TOTP_LABEL, user.id, user.totpSecretSealed).toString('utf8');
    const step = await checkTotp(secret, code, null);
    return step !== null && step <= last;
  }

  /**
   * The seed being enrolled. It is derived, not stored: a keyed hash of the user and the seed they
   * have now, so every showing (a reload, a wrong code, another sign-in, another instance) gives the
   * same one until a first code confirms it, then the next enrolment gets a new one; and showing the
   * page writes nothing (a GET changes no state).
   */
  beginTotpEnrolment(user: User, issuer: string): { uri: string; secret: string } {
    const secret = this.pendingSecret(user);
    return { secret, uri: totpUri(secret, user.email, issuer) };
  }

  private pendingSecret(user: User): string {
    const seed = createHmac('sha256', this.d.keys.ring().derive(TOTP_PENDING_LABEL))
      .update(`${user.id}\n${user.totpSecretSealed ?? ''}`).digest().subarray(0, 20);
    return totpSecretFrom(seed);
  }

  /**
   * Confirms enrolment with a first code from the pending seed; replaces any earlier seed and recovery
   * codes. Returns the new recovery codes, shown once, or null for a wrong code.
   */
  async completeTotpEnrolment(ctx: ActorContext, user: User, code: string): Promise<string[] | null> {
    const secret = this.pendingSecret(user);
    const step = await checkTotp(secret, code, null);
    if (step === null) return null;
    const codes = newRecoveryCodes();
    await this.d.audit.transaction(async (tx) => {
      // Only over the seed the pending one was derived from: two tabs confirming at once enrol once.
      const [n] = await User.update({
        totpSecretSealed: this.d.keys.ring().sealSecret(TOTP_LABEL, user.id, Buffer.from(secret)),
        totpEnabledAt: new Date(), totpLastStep: step,
      }, { where: { id: user.id, totpSecretSealed: user.totpSecretSealed }, transaction: tx });
      if (n !== 1) throw new Conflict();
      await RecoveryCode.destroy({ where: { userId: user.id }, transaction: tx });
      await RecoveryCode.bulkCreate(codes.map((c) => ({ userId: user.id, codeHash: hashRecoveryCode(c), usedAt: null })), { transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'auth.totp.enrol', result: 'allowed', clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name });
    });
    return codes;
  }

  async remainingRecoveryCodes(user: User): Promise<number> {
    return RecoveryCode.count({ where: { userId: user.id, usedAt: null } });
  }

  /**
   * A change of sign-in address (behind re-authentication): the new address gets a link that makes
   * the change, so a typing mistake cannot lock the person out; the old address is told at once.
   */
  async requestEmailChange(ctx: ActorContext, user: User, input: string): Promise<void> {
    const next = normaliseEmail(input);
    if (next === user.email) throw new BadRequest('account.emailSame', { email: 'account.emailSame' });
    const lang = langOf(user);
    // An address another account uses: answered as any other (the requester learns nothing of who has an
    // account); that address is told someone tried, and gets no link.
    // Both mails go out before anything is written, and outside the transaction (which holds the log's
    // head): a mail server that refuses leaves no link and no log row behind, and a slow one holds up
    // nobody else. Should the write then fail, the mailed link simply does not work.
    const holder = await User.findOne({ where: { email: next } });
    if (holder) {
      const holderLang = langOf(holder, lang);
      await this.d.mailer.send({ to: next, subject: translate(holderLang, 'mail.emailInUse.subject'), text: translate(holderLang, 'mail.emailInUse.body') });
      await this.mail(user, 'mail.emailChangeRequested', {});
      await this.d.audit.recordAlone(ctx, { operation: 'account.email.request', result: 'denied', clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name, detail: 'address in use' });
      return;
    }
    const raw = newToken();
    await this.d.mailer.send({
      to: next,
      subject: translate(lang, 'mail.emailConfirm.subject'),
      text: translate(lang, 'mail.emailConfirm.body', { name: user.name, link: `${this.d.config.publicUrl}/account/email/${raw}` }),
    });
    await this.mail(user, 'mail.emailChangeRequested', {});
    await this.d.audit.transaction(async (tx) => {
      // Only the newest request's link works.
      await OneTimeToken.update({ usedAt: new Date() }, { where: { userId: user.id, purpose: 'email_change', usedAt: null }, transaction: tx });
      await issueToken('email_change', user.id, EMAIL_CHANGE_TTL_MS, tx, next, raw);
      await this.d.audit.record(tx, ctx, { operation: 'account.email.request', result: 'allowed', clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name });
    });
  }

  /** The address a live change link would set, for its confirmation page; null for any other link. */
  async pendingEmailChange(raw: string): Promise<string | null> {
    const token = await findLiveToken(['email_change'], raw);
    return token?.newEmail ?? null;
  }

  /** Makes the change a link confirms. The old address is told, or nothing changes. Sessions go on: the password is the same. */
  async confirmEmailChange(ctx: ActorContext, raw: string): Promise<User> {
    // The old address is told before the change, outside the transaction (which holds the log's head):
    // a mail server that refuses changes nothing and leaves the link working; a slow one holds up nobody else.
    const pending = await findLiveToken(['email_change'], raw);
    if (!pending || !pending.userId || !pending.newEmail) throw new DeadLink();
    const before = await User.findByPk(pending.userId);
    if (!before || before.disabledAt) throw new NotFound();
    if (await User.findOne({ where: { email: pending.newEmail } })) throw new Conflict('account.emailTaken');
    const beforeLang = langOf(before);
    await this.d.mailer.send({ to: before.email, subject: translate(beforeLang, 'mail.emailChanged.subject'), text: translate(beforeLang, 'mail.emailChanged.body', { name: before.name }) });
    return this.d.audit.transaction(async (tx) => {
      const token = await findLiveToken(['email_change'], raw, tx);
      if (!token || !token.userId || !token.newEmail || !(await consumeToken(token, tx))) throw new DeadLink();
      const owner = await User.findByPk(token.userId, { transaction: tx });
      if (!owner || owner.disabledAt) throw new NotFound();
      if (await User.findOne({ where: { email: token.newEmail }, transaction: tx })) throw new Conflict('account.emailTaken');
      await owner.update({ email: token.newEmail }, { transaction: tx });
      await this.d.audit.record(tx, { ...ctx, actorId: owner.id, actorName: owner.name, actorRole: owner.role }, {
        operation: 'account.email.change', result: 'allowed', clientId: owner.clientId, targetKind: 'user', targetId: owner.id, targetLabel: owner.name,
      });
      return owner;
    }).catch((err: unknown) => {
      if (err instanceof UniqueConstraintError) throw new Conflict('account.emailTaken');
      throw err;
    });
  }

  /**
   * The password-reset request answers the same whether or not the address is known, and whether
   * or not the mail server took the mail (a 503 for known addresses only would tell which exist).
   * The mail goes first: a refused one leaves the link mailed earlier working and writes no new one.
   */
  async requestPasswordReset(ctx: ActorContext, email: string, pageLang: Lang = DEFAULT_LANG): Promise<void> {
    const user = await User.findOne({ where: { email: normaliseEmail(email) } });
    if (!user || user.disabledAt) {
      const label = addressForLog(email);
      await this.d.audit.recordAlone(ctx, { operation: 'auth.password.reset_request', result: 'denied', targetKind: 'account', targetLabel: label, detail: label ? null : 'not an address' });
      return;
    }
    const raw = newToken();
    const target = { clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name } as const;
    try {
      // A person who chose no language gets the mail in the language of the page they asked from, and
      // its link opens the page in it too (on another device, say a phone, where nothing was chosen).
      const linkLang = isLang(user.lang) || pageLang === DEFAULT_LANG ? '' : `?lang=${pageLang}`;
      await this.mail(user, 'mail.reset', { link: `${this.d.config.publicUrl}/password/reset/${raw}${linkLang}` }, pageLang);
    } catch (err) {
      if (!(err instanceof MailUnavailable)) throw err;
      await this.d.audit.recordAlone(ctx, { operation: 'auth.password.reset_request', result: 'error', ...target, detail: 'mail refused' });
      return;
    }
    await this.d.audit.transaction(async (tx) => {
      // Only the newest link works.
      await OneTimeToken.update({ usedAt: new Date() }, { where: { userId: user.id, purpose: 'password_reset', usedAt: null }, transaction: tx });
      await issueToken('password_reset', user.id, RESET_TTL_MS, tx, null, raw);
      await this.d.audit.record(tx, ctx, { operation: 'auth.password.reset_request', result: 'allowed', ...target });
    });
  }

  /** Whether a reset or invitation link still works (for showing the form), and the language its mail was written in (its owner's, if chosen). */
  async liveLink(raw: string): Promise<{ lang: Lang | null } | null> {
    const live = await findLiveToken(['password_reset', 'invite'], raw);
    if (!live) return null;
    const owner = live.userId ? await User.findByPk(live.userId, { attributes: ['lang'] }) : null;
    return { lang: isLang(owner?.lang) ? owner.lang : null };
  }

  /** Sets the password through a reset or invitation link; the link dies and every session of the user ends. */
  async setPasswordWithLink(ctx: ActorContext, raw: string, password: string): Promise<User> {
    // The link first: the strength check costs up to ~0.15 s of CPU, not to be spent on anyone's guess at a link.
    const live = await findLiveToken(['password_reset', 'invite'], raw);
    const owner = live?.userId ? await User.findByPk(live.userId) : null;
    if (!owner) throw new DeadLink();
    const problem = await passwordProblem(password, await personalWordsOf(owner));
    if (problem) throw new BadRequest(problem, { password: problem });
    const hash = await hashPassword(password);
    return this.d.audit.transaction(async (tx) => {
      const token = await findLiveToken(['password_reset', 'invite'], raw, tx);
      if (!token || !token.userId || !(await consumeToken(token, tx))) throw new DeadLink();
      const user = await User.findByPk(token.userId, { transaction: tx });
      if (!user || user.disabledAt) throw new NotFound();
      await user.update({ passwordHash: hash, passwordChangedAt: new Date() }, { transaction: tx });
      await SessionRow.destroy({ where: { userId: user.id }, transaction: tx });
      await this.d.audit.record(tx, { ...ctx, actorId: user.id, actorName: user.name, actorRole: user.role }, {
        operation: token.purpose === 'invite' ? 'auth.password.set' : 'auth.password.reset', result: 'allowed',
        clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name,
      });
      return user;
    });
  }

  /** Changing a password while signed in (behind re-authentication): other sessions end. Returns the time of the change. */
  async changePassword(ctx: ActorContext, user: User, current: string, next: string, keepSid: string): Promise<Date> {
    const problem = await passwordProblem(next, await personalWordsOf(user));
    if (problem) throw new BadRequest(problem, { password: problem });
    if (!(await verifyPassword(user.passwordHash, current))) throw new BadRequest('account.currentPasswordWrong', { current: 'account.currentPasswordWrong' });
    const hash = await hashPassword(next);
    const changedAt = new Date();
    await this.d.audit.transaction(async (tx) => {
      await User.update({ passwordHash: hash, passwordChangedAt: changedAt }, { where: { id: user.id }, transaction: tx });
      await SessionRow.destroy({ where: { userId: user.id, sid: { [Op.ne]: keepSid } }, transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'auth.password.change', result: 'allowed', clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name });
    });
    return changedAt;
  }

  /** Disabling ends every session of the user at once (rows deleted, and sign-in refused from then on). */
  async setDisabled(ctx: ActorContext, target: User, disabled: boolean): Promise<void> {
    await this.d.audit.transaction(async (tx) => {
      await User.update({ disabledAt: disabled ? new Date() : null }, { where: { id: target.id }, transaction: tx });
      if (disabled) await SessionRow.destroy({ where: { userId: target.id }, transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: disabled ? 'user.disable' : 'user.enable', result: 'allowed', clientId: target.clientId, targetKind: 'user', targetId: target.id, targetLabel: target.name });
    });
  }

  async setLang(user: User, lang: string): Promise<void> {
    if (isLang(lang)) await User.update({ lang }, { where: { id: user.id } });
  }

  private async mail(user: User, key: string, params: Record<string, string>, fallback: Lang = DEFAULT_LANG): Promise<void> {
    const lang = langOf(user, fallback);
    await this.d.mailer.send({
      to: user.email,
      subject: translate(lang, `${key}.subject`, params),
      text: translate(lang, `${key}.body`, { name: user.name, ...params }),
    });
  }
}

/** The language a user's mail is written in: their choice, else the page's they asked from, else Japanese. */
const langOf = (user: Pick<User, 'lang'>, fallback: Lang = DEFAULT_LANG): Lang => (isLang(user.lang) ? user.lang : fallback);

/**
 * What a refused sign-in or reset is logged under: the address typed, if it is one. People type
 * their password into the address field by mistake, and the log is read by others.
 */
export function addressForLog(typed: string): string | null {
  const t = typed.trim();
  // A domain of labels and a top-level name of letters: 「P@ssw0rd.1」 is no address.
  return t.length <= 100 && /^[^\s@]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/.test(t) ? t : null;
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}
