import { Op, type Sequelize, type Transaction } from 'sequelize';
import { AuditEvent, AuditHead, type AuditResult } from '../db/models';
import { ON_REFUSAL_RECORDED, type ActorContext } from './context';
import { GENESIS_HASH, rowHash } from './chain';

export interface AuditEntry {
  operation: string;
  result: AuditResult;
  clientId?: string | null;
  targetKind?: string | null;
  targetId?: string | null;
  /** already masked: never a My Number, key or password */
  targetLabel?: string | null;
  purpose?: string | null;
  office?: string | null;
  detail?: string | null;
}

export interface ChainVerdict {
  ok: boolean;
  checked: number;
  headSeq: number;
  firstBroken?: { seq: number; reason: string };
}

const cut = (v: string | null | undefined, n: number): string | null => (v == null ? null : v.slice(0, n));

/**
 * The append-only, hash-chained log. `record` must be given the transaction of the action it
 * records: if the row cannot be written, the action rolls back with it (fail closed).
 */
export class AuditLog {
  constructor(private readonly sequelize: Sequelize) {}

  async record(tx: Transaction, ctx: ActorContext, entry: AuditEntry): Promise<AuditEvent> {
    const head = await AuditHead.findByPk(1, { transaction: tx, lock: tx.LOCK.UPDATE });
    if (!head) throw new Error('audit_head row is missing');
    const fields = {
      seq: head.seq + 1,
      at: new Date(),
      actorId: ctx.actorId,
      actorName: cut(ctx.actorName, 100),
      actorRole: ctx.actorRole,
      clientId: entry.clientId ?? null,
      targetKind: cut(entry.targetKind, 30),
      targetId: cut(entry.targetId, 64),
      targetLabel: cut(entry.targetLabel, 200),
      operation: cut(entry.operation, 40)!,
      channel: cut(ctx.channel, 100)!,
      ip: cut(ctx.ip, 64),
      userAgent: cut(ctx.userAgent, 255),
      purpose: cut(entry.purpose, 100),
      office: cut(entry.office, 100),
      result: entry.result,
      detail: cut(entry.detail, 500),
      prevHash: head.hash,
    };
    const hash = rowHash(fields);
    const row = await AuditEvent.create({ ...fields, hash }, { transaction: tx });
    await AuditHead.update({ seq: fields.seq, hash }, { where: { id: 1, seq: head.seq }, transaction: tx });
    if (entry.result !== 'allowed') ctx[ON_REFUSAL_RECORDED]?.();
    return row;
  }

  /**
   * Takes the lock on the log's head row, which every audited write takes, as the transaction's
   * first statement. Work of one kind (two requests for the same items, a double-tapped import) then
   * runs one after the other. On MySQL a row added under the head lock also takes a shared lock on
   * the row it refers to (its client); so a transaction that updates such a row and is audited takes
   * the head first too (ClientService.update), or the two orders deadlock.
   */
  async serialise(tx: Transaction): Promise<void> {
    await AuditHead.findByPk(1, { transaction: tx, lock: tx.LOCK.UPDATE });
  }

  /** Records in a transaction of its own: for events that are the whole action (a failed login). */
  async recordAlone(ctx: ActorContext, entry: AuditEntry): Promise<void> {
    await this.sequelize.transaction(async (tx) => { await this.record(tx, ctx, entry); });
  }

  async head(): Promise<{ seq: number; hash: string }> {
    const head = await AuditHead.findByPk(1);
    if (!head) throw new Error('audit_head row is missing');
    return { seq: head.seq, hash: head.hash };
  }

  /** Walks the whole chain; names the first row whose content, order or link does not hold. */
  async verify(batch = 2000): Promise<ChainVerdict> {
    const head = await this.head();
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let checked = 0;
    const broken = (seq: number, reason: string): ChainVerdict =>
      ({ ok: false, checked, headSeq: head.seq, firstBroken: { seq, reason } });
    for (;;) {
      const rows = await AuditEvent.findAll({
        where: { seq: { [Op.gte]: expectedSeq } },
        order: [['seq', 'ASC']],
        limit: batch,
      });
      if (rows.length === 0) break;
      for (const row of rows) {
        if (row.seq !== expectedSeq) return broken(expectedSeq, `row ${expectedSeq} is missing`);
        if (row.prevHash !== prevHash) return broken(row.seq, 'its link to the previous row does not match');
        if (rowHash(row.get({ plain: true })) !== row.hash) return broken(row.seq, 'its content does not match its hash');
        prevHash = row.hash;
        expectedSeq += 1;
        checked += 1;
      }
    }
    if (checked !== head.seq) return broken(checked + 1, `the head says ${head.seq} rows, the table holds ${checked}`);
    if (prevHash !== head.hash) return broken(checked, 'the last row does not match the chain head');
    return { ok: true, checked, headSeq: head.seq };
  }
}
