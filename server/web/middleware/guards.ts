import type { Request, RequestHandler } from 'express';
import { Forbidden, ReauthRequired, Sealed, Unauthenticated } from '../../errors';
import { roleAllows, type RoleRule } from '../../policies';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { listedPurpose } from '../../domain/purposes';
import { tickedValues } from '../forms';

/** 'public', 'apiToken' (a bearer token of an authorised application, no session) or a role rule */
export type Access = 'public' | 'apiToken' | RoleRule;

export function reauthActive(req: Request): boolean {
  return typeof req.session?.reauthUntil === 'number' && req.session.reauthUntil > Date.now();
}

const loginRedirect = (req: Request, reason?: string) =>
  `/login?next=${encodeURIComponent(req.originalUrl)}${reason ? `&reason=${reason}` : ''}`;

/**
 * The one check in front of every route: a session, a finished sign-in (TOTP enrolled where
 * required) and a role the route's rule allows. Object-level checks (which client) follow in services.
 */
export function requireAccess(access: Access, opts: { duringEnrolment?: boolean } = {}): RequestHandler {
  return (req, res, next) => {
    if (access === 'public' || access === 'apiToken') return next();
    if (!req.user) {
      if (req.method === 'GET') return res.redirect(303, loginRedirect(req, res.locals.sessionExpired ? 'expired' : undefined));
      throw new Unauthenticated(res.locals.sessionExpired ? 'auth.reason.expired' : undefined);
    }
    if (res.locals.mustEnrolTotp && !opts.duringEnrolment) {
      if (req.method === 'GET') return res.redirect(303, '/account/totp');
      throw new Forbidden('auth.totpEnrolmentRequired');
    }
    if (!roleAllows(access, req.user)) throw new Forbidden();
    next();
  };
}

/** Where a refused post's re-authentication comes back to: its form's page, for this request's ids. */
export type ReturnTo = (req: Request) => string;

/** Sensitive actions: only within the re-authentication window of this very session. */
export function requireReauth(returnTo?: ReturnTo): RequestHandler {
  return (req, res, next) => {
    if (reauthActive(req)) return next();
    if (req.method === 'GET') return res.redirect(303, `/reauth?next=${encodeURIComponent(req.originalUrl)}`);
    throw new ReauthRequired(returnTo?.(req) ?? null);
  };
}

/**
 * Like requireReauth, for vault routes: a refusal is also written to the log (who tried to open
 * which client's numbers without a live re-authentication). If that row cannot be written the
 * request is still refused.
 */
export function requireReauthLogged(services: Pick<Services, 'vault' | 'files'>, operation: string, returnTo?: ReturnTo): RequestHandler {
  return async (req, _res, next) => {
    if (reauthActive(req)) return next();
    const clientId = typeof req.params.clientId === 'string' && /^[0-9a-f-]{36}$/i.test(req.params.clientId) ? req.params.clientId : null;
    const purpose = listedPurpose(req.body);
    // Whose numbers were asked for: the one of a reveal, the ones ticked for a print or export.
    const recordIds = tickedValues(/^[0-9a-f-]{36}$/i, 500).parse(req.params.recordId ?? (req.body as { ids?: unknown } | undefined)?.ids);
    // A file's refusal names the file and lands in its client's log (a file the reader may not see at all is a 404 later).
    const file = typeof req.params.fileId === 'string' ? await services.files.getFor(req.user!, req.params.fileId).catch(() => null) : null;
    if (file) await services.files.recordRefused(actorOf(req), file, 'no re-authentication', purpose).catch(() => {});
    else await services.vault.recordDenied(actorOf(req), clientId, operation, 'no re-authentication', purpose, recordIds).catch(() => {});
    throw new ReauthRequired(returnTo?.(req) ?? null);
  };
}

/** Routes for authorised applications: a live bearer token, or 401 (JSON) before anything else is read. */
export function requireApiToken(services: Pick<Services, 'apiTokens'>): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const secret = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const scope = secret ? await services.apiTokens.authenticate(secret) : null;
    if (!scope) {
      res.set('WWW-Authenticate', 'Bearer realm="akatsuki"');
      // An application has no sign-in page: it is told what it lacks.
      throw new Unauthenticated('api.tokenRequired');
    }
    res.locals.apiScope = scope;
    next();
  };
}

/** Without a valid master key, routes that could need a key answer 503 before anything is read or written. */
export function requireKeys(services: Pick<Services, 'keys'>): RequestHandler {
  return (_req, _res, next) => {
    if (services.keys.sealed) throw new Sealed();
    next();
  };
}
