/**
 * The portal under load on loopback, its own process, each figure beside its target and beside a
 * ceiling measured in the same run (issue 7). Run by `npm run load` on its own and by `npm run bench`.
 *
 *   a. 50 signed-in client admins (each its own session cookie and its own loopback address) browse
 *      GET /home, /files, /client/people in rotation, autocannon with 50 connections for 15 s; the same
 *      load against a bare Express hello world in its own process (the ceiling). Targets:
 *      portal/hello ≥ 0.2, portal p99 < 100 ms.
 *   b. 20 uploads of 100 MiB at once through POST /files (multipart, generated while sent), the
 *      portal's VmRSS sampled every 100 ms. Target: peak RSS < 512 MiB (ceiling: the portal's idle RSS).
 *   c. 50 reveals a second for 10 s by one assigned firm staff member after re-authentication, one
 *      every 20 ms (scripts/load/paced.ts, open loop, latency counted from when each was due), the
 *      portal started with REVEAL_BURST_MAX=100000. Targets: p95 < 100 ms; 'vault.reveal' 'allowed'
 *      audit rows = 200 responses (every request is answered before counting, so exactly).
 *      (ceiling: the same session's GET of the numbers list at the same rate). For comparison, an
 *      info row: the same 50/s as autocannon sends them (overallRate: each connection's share at the
 *      top of every second, i.e. bursts of 50).
 * LOAD_SERVER_OUTPUT=1 passes the servers' output through to stderr.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freshMysqlDatabase } from '../support/fresh-mysql';
import { startHello, startPortal, stopProcess, rssMib, sampleRss, sampleMachine, type Server } from '../load/proc';
import { Session, loopback, uploadFile } from '../load/http';
import { cannon, type CannonFigures } from '../load/cannon';
import { paced, type PacedFigures } from '../load/paced';
import { seed, countAllowedReveals, PASSWORD } from '../load/setup';
import { f1, info, judged, ratioOf, type TableRow } from './table';

export interface LoadOptions {
  /** seconds of each measured page run (default 15) */
  duration?: number;
  /** uploads at once in part b (default 20) */
  uploads?: number;
  /** MiB of each upload in part b (default 100) */
  uploadMib?: number;
  /** seconds of the reveal run in part c (default 10) */
  revealSeconds?: number;
  /** which of a, b, c to run (a always runs: b and c use its sessions) */
  parts?: ReadonlySet<string>;
  /** the portal writes a V8 CPU profile into this folder when it stops */
  cpuProf?: string;
  /** MariaDB/MySQL server: a fresh database is made on it and dropped after; SQLite otherwise */
  mysqlUrl?: string;
  /** progress lines */
  log?: (line: string) => void;
}

export interface LoadResult {
  rows: TableRow[];
  figures: Record<string, number>;
  /** which database the portal used */
  database: string;
}

const USERS = 50;
const REVEAL_RATE = 50;
const REVEAL_CONNECTIONS = 10;
const PAGES = ['/home', '/files', '/client/people'];

const statusText = (f: CannonFigures | (PacedFigures & { timeouts?: number })) => Object.entries(f.statuses).map(([s, c]) => `${s}×${c}`).join(' ') + (f.errors ? ` errors×${f.errors}` : '') + (f.timeouts ? ` timeouts×${f.timeouts}` : '');
const r1 = (n: number) => Math.round(n * 10) / 10;

