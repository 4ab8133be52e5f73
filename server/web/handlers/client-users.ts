import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { flash, page } from '../render';
import { email, inviteLang, parseForm, text } from '../forms';
import { AppError, BadRequest } from '../../errors';
import { presentUser } from '../../presenters/user';
import { presentClient } from '../../presenters/client';
import { User } from '../../db/models';

const userForm = z.object({ name: text(100), email, role: z.enum(['client_admin', 'employee'], { message: 'form.invalid' }), lang: inviteLang });

/** A client admin manages the users of their own company; the company always comes from the session, never the form. */
export function clientUserHandlers(services: Services) {
  const ownClient = (req: Request) => services.clients.getFor(req.user!, req.user!.clientId ?? '');

  async function list(req: Request, res: Response, extra: Record<string, unknown> = {}, status = 200) {
    const client = await ownClient(req);
    const users = await User.findAll({ where: { clientId: client.id }, order: [['role', 'ASC'], ['name', 'ASC']] });
    // An employee's account not tied to their employee record cannot register its numbers (じぶんで登録) yet.
    const unlinked = new Set((await services.people.unlinkedAccounts(client.id)).map((u) => u.id));
    page(req, res, 'client/users', {
      title: 'users.title', client: presentClient(client), selfId: req.user!.id,
      users: users.map((u) => ({ ...presentUser(u), notLinked: unlinked.has(u.id) })),
      ...extra,
    }, status);
  }

  return {
    list: (req: Request, res: Response) => list(req, res),

    async create(req: Request, res: Response) {
      const client = await ownClient(req);
      const form = parseForm(userForm, req.body);
      if (!form.ok) return list(req, res, { errors: form.errors, values: req.body }, 400);
      try {
        await services.clients.createClientUser(actorOf(req), client, form.data);
      } catch (err) {
        if (err instanceof AppError && err.status === 409) return list(req, res, { errors: { email: err.messageKey }, values: req.body }, 409);
        throw err;
      }
      flash(req, 'ok', 'users.invited');
      res.redirect(303, '/client/users');
    },

    setDisabled(disabled: boolean) {
      return async (req: Request, res: Response) => {
        const client = await ownClient(req);
        const target = await services.clients.clientUser(client, String(req.params.userId));
        if (target.id === req.user!.id) throw new BadRequest('users.notSelf');
        await services.accounts.setDisabled(actorOf(req), target, disabled);
        flash(req, 'ok', disabled ? 'users.disabled' : 'users.enabled');
        res.redirect(303, '/client/users');
      };
    },
  };
}
