import { hkdfSync, randomBytes } from 'node:crypto';
import { aad, KEY_BYTES, open, seal, DecryptionFailed } from './aead';

/**
 * The key hierarchy: master key → per-client keys (versioned, stored wrapped under the master key)
 * → per-object data keys (stored wrapped under a client key). Every wrap binds the wrapped key to
 * its owner through the associated data, so a wrapped key copied to another row does not open.
 */
export type ClientKeyPurpose = 'files' | 'numbers' | 'index';

export interface DataKeyOwner {
  clientId: string;
  keyVersion: number;
  kind: string;
  id: string;
}

const KCV_PLAINTEXT = Buffer.alloc(32, 0);
const KCV_AAD = aad('akatsuki', 'key-check', 'v1');

export class KeyRing {
  private readonly master: Buffer;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== KEY_BYTES) throw new Error('the master key must be 32 bytes');
    this.master = Buffer.from(masterKey);
  }

  /** A value stored in the database at first run; a different master key cannot open it. */
  makeKeyCheckValue(): string {
    return seal(this.master, KCV_PLAINTEXT, KCV_AAD).toString('base64');
  }

  matchesKeyCheckValue(kcv: string): boolean {
    try {
      return open(this.master, Buffer.from(kcv, 'base64'), KCV_AAD).equals(KCV_PLAINTEXT);
    } catch (err) {
      if (err instanceof DecryptionFailed) return false;
      throw err;
    }
  }

  /** A subkey for one purpose (session cookies, TOTP secrets …), so the master key itself is used only to wrap. */
  derive(label: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.master, Buffer.alloc(0), `akatsuki/${label}`, KEY_BYTES));
  }

  newClientKey(clientId: string, purpose: ClientKeyPurpose, version: number): { key: Buffer; wrapped: string } {
    const key = randomBytes(KEY_BYTES);
    return { key, wrapped: this.wrapClientKey(clientId, purpose, version, key) };
  }

  wrapClientKey(clientId: string, purpose: ClientKeyPurpose, version: number, key: Buffer): string {
    return seal(this.master, key, aad('client-key', clientId, purpose, version)).toString('base64');
  }

  unwrapClientKey(clientId: string, purpose: ClientKeyPurpose, version: number, wrapped: string): Buffer {
    return open(this.master, Buffer.from(wrapped, 'base64'), aad('client-key', clientId, purpose, version));
  }

  /** Seals a small secret (e.g. a TOTP seed) under a derived key, bound to its owner. */
  sealSecret(label: string, ownerId: string, secret: Buffer): string {
    return seal(this.derive(`secret/${label}`), secret, aad('secret', label, ownerId)).toString('base64');
  }

  openSecret(label: string, ownerId: string, sealed: string): Buffer {
    return open(this.derive(`secret/${label}`), Buffer.from(sealed, 'base64'), aad('secret', label, ownerId));
  }
}

export function newDataKey(clientKey: Buffer, owner: DataKeyOwner): { key: Buffer; wrapped: Buffer } {
  const key = randomBytes(KEY_BYTES);
  return { key, wrapped: wrapDataKey(clientKey, owner, key) };
}

export function wrapDataKey(clientKey: Buffer, owner: DataKeyOwner, dataKey: Buffer): Buffer {
  return seal(clientKey, dataKey, ownerAad(owner));
}

export function unwrapDataKey(clientKey: Buffer, owner: DataKeyOwner, wrapped: Buffer): Buffer {
  return open(clientKey, wrapped, ownerAad(owner));
}

function ownerAad(o: DataKeyOwner): Buffer {
  return aad('data-key', o.clientId, o.keyVersion, o.kind, o.id);
}
