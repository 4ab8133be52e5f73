import type { Request, RequestHandler } from 'express';
import { Forbidden, ReauthRequired, Sealed, Unauthenticated } from '../../errors';
import { roleAllows, type RoleRule } from '../../policies';
import type { Services } from '../../services';

export type Access = 'public' | RoleRule;

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
    if (access === 'public') return next();
    if (!req.user) {
      if (req.method === 'GET') return res.redirect(303, loginRedirect(req, res.locals.sessionExpired ? 'expired' : undefined));
      throw new Unauthenticated();
    }
    if (res.locals.mustEnrolTotp && !opts.duringEnrolment) {
      if (req.method === 'GET') return res.redirect(303, '/account/totp');
      throw new Forbidden('auth.totpEnrolmentRequired');
    }
    if (!roleAllows(access, req.user)) throw new Forbidden();
    next();
  };
}

/** Sensitive actions: only within the re-authentication window of this very session. */
export const requireReauth: RequestHandler = (req, res, next) => {
  if (reauthActive(req)) return next();
  if (req.method === 'GET') return res.redirect(303, `/reauth?next=${encodeURIComponent(req.originalUrl)}`);
  throw new ReauthRequired();
};

/** Without a valid master key, routes that could need a key answer 503 before anything is read or written. */
export function requireKeys(services: Pick<Services, 'keys'>): RequestHandler {
  return (_req, _res, next) => {
    if (services.keys.sealed) throw new Sealed();
    next();
  };
}
