import { Op, type Sequelize } from 'sequelize';
import type { StorageAdapter } from '../../storage-adapters';
import { AccessReport, ClientKey, FirmKey, KeyCheck, NumberRecord, OutboxMail, SigningIdentity, StoredFile, User } from '../db/models';
import { OUTBOX_SECRET, bodyHolding, sealedPartOf } from '../mail/outbox';
import type { ClientKeys } from '../clients/client-keys';
import { openSealed, sealStream, sealedOf, type SealedObject } from '../files/sealed-object';
import { deleteOrQueue } from '../files/sweeper';
import { DecryptionFailed } from './aead';
import type { ClientKeyPurpose, KeyRing } from './key-ring';
import { blindIndex, openNumber, sealNumber, type NumberOwner } from './number-cipher';

/**
 * Key rotation, with no table of its own: every row is rewrapped on its own, idempotently, so a run
 * that is killed anywhere is finished by running it again.
 *
 * Master key: each value sealed under the master key (client and firm keys) or under a key derived
 * from it (TOTP seeds, the PDF signing key, the texts of mails still queued) is tried with the new key first — a row that opens is
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
 * versions stay until the end so a half-done run reads everything). Stored files and access-report
 * PDFs are re-encrypted under a new data key wrapped by the new version (see rotateClientKey).
 */

/** Called after each row written; a test throws from it to simulate a run killed halfway. */
export interface RotationHooks {
  afterRow?: (step: string, rowsWritten: number) => void | Promise<void>;
}

export class RotationError extends Error {}

/* ---------------------------------------------------------------- master key */

export interface MasterRotationResult {
  /** per kind of row: rewrapped now / found already under the new key */
  rows: Record<'clientKeys' | 'firmKeys' | 'totpSeeds' | 'signingKeys' | 'queuedMails', { rewrapped: number; already: number }>;
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
    totpSeeds: { rewrapped: 0, already: 0 }, signingKeys: { rewrapped: 0, already: 0 }, queuedMails: { rewrapped: 0, already: 0 },
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

  await each('queuedMails',
    () => OutboxMail.findAll({ where: { sentAt: null }, attributes: ['id', 'body'], order: [['id', 'ASC']] }),
    (r) => OutboxMail.findByPk(r.id, { attributes: ['id', 'body'] }), (r) => sealedPartOf(r.body),
    (r, v) => {
      const next = rewrapValue(oldRing, newRing, v, `the queued mail ${r.id}`,
        (ring, s) => ring.openSecret(OUTBOX_SECRET, r.id, s), (ring, p) => ring.sealSecret(OUTBOX_SECRET, r.id, p));
      return next === null ? null : bodyHolding(next);
    },
    async (r, _from, to) => (await OutboxMail.update({ body: to }, { where: { id: r.id, body: r.body } }))[0]);

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
  /** rows re-sealed (numbers), re-indexed (index) or objects re-encrypted (files: stored files and report PDFs) now */
  rewritten: number;
}

const BATCH = 200;

async function currentVersion(clientId: string, purpose: ClientKeyPurpose): Promise<number> {
  const v = await ClientKey.max<number, ClientKey>('version', { where: { clientId, purpose, destroyedAt: null } });
  if (!v) throw new RotationError(`the client has no live ${purpose} key (disposed of?)`);
  return v;
}

/** Stored files and report PDFs of the client under an older file key than `version`. */
async function objectsLagging(clientId: string, version: number): Promise<number> {
  const older = { [Op.lt]: version };
  return await StoredFile.count({ where: { clientId, status: 'ready', wrappedKey: { [Op.ne]: null }, keyVersion: older } })
    + await AccessReport.count({ where: { clientId, objectId: { [Op.ne]: null }, wrappedKey: { [Op.ne]: null }, keyVersion: older } });
}

/** Rows still to do for a purpose at `version`. */
async function lagCount(clientId: string, purpose: ClientKeyPurpose, version: number): Promise<number> {
  return purpose === 'files' ? objectsLagging(clientId, version) : NumberRecord.count({ where: lagging(clientId, purpose, version) });
}

interface ObjectRow { id: string; kind: 'file' | 'report'; sealed: SealedObject }

/** Whether the row still names the object and key it was read with. */
async function stillAt(row: ObjectRow): Promise<boolean> {
  const where = { id: row.id, objectId: row.sealed.objectId, wrappedKey: row.sealed.wrappedKey };
  return (row.kind === 'file' ? await StoredFile.count({ where: { ...where, status: 'ready' } }) : await AccessReport.count({ where })) > 0;
}

