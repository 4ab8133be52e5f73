import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { safeNext } from '../forms';
import { grantReauth } from './auth';
import { AppError, BadRequest, NotFound } from '../../errors';

const registration = z.object({ name: z.string().max(100).default(''), response: z.unknown() });
const assertion = z.object({ response: z.unknown(), next: z.string().max(500).optional() });

/** The JSON steps of passkeys: options out (the challenge kept in the session), the device's answer in. */
export function passkeyHandlers(services: Services) {
  const { passkeys } = services;

  /** A challenge answers once: taken out of the session whatever the outcome. */
  const takeChallenge = (req: Request) => {
    const c = req.session.passkeyChallenge;
    delete req.session.passkeyChallenge;
    return c;
  };

  return {
    async registrationOptions(req: Request, res: Response) {
      const options = await passkeys.registrationOptions(req.user!);
      req.session.passkeyChallenge = options.challenge;
      res.json(options);
    },

    async register(req: Request, res: Response) {
      const parsed = registration.safeParse(req.body ?? {});
      if (!parsed.success) throw new BadRequest('passkey.failed');
      await passkeys.register(actorOf(req), req.user!, parsed.data.response, takeChallenge(req), parsed.data.name);
      res.json({ ok: true, redirect: '/account' });
    },

    async remove(req: Request, res: Response) {
      const id = String(req.params.passkeyId);
      if (!/^[0-9a-f-]{36}$/i.test(id)) throw new NotFound();
      await passkeys.remove(actorOf(req), req.user!, id);
      req.session.flash = { kind: 'ok', key: 'passkey.removed' };
      res.redirect(303, '/account');
    },

    async reauthOptions(req: Request, res: Response) {
      const options = await passkeys.authenticationOptions(req.user!);
      if (!options) throw new NotFound();
      req.session.passkeyChallenge = options.challenge;
      res.json(options);
    },

    /** The other way through /reauth: throttled and logged like a password. */
    async reauth(req: Request, res: Response) {
      const user = req.user!;
      const ip = req.ip ?? '';
      await services.accounts.attemptThrottled(user.email, ip);
      const parsed = assertion.safeParse(req.body ?? {});
      const ok = parsed.success && (await passkeys.verify(user, parsed.data.response, takeChallenge(req)));
      if (!ok) {
        await services.audit.recordAlone(actorOf(req), { operation: 'auth.reauth', result: 'denied', clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name, detail: 'passkey' });
        throw new AppError(401, 'passkey.reauthFailed');
      }
      await grantReauth(req, services, 'passkey');
      res.json({ ok: true, redirect: safeNext(parsed.data.next) ?? '/account' });
    },
  };
}
