import { expect } from 'chai';
import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DecryptionFailed } from '../../../server/crypto/aead';
import { newDataKey, unwrapDataKey } from '../../../server/crypto/key-ring';
import {
  CorruptObject,
  createDecryptStream,
  createEncryptStream,
  DEFAULT_SEGMENT_SIZE,
  encryptedSize,
  parseHeader,
  type CorruptReason,
  type DecryptOptions,
  type EncryptResult,
  type ObjectHeader,
} from '../../../server/crypto/segment-cipher';

const SEG = 1024;
const TAG = 16;
const clientKey = randomBytes(32);
const owner = (clientId: string, fileId: string, keyVersion = 1) => ({ clientId, keyVersion, kind: 'file', id: fileId });

interface Encrypted {
  object: Buffer;
  result: EncryptResult;
  key: Buffer;
  wrapped: Buffer;
  clientId: string;
  fileId: string;
  segmentSize: number;
  headerLength: number;
}

/** Splits `buf` into chunks whose sizes cycle through `sizes`. */
function* chunked(buf: Buffer, sizes: number[]): Generator<Buffer> {
  let i = 0;
  for (let off = 0; off < buf.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield buf.subarray(off, off + n);
    off += n;
  }
}

function collector(into: Buffer[]): Writable {
  return new Writable({ write(chunk: Buffer, _e, cb) { into.push(Buffer.from(chunk)); cb(); } });
}

async function encrypt(
  plain: Buffer,
  o: { clientId?: string; fileId?: string; segmentSize?: number | 'default'; chunks?: number[]; dataKey?: { key: Buffer; wrapped: Buffer } } = {},
): Promise<Encrypted> {
  const clientId = o.clientId ?? 'client-a';
  const fileId = o.fileId ?? 'file-1';
  const { key, wrapped } = o.dataKey ?? newDataKey(clientKey, owner(clientId, fileId));
  const enc = o.segmentSize === 'default'
    ? createEncryptStream({ dataKey: key, keyVersion: 1, wrappedKey: wrapped, clientId, fileId })
    : createEncryptStream({ dataKey: key, keyVersion: 1, wrappedKey: wrapped, clientId, fileId, segmentSize: o.segmentSize ?? SEG });
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunked(plain, o.chunks ?? [plain.length || 1])), enc, collector(out));
  const object = Buffer.concat(out);
  const { segmentSize, length: headerLength } = parseHeader(object);
  return { object, result: enc.result(), key, wrapped, clientId, fileId, segmentSize, headerLength };
}

/** What a decryptor pushed, and how it ended. */
interface Decrypted { pushed: Buffer; error: unknown; sha256: string | null }

async function decrypt(
  object: Buffer,
  o: { clientId?: string; fileId?: string; chunks?: number[]; unwrapKey?: DecryptOptions['unwrapKey']; expectedSha256?: string } = {},
): Promise<Decrypted> {
  const clientId = o.clientId ?? 'client-a';
  const fileId = o.fileId ?? 'file-1';
  const unwrapKey = o.unwrapKey ?? ((h: ObjectHeader) => unwrapDataKey(clientKey, owner(clientId, fileId, h.keyVersion), h.wrappedKey));
  const dec = createDecryptStream({ clientId, fileId, unwrapKey, ...(o.expectedSha256 ? { expectedSha256: o.expectedSha256 } : {}) });
  const out: Buffer[] = [];
  let error: unknown = null;
  try {
    await pipeline(Readable.from(chunked(object, o.chunks ?? [997])), dec, collector(out));
  } catch (err) {
    error = err;
  }
  return { pushed: Buffer.concat(out), error, sha256: error ? null : dec.result().sha256 };
}

function sha256(b: Buffer): string { return createHash('sha256').update(b).digest('hex'); }

/** The object's segment records (ciphertext ‖ tag), cut by the documented layout. */
function records(e: Encrypted): Buffer[] {
  const out: Buffer[] = [];
  for (let off = e.headerLength; off < e.object.length; off += e.segmentSize + TAG) out.push(e.object.subarray(off, Math.min(off + e.segmentSize + TAG, e.object.length)));
  return out;
}
const assemble = (e: Encrypted, recs: Buffer[]) => Buffer.concat([e.object.subarray(0, e.headerLength), ...recs]);

