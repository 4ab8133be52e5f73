/**
 * The file benchmark: a large file up and down through the portal's real routes over loopback,
 * against a bare Express + multer disk server and a bare node:http pipe. Every server runs alone in
 * its own process (started as `node --import tsx …`, so the pid we read /proc of is the server's),
 * and every transfer is made by a small client process of its own (client.ts).
 *
 * For investigations (not needed for the figures):
 *   BENCH_THREADS=1            CPU per thread of each server, the client's CPU, baseline RSS (stderr)
 *   BENCH_SERVER_OUTPUT=1      the servers' stdout/stderr passed through to stderr
 *   BENCH_PORTAL_NODE_ARGS=…   extra node/V8 flags for the portal process, e.g. "--trace-gc"
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../server/config';
import { boot } from '../../server/boot';
import { makeBenchUser } from './bench-user';
import { startServer, stopServer, type StartedServer } from '../support/server-process';
import { cpuSeconds, PORTAL_NODE_FLAGS } from '../load/proc';
import type { ClientResult } from './client';

const ROOT = path.resolve(import.meta.dirname, '../..');
/**
 * One agent for the bench's own requests (signing in), destroyed at the end. (Node's global agent
 * keeps sockets alive since Node 19; they are unref'd, but closing our own leaves nothing to chance.)
 */
const agent = new http.Agent({ keepAlive: true });

export interface FileFigures {
  file_mib: number;
  /** Each transfer figure is the median of this many runs (CPU: their mean). */
  runs: number;
  upload_mb_s: number;
  upload_multer_disk_mb_s: number;
  upload_plain_mb_s: number;
  upload_ratio_multer_disk: number;
  download_mb_s: number;
  download_plain_mb_s: number;
  download_ratio_plain: number;
  portal_rss_start_mib: number;
  upload_peak_rss_mib: number;
  download_peak_rss_mib: number;
  rss_growth_mib: number;
  /** CPU seconds (user + system, all threads) each server used for the transfer. */
  upload_cpu_s: number;
  upload_multer_disk_cpu_s: number;
  download_cpu_s: number;
  download_plain_cpu_s: number;
}

type Server = StartedServer;

/** Peak and current resident memory of a process, from /proc (VmHWM is the high-water mark). */
function memory(pid: number): { rssMib: number; peakMib: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMib: kb('VmRSS') / 1024, peakMib: kb('VmHWM') / 1024 };
}

/** Runs `fn` and reports the CPU seconds the server `pid` used meanwhile. */
async function withCpu<T>(pid: number, fn: () => Promise<T>): Promise<[T, number]> {
  const threads = () => new Map(fs.readdirSync(`/proc/${pid}/task`).map((t) => {
    const stat = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [`${t} ${name}`, [Number(f[11]) / 100, Number(f[12]) / 100]] as const;
  }));
  const t0 = process.env.BENCH_THREADS ? threads() : null;
  const a = cpuSeconds(pid);
  const r = await fn();
  const b = cpuSeconds(pid);
  if (t0) {
    for (const [k, [u, sy]] of threads()) {
      const [u0, s0] = t0.get(k) ?? [0, 0];
      if (u - u0 + sy - s0 > 0.02) console.error(`  thread ${k.padEnd(24)} user ${(u - u0).toFixed(2)} sys ${(sy - s0).toFixed(2)}`);
    }
  }
  return [r, b.user + b.sys - a.user - a.sys];
}

/** Resets VmHWM so the next peak is measured from now (Linux: write 5 to clear_refs). */
function resetPeak(pid: number): void {
  try { fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); } catch { /* not permitted: the peak then covers the whole run */ }
}

/** One transfer by the client process (client.ts), which reports its own timing. */
function runClient(spec: { kind: 'multipart' | 'raw' | 'download'; port: number; path: string; bytes?: number; fields?: Record<string, string>; headers?: Record<string, string> }): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/client.ts', JSON.stringify(spec)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`bench client (${spec.kind} ${spec.path}) failed: ${err || `exit ${code}`}`));
      let r: ClientResult;
      try { r = JSON.parse(out) as ClientResult; } catch { return reject(new Error(`bench client printed: ${out}${err}`)); }
      if (process.env.BENCH_THREADS) console.error(`  client ${spec.kind} ${spec.path.slice(0, 16)}: ${r.seconds.toFixed(2)} s, CPU ${r.cpu.toFixed(2)} s`);
      resolve(r);
    });
  });
}

