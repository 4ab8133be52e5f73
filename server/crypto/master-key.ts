import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { KEY_BYTES } from './aead';
import { KeyRing } from './key-ring';

/**
 * The master key file holds 32 random bytes, as 64 hex digits (a trailing newline is allowed).
 * Whether the key is right is decided against the key-check value in the database (keys.ts).
 */
export type MasterKeyRead =
  | { kind: 'ok'; keyRing: KeyRing; generated: boolean }
  | { kind: 'missing' }
  | { kind: 'unreadable'; reason: string };

export function readMasterKey(file: string, mayGenerate: boolean): MasterKeyRead {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      return { kind: 'unreadable', reason: (err as NodeJS.ErrnoException).code ?? 'read error' };
    }
    if (!mayGenerate) return { kind: 'missing' };
    const key = randomBytes(KEY_BYTES);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // 'wx' never overwrites a key another process wrote in the meantime.
    fs.writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    return { kind: 'ok', keyRing: new KeyRing(key), generated: true };
  }
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return { kind: 'unreadable', reason: 'not 64 hex digits' };
  return { kind: 'ok', keyRing: new KeyRing(Buffer.from(hex, 'hex')), generated: false };
}
