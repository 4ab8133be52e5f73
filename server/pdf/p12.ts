import { readFile } from 'node:fs/promises';
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import type { SigningKey } from './cms-signer';

/**
 * The firm's own certificate and key from a PKCS#12 (.p12 / .pfx) file. node-forge decrypts the
 * file (node:crypto cannot), but its certificate objects re-encode names wrongly when they are in
 * Japanese and cannot hold ECDSA keys at all. While the file is parsed, forge is therefore made to
 * hand back every certificate and key as the raw ASN.1 it read — its documented fallback for
 * types it does not know — and node:crypto takes it from there.
 */

export class Pkcs12Error extends Error {}

type Bag = { cert?: unknown; key?: unknown; asn1?: forge.asn1.Asn1 };

function rawBags(der: Buffer, password: string): { certs: Buffer[]; keys: Buffer[] } {
  const pki = forge.pki as unknown as Record<'certificateFromAsn1' | 'privateKeyFromAsn1', unknown>;
  const saved = { cert: pki.certificateFromAsn1, key: pki.privateKeyFromAsn1 };
  const refuse = () => { throw new Error('raw ASN.1 wanted'); };
  let p12: forge.pkcs12.Pkcs12Pfx;
  // Synchronous from here to the finally: nothing else can run while forge is patched.
  pki.certificateFromAsn1 = refuse;
  pki.privateKeyFromAsn1 = refuse;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(der.toString('binary')), true, password);
  } finally {
    pki.certificateFromAsn1 = saved.cert;
    pki.privateKeyFromAsn1 = saved.key;
  }
  const toDer = (node: forge.asn1.Asn1) => Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');
  const certs: Buffer[] = [];
  const keys: Buffer[] = [];
  for (const contents of p12.safeContents) {
    for (const bag of contents.safeBags as Bag[]) {
      if (!bag.asn1) continue;
      if (bag.cert === null) certs.push(toDer(bag.asn1));
      else if (bag.key === null) keys.push(toDer(bag.asn1));
    }
  }
  return { certs, keys };
}

const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });

/** The key in the file, its certificate, and the other certificates as the chain. */
export function parsePkcs12(der: Buffer, password: string): SigningKey {
  let bags: { certs: Buffer[]; keys: Buffer[] };
  try {
    bags = rawBags(der, password);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Pkcs12Error(/password|MAC|decrypt/i.test(why) ? 'wrong password (PDF_SIGNING_P12_PASSWORD) or damaged file' : `not a readable PKCS#12 file: ${why}`);
  }
  if (bags.keys.length !== 1) throw new Pkcs12Error(`expected one private key in the file, found ${bags.keys.length}`);
  const privateKey = createPrivateKey({ key: bags.keys[0]!, format: 'der', type: 'pkcs8' });
  const publicKey = spki(createPublicKey(privateKey));
  const certificate = bags.certs.find((c) => spki(new X509Certificate(c).publicKey).equals(publicKey));
  if (!certificate) throw new Pkcs12Error('no certificate in the file matches its private key');
  return { privateKey, certificate, chain: bags.certs.filter((c) => c !== certificate) };
}

export async function loadPkcs12(file: string, password: string): Promise<SigningKey> {
  let der: Buffer;
  try {
    der = await readFile(file);
  } catch (err) {
    throw new Pkcs12Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parsePkcs12(der, password);
}
