import { Op, type Sequelize } from 'sequelize';
import { ClientKey, FirmKey, KeyCheck, NumberRecord, SigningIdentity, StoredFile, User } from '../db/models';
import type { ClientKeys } from '../clients/client-keys';
import { DecryptionFailed } from './aead';
import type { ClientKeyPurpose, KeyRing } from './key-ring';
import { blindIndex, openNumber, sealNumber, type NumberOwner } from './number-cipher';

/**
 * Key rotation, with no table of its own: every row is rewrapped on its own, idempotently, so a run
 * that is killed anywhere is finished by running it again.
 *
 * Master key: each value sealed under the master key (client and firm keys) or under a key derived
 * from it (TOTP seeds, the PDF signing key) is tried with the new key first — a row that opens is
 * done — then opened with the old key and sealed under the new one, written only if the row still
 * holds what was read. The key-check value is switched last: it is the commit mark, so the portal
 * starts with the new key only once everything is rewrapped, and with the old key is sealed after.
 * The portal is meant to be stopped meanwhile: it reads client keys from the database on every use,
 * so a running portal (old key) cannot open rows already rewrapped. Two derived keys cannot be
 * carried over and simply change with the master key: the session-cookie secret (every session
 * ends, and a TOTP enrolment pending in a session with it) and the HMAC key of one-time
 * registration link codes ('vault-link-code': codes issued before no longer match; issue new links).
 *
 * Client key: a new version becomes current; numbers are re-sealed and blind indexes recomputed
 * under it row by row (the row's own keyVersion / indexVersion says where it is, and the old
 * versions stay until the end so a half-done run reads everything). Stored files keep their data
 * key wrapped under the version that encrypted them (see rotateClientKey).
 */

/** Called after each row written; a test throws from it to simulate a run killed halfway. */
export interface RotationHooks {
  afterRow?: (step: string, rowsWritten: number) => void | Promise<void>;
}

export class RotationError extends Error {}

/* ---------------------------------------------------------------- master key */

export interface MasterRotationResult {
  /** per kind of row: rewrapped now / found already under the new key */
  rows: Record<'clientKeys' | 'firmKeys' | 'totpSeeds' | 'signingKeys', { rewrapped: number; already: number }>;
  /** 'switched' now, or 'already' (an earlier run finished) */
  keyCheck: 'switched' | 'already';
}

const sameKey = (a: KeyRing, b: KeyRing) => a.derive('rotation/same-key-test').equals(b.derive('rotation/same-key-test'));

/** New key first (done), then the old one (to rewrap); a value neither opens is an error, never skipped. */
function rewrapValue(oldRing: KeyRing, newRing: KeyRing, sealed: string, what: string,
  open: (ring: KeyRing, v: string) => Buffer, seal: (ring: KeyRing, plain: Buffer) => string): string | null {
  try {
    open(newRing, sealed).fill(0);
    return null;
  } catch (err) {
    if (!(err instanceof DecryptionFailed)) throw err;
  }
  let plain: Buffer;
  try {
    plain = open(oldRing, sealed);
  } catch (err) {
    if (err instanceof DecryptionFailed) throw new RotationError(`${what} opens with neither the current nor the new master key`);
    throw err;
  }
  const next = seal(newRing, plain);
  plain.fill(0);
  return next;
}

