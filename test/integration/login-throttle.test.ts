import { expect } from 'chai';
import { createHash } from 'node:crypto';
import sqlite3 from 'sqlite3';
import { QueryTypes } from 'sequelize';
import { createHarness, dialectName, type Harness } from '../support/harness';
import { TooManyRequests } from '../../server/errors';

describe(`Sign-in throttle counters in the database (${dialectName})`, () => {
  let h: Harness;
  before(async () => { h = await createHarness(); });
  after(async () => { await h.close(); });

  it('many tries counted at once are all counted, and leave the database free for other writers', async () => {
    const throttle = h.booted.services.loginThrottle;
    await Promise.all(Array.from({ length: 12 }, (_, i) => throttle.attempt(`racer${i % 3}@example.jp`, `192.0.2.${i % 4}`)));
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
    await throttle.attempt('sweep@example.jp', '192.0.2.77');
    const now = Date.now();
    await sequelize.query('UPDATE rate_limits SET expire = ? WHERE `key` LIKE ?', { replacements: [now - 2 * 3600_000, 'login_ip%'] });
    await throttle.sweepExpired(now);
    const rows = await sequelize.query<{ key: string }>('SELECT `key` FROM rate_limits', { type: QueryTypes.SELECT });
    expect(rows.filter((r) => r.key.startsWith('login_ip')), 'expired per-IP counters').to.have.length(0);
    expect(rows.filter((r) => r.key.startsWith('login_acct_ip')).length, 'live per-account counters').to.be.greaterThan(0);
    // The library's own 5-minute expiry timer would fire after the database is closed and end the process.
    const limiters = Object.values(throttle as unknown as Record<string, { _clearExpiredTimeoutId?: unknown }>).filter((v) => v && typeof v === 'object' && 'clearExpiredByTimeout' in v);
    expect(limiters).to.have.length(3);
    for (const l of limiters) expect(l._clearExpiredTimeoutId, 'expiry timer of the library').to.equal(undefined);
  });

  it('tries sent in parallel are taken before any is checked: of 12 at once for one account and IP, 5 pass and 7 are told to wait', async () => {
    const throttle = h.booted.services.loginThrottle;
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => throttle.attempt('parallel@example.jp', '192.0.2.90')));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).to.have.length(5);
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as TooManyRequests);
    expect(refused).to.have.length(7);
    for (const err of refused) {
      expect(err).to.be.instanceOf(TooManyRequests);
      expect(err.retryAfterSeconds).to.be.within(1, 15 * 60);
    }
  });

  it('a try that succeeds is given back: the account\'s failures from that IP are forgotten, and the IP\'s count drops by one', async () => {
    const { loginThrottle: throttle, sequelize } = h.booted.services;
    for (let i = 0; i < 4; i++) await throttle.attempt('comeback@example.jp', '192.0.2.91');
    await throttle.attempt('comeback@example.jp', '192.0.2.91');
    await throttle.succeed('comeback@example.jp', '192.0.2.91');
    // Five more tries fit again for this account from this IP.
    for (let i = 0; i < 5; i++) await throttle.attempt('comeback@example.jp', '192.0.2.91');
    await rejects(throttle.attempt('comeback@example.jp', '192.0.2.91'));
    const ipRow = await sequelize.query<{ points: number }>('SELECT points FROM rate_limits WHERE `key` = ?', { replacements: [`login_ip:${createHash('sha256').update('192.0.2.91').digest('hex')}`], type: QueryTypes.SELECT });
    // 5 + 5 tries from that address, one given back, and the refused 11th not counted against it: 9 (of the 100 an hour).
    expect(ipRow.map((r) => Number(r.points))).to.deep.equal([9]);
  });

  it('IPv6 addresses in one /56 share their counters: rotating through a block buys no more tries', async () => {
    const throttle = h.booted.services.loginThrottle;
    for (let i = 0; i < 5; i++) await throttle.attempt('v6@example.jp', `2001:db8:0:${i.toString(16)}::${i + 1}`);
    await rejects(throttle.attempt('v6@example.jp', '2001:db8:0:ff:1234::9'));
    // Another /56 is another line.
    await throttle.attempt('v6@example.jp', '2001:db8:0:100::1');
  });

  it('an address that is spent (an office behind one address) does not use up the accounts\' own tries', async () => {
    const { loginThrottle: throttle, sequelize } = h.booted.services;
    const office = '198.51.100.7';
    for (let i = 0; i < 100; i++) await throttle.attempt(`colleague${i}@example.jp`, office);
    await rejects(throttle.attempt('latecomer@example.jp', office));
    const accountKey = `login_acct_ip:${createHash('sha256').update(`latecomer@example.jp|${office}`).digest('hex')}`;
    const rows = await sequelize.query<{ points: number }>('SELECT points FROM rate_limits WHERE `key` = ?', { replacements: [accountKey], type: QueryTypes.SELECT });
    expect(rows.map((r) => Number(r.points))).to.deep.equal([0]);
  });
});

async function rejects(p: Promise<unknown>): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).to.be.instanceOf(TooManyRequests);
}
