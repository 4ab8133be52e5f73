/**
 * The soak (issue 7): N loops (default 1000) of one small upload (256 KiB) then its download, one
 * after the other, against the portal in its own process; the portal's RSS (VmRSS) and open file
 * descriptors (/proc/<pid>/fd) at the start, every 100 loops and at the end (after `warmup` loops,
 * default 20, not counted). Targets: RSS growth end − start < 50 MiB, descriptors within ±10 (the
 * ceilings: the start RSS and descriptors of the same run). Run by `npm run soak` and `npm run bench`.
 * Requests rotate over 16 loopback addresses (the portal allows 600 requests a minute per address).
 * The portal runs with --trace-gc, so each line also shows the V8 heap after the last collection
 * (used / committed): growth there is JavaScript objects, growth outside it native memory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freshMysqlDatabase } from '../support/fresh-mysql';
import { startPortal, stopProcess, rssMib, fdCount, type Server } from '../load/proc';
import { Session, loopback, uploadFile } from '../load/http';
import { seed, PASSWORD } from '../load/setup';
import { f1, info, judged, ratioOf, type TableRow } from './table';

export interface SoakOptions {
  loops?: number;
  kib?: number;
  warmup?: number;
  mysqlUrl?: string;
  /** progress lines (start, every 100 loops, end) */
  log?: (line: string) => void;
}

export interface SoakResult { rows: TableRow[]; figures: Record<string, number>; database: string }

const ADDRESSES = 16;

/** Follows `--trace-gc` lines ("Scavenge 40.1 (45.3) -> 39.5 (46.3) MB, …"): the heap after the latest collection, MiB. */
function lastHeap(stdout: NodeJS.ReadableStream): () => { used: number; committed: number } | null {
  let latest: { used: number; committed: number } | null = null;
  let tail = '';
  stdout.on('data', (d: Buffer) => {
    const text = tail + d.toString();
    const lines = text.split('\n');
    tail = lines.pop() ?? '';
    for (const l of lines) {
      const m = /-> ([\d.]+) \(([\d.]+)\) MB/.exec(l);
      if (m) latest = { used: Number(m[1]), committed: Number(m[2]) };
    }
  });
  return () => latest;
}

export async function benchSoak(o: SoakOptions = {}): Promise<SoakResult> {
  const loops = o.loops ?? 1000;
  const kib = o.kib ?? 256;
  const warmup = o.warmup ?? 20;
  const log = o.log ?? ((line: string) => console.log(line));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-soak-'));
  let portal: Server | null = null;
  let dropDb: (() => Promise<void>) | null = null;
  try {
    const env: Record<string, string> = { DATA_DIR: path.join(work, 'portal'), PORT: '0', LOG_LEVEL: 'info' };
    if (o.mysqlUrl) {
      const db = await freshMysqlDatabase(o.mysqlUrl, 'akatsuki_soak_');
      env.DATABASE_URL = db.url;
      dropDb = () => db.drop().catch(() => {});
    }
    const database = o.mysqlUrl ? `MariaDB/MySQL at ${new URL(o.mysqlUrl).host}` : 'SQLite';
    const seeded = await seed(env, { admins: 1, numbers: 0 });
    portal = await startPortal(env, ['--trace-gc']);
    const { pid, port } = portal;
    const heap = lastHeap(portal.child.stdout!);
    const first = new Session(port, loopback(0));
    await first.login(seeded.admins[0]!, PASSWORD);
    const token = await first.csrf('/files');
    // One signed-in session, its requests sent from 16 addresses in turn (no keep-alive: no socket outlives its request).
    const at = (i: number) => Object.assign(new Session(port, loopback(((i % ADDRESSES) + ADDRESSES) % ADDRESSES)), { cookie: first.cookie });
    const bytes = kib * 1024;
    log(`Soak: ${loops} loops of a ${kib} KiB upload then its download, portal pid ${pid} (${database}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const line = (label: string, ms: number) => {
      const r = rssMib(pid);
      const f = fdCount(pid);
      const h = heap();
      log(`  ${label.padEnd(10)} RSS ${r.toFixed(1).padStart(7)} MiB   heap ${h ? `${f1(h.used)} / ${f1(h.committed)}` : '?'} MiB   fds ${String(f).padStart(4)}   ${(ms / 1000).toFixed(1).padStart(6)} s   load ${os.loadavg()[0]!.toFixed(2)}`);
      return { r, f, h };
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
    const signedIn = line('signed in', 0);
    // A few loops first (not counted) so "start" is the warmed-up process, not its first-touch allocations.
    for (let i = 0; i < warmup; i++) await loop(-1 - i);
    const started = Date.now();
    const start = line('start', 0);
    let downloaded = 0;
    for (let i = 1; i <= loops; i++) {
      downloaded += await loop(i);
      if (i % 100 === 0 && i !== loops) line(`loop ${i}`, Date.now() - started);
    }
    const end = line(`end ${loops}`, Date.now() - started);
    const seconds = (Date.now() - started) / 1000;
    const dr = end.r - start.r;
    const df = end.f - start.f;
    const sign = (n: number, s: string) => `${n >= 0 ? '+' : ''}${s}`;
    const rows: TableRow[] = [
      judged(`soak: ${loops} × (${kib} KiB up + down), RSS growth end − start`, `${sign(dr, f1(dr))} MiB (${f1(start.r)} → ${f1(end.r)})`, '< 50 MiB', `start RSS ${f1(start.r)} MiB`, ratioOf(dr, start.r), dr < 50),
      judged('soak: open file descriptors end − start', `${sign(df, String(df))} (${start.f} → ${end.f})`, 'within ±10', `start fds ${start.f}`, ratioOf(end.f, start.f), Math.abs(df) <= 10),
      info('soak: V8 heap after GC, used / committed, start → end', start.h && end.h ? `${f1(start.h.used)} / ${f1(start.h.committed)} → ${f1(end.h.used)} / ${f1(end.h.committed)} MiB` : 'no GC line seen', 'the rest of RSS is native memory (buffers, SQLite, malloc)'),
      info('soak: loops done', `${loops} in ${seconds.toFixed(1)} s, ${(downloaded / 1024 / 1024).toFixed(0)} MiB down`, `RSS signed in, before the ${warmup} warm-up loops: ${f1(signedIn.r)} MiB`),
    ];
    const figures = {
      soak_loops: loops, soak_rss_start_mib: Number(f1(start.r)), soak_rss_end_mib: Number(f1(end.r)), soak_rss_growth_mib: Number(f1(dr)),
      soak_fds_start: start.f, soak_fds_end: end.f, soak_s: Number(seconds.toFixed(1)),
    };
    return { rows, figures, database };
  } finally {
    if (portal) await stopProcess(portal.child);
    if (dropDb) await dropDb();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
