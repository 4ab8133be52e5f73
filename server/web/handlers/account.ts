import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { flash, page } from '../render';
import { email, parseForm } from '../forms';
import { AppError, BadRequest, DeadLink } from '../../errors';
import { reauthActive } from '../middleware/guards';
import { presentUser } from '../../presenters/user';
import { Firm } from '../../db/models';
import { japanDay } from '../../domain/dates';

const changeEmailForm = z.object({ email });

const changePasswordForm = z.object({
  current: z.string().max(1024).default(''),
  password: z.string().max(1024, 'password.tooLong').default(''),
  confirm: z.string().default(''),
}).refine((f) => f.password === f.confirm, { message: 'password.mismatch', path: ['confirm'] });

/** The signed-in user's own account: TOTP enrolment, recovery codes, password. */
/** The browser helper first, then the page's own script (both deferred, so run in this order). */
export const PASSKEY_SCRIPTS = ['/vendor/simplewebauthn/index.umd.min.js', '/js/passkey.js'];

/** How long after signing in with a password a first authenticator may be set up without re-authenticating. */
const FIRST_DEVICE_MS = 30 * 60_000;

export function accountHandlers(services: Services) {
  const { accounts } = services;

  async function showEnrolment(req: Request, res: Response, status = 200, error?: string) {
    const user = req.user!;
    const firm = await Firm.findByPk(1);
    const started = accounts.beginTotpEnrolment(user, `${firm?.name ?? '暁ポータル'}`);
    page(req, res, 'account/totp', {
      title: 'totp.enrol.title',
      qr: await (await import('qrcode')).default.toDataURL(started.uri, { margin: 1, width: 220 }),
      // On a phone the QR code is on the very screen the app runs on: the otpauth: link opens the app with it.
      uri: started.uri,
      secretGroups: started.secret.match(/.{1,4}/g) ?? [],
      required: res.locals.mustEnrolTotp,
      error,
    }, status);
  }

  /**
   * Who may set up an authenticator: someone re-authenticated, or (for a first device) someone who
   * signed in with their password in the last half hour, as the forced enrolment after a first
   * sign-in does (installing an app can take longer than a re-authentication lasts). A session left
   * open longer, or taken later, cannot put its own device on the account.
   */
  function mayEnrol(req: Request): boolean {
    if (reauthActive(req)) return true;
    return !req.user!.totpEnabledAt && typeof req.session.startedAt === 'number' && Date.now() - req.session.startedAt < FIRST_DEVICE_MS;
  }

  /** The account page, whole also when a refused password change comes back to it. */
  async function accountPage(req: Request, res: Response, extra: { errors?: Record<string, string>; values?: Record<string, string> } = {}, status = 200) {
    const user = req.user!;
    const day = (d: Date | null) => (d ? japanDay(d) : null);
    page(req, res, 'account/account', {
      title: 'account.title',
      user: presentUser(user),
      recoveryLeft: user.totpEnabledAt ? await accounts.remainingRecoveryCodes(user) : null,
      passkeys: (await services.passkeys.listOf(user)).map((p) => ({ id: p.id, name: p.name, created: day(p.createdAt), lastUsed: day(p.lastUsedAt) })),
      scripts: PASSKEY_SCRIPTS,
      // The password form waits for re-authentication rather than take three passwords and refuse them.
      reauthActive: reauthActive(req),
      ...extra,
    }, status);
  }

  return {
    show: (req: Request, res: Response) => accountPage(req, res),

    async showTotp(req: Request, res: Response) {
      if (!mayEnrol(req)) return res.redirect(303, '/reauth?next=/account/totp');
      await showEnrolment(req, res);
    },

    async enrolTotp(req: Request, res: Response) {
      const user = req.user!;
      if (!mayEnrol(req)) return res.redirect(303, '/reauth?next=/account/totp');
      const code = z.object({ code: z.string().max(32).default('') }).safeParse(req.body ?? {});
      const codes = code.success ? await accounts.completeTotpEnrolment(actorOf(req), user, code.data.code) : null;
      if (!codes) return showEnrolment(req, res, 400, 'totp.enrol.failed');
      // Shown once, in this response only; only their hashes are kept.
      page(req, res, 'account/recovery-codes', { title: 'totp.recovery.title', codes });
    },

    async changePassword(req: Request, res: Response) {
      const form = parseForm(changePasswordForm, req.body);
      const again = (errors: Record<string, string>) => accountPage(req, res, { errors }, 400);
      if (!form.ok) return again(form.errors);
      try {
        const changedAt = await accounts.changePassword(actorOf(req), req.user!, form.data.current, form.data.password, req.sessionID);
        // This session carries the new password version; every other one ends.
        req.session.passwordAt = changedAt.getTime();
      } catch (err) {
        if (err instanceof BadRequest) return again(err.fieldErrors);
        throw err;
      }
      flash(req, 'ok', 'account.passwordChanged');
      res.redirect(303, '/account');
    },

    async changeEmail(req: Request, res: Response) {
      const form = parseForm(changeEmailForm, req.body);
      const again = (errors: Record<string, string>, status: number) => accountPage(req, res, { errors, values: { email: String(req.body?.email ?? '') } }, status);
      if (!form.ok) return again(form.errors, 400);
      try {
        await accounts.requestEmailChange(actorOf(req), req.user!, form.data.email);
      } catch (err) {
        if (err instanceof AppError && (err.status === 400 || err.status === 409)) return again({ email: err.messageKey }, err.status);
        throw err;
      }
      flash(req, 'ok', 'account.emailSent');
      res.redirect(303, '/account');
    },

    /** The link from the new mailbox shows what it will do; only the button (a POST) does it. */
    async showEmailConfirm(req: Request, res: Response) {
      const next = await accounts.pendingEmailChange(String(req.params.token));
      if (!next) throw new DeadLink();
      page(req, res, 'account/email-confirm', { title: 'account.emailConfirm.title', email: next, action: req.path });
    },

    async confirmEmail(req: Request, res: Response) {
      const changed = await accounts.confirmEmailChange(actorOf(req), String(req.params.token));
      flash(req, 'ok', 'account.emailChanged');
      res.redirect(303, req.user?.id === changed.id ? '/account' : '/login');
    },
  };
}
