import { randomUUID } from 'node:crypto';
import { finished, type Readable } from 'node:stream';
import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import type { StorageAdapter } from '../../storage-adapters';
import type { ClientKeys } from '../clients/client-keys';
import { newDataKey } from '../crypto/key-ring';
import { createEncryptStream, releaseChunk, type EncryptStream } from '../crypto/segment-cipher';
import { PayloadTooLarge } from '../errors';
import { cleanDisplayName } from './names';
import { sniffType } from './type-sniffer';
import type { UploadTarget } from './upload-target';

/** What the engine hands multer for each stored file (merged into req.files[i]). */
export interface EncryptedUpload {
  fileId: string;
  objectId: string;
  displayName: string;
  contentType: string;
  size: number;
  sha256: string;
  keyVersion: number;
  wrappedKey: string;
}

export const FIRM_KEY_OWNER = 'firm';

/** The id a file's object is stored under: made by the server, never from the file's name. */
export function objectIdFor(fileId: string): string {
  return `f${fileId.replace(/-/g, '')}`;
}

/**
 * Feeds the file's chunks (after `head`, already read) into `encrypt` with back-pressure, and ends it.
 * Resolves once the file ended and everything was written to `encrypt`; if the file fails (client
 * gone, malformed body, over the size limit) it destroys `encrypt` with that error, which makes the
 * storage write reject, and rejects. If `encrypt` fails on its own (storage failed) it resolves: the
 * storage write reports that error.
 *
 * Each chunk is released (its memory freed at once) when the encryptor is done with it and
 * `mayRelease()` holds. Without that, a 1 GiB upload leaves 1 GiB of dead 64 KiB buffers to the
 * garbage collector, which in this process means a full mark-compact every ~64 MB of them.
 */
function feed(src: Readable, encrypt: EncryptStream, head: Buffer[], ended: boolean, limit: { reached: boolean; onReached?: () => void }, mayRelease: () => boolean, take: (bytes: number) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let stopSource = () => {};
    let stopEncrypt = () => {};
    const write = (chunk: Buffer) => encrypt.write(chunk, (err) => { if (!err && mayRelease()) releaseChunk(chunk); });
    const onData = (chunk: Buffer) => {
      if (!take(chunk.length)) return settle(new PayloadTooLarge());
      if (!write(chunk)) src.pause();
    };
    const onDrain = () => src.resume();
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      src.off('data', onData);
      encrypt.off('drain', onDrain);
      stopSource();
      stopEncrypt();
      limit.onReached = undefined;
      if (!err) return resolve();
      encrypt.destroy(err);
      reject(err);
    };
    const sourceEnded = (err?: Error | null) => {
      if (settled) return;
      if (!err && limit.reached) err = new PayloadTooLarge();
      if (err) return settle(err);
      encrypt.end();
      settle();
    };
    limit.onReached = () => settle(new PayloadTooLarge());
    for (const chunk of head) {
      if (!take(chunk.length)) return settle(new PayloadTooLarge());
      write(chunk);
    }
    if (ended) return sourceEnded();
    stopSource = finished(src, sourceEnded);
    // The encryptor failing first (storage.write destroyed it): stop reading; storage.write reports why.
    stopEncrypt = finished(encrypt, { readable: false }, (err) => { if (err) settle(); });
    encrypt.on('drain', onDrain);
    src.on('data', onData);
    src.resume();
  });
}

/**
 * A multer storage engine that checks each file's type on its first bytes, then streams it through
 * the segmented encryption straight into the storage adapter: no plaintext ever touches disk or sits
 * whole in memory, and nothing of a refused file is encrypted or stored. `target(req)` decides (once
 * per request, before the first file is read) where the sending goes; if it throws, no file is stored.
 */
export function encryptingStorage(d: {
  storage: StorageAdapter;
  clientKeys: ClientKeys;
  target: (req: Request) => Promise<UploadTarget>;
  /**
   * The most file bytes one request may bring, all its files together. A Content-Length over it is
   * refused before reading; this also stops a body sent without one (chunked) once it passes.
   */
  maxRequestBytes?: number;
}): StorageEngine {
  const received = new WeakMap<object, number>();
  /** Counts `bytes` more of this request's files; false once they pass the request's limit. */
  const taker = (req: object) => (bytes: number): boolean => {
    const total = (received.get(req) ?? 0) + bytes;
    received.set(req, total);
    return d.maxRequestBytes === undefined || total <= d.maxRequestBytes;
  };
  return {
    _handleFile(req, file, cb) {
      // Over the size limit busboy truncates the stream quietly: fail at once instead of storing a cut file.
      const limit: { reached: boolean; onReached?: () => void } = { reached: false };
      file.stream.once('limit', () => { limit.reached = true; limit.onReached?.(); });
      /*
       * The file's chunks may be released once encrypted when nobody else can hold them: busboy
       * hands on views of the buffers node's HTTP parser copied the body into, one per read, and
       * keeps none; our listener must be the only one on the file stream, and multer's pipe into
       * busboy the only 'data' listener on the request (another one, say a body logger, would have
       * seen the same buffers). releaseChunk() itself only frees a chunk spanning a whole buffer.
       */
      const mayRelease = () => file.stream.listenerCount('data') <= 1 && req.listenerCount('data') <= 1;
      const run = async (): Promise<EncryptedUpload> => {
        const target = await d.target(req as Request);
        const fileId = randomUUID();
        const objectId = objectIdFor(fileId);
        const owner = target.clientId ?? FIRM_KEY_OWNER;
        const { version, key: fileKey } = await d.clientKeys.currentFileKey(target.clientId);
        const displayName = cleanDisplayName(file.originalname);
        const sniffed = await sniffType(file.stream, displayName);
        if (limit.reached) throw new PayloadTooLarge();
        const { key: dataKey, wrapped } = newDataKey(fileKey, { clientId: owner, keyVersion: version, kind: 'file', id: fileId });
        const encrypt = createEncryptStream({ dataKey, keyVersion: version, wrappedKey: wrapped, clientId: owner, fileId });
        // The storage adapter may still be opening its file when an error arrives: it reads the error
        // from the destroyed stream then, and this listener keeps it from being an uncaught exception.
        encrypt.on('error', () => {});
        // Any failure ends in `encrypt`, whose failure makes storage.write reject and leave nothing
        // behind. Both are waited for, so nothing is left when multer answers (it waits for us).
        const [stored, fed] = await Promise.allSettled([
          // A storage that fails before reading it all (cannot open its file…) stops the feeding too.
          d.storage.write(objectId, encrypt).catch((err: unknown) => { encrypt.destroy(err as Error); throw err; }),
          feed(file.stream, encrypt, sniffed.head, sniffed.ended, limit, mayRelease, taker(req)),
        ]);
        if (fed.status === 'rejected') throw fed.reason; // the file's own failure (over the limit, client gone)
        if (stored.status === 'rejected') throw stored.reason;
        const result = await encrypt.done;
        return {
          fileId, objectId, displayName, contentType: sniffed.mime,
          size: result.plaintextBytes, sha256: result.sha256, keyVersion: version, wrappedKey: wrapped.toString('base64'),
        };
      };
      run().then((info) => cb(null, info as never), (err: unknown) => {
        file.stream.resume();
        cb(err as Error);
      });
    },

    _removeFile(_req, file, cb) {
      const objectId = (file as unknown as Partial<EncryptedUpload>).objectId;
      if (!objectId) return cb(null);
      d.storage.delete(objectId).then(() => cb(null), cb);
    },
  };
}
