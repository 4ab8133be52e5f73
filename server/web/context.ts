import type { Request } from 'express';
import type { ActorContext } from '../audit';

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
  };
}
