/**
 * `npm run soak [-- --loops N] [--kib N] [--mysql URL]`: N loops (default 1000) of one small upload
 * (256 KiB) then its download, one after the other, against the portal in its own process; the
 * portal's RSS (VmRSS) and open file descriptors (/proc/<pid>/fd) at the start, every 100 loops and
 * at the end (after --warmup loops, default 20, not counted). "flat" when end − start RSS < 50 MiB and the descriptors are within ±10; else GROWING.
 * Requests rotate over 16 loopback addresses (the portal allows 600 requests a minute per address).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freshMysqlDatabase } from './support/fresh-mysql';
import { startPortal, stopProcess, rssMib, fdCount, type Server } from './load/proc';
import { Session, loopback, uploadFile } from './load/http';
import { seed, PASSWORD } from './load/setup';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const loops = Number(arg('loops') ?? 1000);
const kib = Number(arg('kib') ?? 256);
const ADDRESSES = 16;
const WARMUP = Number(arg('warmup') ?? 20);

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-soak-'));
  let portal: Server | null = null;
  let dropDb: (() => Promise<void>) | null = null;
  try {
    const env: Record<string, string> = { DATA_DIR: path.join(work, 'portal'), PORT: '0', LOG_LEVEL: 'info' };
    const mysqlUrl = arg('mysql');
    if (mysqlUrl) {
      const db = await freshMysqlDatabase(mysqlUrl, 'akatsuki_soak_');
      env.DATABASE_URL = db.url;
      dropDb = () => db.drop().catch(() => {});
    }
    const seeded = await seed(env, { admins: 1, numbers: 0 });
    portal = await startPortal(env);
    const pid = portal.pid;
    const first = new Session(portal.port, loopback(0));
    await first.login(seeded.admins[0]!, PASSWORD);
    const token = await first.csrf('/files');
    // One signed-in session, its requests sent from 16 addresses in turn (no keep-alive: no socket outlives its request).
    const at = (i: number) => Object.assign(new Session(portal!.port, loopback(((i % ADDRESSES) + ADDRESSES) % ADDRESSES)), { cookie: first.cookie });
    const bytes = kib * 1024;
    console.log(`Soak: ${loops} loops of a ${kib} KiB upload then its download, portal pid ${pid} (${mysqlUrl ? 'MariaDB/MySQL' : 'SQLite'}), ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const line = (label: string, ms: number) => {
      const r = rssMib(pid);
      const f = fdCount(pid);
      console.log(`  ${label.padEnd(10)} RSS ${r.toFixed(1).padStart(7)} MiB   fds ${String(f).padStart(4)}   ${(ms / 1000).toFixed(1).padStart(6)} s   load ${os.loadavg()[0]!.toFixed(2)}`);
      return { r, f };
    };
    const loop = async (i: number) => {
      const s = at(i);
      const up = await uploadFile(s, token, bytes, `soak-${i}.pdf`);
      if (up.status !== 200) throw new Error(`loop ${i}: upload answered ${up.status} ${up.body.slice(0, 300)}`);
      const list = await s.request('GET', '/files?box=sent');
      const id = /href="\/files\/([0-9a-f-]{36})"/.exec(list.text)?.[1];
      if (list.status !== 200 || !id) throw new Error(`loop ${i}: the sent list answered ${list.status} without a file`);
      const down = await s.download(`/files/${id}/download`);
      if (down.status !== 200 || down.bytes !== bytes) throw new Error(`loop ${i}: download answered ${down.status} with ${down.bytes} bytes`);
      return down.bytes;
    };
    line('signed in', 0);
    // A few loops first (not counted) so "start" is the warmed-up process, not its first-touch allocations.
    for (let i = 0; i < WARMUP; i++) await loop(-1 - i);
    const started = Date.now();
    const start = line('start', 0);
    let downloaded = 0;
    for (let i = 1; i <= loops; i++) {
      downloaded += await loop(i);
      if (i % 100 === 0 && i !== loops) line(`loop ${i}`, Date.now() - started);
    }
    const end = line(`end ${loops}`, Date.now() - started);
    const dr = end.r - start.r;
    const df = end.f - start.f;
    const flat = dr < 50 && Math.abs(df) <= 10;
    console.log(`  RSS ${dr >= 0 ? '+' : ''}${dr.toFixed(1)} MiB, fds ${df >= 0 ? '+' : ''}${df}: ${flat ? 'flat' : 'GROWING'} (flat: RSS growth < 50 MiB and fds within ±10)`);
    console.log(`  ${loops} uploads and ${loops} downloads (${(downloaded / 1024 / 1024).toFixed(0)} MiB down) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    if (portal) await stopProcess(portal.child);
    if (dropDb) await dropDb();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
