/**
 * Processes for the load and soak scripts: the portal (or a baseline) started as
 * `node --import tsx <script>` so the child's pid is the server itself (see scripts/bench/files.ts),
 * and what /proc says about it.
 */
import type { ChildProcess } from 'node:child_process';
import { startServer, stopServer } from '../support/server-process';
import fs from 'node:fs';
import os from 'node:os';

export interface Server { child: ChildProcess; pid: number; port: number }

/** The pid in the portal's "listening" log line (pino JSON carries the pid of the process that logged it). */
export const PORTAL_READY = /"pid":(\d+)[^\n]*listening on http:\/\/[^:]+:(\d+)/;
/** hello.ts prints "PORT <port> PID <pid>". */
export const HELLO_READY = /PORT (\d+) PID (\d+)/;

/** Starts a server process (see startServer) and reads its pid and port from its ready line. */
async function startProcess(script: string, env: NodeJS.ProcessEnv, ready: RegExp, ids: (m: RegExpMatchArray) => { pid: number; port: number }, nodeArgs: string[] = []): Promise<Server> {
  const s = await startServer(script, { env, ready, pidOf: (m) => ids(m).pid, echoEnv: 'LOAD_SERVER_OUTPUT', nodeArgs });
  return { child: s.child, pid: s.pid, port: ids(s.match).port };
}

/**
 * The V8 flags `npm start` gives the portal (package.json), so the load, soak and file benches
 * measure the process as it runs. A young generation of at most 16 MiB semi-spaces: left to
 * itself V8 grows it once under a burst of allocation (uploads, downloads), a one-time step of
 * ~65 MiB committed heap that the soak saw as RSS growth, while the live heap stayed at ~53 MiB;
 * CPU per page was the same either way (npm run load:cost).
 */
export const PORTAL_NODE_FLAGS = ['--max-semi-space-size=16'];

export const startPortal = (env: NodeJS.ProcessEnv, nodeArgs: string[] = []) => startProcess('server/main.ts', env, PORTAL_READY, (m) => ({ pid: Number(m[1]), port: Number(m[2]) }), [...PORTAL_NODE_FLAGS, ...nodeArgs]);
export const startHello = () => startProcess('scripts/load/hello.ts', {}, HELLO_READY, (m) => ({ pid: Number(m[2]), port: Number(m[1]) }));

/** Ends a server (SIGTERM, SIGKILL after 8 s) and waits until it is gone. */
export const stopProcess = (child: ChildProcess) => stopServer(child);

/** Resident memory of a process now, MiB (VmRSS). */
export function rssMib(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** CPU seconds (user, system; all threads) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): { user: number; sys: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const hz = 100; // USER_HZ: 100 on every Linux platform Node supports
  return { user: Number(fields[11]) / hz, sys: Number(fields[12]) / hz };
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
