/**
 * Processes for the load and soak scripts: the portal (or a baseline) started as
 * `node --import tsx <script>` so the child's pid is the server itself (see scripts/bench/files.ts),
 * and what /proc says about it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export interface Server { child: ChildProcess; pid: number; port: number }

/** The pid in the portal's "listening" log line (pino JSON carries the pid of the process that logged it). */
export const PORTAL_READY = /"pid":(\d+)[^\n]*listening on http:\/\/[^:]+:(\d+)/;
/** hello.ts prints "PORT <port> PID <pid>". */
export const HELLO_READY = /PORT (\d+) PID (\d+)/;

/**
 * Starts a server process and resolves once stdout matches `ready` (pid and port taken from the
 * match); its output keeps being read for its whole life (a full pipe would stall its logger).
 */
export function startProcess(script: string, env: NodeJS.ProcessEnv, ready: RegExp, ids: (m: RegExpMatchArray) => { pid: number; port: number }): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let ok = false;
    const keep = (d: Buffer) => { out = (out + d.toString()).slice(-20_000); };
    child.stdout!.on('data', (d: Buffer) => {
      keep(d);
      const m = ok ? null : ready.exec(out);
      if (!m) return;
      ok = true;
      clearTimeout(timer);
      const { pid, port } = ids(m);
      if (pid !== child.pid) {
        child.kill('SIGKILL');
        reject(new Error(`${script}: the server reports pid ${pid}, but the spawned process is ${child.pid}`));
        return;
      }
      resolve({ child, pid, port });
    });
    child.stderr!.on('data', keep);
    if (process.env.LOAD_SERVER_OUTPUT) for (const s of [child.stdout!, child.stderr!]) s.pipe(process.stderr, { end: false });
    child.once('error', reject);
    child.once('exit', (code, signal) => { if (!ok) { clearTimeout(timer); reject(new Error(`${script} exited (${code ?? signal}):\n${out}`)); } });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${script} did not get ready in 60 s:\n${out}`)); }, 60_000);
  });
}

export const startPortal = (env: NodeJS.ProcessEnv) => startProcess('server/main.ts', env, PORTAL_READY, (m) => ({ pid: Number(m[1]), port: Number(m[2]) }));
export const startHello = () => startProcess('scripts/load/hello.ts', {}, HELLO_READY, (m) => ({ pid: Number(m[2]), port: Number(m[1]) }));

/** Ends a server (SIGTERM, SIGKILL after 8 s) and waits until it is gone. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
    await exited;
    clearTimeout(timer);
  }
  child.stdout?.destroy();
  child.stderr?.destroy();
}

/** Resident memory of a process now, MiB (VmRSS). */
export function rssMib(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Open file descriptors of a process (entries of /proc/<pid>/fd). */
export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Samples VmRSS every `ms` until stopped; keeps the peak. */
export function sampleRss(pid: number, ms = 100) {
  let peak = rssMib(pid);
  let samples = 1;
  const timer = setInterval(() => {
    try { peak = Math.max(peak, rssMib(pid)); samples++; } catch { /* process gone */ }
  }, ms);
  return { stop: () => { clearInterval(timer); return { peak, samples }; } };
}

/** The machine's load while something runs: 1-minute load average sampled every second, and CPU busy %. */
export function sampleMachine() {
  const loads: number[] = [];
  const cpu = () => os.cpus().reduce((a, c) => ({ idle: a.idle + c.times.idle, total: a.total + Object.values(c.times).reduce((x, y) => x + y, 0) }), { idle: 0, total: 0 });
  const c0 = cpu();
  loads.push(os.loadavg()[0]!);
  const timer = setInterval(() => loads.push(os.loadavg()[0]!), 1000);
  return {
    stop() {
      clearInterval(timer);
      const c1 = cpu();
      return { loadMin: Math.min(...loads), loadMax: Math.max(...loads), busyPct: 100 * (1 - (c1.idle - c0.idle) / Math.max(1, c1.total - c0.total)), cpus: os.cpus().length };
    },
  };
}
