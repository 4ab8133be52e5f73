import { Readable } from 'node:stream';
import { createHmac } from 'node:crypto';
import { Op } from 'sequelize';
import type { Logger } from 'pino';
import type { AuditLog, ActorContext } from '../audit';
import type { Keys } from '../crypto/keys';
import type { StorageAdapter } from '../../storage-adapters';
import { ClientKey, DisposalRequest, NumberRecord, StoredFile } from '../db/models';
import { readAll } from '../files/sealed-object';
import { safeEqualHex } from '../crypto/tokens';

/** Ledger objects' ids start with this; the storage sweeper leaves them alone. */
export const LEDGER_PREFIX = 'erasure-ledger-';

/** What one disposal destroys, by id only: no name, no number, no key. */
export interface LedgerEntry {
  v: 1;
  requestId: string;
  clientId: string;
  scope: 'items' | 'client';
  numbers: string[];
  files: { id: string; objectId: string | null }[];
  at: string;
  /** when the erasure was done (the entry is written again then): rows last written before it are restored data */
  erasedAt?: string;
}

const SYSTEM: ActorContext = { actorId: null, actorName: 'system', actorRole: 'system', ip: null, userAgent: null, channel: 'job:disposal' };

/**
 * A backup taken before a disposal still holds what the disposal destroyed: restoring it would bring
 * the items back. So each disposal is first written to this ledger, one object per request in the
 * storage (shared by every instance, and never restored from a backup nor deleted), MAC'd under a
 * key derived from the master key. At every start the portal erases again whatever the database
 * or the storage holds of an entry: after a restore, the disposed items stay unreadable.
 */
export class ErasureLedger {
  /** Entries found clean since this process started: a restore needs a restart, so they stay clean. */
  private readonly clean = new Set<string>();

  constructor(private readonly d: { storage: StorageAdapter; keys: Keys; audit: AuditLog; logger: Logger }) {}

  private mac(body: string): string {
    return createHmac('sha256', this.d.keys.ring().derive('erasure-ledger')).update(body).digest('hex');
  }

  /**
   * Written before anything is erased, so a restore can never predate the entry and follow the
   * erasure; written again (its first time kept) with `erasedAt` once the erasure is done. Gives `at`.
   */
  async record(entry: Omit<LedgerEntry, 'v' | 'at'> & { at?: string }): Promise<string> {
    const at = entry.at ?? new Date().toISOString();
    const body = JSON.stringify({ v: 1, ...entry, at } satisfies LedgerEntry);
    const doc = JSON.stringify({ body, mac: this.mac(body) });
    await this.d.storage.write(`${LEDGER_PREFIX}${entry.requestId}`, Readable.from([Buffer.from(doc)]));
    return at;
  }

  async entries(): Promise<LedgerEntry[]> {
    const out: LedgerEntry[] = [];
    for await (const o of this.d.storage.list(LEDGER_PREFIX)) {
      const entry = await this.read(o.id);
      if (entry) out.push(entry);
    }
    return out;
  }

  /** One request's entry, if it has one (a disposal resumed writes its entry again with its first time). */
  async entryOf(requestId: string): Promise<LedgerEntry | null> {
    const id = `${LEDGER_PREFIX}${requestId}`;
    return (await this.d.storage.stat(id)) ? this.read(id) : null;
  }

  private async read(objectId: string): Promise<LedgerEntry | null> {
    const raw = (await readAll(await this.d.storage.read(objectId))).toString('utf8');
    const doc = JSON.parse(raw) as { body: string; mac: string };
    // An entry not made with this master key is not obeyed (it could only serve to destroy data).
    if (typeof doc.body !== 'string' || typeof doc.mac !== 'string' || !safeEqualHex(this.mac(doc.body), doc.mac)) {
      this.d.logger.error({ object: objectId }, 'erasure ledger: an entry failed its check and was ignored');
      return null;
    }
    return JSON.parse(doc.body) as LedgerEntry;
  }