export async function rotateMasterKey(oldRing: KeyRing, newRing: KeyRing, hooks: RotationHooks = {}): Promise<MasterRotationResult> {
  if (sameKey(oldRing, newRing)) throw new RotationError('the new master key is the same as the current one');
  const check = await KeyCheck.findByPk(1);
  if (!check) throw new RotationError('this database has no key-check value yet: nothing is encrypted, nothing to rotate');
  const finished = newRing.matchesKeyCheckValue(check.kcv);
  if (!finished && !oldRing.matchesKeyCheckValue(check.kcv)) {
    throw new RotationError('the current master key (MASTER_KEY_FILE) is not the key this database was encrypted with');
  }

  let written = 0;
  const wrote = async (step: string) => { written++; await hooks.afterRow?.(step, written); };
  const rows: MasterRotationResult['rows'] = {
    clientKeys: { rewrapped: 0, already: 0 }, firmKeys: { rewrapped: 0, already: 0 },
    totpSeeds: { rewrapped: 0, already: 0 }, signingKeys: { rewrapped: 0, already: 0 },
  };

  // Each row: read, rewrap, write only if unchanged since read (another writer wins; read it again).
  async function each<R>(
    step: keyof MasterRotationResult['rows'],
    load: () => Promise<R[]>, reload: (row: R) => Promise<R | null>, valueOf: (row: R) => string | null,
    rewrap: (row: R, value: string) => string | null, write: (row: R, from: string, to: string) => Promise<number>,
  ): Promise<void> {
    for (let row of await load()) {
      for (let attempt = 0; ; attempt++) {
        const value = valueOf(row);
        if (value === null) break; // destroyed meanwhile (disposal): nothing to rewrap
        const next = rewrap(row, value);
        if (next === null) { rows[step].already++; break; }
        if (await write(row, value, next) === 1) { rows[step].rewrapped++; await wrote(step); break; }
        if (attempt >= 3) throw new RotationError(`${step}: a row kept changing while being rewrapped; run the command again`);
        const fresh = await reload(row);
        if (!fresh) break;
        row = fresh;
      }
    }
  }

  await each('clientKeys',
    () => ClientKey.findAll({ where: { wrappedKey: { [Op.ne]: null } }, order: [['id', 'ASC']] }),
    (r) => ClientKey.findByPk(r.id), (r) => r.wrappedKey,
    (r, v) => rewrapValue(oldRing, newRing, v, `client key #${r.id}`,
      (ring, w) => ring.unwrapClientKey(r.clientId, r.purpose as ClientKeyPurpose, r.version, w),
      (ring, k) => ring.wrapClientKey(r.clientId, r.purpose as ClientKeyPurpose, r.version, k)),
    async (r, from, to) => (await ClientKey.update({ wrappedKey: to }, { where: { id: r.id, wrappedKey: from } }))[0]);

  await each('firmKeys',
    () => FirmKey.findAll({ order: [['id', 'ASC']] }),
    (r) => FirmKey.findByPk(r.id), (r) => r.wrappedKey,
    (r, v) => rewrapValue(oldRing, newRing, v, `firm key #${r.id}`,
      (ring, w) => ring.unwrapClientKey('firm', r.purpose as ClientKeyPurpose, r.version, w),
      (ring, k) => ring.wrapClientKey('firm', r.purpose as ClientKeyPurpose, r.version, k)),
    async (r, from, to) => (await FirmKey.update({ wrappedKey: to }, { where: { id: r.id, wrappedKey: from } }))[0]);

  await each('totpSeeds',
    () => User.findAll({ where: { totpSecretSealed: { [Op.ne]: null } }, attributes: ['id', 'totpSecretSealed'], order: [['id', 'ASC']] }),
    (r) => User.findByPk(r.id, { attributes: ['id', 'totpSecretSealed'] }), (r) => r.totpSecretSealed,
    (r, v) => rewrapValue(oldRing, newRing, v, `the TOTP seed of user ${r.id}`,
      (ring, s) => ring.openSecret('totp', r.id, s), (ring, p) => ring.sealSecret('totp', r.id, p)),
    async (r, from, to) => (await User.update({ totpSecretSealed: to }, { where: { id: r.id, totpSecretSealed: from }, silent: true }))[0]);

  await each('signingKeys',
    () => SigningIdentity.findAll({ order: [['id', 'ASC']] }),
    (r) => SigningIdentity.findByPk(r.id), (r) => r.privateKeySealed,
    (r, v) => rewrapValue(oldRing, newRing, v, `PDF signing key #${r.id}`,
      (ring, s) => ring.openSecret('pdf-signing', String(r.id), s), (ring, p) => ring.sealSecret('pdf-signing', String(r.id), p)),
    async (r, from, to) => (await SigningIdentity.update({ privateKeySealed: to }, { where: { id: r.id, privateKeySealed: from } }))[0]);

  if (finished) return { rows, keyCheck: 'already' };
  const [n] = await KeyCheck.update({ kcv: newRing.makeKeyCheckValue() }, { where: { id: 1, kcv: check.kcv } });
  if (n !== 1) throw new RotationError('the key-check value changed during the rotation; run the command again');
  return { rows, keyCheck: 'switched' };
}

/* ---------------------------------------------------------------- a client's keys */

export interface ClientRotationResult {
  purpose: ClientKeyPurpose;
  version: number;
  /**
   * new: this run made the version; resumed: an interrupted run had made it and this run finished
   * it; unchanged: nothing to finish for this purpose while another one was being finished.
   */
  state: 'new' | 'resumed' | 'unchanged';
  /** rows re-sealed (numbers) or re-indexed (index) now */
  rewritten: number;
  /** files: stored files still under an older version (they stay readable under it) */
  filesUnderOlderVersions?: number;
}

const BATCH = 200;

async function currentVersion(clientId: string, purpose: ClientKeyPurpose): Promise<number> {
  const v = await ClientKey.max<number, ClientKey>('version', { where: { clientId, purpose, destroyedAt: null } });
  if (!v) throw new RotationError(`the client has no live ${purpose} key (disposed of?)`);
  return v;
}

