import { createPrivateKey, createPublicKey, generateKeyPair, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import { UniqueConstraintError } from 'sequelize';
import type { Config } from '../config';
import type { Keys } from '../crypto/keys';
import { SigningIdentity } from '../db/models';
import { selfSignedCertificate, certificateFields, fromPem, toPem } from './certificate';
import type { SigningKey } from './cms-signer';
import { loadPkcs12, Pkcs12Error } from './p12';
import type { SignatureMeta } from './sign-pdf';

/**
 * Where the firm's signing key comes from: its own PKCS#12 file when PDF_SIGNING_P12 is set, or
 * else a self-signed certificate in the firm's name, made at first use and kept in
 * signing_identities with the private key sealed under the master key — one row that every
 * instance on the database signs with.
 */

export interface PdfSignerDeps {
  keys: Keys;
  config: Pick<Config, 'pdfSigning'>;
  /** the firm's name (the `firm` row), put in a certificate made at first use */
  firmName(): Promise<string>;
}

export type IdentitySource = 'generated' | 'p12';

export interface SignerIdentity {
  source: IdentitySource;
  commonName: string;
  certificatePem: string;
  fingerprint256: string;
  validTo: Date;
}

interface Loaded { source: IdentitySource; key: SigningKey }

// One identity per database: a fixed id turns "who makes it" into a unique-key race with one winner.
const IDENTITY_ID = 1;
const SEAL_LABEL = 'pdf-signing';
const VALID_YEARS = 10;
// RFC 5280's upper bound for a common name.
const MAX_CN = 64;

const generateKeyPairAsync = promisify(generateKeyPair);

function ensureKeyMatches(key: SigningKey, where: string): void {
  const spki = (k: Parameters<typeof createPublicKey>[0]) => createPublicKey(k).export({ type: 'spki', format: 'der' });
  if (!spki(key.privateKey).equals(new X509Certificate(key.certificate).publicKey.export({ type: 'spki', format: 'der' }))) {
    throw new Error(`${where}: the private key does not belong to the certificate`);
  }
}

export class PdfSigner {
  private loading: Promise<Loaded> | null;

  private constructor(private readonly d: PdfSignerDeps, loaded: Loaded | null) {
    this.loading = loaded ? Promise.resolve(loaded) : null;
  }

  /**
   * Reads the PKCS#12 file now, if one is configured, so a wrong path or password stops start-up
   * with a clear message. A generated identity is loaded (or made) at the first signature: the
   * portal may start sealed, or before the firm has a name.
   */
  static async create(deps: PdfSignerDeps): Promise<PdfSigner> {
    const { p12File, p12Password } = deps.config.pdfSigning;
    if (!p12File) return new PdfSigner(deps, null);
    let key: SigningKey;
    try {
      key = await loadPkcs12(p12File, p12Password);
    } catch (err) {
      if (err instanceof Pkcs12Error) throw new Pkcs12Error(`PDF_SIGNING_P12 (${p12File}): ${err.message}`);
      throw err;
    }
    const validTo = new Date(new X509Certificate(key.certificate).validTo);
    if (validTo < new Date()) throw new Pkcs12Error(`PDF_SIGNING_P12 (${p12File}): the certificate expired on ${validTo.toISOString()}`);
    return new PdfSigner(deps, { source: 'p12', key });
  }

  /** Signs a finished PDF with the firm's identity (see signPdf). */
  async sign(pdfBytes: Uint8Array, meta: SignatureMeta): Promise<Uint8Array> {
    const { key } = await this.load();
    // pdf-lib and @signpdf load with the first signature, not in every process at start (sign-pdf holds no state).
    const { signPdf } = await import('./sign-pdf');
    return signPdf(pdfBytes, key, meta);
  }

  /** The certificate in use, e.g. for certificate:verify to trust, or to show the firm's fingerprint. */
  async identity(): Promise<SignerIdentity> {
    const { source, key } = await this.load();
    const x509 = new X509Certificate(key.certificate);
    return {
      source,
      commonName: certificateFields(key.certificate).commonName,
      certificatePem: toPem(key.certificate),
      fingerprint256: x509.fingerprint256,
      validTo: new Date(x509.validTo),
    };
  }

  /** Loads once; a failure (sealed, no firm yet, database down) is not cached, so the next call retries. */
  private load(): Promise<Loaded> {
    this.loading ??= this.loadGenerated().then(
      (key): Loaded => ({ source: 'generated', key }),
      (err: unknown) => {
        this.loading = null;
        throw err;
      },
    );
    return this.loading;
  }

  private async loadGenerated(): Promise<SigningKey> {
    const ring = this.d.keys.ring();
    const open = (row: SigningIdentity): SigningKey => {
      const keyDer = ring.openSecret(SEAL_LABEL, String(row.id), row.privateKeySealed);
      const key = { privateKey: createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' }), certificate: fromPem(row.certificatePem) };
      keyDer.fill(0);
      ensureKeyMatches(key, `signing_identities row ${row.id}`);
      return key;
    };

    const existing = await SigningIdentity.findByPk(IDENTITY_ID);
    if (existing) return open(existing);

    const firm = Array.from((await this.d.firmName()).trim()).slice(0, MAX_CN).join('');
    if (!firm) throw new Error('the firm has no name yet: a signing certificate cannot be made');
    const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 3072 });
    const certificate = selfSignedCertificate({ publicKey, privateKey, commonName: firm, organization: firm, country: 'JP', validYears: VALID_YEARS });
    const keyDer = privateKey.export({ type: 'pkcs8', format: 'der' });
    const sealed = ring.sealSecret(SEAL_LABEL, String(IDENTITY_ID), keyDer);
    keyDer.fill(0);
    try {
      await SigningIdentity.create({ id: IDENTITY_ID, source: 'generated', certificatePem: toPem(certificate), privateKeySealed: sealed });
      return { privateKey, certificate };
    } catch (err) {
      if (!(err instanceof UniqueConstraintError)) throw err;
      // Another instance made one at the same moment: everyone signs with the winner's.
      const winner = await SigningIdentity.findByPk(IDENTITY_ID);
      if (!winner) throw err;
      return open(winner);
    }
  }
}
