import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { StorageAdapter } from '../../storage-adapters';
import type { ClientKeys } from '../clients/client-keys';
import { newDataKey, unwrapDataKey } from '../crypto/key-ring';
import { createDecryptStream, createEncryptStream, CorruptObject } from '../crypto/segment-cipher';
import { FIRM_KEY_OWNER, objectIdFor } from './upload-engine';

/** Where a sealed object lives and how to open it; the wrapped key is the database's to keep. */
export interface SealedObject {
  objectId: string;
  keyVersion: number;
  wrappedKey: string;
  sha256: string;
  size: number;
}

/** The sealed object a stored file's or a report's row names (call only on a row that holds one). */
export function sealedOf(row: { objectId: string | null; keyVersion: number | null; wrappedKey: string | null; sha256: string | null; size: number | null }): SealedObject {
  return { objectId: row.objectId!, keyVersion: row.keyVersion!, wrappedKey: row.wrappedKey!, sha256: row.sha256!, size: row.size! };
}

/**
 * Stores bytes the portal made itself (a report or certificate PDF) the way uploads are stored: a
 * data key of its own, wrapped under the file key of `owner` (a client's id, or null for the firm's
 * own key) and bound to `kind` and `id`, AES-256-GCM segments.
 */
export async function storeSealed(d: { storage: StorageAdapter; clientKeys: ClientKeys }, owner: string | null, kind: string, id: string, bytes: Uint8Array): Promise<SealedObject> {
  return sealStream(d, owner, kind, id, Readable.from([Buffer.from(bytes)]));
}

/**
 * Stores a stream as a sealed object under the owner's current file key. `kind` is 'file' for an
 * upload's object (the key rotation re-seals those with it). A source that fails leaves nothing.
 */
export async function sealStream(d: { storage: StorageAdapter; clientKeys: ClientKeys }, owner: string | null, kind: string, id: string, source: Readable): Promise<SealedObject> {
  const { version, key: fileKey } = await d.clientKeys.currentFileKey(owner);
  const clientId = owner ?? FIRM_KEY_OWNER;
  const { key: dataKey, wrapped } = newDataKey(fileKey, { clientId, keyVersion: version, kind, id });
  const encrypt = createEncryptStream({ dataKey, keyVersion: version, wrappedKey: wrapped, clientId, fileId: id });
  encrypt.on('error', () => {}); // reported by the storage write, which reads the destroyed stream
  // An object of its own for each writing: a report rebuilt by an instance that took over a stale
  // claim must not overwrite (or, losing the race, delete) the object the other one stored.
  const objectId = objectIdFor(randomUUID());
  const written = d.storage.write(objectId, encrypt);
  source.on('error', (err) => encrypt.destroy(err));
  source.pipe(encrypt);
  await written;
  const result = await encrypt.done;
  return { objectId, keyVersion: version, wrappedKey: wrapped.toString('base64'), sha256: result.sha256, size: result.plaintextBytes };
}

/** The plaintext of a sealed object, verified segment by segment and against its SHA-256. */
export async function openSealed(d: { storage: StorageAdapter; clientKeys: ClientKeys }, owner: string | null, kind: string, id: string, o: SealedObject): Promise<Readable> {
  const fileKey = await d.clientKeys.fileKeyVersion(owner, o.keyVersion);
  const clientId = owner ?? FIRM_KEY_OWNER;
  const stored = Buffer.from(o.wrappedKey, 'base64');
  const decrypt = createDecryptStream({
    clientId, fileId: id, expectedSha256: o.sha256,
    unwrapKey: (header) => {
      if (!header.wrappedKey.equals(stored)) throw new CorruptObject('data-key');
      return unwrapDataKey(fileKey, { clientId, keyVersion: o.keyVersion, kind, id }, stored);
    },
  });
  const source = await d.storage.read(o.objectId);
  source.on('error', (err) => decrypt.destroy(err));
  return source.pipe(decrypt);
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}
