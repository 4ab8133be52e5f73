import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../crypto/tokens';

const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** Ten codes of 10 characters from an unambiguous alphabet (about 49 bits each). */
export function newRecoveryCodes(count = 10): string[] {
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(10);
    const chars = Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

export function normaliseRecoveryCode(input: string): string {
  return input.trim().toLowerCase().replace(/[\s-]/g, '').replace(/^(.{5})(.{5})$/, '$1-$2');
}

export function hashRecoveryCode(code: string): string {
  return sha256Hex(`recovery:${normaliseRecoveryCode(code)}`);
}
