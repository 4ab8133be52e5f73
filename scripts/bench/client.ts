/**
 * The benchmark's HTTP client, one process per transfer: node --import tsx scripts/bench/client.ts '<json>'
 * with { kind: 'multipart' | 'raw' | 'download', port, path, bytes?, fields?, headers? }; prints one
 * JSON line { status, seconds, bytes, body, cpu } when done.
 *
 * Its own small process, not the bench's: the bench boots the portal's modules to make a user, and a
 * client in that heap paid a full mark-compact for every 64 MB of a download it received (≈2 s of
 * CPU per GiB on a 2-core machine): the "plain download" figure measured the client more than the
 * server, and the client took CPU from whichever server it was measuring.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';

interface Spec {
  kind: 'multipart' | 'raw' | 'download';
  port: number;
  path: string;
  bytes?: number;
  fields?: Record<string, string>;
  headers?: Record<string, string>;
}

export interface ClientResult {
  status: number;
  /** From sending the request to the last byte of the response. */
  seconds: number;
  /** Response body bytes. */
  bytes: number;
  /** The response body as text (uploads only). */
  body: string;
  /** CPU seconds this client used. */
  cpu: number;
}

const CHUNK = 1 << 20;
const agent = new http.Agent({ keepAlive: false });

/** A payload of `bytes` that starts like a PDF (the portal checks types), streamed from one reused random buffer. */
function* payload(bytes: number): Generator<Buffer> {
  const block = randomBytes(CHUNK);
  Buffer.from('%PDF-1.7\n').copy(block);
  let left = bytes;
  let first = true;
  while (left > 0) {
    const n = Math.min(left, CHUNK);
    yield first || n < CHUNK ? Buffer.from(block.subarray(0, n)) : block;
    if (first) { Buffer.from('%XXX-1.7\n').copy(block); first = false; }
    left -= n;
  }
}

function transfer(spec: Spec): Promise<Omit<ClientResult, 'cpu'>> {
  const bytes = spec.bytes ?? 0;
  let pre = '';
  let post = '';
  const headers: Record<string, string> = { ...spec.headers };
  if (spec.kind === 'multipart') {
    const boundary = `----akatsukibench${randomBytes(8).toString('hex')}`;
    pre = Object.entries(spec.fields ?? {}).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('')
      + `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="bench.pdf"\r\nContent-Type: application/pdf\r\n\r\n`;
    post = `\r\n--${boundary}--\r\n`;
    headers['Content-Type'] = `multipart/form-data; boundary=${boundary}`;
    headers.Accept = 'application/json';
  }
  if (spec.kind !== 'download') headers['Content-Length'] = String(Buffer.byteLength(pre) + bytes + Buffer.byteLength(post));
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request({ agent, host: '127.0.0.1', port: spec.port, path: spec.path, method: spec.kind === 'download' ? 'GET' : 'POST', headers }, (res) => {
      let received = 0;
      let body = '';
      res.on('data', (d: Buffer) => {
        received += d.length;
        if (spec.kind !== 'download' && body.length < 10_000) body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, seconds: Number(process.hrtime.bigint() - started) / 1e9, bytes: received, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (spec.kind === 'download') { req.end(); return; }
    if (pre) req.write(pre);
    const chunks = payload(bytes);
    const pump = () => {
      for (let c = chunks.next(); !c.done; c = chunks.next()) {
        if (!req.write(c.value)) { req.once('drain', pump); return; }
      }
      req.end(post || undefined);
    };
    pump();
  });
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
const before = process.cpuUsage();
transfer(spec).then((r) => {
  const cpu = process.cpuUsage(before);
  process.stdout.write(`${JSON.stringify({ ...r, cpu: (cpu.user + cpu.system) / 1e6 })}\n`);
}, (err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
