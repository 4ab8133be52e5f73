import type { Readable } from 'node:stream';
import type { StorageSettings } from '../server/config';
import { createLocalStorage } from './local';
import { ObjectNotFound, InvalidObjectId, assertObjectId, isObjectId } from './ids';

export { ObjectNotFound, InvalidObjectId, assertObjectId, isObjectId };

export interface StoredObject {
  id: string;
  size: number;
  modifiedAt: Date;
}

/**
 * Where encrypted objects live: files on local disk or an S3-compatible bucket. Object ids are made
 * by the server and must match /^[a-z0-9][a-z0-9-]{7,99}$/; every method rejects anything else with
 * InvalidObjectId before it touches storage.
 */
export interface StorageAdapter {
  readonly kind: 'local' | 's3';
  /** Resolves when the storage can be written to; rejects otherwise. */
  check(): Promise<void>;
  /**
   * Streams `body` into object `id`. Resolves only once the whole object is durably stored; on any
   * error (including the body stream erroring) nothing remains under `id` and no temp is left
   * behind. (Ids are unique, so overwriting is not a use case; writing an id twice never mixes the
   * two: the last complete write wins, and a failed write leaves an earlier complete one as it was.)
   */
  write(id: string, body: NodeJS.ReadableStream | Readable): Promise<{ size: number }>;
  /** A stream of the object; rejects with ObjectNotFound when absent. */
  read(id: string): Promise<Readable>;
  /** Idempotent: deleting an absent object succeeds. */
  delete(id: string): Promise<void>;
  stat(id: string): Promise<StoredObject | null>;
  /** Every complete object (whose id starts with `prefix`, when given), for sweepers, in no particular order. */
  list(prefix?: string): AsyncIterable<StoredObject>;
  /** Removes leftovers of writes that never finished (temp files / incomplete multipart uploads) older than `olderThanMs`; returns how many. */
  sweepIncomplete(olderThanMs: number): Promise<number>;
}

/** Picks the adapter the settings ask for (STORAGE=local|s3). */
export function createStorage(config: { storageDir: string; storage?: StorageSettings }): StorageAdapter {
  const settings = config.storage ?? { kind: 'local' };
  switch (settings.kind) {
    case 'local':
      return createLocalStorage(config.storageDir);
    case 's3':
      return lazily('s3', () => import('./s3').then((m) => m.createS3Storage(settings)));
  }
}

/**
 * An adapter whose module is loaded on first use: the AWS SDK holds ~30 MiB that a portal on
 * local disk never needs, and createStorage stays synchronous for its callers.
 */
function lazily(kind: StorageAdapter['kind'], load: () => Promise<StorageAdapter>): StorageAdapter {
  let loading: Promise<StorageAdapter> | null = null;
  const real = () => (loading ??= load().catch((err: unknown) => { loading = null; throw err; }));
  return {
    kind,
    check: async () => (await real()).check(),
    write: async (id, body) => (await real()).write(id, body),
    read: async (id) => (await real()).read(id),
    delete: async (id) => (await real()).delete(id),
    stat: async (id) => (await real()).stat(id),
    async *list(prefix) { yield* (await real()).list(prefix); },
    sweepIncomplete: async (olderThanMs) => (await real()).sweepIncomplete(olderThanMs),
  };
}
