/**
 * The file benchmark: a large file up and down through the portal's real routes over loopback,
 * against a bare Express + multer disk server and a bare node:http pipe, each in its own process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { loadConfig } from '../../server/config';
import { boot } from '../../server/boot';
import { makeBenchUser } from './bench-user';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const CHUNK = 1 << 20;

export interface FileFigures {
  file_mib: number;
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
}

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

function startProcess(args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) { child.stdout!.off('data', onData); resolve({ child, match: m }); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('exit', (code) => reject(new Error(`process exited (${code}):\n${out}`)));
    setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`process did not get ready in 60 s:\n${out}`)); }, 60_000).unref();
  });
}

/** Peak and current resident memory of a process, from /proc (VmHWM is the high-water mark). */
function memory(pid: number): { rssMib: number; peakMib: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMib: kb('VmRSS') / 1024, peakMib: kb('VmHWM') / 1024 };
}

/** Resets VmHWM so the next peak is measured from now (Linux: write 5 to clear_refs). */
function resetPeak(pid: number): void {
  try { fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); } catch { /* not permitted: the peak then covers the whole run */ }
}

function multipartUpload(port: number, urlPath: string, fields: Record<string, string>, bytes: number, headers: Record<string, string>): Promise<{ status: number; seconds: number; body: string }> {
  const boundary = `----akatsukibench${randomBytes(8).toString('hex')}`;
  const pre = Object.entries(fields).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('')
    + `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="bench.pdf"\r\nContent-Type: application/pdf\r\n\r\n`;
  const post = `\r\n--${boundary}--\r\n`;
  const length = Buffer.byteLength(pre) + bytes + Buffer.byteLength(post);
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: 'POST', headers: {
      ...headers, 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': String(length), Accept: 'application/json',
    } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, seconds: Number(process.hrtime.bigint() - started) / 1e9, body }));
    });
    req.on('error', reject);
    req.write(pre);
    const chunks = payload(bytes);
    const pump = () => {
      for (let c = chunks.next(); !c.done; c = chunks.next()) {
        if (!req.write(c.value)) { req.once('drain', pump); return; }
      }
      req.end(post);
    };
    pump();
  });
}

function rawUpload(port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, path: '/', method: 'POST', headers: { 'Content-Length': String(bytes) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(Number(process.hrtime.bigint() - started) / 1e9));
    });
    req.on('error', reject);
    const chunks = payload(bytes);
    const pump = () => {
      for (let c = chunks.next(); !c.done; c = chunks.next()) {
        if (!req.write(c.value)) { req.once('drain', pump); return; }
      }
      req.end();
    };
    pump();
  });
}

function download(port: number, urlPath: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    http.get({ host: '127.0.0.1', port, path: urlPath, headers }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => { bytes += d.length; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9 }));
    }).on('error', reject);
  });
}

const mbps = (bytes: number, s: number) => bytes / 1e6 / s;
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

export async function benchFiles(mib: number): Promise<FileFigures> {
  const bytes = mib * 1024 * 1024;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-bench-'));
  const children: ChildProcess[] = [];
  try {
    // The portal: a fresh DATA_DIR with one client admin, then the real server in its own process.
    const dataDir = path.join(work, 'portal');
    const env = { DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info', UPLOAD_MAX_FILE_MB: String(mib + 16), UPLOAD_MAX_REQUEST_MB: String(mib + 32) };
    const booted = await boot(loadConfig(env), { logger: pino({ level: 'silent' }) });
    const who = await makeBenchUser(booted);
    await booted.close();
    const portal = await startProcess(['server/main.ts'], { ...env, PORT: '0' }, /listening on http:\/\/[^:]+:(\d+)/);
    children.push(portal.child);
    const port = Number(portal.match[1]);
    const session = await who.login(port);

    const start = memory(portal.child.pid!);
    resetPeak(portal.child.pid!);
    const up = await multipartUpload(port, '/files', { direction: 'to_firm', category: 'other' }, bytes, session.headers);
    if (up.status !== 200) throw new Error(`portal upload failed: ${up.status} ${up.body}`);
    const afterUpload = memory(portal.child.pid!);
    const fileId = await session.latestFileId(port);
    resetPeak(portal.child.pid!);
    const down = await download(port, `/files/${fileId}/download`, session.cookieOnly);
    if (down.status !== 200 || down.bytes !== bytes) throw new Error(`portal download failed: ${down.status}, ${down.bytes} bytes`);
    const afterDownload = memory(portal.child.pid!);

    const m = await startProcess(['scripts/bench/servers.ts', 'multer-disk', path.join(work, 'multer')], {}, /PORT (\d+)/);
    children.push(m.child);
    const multerUp = await multipartUpload(Number(m.match[1]), '/upload', {}, bytes, {});

    const p = await startProcess(['scripts/bench/servers.ts', 'plain', path.join(work, 'plain')], {}, /PORT (\d+)/);
    children.push(p.child);
    const plainUp = await rawUpload(Number(p.match[1]), bytes);
    const plainDown = await download(Number(p.match[1]), '/');

    const f: FileFigures = {
      file_mib: mib,
      upload_mb_s: round(mbps(bytes, up.seconds), 1),
      upload_multer_disk_mb_s: round(mbps(bytes, multerUp.seconds), 1),
      upload_plain_mb_s: round(mbps(bytes, plainUp), 1),
      upload_ratio_multer_disk: round(multerUp.seconds / up.seconds),
      download_mb_s: round(mbps(bytes, down.seconds), 1),
      download_plain_mb_s: round(mbps(bytes, plainDown.seconds), 1),
      download_ratio_plain: round(plainDown.seconds / down.seconds),
      portal_rss_start_mib: round(start.rssMib, 1),
      upload_peak_rss_mib: round(afterUpload.peakMib, 1),
      download_peak_rss_mib: round(afterDownload.peakMib, 1),
      rss_growth_mib: round(Math.max(afterUpload.peakMib, afterDownload.peakMib) - start.rssMib, 1),
    };
    return f;
  } finally {
    for (const c of children) c.kill('SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
  }
}