function lagging(clientId: string, purpose: 'numbers' | 'index', version: number) {
  return purpose === 'numbers'
    ? { clientId, sealedNumber: { [Op.ne]: null }, keyVersion: { [Op.lt]: version } }
    : { clientId, sealedNumber: { [Op.ne]: null }, blindIndex: { [Op.ne]: null }, indexVersion: { [Op.lt]: version } };
}

/**
 * Rotates the given purposes of one client's keys. When a requested purpose still has rows under an
 * older version than its newest (a run killed halfway), this run only finishes that rotation and
 * makes no new version of any purpose; run it again afterwards for another rotation.
 *
 * Files: an object's header names its key version and carries its wrapped data key, and the header
 * is part of every segment's associated data; downloads check the header's wrapped key against the
 * database's. Rewrapping a data key therefore means re-encrypting the object, so files are left as
 * they are: new files use the new version, the older versions stay (wrapped under the master key)
 * to open what they encrypted, and a file's key still goes with the file on deletion.
 */
export async function rotateClientKey(d: { sequelize: Sequelize; clientKeys: ClientKeys }, clientId: string, purposes: ClientKeyPurpose[], hooks: RotationHooks = {}): Promise<ClientRotationResult[]> {
  const results: ClientRotationResult[] = [];
  let written = 0;
  // A run that finds an interrupted one only finishes it: no purpose gets a new version this time.
  let resuming = false;
  for (const purpose of purposes) {
    if (purpose !== 'files' && await NumberRecord.count({ where: lagging(clientId, purpose, await currentVersion(clientId, purpose)) }) > 0) resuming = true;
  }
  // Otherwise every new version is made first, together, so that a run killed at any later point
  // leaves rows behind in every purpose it has not finished, and the next run finishes them all.
  if (!resuming) {
    await d.sequelize.transaction(async (tx) => {
      for (const purpose of purposes) await d.clientKeys.rotate(clientId, purpose, tx);
    });
  }
  for (const purpose of purposes) {
    const version = await currentVersion(clientId, purpose);
    const lags = purpose !== 'files' && await NumberRecord.count({ where: lagging(clientId, purpose, version) }) > 0;
    const state: ClientRotationResult['state'] = !resuming ? 'new' : lags ? 'resumed' : 'unchanged';

    if (purpose === 'files') {
      const older = await StoredFile.count({ where: { clientId, wrappedKey: { [Op.ne]: null }, keyVersion: { [Op.lt]: version } } });
      results.push({ purpose, version, state, rewritten: 0, filesUnderOlderVersions: older });
      continue;
    }

    if (state === 'unchanged') {
      results.push({ purpose, version, state, rewritten: 0 });
      continue;
    }
    const target = await d.clientKeys.version(clientId, purpose, version);
    const keys = new Map<number, Buffer>();
    const numbersKey = async (v: number) => {
      if (!keys.has(v)) keys.set(v, await d.clientKeys.version(clientId, 'numbers', v));
      return keys.get(v)!;
    };
    let rewritten = 0;
    // Pages by id, so a row that a concurrent writer keeps under an old version cannot loop forever;
    // a second pass picks up what changed under us.
    for (let pass = 0; pass < 3; pass++) {
      let after = '';
      for (;;) {
        const batch = await NumberRecord.findAll({
          where: { ...lagging(clientId, purpose, version), id: { [Op.gt]: after } },
          order: [['id', 'ASC']], limit: BATCH,
        });
        if (batch.length === 0) break;
        for (const r of batch) {
          after = r.id;
          const owner: NumberOwner = { clientId, personKind: r.personKind, personId: r.personId, keyVersion: r.keyVersion };
          const number = openNumber(await numbersKey(r.keyVersion), owner, r.sealedNumber!);
          const change = purpose === 'numbers'
            ? { keyVersion: version, sealedNumber: sealNumber(target, { ...owner, keyVersion: version }, number) }
            : { indexVersion: version, blindIndex: blindIndex(target, number) };
          const [n] = await NumberRecord.update(change, {
            // Only if the row is still what was read (a re-registration or a disposal wins).
            where: { id: r.id, keyVersion: r.keyVersion, indexVersion: r.indexVersion, sealedNumber: r.sealedNumber, blindIndex: r.blindIndex },
            silent: true,
          });
          if (n === 1) {
            rewritten++;
            written++;
            await hooks.afterRow?.(purpose, written);
          }
        }
      }
      if (await NumberRecord.count({ where: lagging(clientId, purpose, version) }) === 0) break;
    }
    const left = await NumberRecord.count({ where: lagging(clientId, purpose, version) });
    if (left > 0) throw new RotationError(`${left} ${purpose} rows kept changing during the rotation; run the command again`);
    results.push({ purpose, version, state, rewritten });
  }
  return results;
}
