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
});
