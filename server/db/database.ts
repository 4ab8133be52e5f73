import fs from 'node:fs';
import { AsyncLocalStorage } from 'node:async_hooks';
import { QueryTypes, Sequelize, Transaction, type Options } from 'sequelize';
import type { Config } from '../config';

/** The embedded SQLite file by default; MySQL/MariaDB when DATABASE_URL says so. */
export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'sqliteFile' | 'dataDir'>): Promise<Sequelize> {
  const common: Options = {
    logging: false,
    define: { underscored: true, timestamps: true },
  };
  if (config.databaseUrl) {
    const sequelize = new Sequelize(config.databaseUrl.replace(/^mariadb:/, 'mysql:'), {
      ...common,
      dialect: 'mysql',
      timezone: '+00:00',
      dialectOptions: { charset: 'utf8mb4', dateStrings: false },
      pool: { max: 10, min: 0, idle: 10_000, acquire: 10_000 },
    });
    await sequelize.authenticate();
    return sequelize;
  }
  fs.mkdirSync(config.dataDir, { recursive: true });
  const sequelize = new Sequelize({
    ...common,
    dialect: 'sqlite',
    storage: config.sqliteFile,
    // SQLite has one writer; a single connection avoids SQLITE_BUSY between our own connections.
    pool: { max: 1, min: 1, idle: Infinity as unknown as number },
    // Transactions take the write lock at BEGIN, so two never deadlock upgrading read locks.
    transactionType: Transaction.TYPES.IMMEDIATE,
  });
  await sequelize.query('PRAGMA journal_mode = WAL');
  await sequelize.query('PRAGMA busy_timeout = 5000');
  await sequelize.query('PRAGMA foreign_keys = ON');
  // A value overwritten or deleted (an erased number, a destroyed key) is zeroed in the file, not
  // left in a free cell. Per connection, and Sequelize opens one per transaction: set on each.
  onNewConnection(sequelize, async (conn) => {
    for (const sql of ['PRAGMA secure_delete = ON', 'PRAGMA busy_timeout = 5000']) {
      await new Promise<void>((resolve, reject) => { conn.run(sql, (err: Error | null) => (err ? reject(err) : resolve())); });
    }
  });
  queueTransactions(sequelize);
  cacheColumnTypes(sequelize);
  return sequelize;
}