  /** Erases again what a restored database or storage holds of any ledger entry; returns how many entries needed it. */
  async reapply(): Promise<number> {
    if (this.d.keys.sealed) return 0;
    let reapplied = 0;
    const listed = [];
    for await (const o of this.d.storage.list(LEDGER_PREFIX)) listed.push(o.id);
    if (listed.every((id) => this.clean.has(id.slice(LEDGER_PREFIX.length)))) return 0;
    for (const e of await this.entries()) {
      if (this.clean.has(e.requestId)) continue;
      // A disposal still under way is finished by its own resumption, not here.
      const underWay = await DisposalRequest.findOne({ where: { id: e.requestId, status: { [Op.in]: ['approved', 'executing'] } }, attributes: ['id'] });
      if (underWay) continue;
      const held = await this.heldOf(e);
      if (!held.numbers.length && !held.files.length && !held.objects.length && !held.clientKeys) {
        this.clean.add(e.requestId);
        continue;
      }
      await this.d.audit.transaction(async (tx) => {
        for (const c of chunks(held.numbers, 1000)) await NumberRecord.update({ sealedNumber: null, blindIndex: null, lastTwo: null, idFileId: null }, { where: { id: { [Op.in]: c } }, transaction: tx });
        for (const c of chunks(held.files, 1000)) await StoredFile.update({ wrappedKey: null, status: 'deleted', deletedAt: new Date() }, { where: { id: { [Op.in]: c } }, transaction: tx });
        if (held.clientKeys) await ClientKey.update({ wrappedKey: null, destroyedAt: new Date() }, { where: { clientId: e.clientId, wrappedKey: { [Op.ne]: null } }, transaction: tx });
        await this.d.audit.record(tx, SYSTEM, {
          operation: 'disposal.reapply', result: 'allowed', clientId: e.clientId, targetKind: 'disposal', targetId: e.requestId,
          detail: `restored data erased again: ${held.numbers.length} numbers, ${held.files.length} files, ${held.objects.length} objects${held.clientKeys ? ', client keys' : ''}`,
        });
      });
      for (const id of held.objects) await this.d.storage.delete(id);
      reapplied++;
    }
    if (reapplied) this.d.logger.warn({ reapplied }, 'erasure ledger: restored data of earlier disposals was erased again');
    return reapplied;
  }

  private async heldOf(e: LedgerEntry): Promise<{ numbers: string[]; files: string[]; objects: string[]; clientKeys: boolean }> {
    const everything = e.scope === 'client';
    // By the client for an offboarding, else by id in chunks (an entry may name ten thousand items).
    const scopes = <T>(ids: T[]) => (everything ? [{ clientId: e.clientId }] : chunks(ids, 1000).map((c) => ({ id: { [Op.in]: c } })));
    const numbers: string[] = [];
    // A person's record is kept (emptied) by a disposal and filled again if their number is registered
    // anew (a rehire): only a row last written before the erasure is restored data; a later one is new.
    // (Before the erasure was done: before the entry was first written, which came before it.)
    const writtenBefore = { updatedAt: { [Op.lte]: new Date(e.erasedAt ?? e.at) } };
    for (const where of scopes(e.numbers)) {
      numbers.push(...(await NumberRecord.findAll({ where: { ...where, ...writtenBefore, [Op.or]: [{ sealedNumber: { [Op.ne]: null } }, { blindIndex: { [Op.ne]: null } }] }, attributes: ['id'] })).map((r) => r.id));
    }
    const fileRows: StoredFile[] = [];
    for (const where of scopes(e.files.map((f) => f.id))) {
      fileRows.push(...await StoredFile.findAll({ where: { ...where, wrappedKey: { [Op.ne]: null } }, attributes: ['id', 'objectId'] }));
    }
    const objectIds = new Set([...e.files.map((f) => f.objectId), ...fileRows.map((f) => f.objectId)].filter((x): x is string => Boolean(x)));
    const objects: string[] = [];
    for (const id of objectIds) if (await this.d.storage.stat(id)) objects.push(id);
    const clientKeys = everything && (await ClientKey.count({ where: { clientId: e.clientId, wrappedKey: { [Op.ne]: null } } })) > 0;
    return { numbers, files: fileRows.map((f) => f.id), objects, clientKeys };
  }
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
