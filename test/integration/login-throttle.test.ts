import { expect } from 'chai';
import sqlite3 from 'sqlite3';
import { QueryTypes } from 'sequelize';
import { createHarness, dialectName, type Harness } from '../support/harness';

describe(`Sign-in throttle counters in the database (${dialectName})`, () => {
  let h: Harness;
  before(async () => { h = await createHarness(); });
  after(async () => { await h.close(); });

  it('many failures counted at once are all counted, and leave the database free for other writers', async () => {
    const throttle = h.booted.services.loginThrottle;
    await Promise.all(Array.from({ length: 12 }, (_, i) => throttle.fail(`racer${i % 3}@example.jp`, `192.0.2.${i % 4}`)));
    const rows = await h.booted.services.sequelize.query<{ key: string; points: number }>('SELECT `key`, points FROM rate_limits', { type: QueryTypes.SELECT });
    const total = (prefix: string) => rows.filter((r) => r.key.startsWith(prefix)).reduce((n, r) => n + Number(r.points), 0);
    expect(total('login_acct_ip')).to.equal(12);
    expect(total('login_ip')).to.equal(12);
    if (dialectName !== 'sqlite') return;
    // Another connection must get the write lock at once: the counters' connection must not keep it.
    const other = new sqlite3.Database(h.config.sqliteFile);
    other.configure('busyTimeout', 200);
    try {
      const err = await new Promise<Error | null>((resolve) => other.run('BEGIN IMMEDIATE', (e) => resolve(e)));
      expect(err?.message ?? null).to.equal(null);
      await new Promise((resolve) => other.run('ROLLBACK', resolve));
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('the sweep deletes counters that expired over an hour ago and keeps the rest; the library runs no expiry timer of its own', async () => {
    const { loginThrottle: throttle, sequelize } = h.booted.services;
    await throttle.fail('sweep@example.jp', '192.0.2.77');
    const now = Date.now();
    await sequelize.query('UPDATE rate_limits SET expire = ? WHERE `key` LIKE ?', { replacements: [now - 2 * 3600_000, 'login_ip%'] });
    await throttle.sweepExpired(now);
    const rows = await sequelize.query<{ key: string }>('SELECT `key` FROM rate_limits', { type: QueryTypes.SELECT });
    expect(rows.filter((r) => r.key.startsWith('login_ip')), 'expired per-IP counters').to.have.length(0);
    expect(rows.filter((r) => r.key.startsWith('login_acct_ip')).length, 'live per-account counters').to.be.greaterThan(0);
    // The library's own 5-minute expiry timer would fire after the database is closed and end the process.
    const limiters = Object.values(throttle as unknown as Record<string, { _clearExpiredTimeoutId?: unknown }>).filter((v) => v && typeof v === 'object' && 'clearExpiredByTimeout' in v);
    expect(limiters).to.have.length(2);
    for (const l of limiters) expect(l._clearExpiredTimeoutId, 'expiry timer of the library').to.equal(undefined);
  });
});
