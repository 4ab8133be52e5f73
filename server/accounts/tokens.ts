import { Op, type Transaction } from 'sequelize';
import { OneTimeToken, type TokenPurpose } from '../db/models';
import { newToken, sha256Hex } from '../crypto/tokens';

/** Single-use links (setup, invitation, password reset): only a hash of the token is stored. */
export async function issueToken(purpose: TokenPurpose, userId: string | null, ttlMs: number, tx: Transaction, newEmail: string | null = null, raw = newToken()): Promise<string> {
  await OneTimeToken.create({ purpose, tokenHash: sha256Hex(raw), userId, expiresAt: new Date(Date.now() + ttlMs), usedAt: null, newEmail }, { transaction: tx });
  return raw;
}

/** The live token for a raw value, or null: unknown, used or expired all look the same. */
export async function findLiveToken(purposes: TokenPurpose[], raw: string, tx?: Transaction): Promise<OneTimeToken | null> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(raw)) return null;
  return OneTimeToken.findOne({
    where: { purpose: { [Op.in]: purposes }, tokenHash: sha256Hex(raw), usedAt: null, expiresAt: { [Op.gt]: new Date() } },
    transaction: tx,
    ...(tx ? { lock: tx.LOCK.UPDATE } : {}),
  });
}

/** Marks a token used; false when another request used it first. */
export async function consumeToken(token: OneTimeToken, tx: Transaction): Promise<boolean> {
  const [count] = await OneTimeToken.update({ usedAt: new Date() }, { where: { id: token.id, usedAt: null }, transaction: tx });
  return count === 1;
}
