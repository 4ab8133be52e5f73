import { createHmac } from 'node:crypto';
import { aad, open, seal } from './aead';

/**
 * A My Number at rest: sealed under the client's own number key, bound through the associated data
 * to the client, the person and the key version, so a ciphertext copied to another row does not
 * open. Duplicates are found through a keyed blind index (HMAC under the client's index key): a plain
 * hash of 12 digits would be reversed by brute force in seconds.
 */
export interface NumberOwner {
  clientId: string;
  personKind: 'employee' | 'dependant' | 'payee';
  personId: string;
  keyVersion: number;
}

const ownerAad = (o: NumberOwner) => aad('my-number', 'v1', o.clientId, o.personKind, o.personId, o.keyVersion);

export function sealNumber(numberKey: Buffer, owner: NumberOwner, number: string): string {
  return seal(numberKey, Buffer.from(number, 'ascii'), ownerAad(owner)).toString('base64');
}

export function openNumber(numberKey: Buffer, owner: NumberOwner, sealed: string): string {
  return open(numberKey, Buffer.from(sealed, 'base64'), ownerAad(owner)).toString('ascii');
}

export function blindIndex(indexKey: Buffer, number: string): string {
  return createHmac('sha256', indexKey).update(`akatsuki/my-number-index/v1/${number}`).digest('hex');
}
