import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { page } from '../render';
import { email, parseForm, text } from '../forms';
import { BadRequest, NotFound } from '../../errors';
import { passwordVersion } from '../middleware/session';

const setupForm = z.object({
  firmName: text(200),
  adminName: text(100),
  email,
  password: z.string().max(1024, 'password.tooLong'),
});

/** First run: the one-time link from the start-up log creates the firm and its first admin. */
export function setupHandlers(services: Services) {
  /**
   * A link that no longer works (past its hour, used, or replaced by a newer one — the portal prints a
   * new one at each start while no admin exists) says so and what to do next, still as a 404: once
   * setup is done, sign in; before, make a new link on the server.
   */
  async function dead(req: Request, res: Response) {
    const done = !(await services.setup.needsSetup());
    page(req, res, 'setup/dead', { title: 'setup.deadTitle', done }, 404);
  }

  return {
    async show(req: Request, res: Response) {
      if (!(await services.setup.linkIsLive(String(req.params.token)))) return dead(req, res);
      page(req, res, 'setup/setup', { title: 'setup.title', token: req.params.token });
    },

    async complete(req: Request, res: Response) {
      const token = String(req.params.token);
      const form = parseForm(setupForm, req.body);
      const again = (errors: Record<string, string>) =>
        page(req, res, 'setup/setup', { title: 'setup.title', token, errors, values: { ...req.body, password: '' } }, 400);
      if (!form.ok) return again(form.errors);
      let user;
      try {
        user = await services.setup.complete(actorOf(req), token, form.data);
      } catch (err) {
        if (err instanceof BadRequest) return again(err.fieldErrors);
        if (err instanceof NotFound) return dead(req, res);
        throw err;
      }
      await new Promise<void>((resolve, reject) => req.login(user, (err) => (err ? reject(err) : resolve())));
      req.session.startedAt = Date.now();
      req.session.lastSeenAt = Date.now();
      req.session.passwordAt = passwordVersion(user);
      // Firm roles must have TOTP: the guard sends the new admin to enrolment before anything else.
      res.redirect(303, '/account/totp');
    },
  };
}
