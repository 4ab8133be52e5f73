import { createHash } from 'node:crypto';
import sqlite3 from 'sqlite3';
import type { Sequelize } from 'sequelize';
import { RateLimiterMySQL, RateLimiterSQLite, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';
import { ipKeyGenerator } from 'express-rate-limit';
import { TooManyRequests } from '../errors';
import { isMysql } from '../db/database';
import type { Config } from '../config';

const ACCOUNT_IP_FAILURES = 5;
const IP_FAILURES = 100;
/** Wrong codes an account takes in an hour from all addresses together, once its password was right. */
const ACCOUNT_CODE_FAILURES = 20;
const TABLE = 'rate_limits';

type LimiterOptions = { keyPrefix: string; points: number; duration: number };
interface Counters {
  make(o: LimiterOptions): RateLimiterAbstract;
  /** Deletes the counters that expired before this time (ms). */
  sweep(beforeMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Where the counters live: the portal's own database (table `rate_limits`, made by a migration), so
 * every instance on it counts the same failures and a restart forgets nothing. On SQLite the store
 * gets a connection of its own: the library's statements must not run inside the portal's queued
 * transactions on the shared one.
 */
export function databaseCounters(sequelize: Sequelize, config: Pick<Config, 'sqliteFile'>): Counters {
  // The library's own expiry timer (clearExpiredByTimeout) fires every 5 minutes for as long as the
  // process lives, also after the database is closed; on SQLite its rejection then ends the process.
  // The portal's scheduler sweeps instead (Scheduler, 'sign-in-counters').
  if (isMysql(sequelize)) {
    return {
      make: (o) => new RateLimiterMySQL({ ...o, storeClient: sequelize, storeType: 'sequelize', dbName: sequelize.config.database, tableName: TABLE, tableCreated: true, clearExpiredByTimeout: false }),
      sweep: async (beforeMs) => { await sequelize.query(`DELETE FROM ${TABLE} WHERE expire < ?`, { replacements: [beforeMs] }); },
      close: async () => undefined,
    };
  }
  const db = new sqlite3.Database(config.sqliteFile);
  db.configure('busyTimeout', 5000);
  // The library reads its INSERT … RETURNING with get(), which stops after the first row: the
  // statement is still running when it releases its savepoint, SQLite refuses the release, the
  // library ignores that, and this connection keeps the write lock for good (every other writer then
  // fails with SQLITE_BUSY). all() runs the statement to its end first.
  type RowCallback = (err: Error | null, row?: unknown) => void;
  (db as unknown as { get: (sql: string, params: unknown[], cb: RowCallback) => void }).get = (sql, params, cb) => {
    db.all(sql, params, (err, rows) => cb(err, rows?.[0]));
  };
  return {
    make: (o) => new RateLimiterSQLite({ ...o, storeClient: db, storeType: 'sqlite3', tableName: TABLE, tableCreated: true, clearExpiredByTimeout: false }),
    sweep: (beforeMs) => new Promise((resolve, reject) => db.run(`DELETE FROM ${TABLE} WHERE expire < ?`, [beforeMs], (err) => (err ? reject(err) : resolve()))),
    close: () => new Promise((resolve) => db.close(() => resolve())),
  };
}

/**
 * Failed sign-ins are counted per (account, IP) and per IP. There is deliberately no per-account
 * counter across all IPs for passwords: that would let a stranger lock a real user out by guessing
 * wrong. The code step is different: only someone who has the password reaches it, and six digits
 * guessed from many addresses (a botnet, or the /56s of one IPv6 allocation) would otherwise fall
 * within days; its tries are also counted per account across all addresses.
 */
export class LoginThrottle {
  private readonly perAccountAndIp: RateLimiterAbstract;
  private readonly perIp: RateLimiterAbstract;
  private readonly codesPerAccount: RateLimiterAbstract;

  constructor(private readonly counters: Counters) {
    this.perAccountAndIp = counters.make({ keyPrefix: 'login_acct_ip', points: ACCOUNT_IP_FAILURES, duration: 15 * 60 });
    this.perIp = counters.make({ keyPrefix: 'login_ip', points: IP_FAILURES, duration: 60 * 60 });
    this.codesPerAccount = counters.make({ keyPrefix: 'login_code_acct', points: ACCOUNT_CODE_FAILURES, duration: 60 * 60 });
  }

  /**
   * One try of the code step (TOTP or recovery code) of `account`: taken as `attempt` takes it, and
   * from the account's own count across all addresses.
   */
  async attemptCode(account: string, ip: string): Promise<void> {
    await this.attempt(account, ip);
    try {
      await take(this.codesPerAccount, hashed(account.trim().toLowerCase()));
    } catch (err) {
      // Refused for the account as a whole: not a try of this address.
      if (err instanceof TooManyRequests) await Promise.all([this.perAccountAndIp.reward(key(account, ip), 1), this.perIp.reward(hashed(ipKey(ip)), 1)]);
      throw err;
    }
  }

  /** A right code: as `succeed`, and its try is given back to the account's own count (the wrong ones stay). */
  async codeSucceeded(account: string, ip: string): Promise<void> {
    await Promise.all([this.succeed(account, ip), this.codesPerAccount.reward(hashed(account.trim().toLowerCase()), 1)]);
  }

  /**
   * Takes one try from both counters before the password or code is checked, and throws
   * TooManyRequests (with the seconds to wait) when either is spent. Taken first, in one atomic
   * update of each counter, so tries sent in parallel cannot all pass a check made before any
   * failure was counted; a try that succeeds is given back (succeed).
   */
  async attempt(account: string, ip: string): Promise<void> {
    // The account's counter first: a try it refuses does not also use up the address's budget
    // (which a whole office behind one address shares).
    await take(this.perAccountAndIp, key(account, ip));
    try {
      await take(this.perIp, hashed(ipKey(ip)));
    } catch (err) {
      // The address is spent (an office behind one address): that is not this account's try.
      if (err instanceof TooManyRequests) await this.perAccountAndIp.reward(key(account, ip), 1);
      throw err;
    }
  }

  /** A try that succeeded: the account's failures from this IP are forgotten, and the IP gets its try back. */
  async succeed(account: string, ip: string): Promise<void> {
    await Promise.all([this.perAccountAndIp.delete(key(account, ip)), this.perIp.reward(hashed(ipKey(ip)), 1)]);
  }

  /** Expired counters are dead rows; the hour's margin is the one the library's own sweep kept. */
  sweepExpired(now = Date.now()): Promise<void> {
    return this.counters.sweep(now - 60 * 60 * 1000);
  }

  close(): Promise<void> {
    return this.counters.close();
  }
}

/** One try from a counter, or TooManyRequests with the seconds until it frees up. */
async function take(counter: RateLimiterAbstract, k: string): Promise<void> {
  try {
    await counter.consume(k, 1);
  } catch (err) {
    // The library rejects with the counter's state when it is spent, and with an Error when the store failed.
    if (err instanceof Error) throw err;
    throw new TooManyRequests(Math.max(1, Math.ceil((err as RateLimiterRes).msBeforeNext / 1000)));
  }
}

// The table keeps hashes only: which addresses and IPs failed to sign in is nobody's business.
const hashed = (s: string) => createHash('sha256').update(s).digest('hex');
/** An IPv6 address counts by its /56, as the per-route limit does: one line gets a whole block of addresses to rotate through. */
const ipKey = (ip: string) => ipKeyGenerator(ip);
const key = (account: string, ip: string) => hashed(`${account.trim().toLowerCase()}|${ipKey(ip)}`);