const mbps = (bytes: number, s: number) => bytes / 1e6 / s;
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/** The pid in the portal's "listening" log line (pino JSON carries the pid of the process that logged it). */
const PORTAL_READY = /"pid":(\d+)[^\n]*listening on http:\/\/[^:]+:(\d+)/;
/** servers.ts prints "PORT <port> PID <pid>". */
const BASELINE_READY = /PORT (\d+) PID (\d+)/;

/**
 * Runs a measured transfer `runs` times and keeps the median run (by time), with the server CPU
 * averaged over all of them: on a shared 2-core VM one run of a baseline or of the portal was
 * ±15–25% off now and then, enough to flip a ratio either way.
 */
async function medianOf(runs: number, once: () => Promise<[ClientResult, number]>, check: (r: ClientResult) => void): Promise<[ClientResult, number]> {
  const all: [ClientResult, number][] = [];
  for (let i = 0; i < runs; i++) {
    const r = await once();
    check(r[0]);
    all.push(r);
  }
  all.sort((a, b) => a[0].seconds - b[0].seconds);
  return [all[Math.floor((all.length - 1) / 2)]![0], all.reduce((sum, r) => sum + r[1], 0) / all.length];
}

export interface BenchOptions {
  /** Runs of each transfer (the median is kept); 3 by default. */
  runs?: number;
  /** Measure the portal only (no baselines; their figures and the ratios are then 0). */
  portalOnly?: boolean;
  /** Write a V8 CPU profile of the portal process into this folder (node --cpu-prof). */
  profileDir?: string;
}