/**
 * Re-encrypts the client's stored files and report PDFs under `version`, one object at a time: the
 * plaintext is streamed out of the old object (checked segment by segment and against its SHA-256)
 * into a new object under a new data key wrapped by the new version; the row is switched to it only
 * if it still points at the old object (a deletion or disposal meanwhile wins, and the new object
 * goes), then the old object is deleted. Downloads read the row and the object together, so a file
 * opens before, during and after. A run killed between writing and switching leaves an object no row
 * points to, and one killed between switching and deleting leaves the old one: the storage sweeper
 * removes both (it removes what no row points to).
 */
async function reencryptObjects(d: { storage: StorageAdapter; clientKeys: ClientKeys }, clientId: string, version: number, onRow: () => Promise<void>): Promise<number> {
  let rewritten = 0;
  const older = { [Op.lt]: version };
  const pages: Array<(after: string) => Promise<ObjectRow[]>> = [
    async (after) => (await StoredFile.findAll({
      where: { clientId, status: 'ready', wrappedKey: { [Op.ne]: null }, keyVersion: older, id: { [Op.gt]: after } }, order: [['id', 'ASC']], limit: BATCH,
    })).map((f) => ({ id: f.id, kind: 'file' as const, sealed: sealedOf(f) })),
    async (after) => (await AccessReport.findAll({
      where: { clientId, objectId: { [Op.ne]: null }, wrappedKey: { [Op.ne]: null }, keyVersion: older, id: { [Op.gt]: after } }, order: [['id', 'ASC']], limit: BATCH,
    })).map((r) => ({ id: r.id, kind: 'report' as const, sealed: sealedOf(r) })),
  ];
  for (const page of pages) {
    let after = '';
    for (;;) {
      const batch = await page(after);
      if (batch.length === 0) break;
      for (const row of batch) {
        after = row.id;
        let fresh: SealedObject;
        try {
          fresh = await sealStream(d, clientId, row.kind, row.id, await openSealed(d, clientId, row.kind, row.id, row.sealed));
        } catch (err) {
          // Deleted, disposed of or moved while this run read it: nothing left here to re-encrypt.
          if (!(await stillAt(row))) continue;
          throw err;
        }
        if (fresh.sha256 !== row.sealed.sha256) {
          await deleteOrQueue(d.storage, fresh.objectId);
          throw new RotationError(`the ${row.kind} ${row.id} did not read back as it was stored`);
        }
        const was = { id: row.id, objectId: row.sealed.objectId, wrappedKey: row.sealed.wrappedKey };
        const to = { objectId: fresh.objectId, keyVersion: fresh.keyVersion, wrappedKey: fresh.wrappedKey };
        const [n] = row.kind === 'file'
          ? await StoredFile.update(to, { where: { ...was, status: 'ready' }, silent: true })
          : await AccessReport.update(to, { where: was });
        await deleteOrQueue(d.storage, n === 1 ? row.sealed.objectId : fresh.objectId);
        if (n === 1) {
          rewritten++;
          await onRow();
        }
      }
    }
  }
  return rewritten;
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
 * database's. Rewrapping a data key therefore means re-encrypting the object (reencryptObjects).
 */
export async function rotateClientKey(d: { sequelize: Sequelize; clientKeys: ClientKeys; storage: StorageAdapter }, clientId: string, purposes: ClientKeyPurpose[], hooks: RotationHooks = {}): Promise<ClientRotationResult[]> {
  const results: ClientRotationResult[] = [];
  let written = 0;
  // A run that finds an interrupted one only finishes it: no purpose gets a new version this time.
  let resuming = false;
  for (const purpose of purposes) {
    if (await lagCount(clientId, purpose, await currentVersion(clientId, purpose)) > 0) resuming = true;
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
    const lags = await lagCount(clientId, purpose, version) > 0;
    const state: ClientRotationResult['state'] = !resuming ? 'new' : lags ? 'resumed' : 'unchanged';

    if (state === 'unchanged') {
      results.push({ purpose, version, state, rewritten: 0 });
      continue;
    }
    if (purpose === 'files') {
      // A second and third pass take what arrived under the old version meanwhile (an upload that began before the new version).
      let rewritten = 0;
      for (let pass = 0; pass < 3 && (pass === 0 || await objectsLagging(clientId, version) > 0); pass++) {
        rewritten += await reencryptObjects(d, clientId, version, async () => { written++; await hooks.afterRow?.(purpose, written); });
      }
      const left = await objectsLagging(clientId, version);
      if (left > 0) throw new RotationError(`${left} files kept changing during the rotation; run the command again`);
      results.push({ purpose, version, state, rewritten });
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