export async function benchLoad(o: LoadOptions = {}): Promise<LoadResult> {
  const duration = o.duration ?? 15;
  const uploads = o.uploads ?? 20;
  const uploadMib = o.uploadMib ?? 100;
  const revealSeconds = o.revealSeconds ?? 10;
  const parts = o.parts ?? new Set(['a', 'b', 'c']);
  const log = o.log ?? ((line: string) => console.error(line));
  if (uploads > USERS) throw new Error(`at most ${USERS} uploads at once (one a session)`);
  const rows: TableRow[] = [];
  const figures: Record<string, number> = {};
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-load-'));
  const running = new Set<Server>();
  let dropDb: (() => Promise<void>) | null = null;
  try {
    const env: Record<string, string> = { DATA_DIR: path.join(work, 'portal'), PORT: '0', LOG_LEVEL: 'info', REVEAL_BURST_MAX: '100000' };
    if (o.mysqlUrl) {
      const db = await freshMysqlDatabase(o.mysqlUrl, 'akatsuki_load_');
      env.DATABASE_URL = db.url;
      dropDb = () => db.drop().catch(() => {});
    }
    const database = o.mysqlUrl ? `MariaDB/MySQL at ${new URL(o.mysqlUrl).host}` : 'SQLite';
    const t0 = Date.now();
    const seeded = await seed(env, { admins: USERS, numbers: 50 });
    log(`seeded ${USERS} client admins, 1 firm staff member, 50 numbers in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // a. ceiling first: the bare hello world, alone on the machine while measured.
    const pagesFor = (sessions: Session[]) => (i: number) => {
      const s = sessions[i % sessions.length]!;
      // Each connection starts at a different page so the three are mixed at any moment.
      const order = [...PAGES.slice(i % PAGES.length), ...PAGES.slice(0, i % PAGES.length)];
      return { requests: order.map((p) => ({ path: p, headers: { cookie: s.cookie } })), localAddress: s.localAddress };
    };
    const warmUp = Math.min(3, duration);
    const hello = await startHello();
    running.add(hello);
    const fakeSessions = Array.from({ length: USERS }, (_, i) => Object.assign(new Session(hello.port, loopback(i)), { cookie: `akatsuki.sid=s%3Aload${i}` }));
    await cannon({ port: hello.port, connections: USERS, duration: warmUp, perConnection: pagesFor(fakeSessions) });
    let m = sampleMachine();
    const helloFig = await cannon({ port: hello.port, connections: USERS, duration, perConnection: pagesFor(fakeSessions) });
    const helloMachine = m.stop();
    await stopProcess(hello.child);
    running.delete(hello);

    const portal = await startPortal(env, o.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(o.cpuProf)}`] : []);
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
    await cannon({ port: portal.port, connections: USERS, duration: warmUp, perConnection: pagesFor(sessions) });
    const rssBeforePages = rssMib(portal.pid);
    m = sampleMachine();
    const rssPages = sampleRss(portal.pid);
    const pages = await cannon({ port: portal.port, connections: USERS, duration, perConnection: pagesFor(sessions) });
    const pagesMachine = m.stop();
    const pagesPeak = rssPages.stop().peak;
    const ratio = pages.rps2xx / helloFig.rps;
    rows.push(
      judged(`load a. pages req/s, ${USERS} sessions, ${duration} s (2xx only)`, f1(pages.rps2xx), '≥ 0.2 × hello', `hello world ${f1(helloFig.rps)} req/s`, ratioOf(pages.rps2xx, helloFig.rps, 3), ratio >= 0.2),
      judged('load a. pages p99 latency', `${f1(pages.p99)} ms`, '< 100 ms', `hello world p99 ${f1(helloFig.p99)} ms`, ratioOf(pages.p99, helloFig.p99, 1), pages.p99 < 100),
      info('load a. pages p50 / max latency', `${f1(pages.p50)} / ${f1(pages.max)} ms`, `hello world p50 ${f1(helloFig.p50)} ms`, ratioOf(pages.p50, helloFig.p50, 1)),
      judged('load a. pages answered 200', statusText(pages), 'all 200', `${pages.count} answered (hello world: ${statusText(helloFig)})`, ratioOf(pages.ok, pages.count), pages.ok === pages.count && !pages.errors),
      info('load a. portal RSS before / peak in the run', `${f1(rssBeforePages)} / ${f1(pagesPeak)} MiB`, `idle ${f1(idleRss)} MiB`, ratioOf(pagesPeak, idleRss)),
      info('load a. machine while measured', `load ${pagesMachine.loadMax.toFixed(2)}, CPU ${f1(pagesMachine.busyPct)} %`, `hello world: load ${helloMachine.loadMax.toFixed(2)}, CPU ${f1(helloMachine.busyPct)} %`),
    );
    Object.assign(figures, {
      load_pages_rps: r1(pages.rps2xx), load_hello_rps: r1(helloFig.rps), load_pages_ratio_hello: Number((ratio || 0).toFixed(4)),
      load_pages_p99_ms: r1(pages.p99), load_hello_p99_ms: r1(helloFig.p99), load_pages_p50_ms: r1(pages.p50),
      load_pages_responses: pages.count, load_pages_ok: pages.ok, load_idle_rss_mib: r1(idleRss), load_pages_peak_rss_mib: r1(pagesPeak),
    });

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
      rows.push(
        judged(`load b. ${uploads} × ${uploadMib} MiB uploads at once: peak RSS`, `${f1(peak)} MiB`, '< 512 MiB', `idle RSS ${f1(idleRss)} MiB (before: ${f1(rssBeforeUploads)} MiB)`, ratioOf(peak, idleRss), peak < 512),
        info('load b. total time (all in, last response)', `${upSeconds.toFixed(1)} s`, `${f1(mbps)} MB/s together, ${samples} RSS samples`),
        judged('load b. uploads answered 200', `${uploads - failed.length} of ${uploads}`, 'all', `${uploads} sent`, ratioOf(uploads - failed.length, uploads), failed.length === 0),
        info('load b. machine while measured', `load ${upMachine.loadMax.toFixed(2)}, CPU ${f1(upMachine.busyPct)} %`),
      );
      Object.assign(figures, {
        load_uploads: uploads, load_upload_mib: uploadMib, load_upload_peak_rss_mib: r1(peak), load_upload_rss_before_mib: r1(rssBeforeUploads),
        load_upload_s: r1(upSeconds), load_upload_mb_s: r1(mbps), load_uploads_ok: uploads - failed.length,
      });
      if (failed.length) log(`failed uploads: ${failed.map((r) => `${r.status} ${r.body.slice(0, 200)}`).join('\n')}`);
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
      const listAddresses = Array.from({ length: 10 }, (_, i) => `127.0.0.${230 + i}`);
      const revealAddresses = Array.from({ length: 10 }, (_, i) => `127.0.0.${240 + i}`);
      const ceilingFig = await paced({ port: portal.port, rate: REVEAL_RATE, seconds: revealSeconds, localAddresses: listAddresses,
        next: () => ({ path: listPath, headers: { cookie: staff.cookie } }) });
      m = sampleMachine();
      const revealFig = await paced({ port: portal.port, rate: REVEAL_RATE, seconds: revealSeconds, localAddresses: revealAddresses,
        next: (i) => reveals[i % reveals.length]! });
      const revealMachine = m.stop();
      // The same rate as autocannon sends it (bursts at the top of each second), for comparison only.
      const burstFig = await cannon({ port: portal.port, connections: REVEAL_CONNECTIONS, duration: revealSeconds, overallRate: REVEAL_RATE,
        perConnection: (i) => ({ requests: [...reveals.slice(i * 5), ...reveals.slice(0, i * 5)], localAddress: `127.0.0.${220 + i}` }) });
      // autocannon stops with requests in flight: let them finish and count them all as answered reveals.
      await new Promise((r) => setTimeout(r, 7_000));
      await stopProcess(portal.child);
      running.delete(portal);
      const revealOk = revealFig.ok + 1; // + the probe
      const burstOk = burstFig.statuses['200'] ?? 0;
      const burstCut = Math.min(REVEAL_CONNECTIONS, Math.max(0, burstFig.sent - burstFig.count));
      const audited = await countAllowedReveals(env);
      // Paced reveals are all answered before the count; the burst run's last requests may be cut off in flight.
      const auditOk = audited >= revealOk + burstOk && audited <= revealOk + burstOk + burstCut;
      const cut = burstCut;
      rows.push(
        judged(`load c. reveals at ${REVEAL_RATE}/s for ${revealSeconds} s: p95`, `${f1(revealFig.p95)} ms`, '< 100 ms', `list page p95 ${f1(ceilingFig.p95)} ms at ${REVEAL_RATE}/s`, ratioOf(revealFig.p95, ceilingFig.p95), revealFig.p95 < 100),
        info('load c. reveal p50 / p99 / max', `${f1(revealFig.p50)} / ${f1(revealFig.p99)} / ${f1(revealFig.max)} ms`, `list page p99 ${f1(ceilingFig.p99)} ms`, ratioOf(revealFig.p99, ceilingFig.p99)),
        judged('load c. reveal rate reached', `${f1(revealFig.rps)}/s`, `${REVEAL_RATE}/s (± 10 %)`, `list page ${f1(ceilingFig.rps)}/s`, ratioOf(revealFig.rps, ceilingFig.rps), revealFig.rps >= REVEAL_RATE * 0.9),
        judged('load c. reveals answered 200', statusText(revealFig), 'all 200', `${revealFig.sent} sent`, ratioOf(revealFig.ok, revealFig.sent), revealFig.ok === revealFig.sent && !revealFig.errors),
        judged("load c. audit rows 'vault.reveal' 'allowed'", String(audited), `one per 200 (+ ≤ ${cut} of the burst run cut off in flight)`, `${revealOk + burstOk} answered 200 (paced ${revealFig.ok} + probe + burst run ${burstOk})`, ratioOf(audited, revealOk + burstOk), auditOk),
        info(`load c. (for comparison) the same ${REVEAL_RATE}/s as autocannon bursts: p50 / p95`, `${f1(burstFig.p50)} / ${f1(burstFig.p95)} ms`, `${REVEAL_CONNECTIONS} connections each sending its share at the top of every second`),
        info('load c. machine while measured', `load ${revealMachine.loadMax.toFixed(2)}, CPU ${f1(revealMachine.busyPct)} %`),
      );
      Object.assign(figures, {
        load_reveal_p95_ms: r1(revealFig.p95), load_list_p95_ms: r1(ceilingFig.p95), load_reveal_p99_ms: r1(revealFig.p99),
        load_reveal_rps: r1(revealFig.rps), load_list_rps: r1(ceilingFig.rps), load_reveals_ok: revealOk, load_reveal_audit_rows: audited,
        // With these the JSON alone shows rows = reveals: ok + burst_ok ≤ rows ≤ ok + burst_ok + burst_cut.
        load_reveal_burst_ok: burstOk, load_reveal_burst_cut: burstCut, load_reveal_rows_match: auditOk ? 1 : 0,
      });
    }
    figures.load_bench_s = r1((Date.now() - t0) / 1000);
    return { rows, figures, database };
  } finally {
    await Promise.all([...running].map((s) => stopProcess(s.child)));
    if (dropDb) await dropDb();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
