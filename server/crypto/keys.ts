import type { Config } from '../config';
import { Op, UniqueConstraintError } from 'sequelize';
import { ClientKey, FirmKey, KeyCheck, SigningIdentity, User } from '../db/models';
import { Sealed } from '../errors';
import type { KeyRing } from './key-ring';
import { readMasterKey } from './master-key';

export type SealReason = 'missing' | 'unreadable' | 'wrong-key' | 'check-missing';

/**
 * The portal's keys at run time. Sealed means no usable master key: every route that needs a key
 * answers 503 and nothing is written; a wrong key is detected by the key-check value, never used.
 */
export class Keys {
  private constructor(
    private readonly keyRing: KeyRing | null,
    readonly sealReason: SealReason | null,
    readonly notice: string | null,
  ) {}

  static unsealed(keyRing: KeyRing, notice: string | null = null): Keys { return new Keys(keyRing, null, notice); }
  static sealed(reason: SealReason): Keys { return new Keys(null, reason, null); }

  get sealed(): boolean { return this.keyRing === null; }

  ring(): KeyRing {
    if (!this.keyRing) throw new Sealed();
    return this.keyRing;
  }

  /** Loads the master key and checks it against the database; writes the check value at first run. */
  static async open(config: Pick<Config, 'masterKeyFile' | 'masterKeyIsEmbedded'>): Promise<Keys> {
    const stored = await KeyCheck.findByPk(1);
    // Data encrypted under some key, but no check value to tell whether this is that key (the row
    // was lost or deleted): any key would be taken, and a new one generated. Sealed instead.
    const orphaned = !stored && await holdsEncryptedData();
    // Generating a key is only safe when nothing was ever encrypted: no check value yet.
    const read = readMasterKey(config.masterKeyFile, config.masterKeyIsEmbedded && !stored && !orphaned);
    if (read.kind === 'missing') return Keys.sealed('missing');
    if (read.kind === 'unreadable') return Keys.sealed('unreadable');
    if (orphaned) return Keys.sealed('check-missing');
    if (stored) {
      return read.keyRing.matchesKeyCheckValue(stored.kcv) ? Keys.unsealed(read.keyRing) : Keys.sealed('wrong-key');
    }
    try {
      await KeyCheck.create({ id: 1, kcv: read.keyRing.makeKeyCheckValue(), createdAt: new Date() });
    } catch (err) {
      // Another instance starting at the same moment wrote it first: its key must be this one.
      if (!(err instanceof UniqueConstraintError)) throw err;
      const theirs = await KeyCheck.findByPk(1);
      if (!theirs || !read.keyRing.matchesKeyCheckValue(theirs.kcv)) return Keys.sealed('wrong-key');
      return Keys.unsealed(read.keyRing);
    }
    return Keys.unsealed(read.keyRing, read.generated
      ? `A new master key was written to ${config.masterKeyFile} (mode 0600). Back it up: without it no encrypted data can be read.`
      : null);
  }
}

/** Whether anything in the database was sealed under a master key: client and firm keys (which wrap all data keys), the signing identity, TOTP seeds. */
async function holdsEncryptedData(): Promise<boolean> {
  const counts = await Promise.all([ClientKey.count(), FirmKey.count(), SigningIdentity.count(), User.count({ where: { totpSecretSealed: { [Op.ne]: null } } })]);
  return counts.some((n) => n > 0);
}
