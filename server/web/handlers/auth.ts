import type { Request, Response, NextFunction } from 'express';
import type { Passport } from 'passport';
import { z } from 'zod';
import { User } from '../../db/models';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { page } from '../render';
import { safeNext } from '../forms';
import { SESSION_COOKIE, passwordVersion } from '../middleware/session';
import { reauthActive } from '../middleware/guards';
import { langChosenHere } from '../middleware/locals';
import { PASSWORD_MAX, verifyPassword } from '../../auth/passwords';
import { TooManyRequests } from '../../errors';
import { PASSKEY_SCRIPTS } from './account';
import { addressForLog } from '../../accounts/account-service';
import { isLang, type Lang } from '../../i18n';

/** The second step must follow the first within this time. */
const PENDING_LOGIN_MS = 5 * 60 * 1000;

const loginForm = z.object({
  email: z.string().max(190).default(''),
  password: z.string().max(PASSWORD_MAX * 4).default(''),
  next: z.string().optional(),
});

/** The six digits, or a recovery code typed in its own field (phones show a number pad for the first). */
const codeForm = z.object({ code: z.string().max(32).default(''), recovery: z.string().max(32).default('') })
  .transform((f) => ({ code: f.code.trim() || f.recovery.trim() }));

function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
}

/** Whether the re-authentication page offers "use a passkey" (only to someone who has one). */
async function passkeyChoice(services: Services, user: User): Promise<{ hasPasskey: boolean; scripts?: string[] }> {
  const has = (await services.passkeys.listOf(user)).length > 0;
  return has ? { hasPasskey: true, scripts: PASSKEY_SCRIPTS } : { hasPasskey: false };
}

/** A re-authentication succeeded (password + TOTP, or a passkey): logged, then this session only, under a new id. */
export async function grantReauth(req: Request, services: Services, method: string): Promise<void> {
  const user = req.user!;
  await services.accounts.loginSucceeded(user.email, req.ip ?? '');
  await services.audit.recordAlone(actorOf(req), { operation: 'auth.reauth', result: 'allowed', clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name, detail: method });
  // The form token goes along with the sign-in: the pages open in the person's other tabs keep working.
  const { startedAt, passwordAt, passport: pp, csrfToken } = req.session as typeof req.session & { passport?: unknown; csrfToken?: string };
  await regenerate(req);
  Object.assign(req.session, { passport: pp, startedAt, passwordAt, csrfToken, lastSeenAt: Date.now(), reauthUntil: Date.now() + services.config.reauthMinutes * 60 * 1000 });
}

