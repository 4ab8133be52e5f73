import type { Logger } from 'pino';
import type { AuditEntry, AuditLog, ActorContext } from '../audit';
import { ObjectNotFound } from '../../storage-adapters';
import { NotFound, StorageUnavailable } from '../errors';

/**
 * Reads a stored object whose 'allowed' row is already in the log. When nothing could be read (the
 * storage down, the object missing or damaged), an 'error' row follows the allowed one, operators are
 * told, and the reader gets 503: the log then says the access failed, not only that it was allowed.
 */
export async function readOrLogFailure<T>(d: { audit: AuditLog; logger: Logger }, ctx: ActorContext, entry: Omit<AuditEntry, 'result' | 'detail'>, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    await logUnreadable(d, ctx, entry, err);
    throw new StorageUnavailable();
  }
}

/** The 'error' row (and, for a fault, the operators' line) for an object that could not be read. */
export async function logUnreadable(d: { audit: AuditLog; logger: Logger }, ctx: ActorContext, entry: Omit<AuditEntry, 'result' | 'detail'>, err: unknown): Promise<void> {
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  // NotFound: the row itself went meanwhile (deleted, disposed of) — no fault for operators, but the log still says nothing was read.
  const gone = err instanceof NotFound;
  const reason = gone ? 'deleted meanwhile' : err instanceof ObjectNotFound ? 'object missing' : `storage: ${String(typeof e?.code === 'string' ? e.code : e?.name ?? 'error')}`.slice(0, 100);
  if (!gone) d.logger.error({ targetKind: entry.targetKind, targetId: entry.targetId, reason, err: { message: typeof e?.message === 'string' ? e.message : String(err) } }, 'stored object could not be read');
  await d.audit.recordAlone(ctx, { ...entry, result: 'error', detail: `not read: ${reason}` })
    .catch((logErr: unknown) => d.logger.error({ targetId: entry.targetId, err: { message: (logErr as Error).message } }, 'the failed read could not be logged'));
}
