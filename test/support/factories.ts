import { randomBytes } from 'node:crypto';
import { User, type Role } from '../../server/db/models';
import { hashPassword } from '../../server/auth/passwords';
import { newTotpSecret } from '../../server/auth/totp';
import { systemContext } from '../../server/audit';
import type { Harness } from './harness';

export const TEST_PASSWORD = 'correct horse battery staple';

/**
 * Every made user has the same password, so it is hashed once per process (with the production
 * argon2id parameters, as the portal would) and the hash is shared: a hash costs ~50–100 ms on a
 * 2-core CI machine and the suites make hundreds of users. Signing in still verifies it for real.
 */
let testPasswordHash: Promise<string> | null = null;

export interface MadeUser {
  user: User;
  email: string;
  password: string;
  totpSecret: string | null;
}

/** A user with a password and (unless totp: false) an enrolled TOTP seed the test knows. */
export async function makeUser(h: Harness, o: { role: Role; clientId?: string | null; name?: string; email?: string; totp?: boolean }): Promise<MadeUser> {
  const email = o.email ?? `${o.role}-${randomBytes(4).toString('hex')}@example.jp`;
  const user = await User.create({
    email, name: o.name ?? `テスト ${o.role}`, role: o.role, clientId: o.clientId ?? null,
    passwordHash: await (testPasswordHash ??= hashPassword(TEST_PASSWORD)), passwordChangedAt: new Date(),
    totpSecretSealed: null, totpEnabledAt: null, totpLastStep: null, disabledAt: null, lang: null,
  });
  let totpSecret: string | null = null;
  if (o.totp ?? true) {
    totpSecret = newTotpSecret();
    await user.update({ totpSecretSealed: h.booted.services.keys.ring().sealSecret('totp', user.id, Buffer.from(totpSecret)), totpEnabledAt: new Date() });
  }
  return { user, email, password: TEST_PASSWORD, totpSecret };
}

export async function makeClient(h: Harness, o: { code?: string; name?: string; requireAdminTotp?: boolean } = {}) {
  return h.booted.services.clients.create(systemContext('test'), {
    code: o.code ?? `C${randomBytes(3).toString('hex')}`, name: o.name ?? '株式会社テスト', nameKana: null, requireAdminTotp: o.requireAdminTotp ?? false,
  });
}

export async function assign(h: Harness, clientId: string, staffId: string) {
  const client = await h.booted.services.clients.getFor({ role: 'firm_admin' } as User, clientId);
  await h.booted.services.clients.assignStaff(systemContext('test'), client, staffId);
}
