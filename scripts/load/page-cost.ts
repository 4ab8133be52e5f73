/**
 * CPU milliseconds the portal process spends on one page, per page (user + system time from
 * /proc/<pid>/stat over a run of requests, divided by the requests). Unlike requests a second, this
 * hardly moves when other machines share the host, so it is the figure to compare before and after
 * a change. Requests go over kept-alive connections, as a browser's and autocannon's do (a new
 * connection per request made /home cost 3.05 ms instead of 2.22 in back-to-back runs). Usage:
 * `npm run load:cost [-- --requests 600 --pages /home,/files,/client/people --mysql URL --cpu-prof DIR]`
 * (--mysql: a fresh database on that MariaDB/MySQL server, dropped after; SQLite otherwise;
 * --cpu-prof: the portal writes a V8 CPU profile into DIR when it stops).
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { cpuSeconds, startPortal, stopProcess } from './proc';
import { Session, loopback } from './http';
import { seed, PASSWORD } from './setup';
import { freshMysqlDatabase } from '../support/fresh-mysql';

/** user + system CPU time of a process so far, ms */
function cpuMs(pid: number): number {
  const { user, sys } = cpuSeconds(pid);
  return (user + sys) * 1000;
}

async function measure(sessions: Session[], pid: number, pagePath: string, requests: number, concurrency: number): Promise<number> {
  let next = 0;
  const c0 = cpuMs(pid);
  // Requests go round the sessions (each from its own address) so no one address meets the per-IP limit.
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests) {
      const r = await sessions[next++ % sessions.length]!.request('GET', pagePath);
      if (r.status !== 200) throw new Error(`GET ${pagePath}: ${r.status}`);
    }
  }));
  return (cpuMs(pid) - c0) / requests;
}

async function main() {
  const arg = (name: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : undefined; };
  const requests = Number(arg('requests') ?? 600);
  const pages = (arg('pages') ?? '/home,/files,/client/people').split(',');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-cost-'));
  const env: Record<string, string> = { DATA_DIR: path.join(work, 'portal'), PORT: '0', LOG_LEVEL: 'info' };
  const mysqlUrl = arg('mysql');
  const db = mysqlUrl ? await freshMysqlDatabase(mysqlUrl, 'akatsuki_cost_') : null;
  if (db) env.DATABASE_URL = db.url;
  const seeded = await seed(env, { admins: 12, numbers: 50 });
  const profDir = arg('cpu-prof');
  const portal = await startPortal(env, profDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profDir)}`] : []);
  try {
    const sessions: Session[] = [];
    for (let i = 0; i < 12; i++) {
      const s = new Session(portal.port, loopback(i), new http.Agent({ keepAlive: true, maxSockets: 1 }));
      await s.login(seeded.admins[i]!, PASSWORD);
      sessions.push(s);
    }
    for (const p of pages) await measure(sessions, portal.pid, p, Math.min(200, requests), 4); // warm-up: JIT, caches
    for (const p of pages) {
      const ms = await measure(sessions, portal.pid, p, requests, 4);
      console.log(`${p.padEnd(20)} ${ms.toFixed(2)} ms CPU a page (${requests} requests)`);
    }
  } finally {
    await stopProcess(portal.child);
    await db?.drop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
