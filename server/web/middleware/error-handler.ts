import type { ErrorRequestHandler, Request } from 'express';
import { ConnectionError, TimeoutError } from 'sequelize';
import type { Logger } from 'pino';
import { AppError, BadRequest, DeadLink, PayloadTooLarge, ReauthRequired, ServiceUnavailable, TooManyRequests, Unauthenticated } from '../../errors';
import { safeNext } from '../forms';
import { translate } from '../../i18n';
import type { AuditLog } from '../../audit';
import { recordSecurityEvent } from './security-events';
import { langBeforeSession } from './locals';

function wantsJson(req: Request): boolean {
  return req.path.startsWith('/api/') || req.path === '/healthz' || (req.accepts(['html', 'json']) === 'json');
}

const HEADED_STATUSES = new Set([400, 401, 403, 404, 409, 413, 415, 429, 500, 503]);

const MULTER_LIMITS = new Set(['LIMIT_FILE_SIZE', 'LIMIT_FILE_COUNT', 'LIMIT_PART_COUNT', 'LIMIT_FIELD_COUNT', 'LIMIT_FIELD_VALUE', 'LIMIT_FIELD_KEY']);

/** Whether the database could not be reached (then: 503, nothing written). */
function isDatabaseDown(err: unknown): boolean {
  if (err instanceof ConnectionError || err instanceof TimeoutError) return true;
  // Sequelize's own words once its pool is gone (shutting down, or lost for good).
  if (err instanceof Error && /connection manager was closed|connection is in closed state|SQLITE_MISUSE: Database is closed/i.test(err.message)) return true;
  const parent = (err as { parent?: { code?: string } })?.parent?.code;
  if (parent && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', ...DRIVER_CODES].includes(parent)) return true;
  // A bare ECONNREFUSED or ETIMEDOUT is anyone's (the storage's, the mail server's): only the drivers' own codes count bare.
  return DRIVER_CODES.includes(String((err as { code?: string })?.code));
}

/** The database drivers' codes for a database that cannot be used now (SQLite: also its file full, read-only or failing). */
const DRIVER_CODES = ['PROTOCOL_CONNECTION_LOST', 'SQLITE_CANTOPEN', 'SQLITE_BUSY', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY', 'ER_CON_COUNT_ERROR', 'PROTOCOL_ENQUEUE_AFTER_QUIT', 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR'];

/** Maps any error to a status and a message in the UI language; an unknown error shows no detail. */
function toAppError(err: unknown, logger: Logger, req: Request): AppError {
  if (err instanceof AppError) return err;
  const e = err as { code?: string; type?: string; status?: number; statusCode?: number };
  if (e?.code === 'EBADCSRFTOKEN') return new AppError(403, 'error.csrf');
  if ((err as Error)?.name === 'MulterError') return MULTER_LIMITS.has(String(e.code)) ? new PayloadTooLarge() : new BadRequest();
  // busboy's words for a multipart body it cannot parse (cut boundary, bad part header …)
  if (err instanceof Error && /^(Malformed part header|Unexpected end of (form|file)|Multipart: Boundary not found|Malformed urlencoded form)/.test(err.message)) return new BadRequest();
  if (e?.type === 'entity.too.large' || e?.status === 413) return new PayloadTooLarge();
  if (e?.type?.startsWith('entity.') || e?.type === 'encoding.unsupported' || e?.type === 'parameters.too.many') return new BadRequest();
  // The router's word for a path it cannot decode (`/r/%E0`): the request's fault, and its message holds the raw path.
  if (err instanceof URIError) return new BadRequest();
  if (isDatabaseDown(err)) {
    logger.error({ err: { message: (err as Error).message }, reqId: req.id }, 'database unavailable');
    return new ServiceUnavailable();
  }
  // Name, message and stack only: database errors carry the statement and its values (`sql`, `parameters`).
  const e2 = err as Error;
  logger.error({ err: { type: e2?.name, message: e2?.message, stack: e2?.stack }, reqId: req.id }, 'unhandled error');
  return new AppError(500, 'error.internal');
}

function tokenFor(req: Request): string | undefined {
  try {
    return req.session && req.csrfToken ? req.csrfToken() : undefined;
  } catch {
    return undefined;
  }
}

export function errorHandler(logger: Logger, audit: AuditLog, publicUrl: string): ErrorRequestHandler {
  const security = { audit, logger, publicOrigin: new URL(publicUrl).origin };
  return async (err, req, res, next) => {
    if (res.headersSent) return next(err);
    let appErr = toAppError(err, logger, req);
    await recordSecurityEvent(security, err, appErr, req);
    const csrfRefused = appErr.messageKey === 'error.csrf';
    // A form of a page left open until the session timed out (the language switch, say): the token went
    // with the session, and "sign in again" is what to do, not "reopen the page".
    if (appErr.messageKey === 'error.csrf' && res.locals.sessionExpired) appErr = new Unauthenticated('auth.reason.expired');
    if (appErr instanceof TooManyRequests) res.set('Retry-After', String(appErr.retryAfterSeconds));
    res.set('Cache-Control', 'no-store');
    // Errors raised before the language was chosen (body too large, malformed, the per-address limit)
    // speak this browser's language too, and declare it.
    const lang = req.lang ?? langBeforeSession(req);
    res.locals.lang ??= lang;
    const message = translate(lang, appErr.messageKey, appErr.params);
    if (wantsJson(req)) {
      res.status(appErr.status).json({ error: { code: appErr.messageKey, message } });
      return;
    }
    // A form sent after the session ended (a number typed on a phone left a while): what was typed was not
    // kept, and signing in again comes back to the form's page (not the home page), as the upload script's link does.
    // Not for a public form (a one-time link, a reset or setup link): it needs no sign-in to be opened again, and
    // its address holds the link's token, which would travel into the sign-in's address (?next=) and its session.
    const formPage = appErr.status === 401 && req.method === 'POST' && !res.locals.herePublic ? safeNext(res.locals.here) : null;
    const backToForm = formPage && formPage !== '/' ? formPage : null;
    // A form whose token went with its session (a one-time link's page left open overnight, the session swept,
    // or a signed-in session that expired meanwhile): the way on is that page opened afresh, not the home
    // page — a payee has no account to sign in to.
    const reopen = csrfRefused && req.method === 'POST' && !backToForm ? safeNext(res.locals.here) : null;
    res.status(appErr.status).render('errors/error', {
      title: 'error.title',
      // What happened, in words (the code stays beside it for whoever helps them).
      heading: HEADED_STATUSES.has(appErr.status) ? `error.heading.${appErr.status}` : 'error.title',
      status: appErr.status,
      message,
      showReauth: appErr.messageKey === 'error.reauthRequired',
      // Re-authenticated, the person comes back to the form they were on (a path of this site only).
      reauthHref: appErr instanceof ReauthRequired && appErr.returnTo && safeNext(appErr.returnTo) ? `/reauth?next=${encodeURIComponent(appErr.returnTo)}` : '/reauth',
      showLogin: appErr.status === 401 || appErr instanceof DeadLink,
      loginHref: backToForm ? `/login?next=${encodeURIComponent(backToForm)}` : '/login',
      notSaved: Boolean(backToForm),
      reopenHref: reopen && reopen !== '/' ? reopen : null,
      // An invitation or reset link that no longer works: a new one is one step away.
      showForgot: appErr instanceof DeadLink,
      // The header's sign-out and language forms need a token too (none when the session itself failed).
      csrfToken: tokenFor(req),
    });
  };
}