type Callback = (err: Error | null, rows?: unknown) => void;
interface SqliteConnection { all(sql: string, ...rest: unknown[]): unknown; run(sql: string, ...rest: unknown[]): unknown; exec(sql: string, ...rest: unknown[]): unknown }
const TABLE_INFO = /^PRAGMA table_info\(`[^`]+`\)$/;
const DDL = /^\s*(?:create|alter|drop)\b/i;

/**
 * Sequelize's SQLite dialect asks `PRAGMA table_info` of a table before every SELECT from it, to
 * know which columns hold dates and booleans: one extra round trip to the database thread per
 * query (~0.18 ms of a ~0.6 ms primary-key read here, and a page makes several). The answer changes
 * only with the schema, so it is kept until a CREATE, ALTER or DROP passes through any connection
 * (an answer still in flight then is not kept). The schema changes only in migrations, which run
 * before the portal serves.
 */
function cacheColumnTypes(sequelize: Sequelize): void {
  const cache = new Map<string, unknown>();
  let generation = 0;
  const schemaChange = (sql: string) => { if (DDL.test(sql)) { cache.clear(); generation++; } };
  onNewConnection(sequelize, async (conn) => {
    const { all, run, exec } = conn;
    conn.all = function (sql: string, ...rest: unknown[]) {
      schemaChange(sql);
      const cb = rest.at(-1) as Callback;
      if (!TABLE_INFO.test(sql) || typeof cb !== 'function') return all.call(this, sql, ...rest);
      if (cache.has(sql)) { process.nextTick(cb, null, cache.get(sql)); return this; }
      const asked = generation;
      return all.call(this, sql, ...rest.slice(0, -1), (err: Error | null, rows?: unknown) => {
        if (!err && asked === generation) cache.set(sql, rows);
        cb(err, rows);
      });
    };
    conn.run = function (sql: string, ...rest: unknown[]) { schemaChange(sql); return run.call(this, sql, ...rest); };
    conn.exec = function (sql: string, ...rest: unknown[]) { schemaChange(sql); return exec.call(this, sql, ...rest); };
  });
}

/** Calls `setUp` on each SQLite connection Sequelize opens, once, before the connection is first used. */
function onNewConnection(sequelize: Sequelize, setUp: (conn: SqliteConnection) => Promise<void>): void {
  const seen = new WeakSet<object>();
  const manager = (sequelize as unknown as { connectionManager: { getConnection(o?: unknown): Promise<SqliteConnection> } }).connectionManager;
  const getConnection = manager.getConnection.bind(manager);
  manager.getConnection = async (options?: unknown) => {
    const conn = await getConnection(options);
    if (!seen.has(conn)) {
      seen.add(conn);
      await setUp(conn);
    }
    return conn;
  };
}

/**
 * SQLite has one writer, and Sequelize gives every transaction a connection of its own: under load
 * concurrent transactions then wait on the file lock and fail after busy_timeout (503s). Queuing
 * them in the process instead lets each run at once when its turn comes. A write outside any
 * transaction (a session saved, a row updated on its own) joins the same queue: on the shared
 * connection it would otherwise sleep in SQLite's busy handler while a transaction holds the lock.
 * Anything started inside a queued transaction's callback is not queued (it would wait for itself).
 */
function queueTransactions(sequelize: Sequelize): void {
  const inside = new AsyncLocalStorage<true>();
  type Fn = (...args: unknown[]) => Promise<unknown>;
  const target = sequelize as unknown as { transaction: Fn; query: Fn };
  const originalTransaction = target.transaction.bind(sequelize) as Fn;
  const originalQuery = target.query.bind(sequelize) as Fn;
  let tail: Promise<unknown> = Promise.resolve();
  const enqueue = (work: () => Promise<unknown>) => {
    const run = () => inside.run(true, work);
    const result = tail.then(run, run);
    tail = result.catch(() => undefined);
    return result;
  };
  target.transaction = (...args: unknown[]) => {
    if (!args.some((a) => typeof a === 'function') || inside.getStore()) return originalTransaction(...args);
    return enqueue(() => originalTransaction(...args));
  };
  target.query = (...args: unknown[]) => {
    const [sql, options] = args as [unknown, { transaction?: unknown; type?: string } | undefined];
    if (inside.getStore() || options?.transaction || !isWrite(sql, options?.type)) return originalQuery(...args);
    return enqueue(() => originalQuery(...args));
  };
}

const WRITE_TYPES = new Set(['INSERT', 'UPDATE', 'BULKUPDATE', 'BULKDELETE', 'DELETE', 'UPSERT']);
function isWrite(sql: unknown, type: string | undefined): boolean {
  if (type && WRITE_TYPES.has(type)) return true;
  const text = typeof sql === 'string' ? sql : (sql as { query?: string } | null)?.query;
  return typeof text === 'string' && /^\s*(insert|update|delete|replace)\b/i.test(text);
}

export function isMysql(sequelize: Sequelize): boolean {
  return sequelize.getDialect() === 'mysql';
}

/**
 * After an erasure, on SQLite: copies the write-ahead log into the database and truncates it, so the
 * older page images that still held the erased values do not stay in the WAL file (in the database
 * file itself secure_delete has zeroed them). False when another process (a CLI command on the same
 * file) kept the checkpoint from finishing; the next one removes them. MySQL/MariaDB: the server
 * purges its undo log itself (README, "Backups and restore").
 */
export async function flushErasedPages(sequelize: Sequelize): Promise<boolean> {
  if (sequelize.getDialect() !== 'sqlite') return true;
  const [row] = await sequelize.query<{ busy: number }>('PRAGMA wal_checkpoint(TRUNCATE)', { type: QueryTypes.SELECT });
  return Number(row?.busy ?? 1) === 0;
}
