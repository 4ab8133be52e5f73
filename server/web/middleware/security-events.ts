import type { Request } from 'express';
import type { Logger } from 'pino';
import type { AuditLog } from '../../audit';
import { AppError, UnsupportedFileType } from '../../errors';
import { actorOf, refusalRecordedFor } from '../context';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Refusals that are the person's next step, not an attempt at anything: a row each would only bury the rest. */
const ROUTINE = new Set(['auth.totpEnrolmentRequired']);

/**
 * The log's name for a refusal that is a security event, or null: forbidden (role, assignment), no
 * live re-authentication, a form posted from another site, an id that is not there for this person
 * (another client's file looks exactly like a missing one), an upload over the limit, a file whose
 * bytes contradict its type, a body that cannot be parsed.
 */
export function securityEventOf(raw: unknown, err: AppError, req: Request, publicOrigin: string): string | null {
  if (ROUTINE.has(err.messageKey)) return null;
  // A page of this site posting an old token is a tab left open across a new sign-in; a forged
  // form comes from another site, and the browser says so (Origin, or Referer without it).
  if (err.messageKey === 'error.csrf') return fromThisSite(req, publicOrigin) ? null : 'security.csrf';
  if (err.messageKey === 'error.reauthRequired') return 'security.reauth';
  if (err.status === 403) return 'security.forbidden';
  // Only for a route that was found: an address nobody has is a typing error, an id that is not theirs a probe.
  if (err.status === 404 && req.route) return 'security.notFound';
  if (err.status === 413) return 'security.tooLarge';
  // A type the portal does not take (.xlsm) is the person's choice; bytes that contradict their name are not.
  if (err instanceof UnsupportedFileType) return err.mismatch ? 'security.fileType' : null;
  // A 400 the portal raised is a form's answer; one mapped from a parser (multipart, JSON, form) is a malformed request.
  if (err.status === 400 && !(raw instanceof AppError)) return 'security.malformed';
  return null;
}

function fromThisSite(req: Request, publicOrigin: string): boolean {
  const origin = req.get('origin');
  if (origin) return origin === publicOrigin;
  const referer = req.get('referer');
  return Boolean(referer && (referer === publicOrigin || referer.startsWith(`${publicOrigin}/`)));
}

/**
 * Records the refusal in the audit log unless the request's own code has recorded it already.
 * Signed-in people only: the log names who was refused, and a stranger's requests cannot fill it
 * (theirs go to the server log). The refusal stands whether or not the row could be written.
 */
export async function recordSecurityEvent(d: { audit: AuditLog; logger: Logger; publicOrigin: string }, raw: unknown, err: AppError, req: Request): Promise<void> {
  const { audit, logger } = d;
  const user = req.user;
  if (!user || refusalRecordedFor(req)) return;
  const operation = securityEventOf(raw, err, req, d.publicOrigin);
  if (!operation) return;
  // The route's pattern, never the address itself (which may carry a token); the id asked for, when it is one.
  const route = (req.route?.path as string | undefined) ?? '(no route)';
  // (The route's params are gone by the time the error handler runs: the id is read from the path, whose ids are UUIDs.)
  const asked = req.path.split('/').find((segment) => UUID.test(segment)) ?? null;
  // A firm member refused at a client's pages (its id in the path, the query or the form): filed under
  // that client, whose log and access report list any denial about its data; a client's own people under their client.
  const named = /^\/firm\/clients\/([0-9a-f-]{36})(?:\/|$)/i.exec(req.path)?.[1] ?? req.query?.client ?? (req.body as { clientId?: unknown } | undefined)?.clientId;
  const clientNamed = typeof named === 'string' && UUID.test(named) ? named.toLowerCase() : null;
  try {
    await audit.recordAlone(actorOf(req), {
      operation, result: 'denied', clientId: user.clientId ?? clientNamed, targetId: asked,
      detail: `${req.method} ${route}: ${err.status} ${err.messageKey}`,
    });
  } catch (e) {
    logger.error({ err: { message: (e as Error).message }, operation, reqId: req.id }, 'security event not recorded');
  }
}
