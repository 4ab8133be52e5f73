import type { Role } from '../db/models';

/** Called when a refusal or an error is recorded for this actor (a symbol: kept by `{ ...ctx }`, never serialised). */
export const ON_REFUSAL_RECORDED = Symbol('audit.onRefusalRecorded');

/** Who is acting, from where and through what: built once per request (or job, or CLI run). */
export interface ActorContext {
  [ON_REFUSAL_RECORDED]?: () => void;
  actorId: string | null;
  actorName: string | null;
  actorRole: Role | 'system' | 'api' | null;
  ip: string | null;
  userAgent: string | null;
  /** the screen or API that carried the action, e.g. 'web:/login' or 'cli:audit:verify' */
  channel: string;
}

export function systemContext(channel: string): ActorContext {
  return { actorId: null, actorName: 'system', actorRole: 'system', ip: null, userAgent: null, channel };
}
