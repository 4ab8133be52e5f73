import type { Transaction } from 'sequelize';
import { ClientKey, FirmKey } from '../db/models';
import type { Keys } from '../crypto/keys';
import type { ClientKeyPurpose } from '../crypto/key-ring';

export const CLIENT_KEY_PURPOSES: ClientKeyPurpose[] = ['files', 'numbers', 'index'];
const FIRM_OWNER = 'firm';

/** A client's own keys (versioned, stored wrapped under the master key). */
export class ClientKeys {
  constructor(private readonly keys: Keys) {}

  async createInitial(clientId: string, tx: Transaction): Promise<void> {
    const ring = this.keys.ring();
    await ClientKey.bulkCreate(CLIENT_KEY_PURPOSES.map((purpose) => ({
      clientId, purpose, version: 1, wrappedKey: ring.newClientKey(clientId, purpose, 1).wrapped, destroyedAt: null,
    })), { transaction: tx });
  }

  /** The newest live key of a purpose, for encrypting. */
  async current(clientId: string, purpose: ClientKeyPurpose, tx?: Transaction): Promise<{ version: number; key: Buffer }> {
    const row = await ClientKey.findOne({ where: { clientId, purpose, destroyedAt: null }, order: [['version', 'DESC']], transaction: tx });
    if (!row?.wrappedKey) throw new Error('client has no live key');
    return { version: row.version, key: this.keys.ring().unwrapClientKey(clientId, purpose, row.version, row.wrappedKey) };
  }

  /** A given version, for decrypting what it encrypted. */
  async version(clientId: string, purpose: ClientKeyPurpose, version: number, tx?: Transaction): Promise<Buffer> {
    const row = await ClientKey.findOne({ where: { clientId, purpose, version }, transaction: tx });
    if (!row?.wrappedKey) throw new Error('client key version is not available');
    return this.keys.ring().unwrapClientKey(clientId, purpose, version, row.wrappedKey);
  }

  /**
   * The file key of an owner: a client's, or (owner null) the firm's own, for what the firm sends
   * to all clients. The firm's key is wrapped like a client key under the owner name 'firm' (client
   * ids are UUIDs, so the two never meet) and made on first use.
   */
  async currentFileKey(owner: string | null, tx?: Transaction): Promise<{ version: number; key: Buffer }> {
    if (owner) return this.current(owner, 'files', tx);
    let row = await FirmKey.findOne({ where: { purpose: 'files' }, order: [['version', 'DESC']], transaction: tx });
    if (!row) {
      const made = this.keys.ring().newClientKey(FIRM_OWNER, 'files', 1);
      try {
        row = await FirmKey.create({ purpose: 'files', version: 1, wrappedKey: made.wrapped }, { transaction: tx });
      } catch {
        // Another request made it first (unique purpose+version): use theirs.
        row = await FirmKey.findOne({ where: { purpose: 'files', version: 1 }, transaction: tx });
        if (!row) throw new Error('firm file key could not be created');
      }
    }
    return { version: row.version, key: this.keys.ring().unwrapClientKey(FIRM_OWNER, 'files', row.version, row.wrappedKey) };
  }

  async fileKeyVersion(owner: string | null, version: number, tx?: Transaction): Promise<Buffer> {
    if (owner) return this.version(owner, 'files', version, tx);
    const row = await FirmKey.findOne({ where: { purpose: 'files', version }, transaction: tx });
    if (!row) throw new Error('firm key version is not available');
    return this.keys.ring().unwrapClientKey(FIRM_OWNER, 'files', version, row.wrappedKey);
  }

  /** A new version becomes current; older versions stay to decrypt what they encrypted. */
  async rotate(clientId: string, purpose: ClientKeyPurpose, tx: Transaction): Promise<number> {
    const latest = await ClientKey.max<number, ClientKey>('version', { where: { clientId, purpose }, transaction: tx });
    const version = (latest ?? 0) + 1;
    await ClientKey.create({ clientId, purpose, version, wrappedKey: this.keys.ring().newClientKey(clientId, purpose, version).wrapped, destroyedAt: null }, { transaction: tx });
    return version;
  }
}
