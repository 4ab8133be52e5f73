import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { flash, page } from '../render';
import { checkbox, email, inviteLang, optionalText, parseForm, text } from '../forms';
import { AppError, BadRequest } from '../../errors';
import { clientLabel, presentClient, presentClientDetails } from '../../presenters/client';
import { presentUser } from '../../presenters/user';

const clientForm = z.object({
  code: z.string({ message: 'form.required' }).trim().regex(/^[A-Za-z0-9_-]{1,20}$/, 'client.codeFormat'),
  name: text(200),
  nameKana: optionalText(200),
  requireAdminTotp: checkbox,
});
const clientSettingsForm = clientForm.omit({ code: true });
const establishmentForm = z.object({ name: text(200), address: optionalText(300) });
const departmentForm = z.object({ code: z.string({ message: 'form.required' }).trim().regex(/^[A-Za-z0-9_-]{1,20}$/, 'department.codeFormat'), name: text(200) });
const clientUserForm = z.object({ name: text(100), email, role: z.enum(['client_admin', 'employee'], { message: 'form.invalid' }), lang: inviteLang });
// Anything but one id (a list, a long string) is no selection, refused as such.
const assignForm = z.object({ userId: z.string().max(64).catch('').default('') });

/** Where a user's row was, for coming back after re-authenticating: the staff list, or a client's page (sent by the form). */
export function firmUserPage(req: Request): string {
  const back = (req.body as { back?: unknown } | undefined)?.back;
  return typeof back === 'string' && /^\/firm\/clients\/[0-9a-f-]{36}$/i.test(back) ? back : '/firm/staff';
}

/** The firm's screens for client companies: list, create, settings, establishments, departments, users, assignments. */
export function firmClientHandlers(services: Services) {
  const { clients } = services;

  async function showClient(req: Request, res: Response, extra: Record<string, unknown> = {}, status = 200) {
    const user = req.user!;
    const client = await clients.getFor(user, String(req.params.clientId));
    const details = await clients.details(client);
    const allStaff = user.role === 'firm_admin' ? await services.staff.listActiveStaff() : [];
    page(req, res, 'firm/client', {
      title: 'client.title',
      client: presentClient(client),
      ...presentClientDetails(details, allStaff),
      canManage: user.role === 'firm_admin',
      userTableBack: `/firm/clients/${client.id}`,
      ...extra,
    }, status);
  }

  /** Re-shows the client page with the form's errors (status 400/409), or rethrows. */
  async function orShowErrors(req: Request, res: Response, form: string, action: () => Promise<void>, okKey: string) {
    try {
      await action();
    } catch (err) {
      if (err instanceof BadRequest || (err instanceof AppError && err.status === 409)) {
        const errors = err instanceof BadRequest && Object.keys(err.fieldErrors).length ? err.fieldErrors : { _form: err.messageKey };
        return showClient(req, res, { [`${form}Errors`]: errors, [`${form}Values`]: req.body }, err.status);
      }
      throw err;
    }
    flash(req, 'ok', okKey);
    res.redirect(303, `/firm/clients/${req.params.clientId}`);
  }

  return {
    async list(req: Request, res: Response) {
      page(req, res, 'firm/clients', {
        title: 'clients.title',
        clients: (await clients.listFor(req.user!)).map(presentClient),
        canCreate: req.user!.role === 'firm_admin',
      });
    },

    async create(req: Request, res: Response) {
      const form = parseForm(clientForm, req.body);
      const again = async (errors: Record<string, string>, status: number) => page(req, res, 'firm/clients', {
        title: 'clients.title', clients: (await clients.listFor(req.user!)).map(presentClient), canCreate: true, errors, values: req.body,
      }, status);
      if (!form.ok) return again(form.errors, 400);
      try {
        const client = await clients.create(actorOf(req), form.data);
        flash(req, 'ok', 'clients.created');
        res.redirect(303, `/firm/clients/${client.id}`);
      } catch (err) {
        if (err instanceof AppError && err.status === 409) return again({ code: err.messageKey }, 409);
        throw err;
      }
    },

    show: (req: Request, res: Response) => showClient(req, res),

    async update(req: Request, res: Response) {
      const client = await clients.getFor(req.user!, String(req.params.clientId));
      const form = parseForm(clientSettingsForm, req.body);
      if (!form.ok) return showClient(req, res, { settingsErrors: form.errors }, 400);
      await orShowErrors(req, res, 'settings', () => clients.update(actorOf(req), client, form.data), 'client.saved');
    },

    async addEstablishment(req: Request, res: Response) {
      const client = await clients.getFor(req.user!, String(req.params.clientId));
      const form = parseForm(establishmentForm, req.body);
      if (!form.ok) return showClient(req, res, { establishmentErrors: form.errors, establishmentValues: req.body }, 400);
      await orShowErrors(req, res, 'establishment', () => clients.addEstablishment(actorOf(req), client, form.data), 'client.saved');
    },

    async addDepartment(req: Request, res: Response) {
      const client = await clients.getFor(req.user!, String(req.params.clientId));
      const form = parseForm(departmentForm, req.body);
      if (!form.ok) return showClient(req, res, { departmentErrors: form.errors, departmentValues: req.body }, 400);
      await orShowErrors(req, res, 'department', () => clients.addDepartment(actorOf(req), client, form.data), 'client.saved');
    },

    async addUser(req: Request, res: Response) {
      const client = await clients.getFor(req.user!, String(req.params.clientId));
      const form = parseForm(clientUserForm, req.body);
      if (!form.ok) return showClient(req, res, { userErrors: form.errors, userValues: req.body }, 400);
      await orShowErrors(req, res, 'user', async () => { await clients.createClientUser(actorOf(req), client, form.data); }, 'users.invited');
    },

    async assign(req: Request, res: Response) {
      const client = await clients.getFor(req.user!, String(req.params.clientId));
      const form = assignForm.parse(req.body ?? {});
      await orShowErrors(req, res, 'assign', () => clients.assignStaff(actorOf(req), client, form.userId), 'client.saved');
    },

    async unassign(req: Request, res: Response) {
      const client = await clients.getFor(req.user!, String(req.params.clientId));
      await clients.unassignStaff(actorOf(req), client, String(req.params.userId));
      flash(req, 'ok', 'client.saved');
      res.redirect(303, `/firm/clients/${client.id}`);
    },
  };
}

