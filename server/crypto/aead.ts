import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for small values (wrapped keys, TOTP secrets, the key-check value).
 * Sealed form: 0x01 | nonce (12) | ciphertext | tag (16). Random 96-bit nonces are safe here
 * because no single key seals anywhere near 2^32 values.
 */
const FORMAT_V1 = 0x01;
export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class DecryptionFailed extends Error {
  constructor() { super('decryption failed: wrong key, wrong owner or corrupted data'); }
}

/** Associated data built from labelled parts, so a value sealed for one owner opens for no other. */
export function aad(...parts: (string | number)[]): Buffer {
  return Buffer.from(JSON.stringify(parts.map(String)), 'utf8');
}

export function gcmEncrypt(key: Buffer, nonce: Buffer, plaintext: Buffer, associated: Buffer): { ciphertext: Buffer; tag: Buffer } {
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(associated);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

export function gcmDecrypt(key: Buffer, nonce: Buffer, ciphertext: Buffer, tag: Buffer, associated: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(associated);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new DecryptionFailed();
  }
}

export function seal(key: Buffer, plaintext: Buffer, associated: Buffer): Buffer {
  assertKey(key);
  const nonce = randomBytes(NONCE_BYTES);
  const { ciphertext, tag } = gcmEncrypt(key, nonce, plaintext, associated);
  return Buffer.concat([Buffer.from([FORMAT_V1]), nonce, ciphertext, tag]);
}

export function open(key: Buffer, sealed: Buffer, associated: Buffer): Buffer {
  assertKey(key);
  if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== FORMAT_V1) throw new DecryptionFailed();
  const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const ciphertext = sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES);
  return gcmDecrypt(key, nonce, ciphertext, tag, associated);
}

function assertKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new Error('AES-256 key must be 32 bytes');
}
