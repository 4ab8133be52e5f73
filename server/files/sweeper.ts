import { Op } from 'sequelize';
import type { Logger } from 'pino';
import type { StorageAdapter, StoredObject } from '../../storage-adapters';
import { AccessReport, DisposalCertificate, PendingObjectDeletion, StoredFile } from '../db/models';
import { LEDGER_PREFIX } from '../disposal/erasure-ledger';

/** Deletes a stored object; a failure is queued for the sweeper to retry (and logged when a logger is given). */
export async function deleteOrQueue(storage: StorageAdapter, objectId: string, logger?: Logger): Promise<void> {
  try {
    await storage.delete(objectId);
  } catch (err) {
    logger?.warn({ objectId, err: { message: (err as Error).message } }, 'object delete failed; queued for retry');
    await PendingObjectDeletion.upsert({ objectId, attempts: 1, lastError: (err as Error).message.slice(0, 300), nextAt: new Date(Date.now() + 60_000) });
  }
}

export interface SweepReport { incomplete: number; orphans: number; retried: number }

/**
 * Cleans up after interrupted work, at start and then periodically: unfinished writes (temp files,
 * incomplete multipart uploads), objects no live file row points to (an upload killed between
 * storing and committing, or a deleted file whose object survived), and queued object deletions.
 * Only what is older than `ageMs` is touched, so uploads in progress on any instance are left alone.
 */
export class FileSweeper {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly d: { storage: StorageAdapter; logger: Logger; ageMs: number }) {}

  async run(now = Date.now()): Promise<SweepReport> {
    const incomplete = await this.d.storage.sweepIncomplete(this.d.ageMs);
    let orphans = 0;
    let batch: StoredObject[] = [];
    const flush = async () => {
      const ids = batch.map((o) => o.id);
      // Live objects: ready files, and the PDFs of access reports and certificates (sealed objects without a file row).
      const live = new Set([
        ...(await StoredFile.findAll({ where: { objectId: { [Op.in]: ids }, status: 'ready' }, attributes: ['objectId'] })).map((f) => f.objectId),
        ...(await AccessReport.findAll({ where: { objectId: { [Op.in]: ids } }, attributes: ['objectId'] })).map((r) => r.objectId!),
        ...(await DisposalCertificate.findAll({ where: { objectId: { [Op.in]: ids } }, attributes: ['objectId'] })).map((c) => c.objectId),
      ]);
      for (const o of batch) {
        if (live.has(o.id)) continue;
        await this.d.storage.delete(o.id);
        orphans++;
      }
      batch = [];
    };
    for await (const o of this.d.storage.list()) {
      if (now - o.modifiedAt.getTime() < this.d.ageMs) continue;
      // The erasure ledger has no row in the database by design (it must outlive a restored one).
      if (o.id.startsWith(LEDGER_PREFIX)) continue;
      batch.push(o);
      if (batch.length >= 500) await flush();
    }
    if (batch.length) await flush();

    let retried = 0;
    for (const p of await PendingObjectDeletion.findAll({ where: { nextAt: { [Op.lte]: new Date(now) } } })) {
      try {
        await this.d.storage.delete(p.objectId);
        await p.destroy();
        retried++;
      } catch (err) {
        const attempts = p.attempts + 1;
        await p.update({ attempts, lastError: (err as Error).message.slice(0, 300), nextAt: new Date(now + Math.min(2 ** attempts, 360) * 60_000) });
      }
    }
    if (incomplete || orphans || retried) this.d.logger.info({ incomplete, orphans, retried }, 'storage sweep');
    return { incomplete, orphans, retried };
  }

  start(intervalMs: number): void {
    const tick = () => { this.run().catch((err: unknown) => this.d.logger.error({ err: { message: (err as Error).message } }, 'storage sweep failed')); };
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
