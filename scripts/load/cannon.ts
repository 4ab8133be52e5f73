/**
 * autocannon (no type definitions of its own) behind a small typed wrapper that records every
 * response's status and latency itself, so any percentile can be read (autocannon's own summary has
 * p97.5 and p99 but no p95), and lets each connection send from its own loopback address.
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import type { EventEmitter } from 'node:events';

export interface CannonRequest { method?: string; path: string; headers?: Record<string, string>; body?: string }

export interface CannonOptions {
  port: number;
  connections: number;
  /** seconds */
  duration: number;
  /** total requests a second across all connections (0: as fast as possible) */
  overallRate?: number;
  /** per connection: the requests it sends in rotation, and the local address it sends from */
  perConnection: (i: number) => { requests: CannonRequest[]; localAddress?: string };
}

export interface CannonFigures {
  /** all responses a second, over the run */
  rps: number;
  /** 2xx responses a second */
  rps2xx: number;
  count: number;
  /** requests written; sent − count were still in flight when the run stopped */
  sent: number;
  ok: number;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  seconds: number;
}

interface Client { _connect: () => void; setRequests(r: CannonRequest[]): void }
type Run = (opts: Record<string, unknown>, cb: (err: Error | null, result: { errors: number; timeouts: number; duration: number; requests: { sent: number } }) => void) => EventEmitter;
const autocannon = createRequire(import.meta.url)('autocannon') as Run;

/** Makes one autocannon client connect from `localAddress` (it calls net.connect(port, host) itself). */
function bindTo(client: Client, localAddress: string) {
  const connect = client._connect;
  client._connect = function (this: Client) {
    const real = net.connect;
    const mutable = net as unknown as { connect: unknown };
    mutable.connect = (port: unknown, host: unknown) => real({ port: Number(port), host: String(host), localAddress });
    try { connect.call(this); } finally { mutable.connect = real; }
  };
}

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN);

export function cannon(o: CannonOptions): Promise<CannonFigures> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let made = 0;
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url: `http://127.0.0.1:${o.port}`,
      connections: o.connections,
      duration: o.duration,
      ...(o.overallRate ? { overallRate: o.overallRate } : {}),
      timeout: 30,
      requests: o.perConnection(0).requests,
      setupClient: (client: Client) => {
        const mine = o.perConnection(made++);
        client.setRequests(mine.requests.map((r) => ({ ...r, method: r.method ?? 'GET', headers: { ...r.headers } })));
        if (mine.localAddress) bindTo(client, mine.localAddress);
      },
    }, (err, result) => {
      if (err) return reject(err);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const window = result.duration || seconds;
      latencies.sort((a, b) => a - b);
      const ok = Object.entries(statuses).filter(([s]) => s.startsWith('2')).reduce((n, [, c]) => n + c, 0);
      resolve({
        rps: latencies.length / window, rps2xx: ok / window, count: latencies.length, sent: result.requests.sent, ok, statuses, errors: result.errors, timeouts: result.timeouts,
        p50: pct(latencies, 50), p95: pct(latencies, 95), p99: pct(latencies, 99), max: latencies.at(-1) ?? NaN, seconds: window,
      });
    });
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      latencies.push(ms);
      statuses[status] = (statuses[status] ?? 0) + 1;
    });
  });
}
