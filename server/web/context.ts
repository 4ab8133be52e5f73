import type { Request } from 'express';
import { ON_REFUSAL_RECORDED, type ActorContext } from '../audit';

/** Requests for which a refusal (or an error) is in the log already: the error handler adds no second row. */
const refusalRecorded = new WeakSet<Request>();

export const refusalRecordedFor = (req: Request): boolean => refusalRecorded.has(req);

/** The actor of a request: who, from which address and browser, through which screen. */
export function actorOf(req: Request): ActorContext {
  const user = req.user;
  return {
    actorId: user?.id ?? null,
    actorName: user?.name ?? null,
    actorRole: user?.role ?? null,
    ip: req.ip ?? null,
    userAgent: req.get('user-agent')?.slice(0, 255) ?? null,
    channel: `web:${(req.route?.path as string | undefined) ?? req.path}`,
    [ON_REFUSAL_RECORDED]: () => { refusalRecorded.add(req); },
  };
}
