import type {
  AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { AuditLog, ActorContext } from '../audit';
import type { Config } from '../config';
import { UniqueConstraintError } from 'sequelize';
import { Passkey, type User } from '../db/models';
import { BadRequest, NotFound } from '../errors';

const MAX_PER_USER = 10;

/** Loaded on first use: the library and its dependencies hold ~25 MiB a process needs only once someone uses a passkey. */
const webauthn = () => import('@simplewebauthn/server');

/**
 * Passkeys (WebAuthn) as the other way to re-authenticate, instead of password + TOTP: the device
 * checks its owner (user verification is required), the portal checks a signature over a
 * challenge it issued for this session. Only the public key is stored. (@simplewebauthn/server)
 */
export class PasskeyService {
  private readonly rpID: string;
  private readonly origin: string;

  constructor(private readonly d: { audit: AuditLog; config: Pick<Config, 'publicUrl'> }) {
    const url = new URL(d.config.publicUrl);
    this.rpID = url.hostname;
    this.origin = url.origin;
  }

  listOf(user: User): Promise<Passkey[]> {
    return Passkey.findAll({ where: { userId: user.id }, order: [['createdAt', 'ASC']] });
  }

  async registrationOptions(user: User): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.listOf(user);
    return (await webauthn()).generateRegistrationOptions({
      rpName: '暁ポータル Akatsuki Portal', rpID: this.rpID,
      userName: user.email, userDisplayName: user.name, userID: new TextEncoder().encode(user.id),
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: transportsOf(p) })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
    });
  }

  async register(ctx: ActorContext, user: User, response: unknown, expectedChallenge: string | undefined, name: string): Promise<Passkey> {
    if (!expectedChallenge) throw new BadRequest('passkey.expired');
    if ((await Passkey.count({ where: { userId: user.id } })) >= MAX_PER_USER) throw new BadRequest('passkey.tooMany');
    const verified = await (await webauthn()).verifyRegistrationResponse({
      response: response as RegistrationResponseJSON, expectedChallenge, expectedOrigin: this.origin, expectedRPID: this.rpID, requireUserVerification: true,
    }).catch(() => null);
    if (!verified?.verified) {
      await this.d.audit.recordAlone(ctx, { operation: 'account.passkey.add', result: 'denied', clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name });
      throw new BadRequest('passkey.failed');
    }
    const { credential } = verified.registrationInfo;
    // A credential is one person's: an answer naming one already registered (to anyone, or by a
    // request at the same moment: the unique index) is refused, not a server error.
    const taken = async () => {
      await this.d.audit.recordAlone(ctx, { operation: 'account.passkey.add', result: 'denied', clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name, detail: 'credential already registered' });
      return new BadRequest('passkey.failed');
    };
    if (await Passkey.count({ where: { credentialId: credential.id } })) throw await taken();
    return this.d.audit.transaction(async (tx) => {
      const row = await Passkey.create({
        userId: user.id, credentialId: credential.id, publicKey: Buffer.from(credential.publicKey).toString('base64url'), counter: credential.counter,
        transports: credential.transports?.join(',') ?? null, name: name.trim().slice(0, 100) || 'パスキー', createdAt: new Date(), lastUsedAt: null,
      }, { transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'account.passkey.add', result: 'allowed', clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name, detail: row.name });
      return row;
    }).catch(async (err: unknown) => {
      if (err instanceof UniqueConstraintError) throw await taken();
      throw err;
    });
  }

  async authenticationOptions(user: User): Promise<PublicKeyCredentialRequestOptionsJSON | null> {
    const keys = await this.listOf(user);
    if (!keys.length) return null;
    return (await webauthn()).generateAuthenticationOptions({ rpID: this.rpID, userVerification: 'required', allowCredentials: keys.map((p) => ({ id: p.credentialId, transports: transportsOf(p) })) });
  }

  /** True when the response is a fresh signature, by one of this user's passkeys, over this session's challenge. */
  async verify(user: User, response: unknown, expectedChallenge: string | undefined): Promise<boolean> {
    const r = response as Partial<AuthenticationResponseJSON> | null;
    if (!expectedChallenge || !r || typeof r.id !== 'string') return false;
    const key = await Passkey.findOne({ where: { userId: user.id, credentialId: r.id } });
    if (!key) return false;
    const result = await (await webauthn()).verifyAuthenticationResponse({
      response: r as AuthenticationResponseJSON, expectedChallenge, expectedOrigin: this.origin, expectedRPID: this.rpID, requireUserVerification: true,
      credential: { id: key.credentialId, publicKey: Buffer.from(key.publicKey, 'base64url'), counter: Number(key.counter), transports: transportsOf(key) },
    }).catch(() => null);
    if (!result?.verified) return false;
    await key.update({ counter: result.authenticationInfo.newCounter, lastUsedAt: new Date() });
    return true;
  }

  async remove(ctx: ActorContext, user: User, id: string): Promise<void> {
    await this.d.audit.transaction(async (tx) => {
      const n = await Passkey.destroy({ where: { id, userId: user.id }, transaction: tx });
      if (!n) throw new NotFound();
      await this.d.audit.record(tx, ctx, { operation: 'account.passkey.remove', result: 'allowed', clientId: user.clientId, targetKind: 'user', targetId: user.id, targetLabel: user.name });
    });
  }
}

const transportsOf = (p: Passkey) => (p.transports ? p.transports.split(',') as never[] : undefined);