function expectRefused(d: Decrypted, reason?: CorruptReason | CorruptReason[]): CorruptObject {
  expect(d.error, 'decryption should have failed').to.be.instanceOf(CorruptObject);
  const err = d.error as CorruptObject;
  if (reason !== undefined) expect([reason].flat()).to.include(err.reason);
  return err;
}

/** Everything pushed is plaintext of whole, verified segments, all before segment `firstBad`. */
function expectOnlySegmentsBefore(d: Decrypted, plain: Buffer, firstBad: number, segmentSize = SEG): void {
  expect(d.pushed.length % segmentSize, 'only whole segments').to.equal(0);
  expect(d.pushed.length, `nothing of segment ${firstBad} or later`).to.be.at.most(firstBad * segmentSize);
  expect(d.pushed.equals(plain.subarray(0, d.pushed.length)), 'a prefix of the plaintext').to.equal(true);
}

describe('crypto/segment-cipher: the encrypted object format (AKTF)', () => {
  describe('round trips', () => {
    const cases: [string, number][] = [
      ['0 bytes (one empty last segment)', 0],
      ['1 byte', 1],
      ['segment size − 1', SEG - 1],
      ['exactly the segment size', SEG],
      ['exactly 3 segments', 3 * SEG],
      ['3 segments + 1 byte', 3 * SEG + 1],
    ];
    for (const [name, size] of cases) {
      it(name, async () => {
        const plain = randomBytes(size);
        const e = await encrypt(plain);
        const segments = Math.max(1, Math.ceil(size / SEG));
        expect(e.object.length).to.equal(encryptedSize(size, SEG, e.wrapped.length));
        expect(e.result).to.deep.equal({ plaintextBytes: size, sha256: sha256(plain), objectBytes: e.object.length, segments });
        expect(records(e)).to.have.length(segments);
        const d = await decrypt(e.object);
        expect(d.error).to.equal(null);
        expect(d.pushed.equals(plain)).to.equal(true);
      });
    }

    it('a few MiB of random data written and read in odd chunk sizes', async () => {
      const plain = randomBytes(3 * 1024 * 1024 + 12345);
      const e = await encrypt(plain, { chunks: [1, 7, 1000, 1023, 1024, 1025, 4096, 65537, 3] });
      expect(e.result.sha256).to.equal(sha256(plain));
      const d = await decrypt(e.object, { chunks: [13, 1039, 1040, 1041, 70001, 1], expectedSha256: e.result.sha256 });
      expect(d.error).to.equal(null);
      expect(d.pushed.equals(plain)).to.equal(true);
      expect(d.sha256).to.equal(sha256(plain));
    });

    it('one byte at a time, both ways', async () => {
      const plain = randomBytes(2 * 64 + 5);
      const e = await encrypt(plain, { segmentSize: 64, chunks: [1] });
      const d = await decrypt(e.object, { chunks: [1] });
      expect(d.error).to.equal(null);
      expect(d.pushed.equals(plain)).to.equal(true);
    });

    it('the default segment size is 1 MiB, recorded in the header', async () => {
      const plain = randomBytes(3 * DEFAULT_SEGMENT_SIZE + 5);
      const e = await encrypt(plain, { segmentSize: 'default', chunks: [65536] });
      expect(DEFAULT_SEGMENT_SIZE).to.equal(1024 * 1024);
      expect(parseHeader(e.object).segmentSize).to.equal(DEFAULT_SEGMENT_SIZE);
      expect(e.result.segments).to.equal(4);
      const d = await decrypt(e.object, { chunks: [1024 * 1024], expectedSha256: sha256(plain) });
      expect(d.error).to.equal(null);
      expect(d.pushed.equals(plain)).to.equal(true);
    });

    it('accepts an asynchronous unwrapKey', async () => {
      const plain = randomBytes(5000);
      const e = await encrypt(plain);
      const d = await decrypt(e.object, { unwrapKey: async (h) => unwrapDataKey(clientKey, owner('client-a', 'file-1', h.keyVersion), h.wrappedKey) });
      expect(d.error).to.equal(null);
      expect(d.pushed.equals(plain)).to.equal(true);
    });

    it('encrypts the same plaintext differently every time (random nonce prefix and data key)', async () => {
      const plain = Buffer.alloc(100, 1);
      const dataKey = newDataKey(clientKey, owner('client-a', 'file-1'));
      const a = await encrypt(plain, { dataKey });
      const b = await encrypt(plain, { dataKey });
      expect(parseHeader(a.object).noncePrefix.equals(parseHeader(b.object).noncePrefix)).to.equal(false);
      expect(a.object.subarray(a.headerLength).equals(b.object.subarray(b.headerLength))).to.equal(false);
    });

    it('streams: emits segments while the input is still arriving, holding back only one', async () => {
      const enc = createEncryptStream({ dataKey: randomBytes(32), keyVersion: 1, wrappedKey: randomBytes(61), clientId: 'c', fileId: 'f', segmentSize: SEG });
      let emitted = 0;
      enc.on('data', (c: Buffer) => { emitted += c.length; });
      for (let i = 0; i < 10; i++) enc.write(randomBytes(SEG));
      await new Promise((r) => setImmediate(r));
      const headerLength = 16 + 61 + 7;
      expect(emitted).to.equal(headerLength + 9 * (SEG + TAG)); // the 10th may be the last: held back
      enc.end();
      const result = await enc.done;
      expect(emitted).to.equal(headerLength + 10 * (SEG + TAG));
      expect(result.segments).to.equal(10);
    });
  });

  describe('the documented layout (FORMAT.md), decoded independently', () => {
    it('header fields, STREAM nonces and associated data are as documented', async () => {
      const plain = randomBytes(2 * SEG + 10);
      const e = await encrypt(plain, { clientId: '顧客-7', fileId: 'file-42' });
      const o = e.object;
      expect(o.subarray(0, 4).toString('latin1')).to.equal('AKTF');
      expect(o[4]).to.equal(1); // format version
      expect(o[5]).to.equal(1); // AES-256-GCM STREAM
      expect(o.readUInt32BE(6)).to.equal(SEG);
      expect(o.readUInt32BE(10)).to.equal(1); // client key version
      const n = o.readUInt16BE(14);
      expect(o.subarray(16, 16 + n).equals(e.wrapped)).to.equal(true);
      const noncePrefix = o.subarray(16 + n, 16 + n + 7);
      const headerLength = 16 + n + 7;
      expect(headerLength).to.equal(e.headerLength);
      const id = (s: string) => { const b = Buffer.from(s, 'utf8'); const l = Buffer.alloc(2); l.writeUInt16BE(b.length); return Buffer.concat([l, b]); };
      const aadBytes = Buffer.concat([o.subarray(0, headerLength), id('顧客-7'), id('file-42')]);
      const parts: Buffer[] = [];
      const recs = records(e);
      recs.forEach((rec, i) => {
        const nonce = Buffer.alloc(12);
        noncePrefix.copy(nonce, 0);
        nonce.writeUInt32BE(i, 7);
        nonce[11] = i === recs.length - 1 ? 1 : 0;
        const d = createDecipheriv('aes-256-gcm', e.key, nonce);
        d.setAAD(aadBytes);
        d.setAuthTag(rec.subarray(rec.length - TAG));
        parts.push(d.update(rec.subarray(0, rec.length - TAG)), d.final());
      });
      expect(Buffer.concat(parts).equals(plain)).to.equal(true);
    });

    it('parseHeader reads the fields and the header length', async () => {
      const e = await encrypt(Buffer.from('x'));
      const h = parseHeader(e.object);
      expect(h).to.include({ version: 1, algorithm: 1, segmentSize: SEG, keyVersion: 1, length: 16 + e.wrapped.length + 7 });
      expect(h.wrappedKey.equals(e.wrapped)).to.equal(true);
      expect(h.noncePrefix).to.have.length(7);
      expect(h.bytes.equals(e.object.subarray(0, h.length))).to.equal(true);
    });
  });

  describe('tampering is detected, and nothing unverified is emitted', () => {
    // 4 full segments + 10 bytes: 5 segments, the last one short.
    const plain = randomBytes(4 * SEG + 10);
    let e: Encrypted;
    before(async () => { e = await encrypt(plain); });

    it('refuses a flipped bit in a tag while the ciphertext is intact (update() would have returned it)', async () => {
      const recs = records(e).map((r) => Buffer.from(r));
      recs[2]![recs[2]!.length - 1]! ^= 0x80;
      const d = await decrypt(assemble(e, recs));
      expect(expectRefused(d, 'segment-auth').segment).to.equal(2);
      expectOnlySegmentsBefore(d, plain, 2);
      expect(d.pushed.length).to.equal(2 * SEG); // segments 0–1 were verified and may pass
    });

    it('refuses one flipped bit anywhere, header or body', async () => {
      const small = randomBytes(3 * 64 + 8);
      const s = await encrypt(small, { segmentSize: 64 });
      for (let byte = 0; byte < s.object.length; byte++) {
        for (let bit = 0; bit < 8; bit++) {
          const bad = Buffer.from(s.object);
          bad[byte]! ^= 1 << bit;
          const d = await decrypt(bad, { chunks: [50] });
          expectRefused(d);
          if (byte < s.headerLength) expect(d.pushed.length, `header byte ${byte}`).to.equal(0);
          else expectOnlySegmentsBefore(d, small, Math.floor((byte - s.headerLength) / (64 + TAG)), 64);
        }
      }
    });

    it('refuses truncation at every point, including exactly at segment boundaries', async () => {
      const small = randomBytes(3 * 64 + 8);
      const s = await encrypt(small, { segmentSize: 64 });
      for (let cut = 0; cut < s.object.length; cut++) {
        const d = await decrypt(s.object.subarray(0, cut), { chunks: [50] });
        const err = expectRefused(d);
        if (cut < s.headerLength) {
          expect(err.reason, `cut at ${cut}`).to.equal('truncated-header');
          expect(d.pushed.length).to.equal(0);
        } else {
          expectOnlySegmentsBefore(d, small, Math.floor((cut - s.headerLength) / (64 + TAG)), 64);
          if ((cut - s.headerLength) % (64 + TAG) === 0) expect(err.reason, `cut at boundary ${cut}`).to.equal('truncated');
        }
      }
    });

    it('refuses an object cut after its header or after any whole segment, as truncated', async () => {
      const recs = records(e);
      for (let k = 0; k < recs.length; k++) {
        const d = await decrypt(assemble(e, recs.slice(0, k)));
        expectRefused(d, 'truncated');
        expectOnlySegmentsBefore(d, plain, k);
      }
    });

    it('refuses an object whose segments are exact multiples, cut at a boundary (the last flag catches it)', async () => {
      const even = randomBytes(3 * SEG);
      const x = await encrypt(even);
      const recs = records(x);
      const d = await decrypt(assemble(x, recs.slice(0, 2)));
      expectRefused(d, 'truncated');
      expectOnlySegmentsBefore(d, even, 2);
    });

    it('refuses reordered segments', async () => {
      const recs = records(e);
      const d = await decrypt(assemble(e, [recs[0]!, recs[2]!, recs[1]!, recs[3]!, recs[4]!]));
      expect(expectRefused(d, 'segment-auth').segment).to.equal(1);
      expectOnlySegmentsBefore(d, plain, 1);
    });

    it('refuses a dropped segment', async () => {
      const recs = records(e);
      const d = await decrypt(assemble(e, [recs[0]!, recs[1]!, recs[3]!, recs[4]!]));
      expect(expectRefused(d, 'segment-auth').segment).to.equal(2);
      expectOnlySegmentsBefore(d, plain, 2);
    });

    it('refuses a dropped last segment and a non-last segment marked as last', async () => {
      const recs = records(e);
      expectRefused(await decrypt(assemble(e, recs.slice(0, 4))), 'truncated');
      // The last segment moved forward: its index no longer matches.
      const d = await decrypt(assemble(e, [recs[0]!, recs[1]!, recs[4]!]));
      expectRefused(d, 'segment-auth');
      expectOnlySegmentsBefore(d, plain, 2);
    });

    it('refuses bytes appended after the last segment', async () => {
      for (const extra of [Buffer.from([0]), randomBytes(15), randomBytes(16), randomBytes(SEG + TAG), randomBytes(5000)]) {
        const d = await decrypt(Buffer.concat([e.object, extra]));
        expectRefused(d);
        expectOnlySegmentsBefore(d, plain, 4);
      }
      const even = randomBytes(2 * SEG);
      const x = await encrypt(even);
      const d = await decrypt(Buffer.concat([x.object, Buffer.from('x')]));
      expectRefused(d, 'trailing-data');
      expectOnlySegmentsBefore(d, even, 1);
    });

    it('refuses segments appended after the last one (a copy of a segment, or a whole second object)', async () => {
      const recs = records(e);
      expectRefused(await decrypt(assemble(e, [...recs, recs[4]!])));
      expectRefused(await decrypt(assemble(e, [...recs, recs[1]!])));
      expectRefused(await decrypt(Buffer.concat([e.object, e.object])));
      const even = randomBytes(2 * SEG);
      const x = await encrypt(even);
      const xr = records(x);
      const d = await decrypt(assemble(x, [...xr, xr[1]!]));
      expectRefused(d, 'trailing-data');
      expectOnlySegmentsBefore(d, even, 1);
    });

    it('refuses segments swapped between two objects, even under the same data key', async () => {
      const dataKey = newDataKey(clientKey, owner('client-a', 'file-1'));
      const p1 = randomBytes(3 * SEG + 5);
      const p2 = randomBytes(3 * SEG + 5);
      const a = await encrypt(p1, { dataKey });
      const b = await encrypt(p2, { dataKey });
      const recs = records(a);
      recs[1] = records(b)[1]!;
      const d = await decrypt(assemble(a, recs));
      expect(expectRefused(d, 'segment-auth').segment).to.equal(1);
      expectOnlySegmentsBefore(d, p1, 1);
      const other = await encrypt(randomBytes(3 * SEG + 5), { fileId: 'file-2' });
      const recs2 = records(a);
      recs2[0] = records(other)[0]!;
      const d2 = await decrypt(assemble(a, recs2));
      expectRefused(d2, 'segment-auth');
      expect(d2.pushed.length).to.equal(0);
    });

    it('refuses a wrapped data key moved from another file: its unwrap fails, bound to its owner', async () => {
      const other = await encrypt(randomBytes(100), { fileId: 'file-2' });
      expect(other.wrapped.length).to.equal(e.wrapped.length);
      const moved = Buffer.from(e.object);
      other.wrapped.copy(moved, 16);
      const d = await decrypt(moved);
      expectRefused(d, 'data-key');
      expect(d.pushed.length).to.equal(0);
      // The whole object of file-2 served as file-1.
      expectRefused(await decrypt(other.object, { fileId: 'file-1' }), 'data-key');
    });

    it('refuses another client id or file id even when the right data key is supplied', async () => {
      const rightKey = () => e.key;
      expect((await decrypt(e.object, { unwrapKey: rightKey })).error).to.equal(null);
      for (const ids of [{ fileId: 'file-2' }, { clientId: 'client-b' }, { clientId: 'client-af', fileId: 'ile-1' }]) {
        const d = await decrypt(e.object, { ...ids, unwrapKey: rightKey });
        expect(expectRefused(d, 'segment-auth').segment).to.equal(0);
        expect(d.pushed.length).to.equal(0);
      }
      expectRefused(await decrypt(e.object, { clientId: 'client-b' }), 'data-key');
    });

    it('refuses a changed key version (the data key was wrapped under another client key version)', async () => {
      const bad = Buffer.from(e.object);
      bad.writeUInt32BE(2, 10);
      expectRefused(await decrypt(bad), 'data-key');
    });

    it('passes through an error of unwrapKey that is not a failed decryption (e.g. an unknown key version)', async () => {
      const boom = new Error('no client key of version 9');
      const d = await decrypt(e.object, { unwrapKey: () => { throw boom; } });
      expect(d.error).to.equal(boom);
      expect((await decrypt(e.object, { unwrapKey: async () => { throw new DecryptionFailed(); } })).error).to.be.instanceOf(CorruptObject);
    });
  });

  describe('SHA-256 and header checks', () => {
    it('reports the SHA-256 of the plaintext, equal to node’s hash', async () => {
      const plain = randomBytes(10_000);
      const e = await encrypt(plain, { chunks: [333] });
      expect(e.result.sha256).to.equal(createHash('sha256').update(plain).digest('hex'));
      const d = await decrypt(e.object, { expectedSha256: e.result.sha256.toUpperCase() });
      expect(d.error).to.equal(null);
      expect(d.sha256).to.equal(e.result.sha256);
    });

    it('result() is unavailable before the end; done resolves to the same result', async () => {
      const enc = createEncryptStream({ dataKey: randomBytes(32), keyVersion: 3, wrappedKey: randomBytes(61), clientId: 'c', fileId: 'f' });
      expect(() => enc.result()).to.throw(/not finished/);
      enc.resume();
      enc.end(Buffer.from('abc'));
      const r = await enc.done;
      expect(r).to.deep.equal(enc.result());
      expect(r.sha256).to.equal(sha256(Buffer.from('abc')));
    });

    it('refuses a plaintext whose SHA-256 is not the expected one', async () => {
      const plain = randomBytes(3000);
      const e = await encrypt(plain);
      const d = await decrypt(e.object, { expectedSha256: sha256(Buffer.from('something else')) });
      expectRefused(d, 'sha256-mismatch');
    });

    it('refuses a truncated header, a wrong magic, version or algorithm, and out-of-range fields, with clear reasons', async () => {
      const e = await encrypt(randomBytes(100));
      const withByte = (at: number, v: number) => { const b = Buffer.from(e.object); b[at] = v; return b; };
      const cases: [Buffer, CorruptReason][] = [
        [Buffer.alloc(0), 'truncated-header'],
        [e.object.subarray(0, 3), 'truncated-header'],
        [e.object.subarray(0, 16), 'truncated-header'],
        [e.object.subarray(0, e.headerLength - 1), 'truncated-header'],
        [withByte(0, 0x61), 'bad-magic'],
        [Buffer.from('%PDF-1.7 not an encrypted object'), 'bad-magic'],
        [withByte(4, 2), 'unsupported-version'],
        [withByte(4, 0), 'unsupported-version'],
        [withByte(5, 9), 'unsupported-algorithm'],
        [withByte(6, 0x80), 'bad-header'], // segment size ≥ 2 GiB
        [(() => { const b = Buffer.from(e.object); b.writeUInt32BE(0, 6); return b; })(), 'bad-header'],
        [(() => { const b = Buffer.from(e.object); b.writeUInt16BE(0, 14); return b; })(), 'bad-header'],
        [(() => { const b = Buffer.from(e.object); b.writeUInt16BE(60000, 14); return b; })(), 'bad-header'],
      ];
      for (const [obj, reason] of cases) {
        const d = await decrypt(obj, { chunks: [1] });
        const err = expectRefused(d, reason);
        expect(err.message).to.contain(reason);
        expect(d.pushed.length).to.equal(0);
        if (obj.length > 0) expect(() => parseHeader(obj)).to.throw(CorruptObject, reason);
      }
    });

    it('refuses bad options when building a stream', () => {
      const base = { dataKey: randomBytes(32), keyVersion: 1, wrappedKey: randomBytes(61), clientId: 'c', fileId: 'f' };
      expect(() => createEncryptStream({ ...base, dataKey: randomBytes(16) })).to.throw(/32-byte/);
      expect(() => createEncryptStream({ ...base, segmentSize: 8 })).to.throw(/segmentSize/);
      expect(() => createEncryptStream({ ...base, segmentSize: 1000.5 })).to.throw(/segmentSize/);
      expect(() => createEncryptStream({ ...base, fileId: '' })).to.throw(/fileId/);
      expect(() => createEncryptStream({ ...base, keyVersion: -1 })).to.throw(/keyVersion/);
      expect(() => createDecryptStream({ clientId: 'c', fileId: 'f', unwrapKey: () => base.dataKey, expectedSha256: 'abc' })).to.throw(/64 hex/);
    });
  });
});
