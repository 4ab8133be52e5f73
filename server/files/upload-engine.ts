import { randomUUID } from 'node:crypto';
import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import type { StorageAdapter } from '../../storage-adapters';
import type { ClientKeys } from '../clients/client-keys';
import { newDataKey } from '../crypto/key-ring';
import { createEncryptStream } from '../crypto/segment-cipher';
import { PayloadTooLarge } from '../errors';
import { cleanDisplayName } from './names';
import { TypeSniffer } from './type-sniffer';
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
 * A multer storage engine that streams each file through a type check and the segmented
 * encryption straight into the storage adapter: no plaintext ever touches disk or sits whole in
 * memory. `target(req)` decides (once per request, before the first file is read) where the
 * sending goes; if it throws, no file is stored.
 */
export function encryptingStorage(d: {
  storage: StorageAdapter;
  clientKeys: ClientKeys;
  target: (req: Request) => Promise<UploadTarget>;
}): StorageEngine {
  return {
    _handleFile(req, file, cb) {
      const run = async (): Promise<EncryptedUpload> => {
        const target = await d.target(req as Request);
        const fileId = randomUUID();
        const objectId = objectIdFor(fileId);
        const owner = target.clientId ?? FIRM_KEY_OWNER;
        const { version, key: fileKey } = await d.clientKeys.currentFileKey(target.clientId);
        const { key: dataKey, wrapped } = newDataKey(fileKey, { clientId: owner, keyVersion: version, kind: 'file', id: fileId });
        const displayName = cleanDisplayName(file.originalname);
        const sniffer = new TypeSniffer(displayName);
        const encrypt = createEncryptStream({ dataKey, keyVersion: version, wrappedKey: wrapped, clientId: owner, fileId });
        // Over the size limit busboy truncates the stream quietly: stop at once instead of storing a cut file.
        file.stream.once('limit', () => encrypt.destroy(new PayloadTooLarge()));
        // Plain pipes (stream.pipeline would drain the last stream itself); any error ends in `encrypt`,
        // whose failure makes storage.write reject and leave nothing behind.
        file.stream.on('error', (err) => encrypt.destroy(err));
        sniffer.on('error', (err) => encrypt.destroy(err));
        // The storage adapter may still be opening its file when an error arrives: it reads the error
        // from the destroyed stream then, and this listener keeps it from being an uncaught exception.
        encrypt.on('error', () => {});
        file.stream.pipe(sniffer).pipe(encrypt);
        await d.storage.write(objectId, encrypt);
        const result = await encrypt.done;
        return {
          fileId, objectId, displayName, contentType: sniffer.mime ?? 'application/octet-stream',
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