/** The firm's own people. */
export function firmStaffHandlers(services: Services) {
  const staffForm = z.object({ name: text(100), email, role: z.enum(['firm_admin', 'firm_staff'], { message: 'form.invalid' }), lang: inviteLang });

  async function list(req: Request, res: Response, extra: Record<string, unknown> = {}, status = 200) {
    const assigned = await services.staff.assignedClients();
    const staff = (await services.staff.list()).map((u) => ({
      ...presentUser(u),
      clients: (assigned.get(u.id) ?? []).map((c) => ({ href: `/firm/clients/${c.id}`, label: clientLabel(c) })),
    }));
    page(req, res, 'firm/staff', { title: 'staff.title', staff, showClients: true, selfId: req.user!.id, ...extra }, status);
  }

  return {
    list: (req: Request, res: Response) => list(req, res),

    async create(req: Request, res: Response) {
      const form = parseForm(staffForm, req.body);
      if (!form.ok) return list(req, res, { errors: form.errors, values: req.body }, 400);
      try {
        await services.staff.create(actorOf(req), form.data);
      } catch (err) {
        if (err instanceof AppError && err.status === 409) return list(req, res, { errors: { email: err.messageKey }, values: req.body }, 409);
        throw err;
      }
      flash(req, 'ok', 'users.invited');
      res.redirect(303, '/firm/staff');
    },

    /** Disable or enable any account (firm admin; behind re-authentication). Not one's own. */
    setDisabled(disabled: boolean) {
      return async (req: Request, res: Response) => {
        const target = await services.staff.find(String(req.params.userId));
        if (target.id === req.user!.id) throw new BadRequest('users.notSelf');
        await services.accounts.setDisabled(actorOf(req), target, disabled);
        flash(req, 'ok', disabled ? 'users.disabled' : 'users.enabled');
        res.redirect(303, target.clientId ? `/firm/clients/${target.clientId}` : '/firm/staff');
      };
    },
  };
}
