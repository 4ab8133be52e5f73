import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import type { ApiToken, Client } from '../../db/models';
import type { Lang } from '../../i18n';
import { PROCEDURES } from '../../domain/purposes';
import { MAX_TOKEN_DAYS } from '../../vault/api-tokens';
import { formatDateTime } from '../../presenters/format';
import { actorOf } from '../context';
import { flash, page } from '../render';
import { formErrors } from './client-vault';
import { asList, parseForm, text } from '../forms';

const DEFAULT_DAYS = 90;

/** A group of checkboxes: absent when none is ticked, a string for one, an array for several. */
const ticked = <T extends z.ZodType<string>>(item: T, message: string) => z.preprocess(
  asList,
  z.array(item, { message }).min(1, message).max(1000, message),
);

const tokenForm = z.object({
  name: text(100),
  clientIds: ticked(z.string().regex(/^[0-9a-f-]{36}$/i, 'api.clientsRequired'), 'api.clientsRequired'),
  purposes: ticked(z.enum(PROCEDURES, { message: 'api.purposesRequired' }), 'api.purposesRequired'),
  days: z.coerce.number({ message: 'api.daysInvalid' }).int('api.daysInvalid').min(1, 'api.daysInvalid').max(MAX_TOKEN_DAYS, 'api.daysInvalid'),
});

function presentToken(t: ApiToken, clients: Map<string, Client>, lang: Lang, now: number) {
  const revoked = Boolean(t.revokedAt);
  const expired = !revoked && t.expiresAt.getTime() <= now;
  return {
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    // A client deleted since still shows as its id, so the scope is never silently shorter than stored.
    clients: t.clientIds.split(',').map((id) => { const c = clients.get(id); return c ? `${c.code} ${c.name}` : id; }),
    purposeKeys: t.purposes.split(',').map((p) => `purpose.${p}`),
    expiresAt: formatDateTime(t.expiresAt, lang),
    lastUsedAt: formatDateTime(t.lastUsedAt, lang),
    revokedAt: formatDateTime(t.revokedAt, lang),
    revoked,
    expired,
    live: !revoked && !expired,
  };
}

/** The firm admin's screens for the tokens of authorised applications: list, create (secret shown once), revoke. */
export function apiTokenHandlers(services: Services) {
  async function show(req: Request, res: Response, extra: { errors?: Record<string, string>; values?: Record<string, unknown>; created?: { name: string; secret: string } } = {}, status = 200) {
    const byId = new Map((await services.clients.listFor(req.user!)).map((c) => [c.id, c]));
    // Only what the issuer may open themselves can be handed to an application (ApiTokenService.create).
    const choosable = await services.clients.assignedTo(req.user!);
    const values = extra.values ?? {};
    const chosenClients = new Set(asList(values.clientIds));
    const chosenPurposes = new Set(asList(values.purposes));
    const now = Date.now();
    page(req, res, 'firm/api-tokens', {
      title: 'api.title',
      tokens: (await services.apiTokens.list()).map((t) => presentToken(t, byId, req.lang, now)),
      clients: choosable.map((c) => ({ id: c.id, code: c.code, name: c.name, checked: chosenClients.has(c.id) })),
      purposes: PROCEDURES.map((p) => ({ value: p, labelKey: `purpose.${p}`, checked: chosenPurposes.has(p) })),
      values: { name: values.name ?? '', days: values.days ?? String(DEFAULT_DAYS) },
      maxDays: MAX_TOKEN_DAYS,
      errors: extra.errors,
      created: extra.created,
    }, status);
  }

  return {
    list: (req: Request, res: Response) => show(req, res),

    /**
     * The secret goes into this one response only: not into a redirect URL, the session's flash
     * or any log. Lost, it cannot be shown again; the admin revokes the token and makes another.
     */
    async create(req: Request, res: Response) {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const form = parseForm(tokenForm, body);
      if (!form.ok) return show(req, res, { errors: form.errors, values: body }, 400);
      try {
        const { token, secret } = await services.apiTokens.create(actorOf(req), req.user!.id, form.data);
        return await show(req, res, { created: { name: token.name, secret } });
      } catch (err) {
        const errors = formErrors(err);
        if (errors) return show(req, res, { errors, values: body }, 400);
        throw err;
      }
    },

    async revoke(req: Request, res: Response) {
      await services.apiTokens.revoke(actorOf(req), String(req.params.tokenId));
      flash(req, 'ok', 'api.revoked');
      res.redirect(303, '/firm/api-tokens');
    },
  };
}
