/**
 * Micro-benchmark of the encrypted object format (server/crypto/segment-cipher.ts): MB/s (10^6 bytes
 * of plaintext per second) of the encrypt and decrypt streams over data generated chunk by chunk.
 * Not a test.
 *
 *   npx tsx scripts/bench/cipher.ts [--mib 512] [--chunk 65536] [--runs 2] [--compare]
 *
 * --compare runs the benchmark twice in child processes, without and with
 * GLIBC_TUNABLES=glibc.malloc.mmap_threshold=8388608:glibc.malloc.trim_threshold=536870912
 * (see /work/shared/pitfalls.md, "Speed"): glibc otherwise serves every segment-sized buffer with
 * mmap/munmap, so each one is freshly page-faulted.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createDecryptStream, createEncryptStream, encryptedSize } from '../../server/crypto/segment-cipher';

const TUNABLES = 'glibc.malloc.mmap_threshold=8388608:glibc.malloc.trim_threshold=536870912';
const SEGMENT_SIZES = [64 * 1024, 256 * 1024, 1024 * 1024];

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const total = arg('mib', 512) * 1024 * 1024;
const chunk = arg('chunk', 64 * 1024);
const runs = arg('runs', 2);

/** `total` bytes of plaintext in `chunk`-sized pieces, cut from a random pool at shifting offsets. */
function plaintextSource(pool: Buffer): Readable {
  let sent = 0;
  let offset = 0;
  return new Readable({
    highWaterMark: chunk,
    read() {
      if (sent >= total) { this.push(null); return; }
      const n = Math.min(chunk, total - sent);
      if (offset + n > pool.length) offset = (offset + 4099) % (pool.length - chunk);
      this.push(pool.subarray(offset, offset + n));
      offset += n;
      sent += n;
    },
  });
}

/** An in-memory object read back in `chunk`-sized pieces (as a file read stream would). */
function objectSource(object: Buffer): Readable {
  let off = 0;
  return new Readable({
    highWaterMark: chunk,
    read() {
      if (off >= object.length) { this.push(null); return; }
      this.push(object.subarray(off, off + chunk));
      off += chunk;
    },
  });
}

const sink = () => new Writable({ highWaterMark: chunk, write(_c, _e, cb) { cb(); } });

async function timed(fn: () => Promise<void>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return total / best / 1e6;
}

async function main(): Promise<void> {
  const pool = randomBytes(8 * 1024 * 1024);
  const dataKey = randomBytes(32);
  const wrappedKey = randomBytes(61); // the size of a sealed data key (aead.seal)
  const ids = { clientId: 'bench-client', fileId: 'bench-file' };
  const objectBuf = Buffer.allocUnsafe(Math.max(...SEGMENT_SIZES.map((s) => encryptedSize(total, s, wrappedKey.length))));

  console.log(`node ${process.version}, ${(total / 2 ** 20).toFixed(0)} MiB per run, input chunks of ${chunk} B, best of ${runs}, ` +
    `GLIBC_TUNABLES ${process.env.GLIBC_TUNABLES ? `= ${process.env.GLIBC_TUNABLES}` : 'unset'}`);
  console.log('segment   | encrypt + SHA-256 | decrypt    | decrypt + SHA-256 check');
  console.log('----------|-------------------|------------|------------------------');
  for (const segmentSize of SEGMENT_SIZES) {
    const enc = await timed(() => pipeline(plaintextSource(pool), createEncryptStream({ dataKey, keyVersion: 1, wrappedKey, ...ids, segmentSize }), sink()));

    // One object to decrypt, kept in memory (not timed).
    let length = 0;
    const e = createEncryptStream({ dataKey, keyVersion: 1, wrappedKey, ...ids, segmentSize });
    await pipeline(plaintextSource(pool), e, new Writable({ write(c: Buffer, _e, cb) { length += c.copy(objectBuf, length); cb(); } }));
    const object = objectBuf.subarray(0, length);
    const { sha256 } = e.result();
    const unwrapKey = () => dataKey;

    const dec = await timed(() => pipeline(objectSource(object), createDecryptStream({ ...ids, unwrapKey }), sink()));
    const decSha = await timed(() => pipeline(objectSource(object), createDecryptStream({ ...ids, unwrapKey, expectedSha256: sha256 }), sink()));
    const row = [`${segmentSize / 1024} KiB`.padEnd(9), `${enc.toFixed(0)} MB/s`.padEnd(17), `${dec.toFixed(0)} MB/s`.padEnd(10), `${decSha.toFixed(0)} MB/s`];
    console.log(row.join(' | '));
  }
  // Reference ceiling on this machine: SHA-256 alone over the same amount.
  const h = createHash('sha256');
  const t = process.hrtime.bigint();
  for (let sent = 0; sent < total; sent += chunk) h.update(pool.subarray(sent % (pool.length - chunk), sent % (pool.length - chunk) + chunk));
  h.digest();
  console.log(`(SHA-256 alone: ${(total / (Number(process.hrtime.bigint() - t) / 1e9) / 1e6).toFixed(0)} MB/s)`);
}

if (process.argv.includes('--compare')) {
  const script = fileURLToPath(import.meta.url);
  const args = process.argv.slice(2).filter((a) => a !== '--compare');
  for (const tunables of [undefined, TUNABLES]) {
    const env = { ...process.env };
    if (tunables) env.GLIBC_TUNABLES = tunables;
    else delete env.GLIBC_TUNABLES;
    const r = spawnSync(process.execPath, [...process.execArgv, script, ...args], { env, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
    console.log();
  }
} else {
  await main();
}