export async function benchFiles(mib: number, opts: BenchOptions = {}): Promise<FileFigures> {
  const bytes = mib * 1024 * 1024;
  const runs = Math.max(1, Math.floor(opts.runs ?? 3));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-bench-'));
  const running = new Set<ChildProcess>();
  // One server at a time: each runs alone on the 2 cores while it is measured, then is stopped.
  const start = async (script: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp, pidOf: (m: RegExpMatchArray) => number, nodeArgs: string[] = []) => {
    const s = await startServer(script, { args, env, ready, pidOf, nodeArgs, echoEnv: 'BENCH_SERVER_OUTPUT' });
    running.add(s.child);
    return s;
  };
  const stop = async (s: Server) => { await stopServer(s.child, 5_000); running.delete(s.child); };
  try {
    // The portal: a fresh DATA_DIR with one client admin, then the real server in its own process.
    const dataDir = path.join(work, 'portal');
    const env = { DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info', UPLOAD_MAX_FILE_MB: String(mib + 16), UPLOAD_MAX_REQUEST_MB: String(mib + 32) };
    const booted = await boot(loadConfig(env), { logger: pino({ level: 'silent' }) });
    const who = await makeBenchUser(booted, agent);
    await booted.close();
    const nodeArgs = [
      ...PORTAL_NODE_FLAGS,
      ...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(opts.profileDir)}`] : []),
      ...(process.env.BENCH_PORTAL_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []),
    ];
    const portal = await start('server/main.ts', [], env, PORTAL_READY, (m) => Number(m[1]), nodeArgs);
    const port = Number(portal.match[2]);
    const session = await who.login(port);

    const rssStart = memory(portal.pid);
    resetPeak(portal.pid);
    const [up, upCpu] = await medianOf(runs,
      () => withCpu(portal.pid, () => runClient({ kind: 'multipart', port, path: '/files', fields: { direction: 'to_firm', category: 'other' }, bytes, headers: session.headers })),
      (r) => { if (r.status !== 200) throw new Error(`portal upload failed: ${r.status} ${r.body}`); });
    const afterUpload = memory(portal.pid);
    const fileId = await session.latestFileId();
    resetPeak(portal.pid);
    const [down, downCpu] = await medianOf(runs,
      () => withCpu(portal.pid, () => runClient({ kind: 'download', port, path: `/files/${fileId}/download`, headers: session.cookieOnly })),
      (r) => { if (r.status !== 200 || r.bytes !== bytes) throw new Error(`portal download failed: ${r.status}, ${r.bytes} bytes`); });
    const afterDownload = memory(portal.pid);
    await stop(portal);
    const measured = (n: number) => (Number.isFinite(n) ? n : 0);
    const none: ClientResult = { status: 0, seconds: Infinity, bytes: 0, body: '', cpu: 0 };
    let multerUp = none;
    let plainUp = none;
    let plainDown = none;
    let multerCpu = 0;
    let plainDownCpu = 0;
    if (!opts.portalOnly) {
      const m = await start('scripts/bench/servers.ts', ['multer-disk', path.join(work, 'multer')], {}, BASELINE_READY, (x) => Number(x[2]));
      const mStart = memory(m.pid);
      resetPeak(m.pid);
      const multerDir = path.join(work, 'multer');
      [multerUp, multerCpu] = await medianOf(runs,
        async () => {
          const r = await withCpu(m.pid, () => runClient({ kind: 'multipart', port: Number(m.match[1]), path: '/upload', bytes }));
          // multer never syncs: remove each run's file (and its dirty pages) so the next run does not
          // meet gigabytes of earlier writes being flushed. The portal syncs every file it stores.
          for (const name of fs.readdirSync(multerDir)) fs.rmSync(path.join(multerDir, name), { force: true });
          return r;
        },
        (r) => { if (r.status !== 200) throw new Error(`multer-disk upload failed: ${r.status} ${r.body}`); });
      if (process.env.BENCH_THREADS) console.error(`  multer-disk RSS ${mStart.rssMib.toFixed(0)} → peak ${memory(m.pid).peakMib.toFixed(0)} MiB`);
      await stop(m);

      const p = await start('scripts/bench/servers.ts', ['plain', path.join(work, 'plain')], {}, BASELINE_READY, (x) => Number(x[2]));
      plainUp = await runClient({ kind: 'raw', port: Number(p.match[1]), path: '/', bytes });
      if (plainUp.status !== 200) throw new Error(`plain upload failed: ${plainUp.status} ${plainUp.body}`);
      const pStart = memory(p.pid);
      resetPeak(p.pid);
      [plainDown, plainDownCpu] = await medianOf(runs,
        () => withCpu(p.pid, () => runClient({ kind: 'download', port: Number(p.match[1]), path: '/' })),
        (r) => { if (r.status !== 200 || r.bytes !== bytes) throw new Error(`plain download failed: ${r.status}, ${r.bytes} bytes`); });
      if (process.env.BENCH_THREADS) console.error(`  plain download RSS ${pStart.rssMib.toFixed(0)} → peak ${memory(p.pid).peakMib.toFixed(0)} MiB`);
      await stop(p);
    }

    const f: FileFigures = {
      file_mib: mib,
      runs,
      upload_mb_s: round(mbps(bytes, up.seconds), 1),
      upload_multer_disk_mb_s: round(mbps(bytes, multerUp.seconds), 1),
      upload_plain_mb_s: round(mbps(bytes, plainUp.seconds), 1),
      upload_ratio_multer_disk: round(measured(multerUp.seconds) / up.seconds),
      download_mb_s: round(mbps(bytes, down.seconds), 1),
      download_plain_mb_s: round(mbps(bytes, plainDown.seconds), 1),
      download_ratio_plain: round(measured(plainDown.seconds) / down.seconds),
      portal_rss_start_mib: round(rssStart.rssMib, 1),
      upload_peak_rss_mib: round(afterUpload.peakMib, 1),
      download_peak_rss_mib: round(afterDownload.peakMib, 1),
      rss_growth_mib: round(Math.max(afterUpload.peakMib, afterDownload.peakMib) - rssStart.rssMib, 1),
      upload_cpu_s: round(upCpu),
      upload_multer_disk_cpu_s: round(multerCpu),
      download_cpu_s: round(downCpu),
      download_plain_cpu_s: round(plainDownCpu),
    };
    return f;
  } finally {
    await Promise.all([...running].map((c) => stopServer(c, 5_000)));
    agent.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
