import { expect } from 'chai';
import { Op } from 'sequelize';
import { pino } from 'pino';
import { createHarness, type Harness } from '../support/harness';
import { envFor, runScript } from '../support/run-cli';
import { makeUser, makeClient } from '../support/factories';
import { createLocalStorage } from '../../storage-adapters/local';
import { AccessReport, AuditEvent, Firm, OutboxMail, type Client } from '../../server/db/models';
import { periodContaining, previousPeriod, type Period } from '../../server/reports/periods';
import { ReportService, retryDelayMs } from '../../server/reports/report-service';

/**
 * A report build that fails (storage full) or is killed loses nothing: its claim is given up or
 * goes stale, and the scheduler's frequent round builds it within minutes (not at next month's
 * run), once, with one notice per recipient, however many runs race for it.
 */
describe('access reports: a failed or killed build is retried soon, and built once', function () {
  this.timeout(90_000);
  let h: Harness;
  let full: boolean;
  let writes: number;
  let logLines: string[];
  let client: Client;

  const jst = (s: string) => new Date(`${s}+09:00`);
  const log = () => logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const rowsOf = async () => (await AccessReport.findAll({ where: { clientId: client.id }, order: [['period', 'ASC']] }));
  const builds = () => AuditEvent.count({ where: { operation: 'report.build', clientId: client.id } });
  const noticesOf = async (rows: AccessReport[]) => (await OutboxMail.findAll({ where: { [Op.or]: rows.map((r) => ({ dedupeKey: { [Op.like]: `report:${r.id}:%` } })) } }))
    .map((m) => `${rows.find((r) => m.dedupeKey.startsWith(`report:${r.id}:`))!.period} ${m.toAddress}`).sort();
  /** Polls (a generous cap, never a timed assertion) until `ok` holds. */
  const until = async (what: string, ok: () => Promise<boolean>, capMs = 45_000) => {
    const end = Date.now() + capMs;
    while (!(await ok())) {
      if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  beforeEach(async () => {
    full = false;
    writes = 0;
    logLines = [];
    h = await createHarness({}, {
      logger: pino({ level: 'info' }, { write: (s: string) => { logLines.push(s); } }),
      storage: (c) => {
        const real = createLocalStorage(c.storageDir);
        return {
          ...real,
          write: async (id: string, body: NodeJS.ReadableStream) => {
            writes++;
            if (full) {
              (body as { resume?: () => void }).resume?.();
              throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
            }
            return real.write(id, body);
          },
        };
      },
    });
    await Firm.create({ id: 1, name: '暁社会保険労務士事務所' });
    client = await makeClient(h, { code: 'RT01', name: '株式会社再試行' });
    await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, email: 'hr@retry.example' });
    await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, email: 'boss@retry.example' });
  });
  afterEach(async () => { await h.close(); });

  const since = async (at: Date) => {
    await h.booted.sequelize.query('UPDATE clients SET created_at = ? WHERE id = ?', { replacements: [at, client.id] });
  };

  it('a build that fails for lack of space gives its claim up and is logged; the next round past the back-off builds it: one report and one notice per recipient', async () => {
    await since(new Date('2026-01-10T00:00:00Z'));
    const svc = h.booted.services.reports;
    const first = jst('2026-03-01T06:00:00');                // the monthly run's moment
    full = true;
    expect(await svc.runDue(first)).to.equal(0);
    let rows = await rowsOf();
    expect(rows.map((r) => [r.period, r.status, r.claimedBy])).to.deep.equal([['2026-01', 'failed', null], ['2026-02', 'failed', null]]);
    for (const r of rows) expect(r.error).to.match(/^attempt 1: ENOSPC/);
    // The operators are told, with the client's id and the period, and nothing personal.
    const failures = log().filter((l) => l.msg === 'access report failed; it will be retried');
    expect(failures.map((l) => [l.level, l.clientId, l.period, l.attempts])).to.deep.equal([[50, client.id, '2026-01', 1], [50, client.id, '2026-02', 1]]);
    expect(JSON.stringify(failures)).to.contain('ENOSPC').and.not.contain('retry.example').and.not.contain('再試行');

    // Space is freed. A round within the back-off (2 minutes after one failure) leaves storage alone.
    full = false;
    const writesBefore = writes;
    expect(await svc.runDue(new Date(first.getTime() + 60_000))).to.equal(0);
    expect(writes).to.equal(writesBefore);
    // The next round after it (the scheduler's, every 5 minutes) builds both.
    expect(await svc.runDue(new Date(first.getTime() + 5 * 60_000))).to.equal(2);
    rows = await rowsOf();
    expect(rows.map((r) => [r.period, r.status, r.error])).to.deep.equal([['2026-01', 'ready', null], ['2026-02', 'ready', null]]);
    expect(await builds()).to.equal(2);
    expect(await noticesOf(rows)).to.deep.equal(['2026-01 boss@retry.example', '2026-01 hr@retry.example', '2026-02 boss@retry.example', '2026-02 hr@retry.example']);
    expect((await svc.list(client.id)).length).to.equal(2);
    // Later rounds build and queue nothing more; each notice is mailed once.
    expect(await svc.runDue(new Date(first.getTime() + 10 * 60_000))).to.equal(0);
    expect(await svc.runDue(new Date(first.getTime() + 3 * 3600_000))).to.equal(0);
    await h.booted.services.outbox.deliverDue(new Date(Date.now() + 60_000));
    const to = (addr: string) => h.smtp.messages.filter((m) => (m.to && !Array.isArray(m.to) ? m.to.text : '').includes(addr));
    expect([to('hr@retry.example').length, to('boss@retry.example').length]).to.deep.equal([2, 2]);
    expect(await builds()).to.equal(2);
  });

  it('a storage that stays full is tried less and less often (2, 4, 8 … minutes, at most 6 hours)', async () => {
    expect([1, 2, 3, 4].map(retryDelayMs)).to.deep.equal([2, 4, 8, 16].map((m) => m * 60_000));
    expect(retryDelayMs(30)).to.equal(6 * 3600_000);
    await since(new Date('2026-02-10T00:00:00Z'));                  // one period due: 2026-02
    const svc = h.booted.services.reports;
    let t = jst('2026-03-01T06:00:00').getTime();
    full = true;
    const tries: number[] = [];
    // Rounds every 5 minutes for 2 hours: without a back-off that would be 25 tries.
    for (let round = 0; round <= 24; round++, t += 5 * 60_000) {
      const before = writes;
      await svc.runDue(new Date(t));
      if (writes > before) tries.push(round * 5);
    }
    expect(tries).to.deep.equal([0, 5, 10, 20, 40, 75]);
    const [row] = await rowsOf();
    expect([row!.status, row!.error]).to.deep.equal(['failed', 'attempt 6: ENOSPC: no space left on device, write']);
    // Space freed: the round after the back-off builds it once.
    full = false;
    expect(await svc.runDue(new Date(t + 6 * 3600_000))).to.equal(1);
    expect((await rowsOf()).map((r) => r.status)).to.deep.equal(['ready']);
    expect(await builds()).to.equal(1);
  });

  it('the scheduler retries a failed build within minutes (not at next month\'s run), once its back-off has passed', async () => {
    const last: Period = previousPeriod(periodContaining('monthly', new Date()));
    await since(new Date(last.start.getTime() + 86400_000));       // one period due: last month
    full = true;
    const scheduler = h.booted.services.scheduler;
    // Rounds every second instead of every 5 minutes; the monthly moment as in production.
    scheduler.start({ reportRetryCron: '* * * * * *', outboxCron: '0 0 1 1 *' });
    try {
      await until('the start-up run', async () => log().some((l) => l.msg === 'access reports: start-up run finished'));
      expect((await rowsOf()).map((r) => [r.period, r.status])).to.deep.equal([[last.key, 'failed']]);
      // Space freed; some minutes pass (the back-off is 2 minutes after one failure).
      full = false;
      await AccessReport.update({ claimedAt: new Date(Date.now() - 3 * 60_000) }, { where: { clientId: client.id } });
      await until('the report built by a scheduled round', async () => (await rowsOf()).every((r) => r.status === 'ready'));
    } finally {
      scheduler.stop();
    }
    const rows = await rowsOf();
    expect(rows.map((r) => [r.period, r.status])).to.deep.equal([[last.key, 'ready']]);
    expect(await builds()).to.equal(1);
    expect(await noticesOf(rows)).to.deep.equal([`${last.key} boss@retry.example`, `${last.key} hr@retry.example`]);
  });

  it('a claim a killed build left is taken over by the scheduler\'s round once stale, and the report is built once', async () => {
    const last: Period = previousPeriod(periodContaining('monthly', new Date()));
    await since(new Date(last.start.getTime() + 86400_000));
    // The process building last month's report was killed just now: its claim is fresh.
    await AccessReport.create({
      clientId: client.id, period: last.key, periodStart: last.startDate, periodEnd: last.endDate, status: 'building',
      objectId: null, keyVersion: null, wrappedKey: null, sha256: null, size: null, events: null, headSeq: null, headHash: null,
      claimedBy: 'killed-host:4242', claimedAt: new Date(), finishedAt: null, error: null,
    });
    const scheduler = h.booted.services.scheduler;
    scheduler.start({ reportRetryCron: '* * * * * *', outboxCron: '0 0 1 1 *' });
    try {
      await until('the start-up run', async () => log().some((l) => l.msg === 'access reports: start-up run finished'));
      // A live claim is left alone: another instance may be building.
      expect((await rowsOf()).map((r) => [r.status, r.claimedBy])).to.deep.equal([['building', 'killed-host:4242']]);
      // Eleven minutes pass: the claim is stale.
      await AccessReport.update({ claimedAt: new Date(Date.now() - 11 * 60_000) }, { where: { clientId: client.id } });
      await until('the stale claim taken over and built', async () => (await rowsOf()).every((r) => r.status === 'ready'));
    } finally {
      scheduler.stop();
    }
    const rows = await rowsOf();
    expect(rows.map((r) => [r.period, r.status, r.error])).to.deep.equal([[last.key, 'ready', null]]);
    expect(rows[0]!.claimedBy).to.not.equal('killed-host:4242');
    expect(await builds()).to.equal(1);
    expect(await noticesOf(rows)).to.deep.equal([`${last.key} boss@retry.example`, `${last.key} hr@retry.example`]);
    expect(log().some((l) => l.msg === 'access report: a stale claim (a build that stopped) was taken over' && l.level === 40)).to.equal(true);
  });

  it('a long build renews its claim: another instance\'s round does not take it for a dead one, and the report is built once', async () => {
    const last: Period = previousPeriod(periodContaining('monthly', new Date()));
    await since(new Date(last.start.getTime() + 86400_000));
    const s = h.booted.services;
    let finish!: () => void;
    const gate = new Promise<void>((r) => { finish = r; });
    let rendering = false;
    // Two instances' services whose claims go stale after 1.5 s (10 minutes in production); the first renders slowly.
    const instance = (render: ConstructorParameters<typeof ReportService>[0]['render']) => new ReportService({
      audit: s.audit, clientKeys: s.clientKeys, storage: s.storage, outbox: s.outbox, logger: s.logger, config: s.config, render, staleClaimMs: 1500,
    });
    const slow = instance(async () => { rendering = true; await gate; return new TextEncoder().encode('%PDF-1.7 slow'); });
    const other = instance(async () => new TextEncoder().encode('%PDF-1.7 other'));
    const first = slow.build(client.id, last, new Date());
    await until('the slow build under way', async () => rendering);
    // Three times the stale window passes while it works; the other instance's rounds find the claim live.
    const end = Date.now() + 4500;
    while (Date.now() < end) {
      expect(await other.build(client.id, last, new Date()), 'the other instance took the live claim over').to.equal(false);
      await new Promise((r) => setTimeout(r, 300));
    }
    finish();
    expect(await first).to.equal(true);
    const rows = await rowsOf();
    expect(rows.map((r) => [r.period, r.status, r.error])).to.deep.equal([[last.key, 'ready', null]]);
    expect(Buffer.from(await s.reports.read(rows[0]!)).toString()).to.equal('%PDF-1.7 slow');
    expect(await builds()).to.equal(1);
    expect(log().filter((l) => String(l.msg).includes('stale claim'))).to.deep.equal([]);
  });

  it('an operator\'s report:run retries a failed build at once; the scheduled job waits for its back-off', async () => {
    const last: Period = previousPeriod(periodContaining('monthly', new Date()));
    await since(new Date(last.start.getTime() + 86400_000));
    const svc = h.booted.services.reports;
    full = true;
    const failedAt = new Date();
    await svc.build(client.id, last, failedAt).then(() => expect.fail('the build should fail'), (err: Error) => expect(err.message).to.match(/ENOSPC/));
    expect((await rowsOf()).map((r) => r.status)).to.deep.equal(['failed']);
    full = false;
    const writesBefore = writes;
    expect(await svc.build(client.id, last, new Date(failedAt.getTime() + 1000)), 'the job within its back-off').to.equal(false);
    expect(writes).to.equal(writesBefore);
    const run = await runScript('scripts/cli.ts', ['report:run', '--client', 'RT01', '--period', last.key], envFor(h));
    expect(run.code, run.stderr).to.equal(0);
    expect((await rowsOf()).map((r) => [r.status, r.error])).to.deep.equal([['ready', null]]);
    expect(await AuditEvent.count({ where: { operation: 'report.build', clientId: client.id, channel: 'cli:report:run' } })).to.equal(1);
    expect(await builds()).to.equal(1);
  });

  it('runs racing for failed builds (as several instances\' rounds do) build each period once', async () => {
    await since(new Date('2025-12-10T00:00:00Z'));                  // three periods due: 2025-12, 2026-01, 2026-02
    const svc = h.booted.services.reports;
    const first = jst('2026-03-01T06:00:00');
    full = true;
    expect(await svc.runDue(first)).to.equal(0);
    expect((await rowsOf()).map((r) => r.status)).to.deep.equal(['failed', 'failed', 'failed']);
    full = false;
    const later = new Date(first.getTime() + 5 * 60_000);
    // And another client's February report, whose builder was killed 11 minutes before the round.
    const other = await makeClient(h, { code: 'RT02', name: '株式会社中断' });
    await makeUser(h, { role: 'client_admin', clientId: other.id, totp: false, email: 'hr@killed.example' });
    await h.booted.sequelize.query('UPDATE clients SET created_at = ? WHERE id = ?', { replacements: [new Date('2026-02-10T00:00:00Z'), other.id] });
    await AccessReport.create({
      clientId: other.id, period: '2026-02', periodStart: '2026-02-01', periodEnd: '2026-02-28', status: 'building',
      objectId: null, keyVersion: null, wrappedKey: null, sha256: null, size: null, events: null, headSeq: null, headHash: null,
      claimedBy: 'killed-host:1', claimedAt: new Date(later.getTime() - 11 * 60_000), finishedAt: null, error: null,
    });
    const built = await Promise.all([1, 2, 3, 4].map(() => svc.runDue(later)));
    expect(built.reduce((a, n) => a + n, 0)).to.equal(4);
    const rows = await rowsOf();
    expect(rows.map((r) => [r.period, r.status])).to.deep.equal([['2025-12', 'ready'], ['2026-01', 'ready'], ['2026-02', 'ready']]);
    expect(await builds()).to.equal(3);
    expect(await noticesOf(rows)).to.have.length(6);
    expect(new Set(await noticesOf(rows)).size).to.equal(6);
    const theirs = await AccessReport.findAll({ where: { clientId: other.id } });
    expect(theirs.map((r) => [r.period, r.status])).to.deep.equal([['2026-02', 'ready']]);
    expect(await AuditEvent.count({ where: { operation: 'report.build', clientId: other.id } })).to.equal(1);
    expect(await noticesOf(theirs)).to.deep.equal(['2026-02 hr@killed.example']);
    // A round racing the next ones builds nothing more.
    expect((await Promise.all([1, 2].map(() => svc.runDue(new Date(later.getTime() + 5 * 60_000))))).reduce((a, n) => a + n, 0)).to.equal(0);
    expect(log().filter((l) => l.msg === 'access report failed' || l.msg === 'scheduled job failed')).to.deep.equal([]);
  });

  it('the frequent round does not build a period before its scheduled moment (the 1st, 06:00 Japan time); the start-up run does', async () => {
    await since(new Date('2026-02-10T00:00:00Z'));
    const svc = h.booted.services.reports;
    const scheduledAt = (p: Period) => new Date(p.end.getTime() + 6 * 3600_000);
    expect(await svc.runDue(jst('2026-03-01T05:55:00'), { scheduledAt })).to.equal(0);
    expect(await rowsOf()).to.have.length(0);
    expect(await svc.runDue(jst('2026-03-01T06:00:00'), { scheduledAt })).to.equal(1);
    expect(await svc.runDue(jst('2026-04-01T05:00:00'))).to.equal(1);
  });
});