export function authHandlers(services: Services, passport: InstanceType<typeof Passport>) {
  const { accounts, audit } = services;

  /** Audit first (fail closed), then a new session id for the signed-in user. */
  async function completeLogin(req: Request, res: Response, user: User, method: string, next: string | null, langPicked: Lang | undefined) {
    await audit.recordAlone({ ...actorOf(req), actorId: user.id, actorName: user.name, actorRole: user.role }, {
      operation: 'auth.login', result: 'allowed', clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name, detail: method,
    });
    // The language the person read the sign-in in stays: one picked with the switch just before becomes
    // the account's (over one an inviter chose), and an account with none takes this browser's, so that
    // its mails are in it too.
    const lang = langPicked ?? (isLang(user.lang) ? undefined : langChosenHere(req));
    if (isLang(lang) && lang !== user.lang) {
      await accounts.setLang(user, lang);
      user.lang = lang;
    }
    await new Promise<void>((resolve, reject) => req.login(user, (err) => (err ? reject(err) : resolve())));
    req.session.startedAt = Date.now();
    req.session.lastSeenAt = Date.now();
    req.session.passwordAt = passwordVersion(user);
    res.redirect(303, next ?? '/home');
  }

  async function loginFailed(req: Request, res: Response, email: string, userId: string | null, reason: string) {
    const address = addressForLog(email);
    await audit.recordAlone(actorOf(req), {
      operation: 'auth.login', result: 'denied', targetKind: 'user', targetId: userId, targetLabel: address, detail: address || !email ? reason : `${reason}; not an address`,
    });
    // The same page, status and words whether the account exists or not.
    page(req, res, 'auth/login', { title: 'auth.login.title', email, error: 'auth.loginFailed', next: safeNext(req.body?.next) }, 401);
  }

  return {
    async showLogin(req: Request, res: Response) {
      if (req.user) return res.redirect(303, '/home');
      const reason = typeof req.query.reason === 'string' && ['expired', 'loggedOut'].includes(req.query.reason) ? `auth.reason.${req.query.reason}` : null;
      const email = req.session?.loginEmail;
      // Shown once: the page goes out only after the session without it is stored (saveBeforeAnswer).
      if (email) delete req.session.loginEmail;
      page(req, res, 'auth/login', { title: 'auth.login.title', next: safeNext(req.query.next), reason, email });
    },

    async login(req: Request, res: Response, nextFn: NextFunction) {
      const form = loginForm.safeParse(req.body ?? {});
      const email = form.success ? form.data.email.trim() : '';
      if (!form.success || !email || !form.data.password) return loginFailed(req, res, email, null, 'incomplete form');
      const next = safeNext(form.data.next);
      let user: User | false;
      try {
        user = await new Promise<User | false>((resolve, reject) => {
          passport.authenticate('local', { session: false }, (err: unknown, u: User | false) => (err ? reject(err) : resolve(u)))(req, res, nextFn);
        });
      } catch (err) {
        if (err instanceof TooManyRequests) {
          await audit.recordAlone(actorOf(req), { operation: 'auth.login', result: 'denied', targetKind: 'user', targetLabel: addressForLog(email), detail: 'throttled' });
        }
        throw err;
      }
      if (!user) {
        const known = await User.findOne({ where: { email: email.toLowerCase() }, attributes: ['id'] });
        return loginFailed(req, res, email, known?.id ?? null, 'bad credentials');
      }
      // A right password is no guess: its try is given back now, also before a code step, so a sign-in
      // left there costs the account and the address nothing (the code step counts its own tries).
      await accounts.loginSucceeded(user.email, req.ip ?? '');
      const langPicked = req.session?.langPicked;
      if (user.totpEnabledAt) {
        // A fresh session id already at this step, so a planted cookie never carries a sign-in.
        await regenerate(req);
        req.session.pendingLogin = { userId: user.id, at: Date.now(), next, ...(langPicked ? { langPicked } : {}) };
        return res.redirect(303, '/login/totp');
      }
      await completeLogin(req, res, user, 'password', next, langPicked);
    },

    showTotp(req: Request, res: Response) {
      const pending = req.session?.pendingLogin;
      if (!pending || Date.now() - pending.at > PENDING_LOGIN_MS) return res.redirect(303, '/login');
      page(req, res, 'auth/totp', { title: 'auth.totp.title' });
    },

    async totp(req: Request, res: Response) {
      const pending = req.session?.pendingLogin;
      if (!pending || Date.now() - pending.at > PENDING_LOGIN_MS) return res.redirect(303, '/login?reason=expired');
      const user = await User.findByPk(pending.userId);
      if (!user || user.disabledAt) return res.redirect(303, '/login');
      const ip = req.ip ?? '';
      await services.accounts.attemptCodeThrottled(user.id, ip);
      const code = codeForm.safeParse(req.body ?? {});
      const method = code.success ? await accounts.verifySecondFactor(user, code.data.code) : null;
      if (!method) {
        // The code of a step already spent (e.g. one sign-in just before, the app still showing it): say to wait for the next.
        const used = code.success && await accounts.codeAlreadyUsed(user, code.data.code);
        await audit.recordAlone({ ...actorOf(req), actorId: user.id, actorName: user.name, actorRole: user.role }, {
          operation: 'auth.totp', result: 'denied', clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name,
          ...(used ? { detail: 'code already used' } : {}),
        });
        return page(req, res, 'auth/totp', { title: 'auth.totp.title', error: used ? 'auth.totpUsed' : 'auth.totpFailed' }, 401);
      }
      delete req.session.pendingLogin;
      await accounts.codeSucceeded(user.id, ip);
      await completeLogin(req, res, user, method === 'totp' ? 'password+totp' : 'password+recovery-code', pending.next, pending.langPicked);
    },

    async logout(req: Request, res: Response) {
      const user = req.user!;
      await audit.recordAlone(actorOf(req), { operation: 'auth.logout', result: 'allowed', clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name });
      await new Promise<void>((resolve, reject) => req.logout((err) => (err ? reject(err) : resolve())));
      await new Promise<void>((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));
      res.clearCookie(SESSION_COOKIE, { path: '/' });
      res.redirect(303, '/login?reason=loggedOut');
    },

    async showReauth(req: Request, res: Response) {
      const user = req.user!;
      page(req, res, 'auth/reauth', {
        title: 'auth.reauth.title', next: safeNext(req.query.next), needsCode: Boolean(user.totpEnabledAt), active: reauthActive(req),
        minutes: services.config.reauthMinutes, ...(await passkeyChoice(services, user)),
      });
    },

    /** Password (+ TOTP when enrolled) again; unlocks sensitive actions for this session only, with a new session id. */
    async reauth(req: Request, res: Response) {
      const user = req.user!;
      const ip = req.ip ?? '';
      const next = safeNext(req.body?.next);
      await services.accounts.attemptThrottled(user.email, ip);
      const form = z.object({ password: z.string().max(PASSWORD_MAX * 4).default(''), code: z.string().max(32).default(''), recovery: z.string().max(32).default('') })
        .transform((f) => ({ password: f.password, code: f.code.trim() || f.recovery.trim() })).safeParse(req.body ?? {});
      let ok = form.success && (await verifyPassword(user.passwordHash, form.data.password));
      let method = 'password';
      /** The right password with the code the person signed in with moments ago (still on the app's screen). */
      let codeUsed = false;
      if (ok && user.totpEnabledAt) {
        // The code is tried only after the right password: counted for the account from all addresses, as at sign-in.
        await accounts.attemptCodeThrottled(user.id, ip);
        const typed = form.success ? form.data.code : '';
        const second = await accounts.verifySecondFactor(user, typed);
        ok = second !== null;
        if (ok) await accounts.codeSucceeded(user.id, ip);
        else codeUsed = await accounts.codeAlreadyUsed(user, typed);
        method = `password+${second === 'recovery' ? 'recovery-code' : 'totp'}`;
      }
      if (!ok) {
        await audit.recordAlone(actorOf(req), { operation: 'auth.reauth', result: 'denied', clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name, ...(codeUsed ? { detail: 'code already used' } : {}) });
        const error = codeUsed ? 'auth.reauthCodeUsed' : user.totpEnabledAt ? 'auth.reauthFailed' : 'auth.reauthPasswordFailed';
        return page(req, res, 'auth/reauth', {
          title: 'auth.reauth.title', next, needsCode: Boolean(user.totpEnabledAt), error, minutes: services.config.reauthMinutes, ...(await passkeyChoice(services, user)),
        }, 401);
      }
      await grantReauth(req, services, method);
      res.redirect(303, next ?? '/account');
    },
  };
}
