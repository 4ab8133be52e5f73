/**
 * `npm run load [-- --mysql URL] [--duration S] [--uploads N] [--upload-mib N] [--reveal-seconds S]`:
 * the portal under load on loopback, its own process, each figure beside its target and beside a
 * ceiling measured in the same run. Figures, never asserted in tests.
 *
 *   a. 50 signed-in client admins (each its own session cookie and its own loopback address) browse
 *      GET /home, /files, /client/people in rotation, autocannon with 50 connections for 15 s; the same
 *      load against a bare Express hello world in its own process. Targets: portal/hello ≥ 0.2,
 *      portal p99 < 100 ms.
 *   b. 20 uploads of 100 MiB at once through POST /files (multipart, generated while sent), the
 *      portal's VmRSS sampled every 100 ms. Target: peak RSS < 512 MiB (ceiling: the portal's idle RSS).
 *   c. 50 reveals a second for 10 s by one assigned firm staff member after re-authentication
 *      (autocannon overallRate 50, 10 connections), the portal started with REVEAL_BURST_MAX=100000.
 *      Targets: p95 < 100 ms; 'vault.reveal' 'allowed' audit rows = 200 responses.
 *      (ceiling: the same session's GET of the numbers list at the same rate)
 *   --parts a,b,c  which of the three to run (all by default)
 *   --cpu-prof DIR  the portal writes a V8 CPU profile there when it stops (open it in Chrome's DevTools)
 *   --mysql URL  run on MariaDB/MySQL: a fresh database is made on that server and dropped after
 *                (e.g. mysql://root@127.0.0.1:3306/); SQLite in the DATA_DIR otherwise.
 * LOAD_SERVER_OUTPUT=1 passes the servers' output through to stderr.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freshMysqlDatabase } from './support/fresh-mysql';
import { startHello, startPortal, stopProcess, rssMib, sampleRss, sampleMachine, type Server } from './load/proc';
import { Session, loopback, uploadFile } from './load/http';
import { cannon, type CannonFigures } from './load/cannon';
import { seed, countAllowedReveals, PASSWORD } from './load/setup';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const USERS = 50;
const duration = Number(arg('duration') ?? 15);
const uploads = Number(arg('uploads') ?? 20);
const uploadMib = Number(arg('upload-mib') ?? 100);
const revealSeconds = Number(arg('reveal-seconds') ?? 10);
const REVEAL_RATE = 50;
const REVEAL_CONNECTIONS = 10;
const PAGES = ['/home', '/files', '/client/people'];
const parts = new Set((arg('parts') ?? 'a,b,c').split(','));
const cpuProf = arg('cpu-prof');

const rows: string[][] = [];
const f1 = (n: number) => n.toFixed(1);
function row(figure: string, value: string, target = '', ceiling = '', ratio = '', verdict = '') {
  rows.push([figure, value, target, ceiling, ratio, verdict]);
}
function printTable() {
  const head = ['figure', 'value', 'target', 'ceiling (same run)', 'ratio', ''];
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => [...r[i]!].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c + ' '.repeat(w[i]! - [...c].length)).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}
const ok = (good: boolean) => (good ? 'OK' : 'MISSED');
const statusText = (f: CannonFigures) => Object.entries(f.statuses).map(([s, c]) => `${s}×${c}`).join(' ') + (f.errors ? ` errors×${f.errors}` : '') + (f.timeouts ? ` timeouts×${f.timeouts}` : '');

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-load-'));
  const running = new Set<Server>();
  let dropDb: (() => Promise<void>) | null = null;
  try {
    const env: Record<string, string> = { DATA_DIR: path.join(work, 'portal'), PORT: '0', LOG_LEVEL: 'info', REVEAL_BURST_MAX: '100000' };
    const mysqlUrl = arg('mysql');
    if (mysqlUrl) {
      const db = await freshMysqlDatabase(mysqlUrl, 'akatsuki_load_');
      env.DATABASE_URL = db.url;
      dropDb = () => db.drop().catch(() => {});
    }
    const db = mysqlUrl ? `MariaDB/MySQL at ${new URL(mysqlUrl).host}` : 'SQLite';
    console.log(`Akatsuki Portal under load — loopback, the portal in its own process (${db}), ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at start`);
    const t0 = Date.now();
    const seeded = await seed(env, { admins: USERS, numbers: 50 });
    console.error(`seeded ${USERS} client admins, 1 firm staff member, 50 numbers in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // a. ceiling first: the bare hello world, alone on the machine while measured.
    const pagesFor = (sessions: Session[]) => (i: number) => {
      const s = sessions[i % sessions.length]!;
      // Each connection starts at a different page so the three are mixed at any moment.
      const order = [...PAGES.slice(i % PAGES.length), ...PAGES.slice(0, i % PAGES.length)];
      return { requests: order.map((p) => ({ path: p, headers: { cookie: s.cookie } })), localAddress: s.localAddress };
    };
    const hello = await startHello();
    running.add(hello);
    const fakeSessions = Array.from({ length: USERS }, (_, i) => Object.assign(new Session(hello.port, loopback(i)), { cookie: `akatsuki.sid=s%3Aload${i}` }));
    await cannon({ port: hello.port, connections: USERS, duration: 3, perConnection: pagesFor(fakeSessions) });
    let m = sampleMachine();
    const helloFig = await cannon({ port: hello.port, connections: USERS, duration, perConnection: pagesFor(fakeSessions) });
    const helloMachine = m.stop();
    await stopProcess(hello.child);
    running.delete(hello);

    const portal = await startPortal(env, cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(cpuProf)}`] : []);
    running.add(portal);
    const idleRss = rssMib(portal.pid);
    const sessions: Session[] = [];
    for (let i = 0; i < USERS; i++) {
      const s = new Session(portal.port, loopback(i));
      await s.login(seeded.admins[i]!, PASSWORD);
      sessions.push(s);
    }
    for (const s of sessions) for (const p of PAGES) {
      const r = await s.request('GET', p);
      if (r.status !== 200) throw new Error(`GET ${p} as a signed-in client admin: ${r.status}`);
    }
    // Warm-up (JIT, template caches), then the measured run.
    await cannon({ port: portal.port, connections: USERS, duration: 3, perConnection: pagesFor(sessions) });
    const rssBeforePages = rssMib(portal.pid);
    m = sampleMachine();
    const rssPages = sampleRss(portal.pid);
    const pages = await cannon({ port: portal.port, connections: USERS, duration, perConnection: pagesFor(sessions) });
    const pagesMachine = m.stop();
    const pagesPeak = rssPages.stop().peak;
    const ratio = pages.rps2xx / helloFig.rps;
    row(`a. pages req/s, ${USERS} sessions (2xx only)`, f1(pages.rps2xx), '', `hello ${f1(helloFig.rps)}`, ratio.toFixed(3), `≥ 0.2 ${ok(ratio >= 0.2)}`);
    row('a. portal p99 latency', `${f1(pages.p99)} ms`, '< 100 ms', `hello p99 ${f1(helloFig.p99)} ms`, (pages.p99 / helloFig.p99).toFixed(1), ok(pages.p99 < 100));
    row('a. portal p50 / max latency', `${f1(pages.p50)} / ${f1(pages.max)} ms`, '', `hello p50 ${f1(helloFig.p50)} ms`);
    row('a. portal responses', statusText(pages), 'all 200', `hello ${statusText(helloFig)}`, '', ok(pages.ok === pages.count && !pages.errors));
    row('a. portal RSS before / peak in the run', `${f1(rssBeforePages)} / ${f1(pagesPeak)} MiB`);
    row('a. machine while measured (portal / hello)', `load ${pagesMachine.loadMax.toFixed(2)}, CPU ${f1(pagesMachine.busyPct)} %`, '', `load ${helloMachine.loadMax.toFixed(2)}, CPU ${f1(helloMachine.busyPct)} %`);

    if (parts.has('b')) {
      // b. uploads in flight at once, each by its own session.
      const tokens = await Promise.all(sessions.slice(0, uploads).map((s) => s.csrf('/files')));
      const rssBeforeUploads = rssMib(portal.pid);
      m = sampleMachine();
      const rss = sampleRss(portal.pid, 100);
      const upStarted = process.hrtime.bigint();
      const results = await Promise.all(sessions.slice(0, uploads).map((s, i) => uploadFile(s, tokens[i]!, uploadMib * 1024 * 1024, `load-${i}.pdf`)));
      const upSeconds = Number(process.hrtime.bigint() - upStarted) / 1e9;
      const { peak, samples } = rss.stop();
      const upMachine = m.stop();
      const failed = results.filter((r) => r.status !== 200);
      const mbps = (uploads * uploadMib * 1024 * 1024) / 1e6 / upSeconds;
      row(`b. ${uploads} × ${uploadMib} MiB uploads at once: peak RSS`, `${f1(peak)} MiB`, '< 512 MiB', `idle ${f1(idleRss)} MiB, before ${f1(rssBeforeUploads)} MiB`, (peak / idleRss).toFixed(2), ok(peak < 512));
      row('b. total time (all in, last response)', `${upSeconds.toFixed(1)} s`, '', `${f1(mbps)} MB/s together`, '', '');
      row('b. uploads answered 200', `${uploads - failed.length} of ${uploads}`, `all`, `${samples} RSS samples`, '', ok(failed.length === 0));
      row('b. machine while measured', `load ${upMachine.loadMax.toFixed(2)}, CPU ${f1(upMachine.busyPct)} %`);
      if (failed.length) console.error(`failed uploads: ${failed.map((r) => `${r.status} ${r.body.slice(0, 200)}`).join('\n')}`);

    }
    if (parts.has('c')) {
      // c. reveals: the staff member signs in (password + TOTP), re-authenticates, takes the list page's token.
      const staff = new Session(portal.port, '127.0.0.250');
      await staff.login(seeded.staff.email, PASSWORD, seeded.staff.totpSecret);
      await staff.reauth(PASSWORD, seeded.staff.totpSecret);
      const listPath = `/firm/clients/${seeded.clientId}/numbers`;
      const token = await staff.csrf(listPath);
      const body = new URLSearchParams({ _csrf: token, purpose: 'withholding_slip', office: 'tax_office' }).toString();
      const revealHeaders = { cookie: staff.cookie, 'content-type': 'application/x-www-form-urlencoded' };
      const reveals = seeded.recordIds.map((id) => ({ method: 'POST', path: `${listPath}/${id}/reveal`, headers: revealHeaders, body }));
      const probe = await staff.request('POST', reveals[0]!.path, body);
      if (probe.status !== 200) throw new Error(`a reveal after re-authentication answered ${probe.status}`);
      // Ceiling: the same session reading the masked list at the same rate.
      const ceilingFig = await cannon({ port: portal.port, connections: 10, duration: revealSeconds, overallRate: REVEAL_RATE,
        perConnection: () => ({ requests: [{ path: listPath, headers: { cookie: staff.cookie } }], localAddress: '127.0.0.251' }) });
      m = sampleMachine();
      const revealFig = await cannon({ port: portal.port, connections: REVEAL_CONNECTIONS, duration: revealSeconds, overallRate: REVEAL_RATE,
        perConnection: (i) => ({ requests: [...reveals.slice(i * 5), ...reveals.slice(0, i * 5)], localAddress: `127.0.0.${240 + i}` }) });
      const revealMachine = m.stop();
      const revealOk = (revealFig.statuses['200'] ?? 0) + 1; // + the probe
      // at most one a connection (autocannon's own 'sent' also counts requests it queued but never wrote)
      const cut = Math.min(REVEAL_CONNECTIONS, Math.max(0, revealFig.sent - revealFig.count));
      // Requests still in flight when autocannon stopped may yet commit their audit row: let them finish.
      await new Promise((r) => setTimeout(r, 7_000));
      await stopProcess(portal.child);
      running.delete(portal);
      const audited = await countAllowedReveals(env);
      row(`c. reveals at ${REVEAL_RATE}/s for ${revealSeconds} s: p95`, `${f1(revealFig.p95)} ms`, '< 100 ms', `list page p95 ${f1(ceilingFig.p95)} ms`, (revealFig.p95 / ceilingFig.p95).toFixed(2), ok(revealFig.p95 < 100));
      row('c. reveal p50 / p99 / max', `${f1(revealFig.p50)} / ${f1(revealFig.p99)} / ${f1(revealFig.max)} ms`, '', `list p99 ${f1(ceilingFig.p99)} ms`);
      row('c. reveal rate reached', `${f1(revealFig.rps)}/s`, `${REVEAL_RATE}/s`, '', '', ok(revealFig.rps >= REVEAL_RATE * 0.9));
      row('c. reveal responses', statusText(revealFig), 'all 200', '', '', ok(revealFig.ok === revealFig.count && !revealFig.errors));
      row("c. audit rows 'vault.reveal' 'allowed'", String(audited), `= ${revealOk} (200s, probe incl.)`, cut ? `≤ ${cut} cut off in flight at the end` : '', '',
        audited === revealOk ? 'OK' : audited > revealOk && audited <= revealOk + cut ? 'OK (+ cut-off ones)' : 'MISMATCH');
      row('c. machine while measured', `load ${revealMachine.loadMax.toFixed(2)}, CPU ${f1(revealMachine.busyPct)} %`);
    }
    console.log('');
    printTable();
    console.log(`\n(load took ${((Date.now() - t0) / 1000).toFixed(0)} s; load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  } finally {
    await Promise.all([...running].map((s) => stopProcess(s.child)));
    if (dropDb) await dropDb();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
