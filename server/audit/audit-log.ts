import { Op, QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { AuditEvent, AuditHead, type AuditResult } from '../db/models';
import { ON_REFUSAL_RECORDED, type ActorContext } from './context';
import { GENESIS_HASH, rowHash } from './chain';
import { maskNumberRuns } from '../vault/my-number';

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

/** Statements that read or write rows (not a transaction's own BEGIN, SET or SAVEPOINT). */
const ROW_WORK = new Set<string>([
  QueryTypes.SELECT, QueryTypes.INSERT, QueryTypes.UPDATE, QueryTypes.BULKUPDATE, QueryTypes.BULKDELETE, QueryTypes.DELETE, QueryTypes.UPSERT,
]);

const cut = (v: string | null | undefined, n: number): string | null => (v == null ? null : v.slice(0, n));

/**
 * The append-only, hash-chained log. `record` must be given the transaction of the action it
 * records: if the row cannot be written, the action rolls back with it (fail closed).
 */
export class AuditLog {
  /** Transactions that took the log's head as their first lock (checked only under `checkLockOrder`). */
  private readonly headFirst = new WeakSet<Transaction>();
  /** Transactions that read or wrote rows before taking the head: the order that deadlocks. */
  private readonly workedBeforeHead = new WeakSet<Transaction>();

  /**
   * `checkLockOrder` (the tests) makes every audited transaction prove it took the head first: an
   * audited write that did not, or took it after other rows, throws, so a deadlock-prone order fails
   * a test instead of a customer's request on MySQL now and then.
   */
  constructor(private readonly sequelize: Sequelize, private readonly o: { checkLockOrder?: boolean } = {}) {
    if (o.checkLockOrder) {
      sequelize.addHook('beforeQuery', 'audit-lock-order', (options: { transaction?: Transaction | null; type?: string }) => {
        const tx = options.transaction;
        if (tx && !this.headFirst.has(tx) && options.type && ROW_WORK.has(options.type)) this.workedBeforeHead.add(tx);
      });
    }
  }

  /**
   * A transaction whose first lock is the log's head: every audited write takes the head, so taking
   * it first gives every audited transaction one lock order. On MySQL a row added under the head
   * also takes a shared lock on the row it refers to (its client, its employee, its file); a
   * transaction that locked such a row first and the head after would deadlock against it.
   */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.sequelize.transaction(async (tx) => {
      await this.serialise(tx);
      return work(tx);
    });
  }

  async record(tx: Transaction, ctx: ActorContext, entry: AuditEntry): Promise<AuditEvent> {
    if (this.o.checkLockOrder && !this.headFirst.has(tx)) throw new Error(`lock order: the transaction recording ${entry.operation} did not take the log's head first (use audit.transaction)`);
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
      // A label is a name (a person's, a file's, an address typed): it never carries a number into the log.
      targetLabel: cut(entry.targetLabel == null ? null : maskNumberRuns(entry.targetLabel), 200),
      operation: cut(entry.operation, 40)!,
      channel: cut(ctx.channel, 100)!,
      ip: cut(ctx.ip, 64),
      userAgent: cut(ctx.userAgent, 255),
      purpose: cut(entry.purpose, 100),
      office: cut(entry.office, 100),
      result: entry.result,
      // Details are mostly the code's own words and figures, but some quote what was typed (a name as
      // it was before a correction, a passkey's name): masked too, as the log can never be erased.
      detail: cut(entry.detail == null ? null : maskNumberRuns(entry.detail), 500),
      prevHash: head.hash,
    };
    const hash = rowHash(fields);
    const row = await AuditEvent.create({ ...fields, hash }, { transaction: tx });
    await AuditHead.update({ seq: fields.seq, hash }, { where: { id: 1, seq: head.seq }, transaction: tx });
    if (entry.result !== 'allowed') ctx[ON_REFUSAL_RECORDED]?.();
    return row;
  }

  /**
   * Takes the lock on the log's head row as the transaction's first statement (audit.transaction
   * does it for its callers). Work of one kind (two requests for the same items, a double-tapped
   * import) then also runs one after the other.
   */
  async serialise(tx: Transaction): Promise<void> {
    if (this.headFirst.has(tx)) return;
    if (this.o.checkLockOrder && this.workedBeforeHead.has(tx)) throw new Error('lock order: the log\'s head was taken after other rows of the transaction (use audit.transaction)');
    this.headFirst.add(tx);
    await AuditHead.findByPk(1, { transaction: tx, lock: tx.LOCK.UPDATE });
  }

  /** Records in a transaction of its own: for events that are the whole action (a failed login). */
  async recordAlone(ctx: ActorContext, entry: AuditEntry): Promise<void> {
    await this.transaction(async (tx) => { await this.record(tx, ctx, entry); });
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
