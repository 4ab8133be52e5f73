/**
 * An open-loop load at a fixed rate: one request every 1/rate seconds, evenly spaced, each on a
 * free keep-alive connection (a new one when all are busy). autocannon's `overallRate` instead
 * lets every connection send its whole second's share at the top of each second, so "50 a
 * second" arrives as bursts of 50 and measures the burst's queue. Latency counts from the moment
 * the request was due, so a portal that falls behind is charged for the wait (no coordinated omission).
 */
import http from 'node:http';
import type { CannonRequest } from './cannon';

export interface PacedFigures {
  sent: number;
  count: number;
  /** 2xx responses */
  ok: number;
  statuses: Record<string, number>;
  errors: number;
  /** responses a second over the run */
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export async function paced(o: { port: number; rate: number; seconds: number; next: (i: number) => CannonRequest; localAddresses?: string[] }): Promise<PacedFigures> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const total = Math.round(o.rate * o.seconds);
  const interval = 1000 / o.rate;
  const start = performance.now();
  const one = (i: number, due: number) => new Promise<void>((resolve) => {
    const r = o.next(i);
    const req = http.request({ agent, host: '127.0.0.1', port: o.port, localAddress: o.localAddresses?.[i % o.localAddresses.length], method: r.method ?? 'GET', path: r.path, headers: { ...(r.headers ?? {}), ...(r.body ? { 'content-length': Buffer.byteLength(r.body) } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => {
        latencies.push(performance.now() - due);
        statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
        resolve();
      });
    });
    req.on('error', () => { errors++; resolve(); });
    req.end(r.body);
  });
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(one(i, due));
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  const sorted = [...latencies].sort((a, b) => a - b);
  const pct = (p: number) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0;
  const ok = Object.entries(statuses).filter(([s]) => s.startsWith('2')).reduce((n, [, c]) => n + c, 0);
  return { sent: total, count: latencies.length, ok, statuses, errors, rps: latencies.length / seconds, p50: pct(50), p95: pct(95), p99: pct(99), max: sorted.at(-1) ?? 0 };
}
