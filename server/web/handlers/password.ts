import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { flash, page } from '../render';
import { parseForm } from '../forms';
import { BadRequest, DeadLink } from '../../errors';
import { openInMailLang } from '../middleware/locals';

const forgotForm = z.object({ email: z.string().trim().max(190).default('') });
const newPasswordForm = z.object({
  password: z.string({ message: 'form.required' }).max(1024, 'password.tooLong'),
  confirm: z.string().default(''),
}).refine((f) => f.password === f.confirm, { message: 'password.mismatch', path: ['confirm'] });

/** Forgotten passwords (a mailed single-use link, 30 minutes) and invitations (choose a first password). */
export function passwordHandlers(services: Services) {
  return {
    showForgot(req: Request, res: Response) {
      page(req, res, 'auth/forgot', { title: 'password.forgot.title' });
    },

    async forgot(req: Request, res: Response) {
      const form = forgotForm.safeParse(req.body ?? {});
      if (form.success && form.data.email) await services.accounts.requestPasswordReset(actorOf(req), form.data.email, req.lang);
      // The same answer whether or not the address has an account.
      page(req, res, 'auth/forgot', { title: 'password.forgot.title', sent: true });
    },

    async showSet(req: Request, res: Response) {
      const link = await services.accounts.liveLink(String(req.params.token));
      if (!link) throw new DeadLink();
      // An invitation mailed in English opens in English (the mail's language is the person's); a reset
      // mailed in the language of the page it was asked from, to someone with none of their own, says it (?lang=en).
      openInMailLang(req, res, link.lang ?? (typeof req.query.lang === 'string' ? req.query.lang : null));
      page(req, res, 'auth/set-password', { title: 'password.set.title', action: req.path });
    },

    async set(req: Request, res: Response) {
      const again = (errors: Record<string, string>) =>
        page(req, res, 'auth/set-password', { title: 'password.set.title', action: req.path, errors }, 400);
      const form = parseForm(newPasswordForm, req.body);
      if (!form.ok) return again(form.errors);
      let user;
      try {
        user = await services.accounts.setPasswordWithLink(actorOf(req), String(req.params.token), form.data.password);
      } catch (err) {
        if (err instanceof BadRequest) return again(err.fieldErrors);
        throw err;
      }
      // The sign-in that follows starts with the address filled in (kept in the session, never in the URL).
      req.session.loginEmail = user.email;
      flash(req, 'ok', 'password.set.done');
      res.redirect(303, '/login');
    },
  };
}
