import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, type Hash, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DecryptionFailed, KEY_BYTES } from './aead';

/**
 * The encrypted object format of uploaded files ("AKTF", see FORMAT.md beside this file):
 * a header, then the plaintext cut into fixed-size segments, each sealed with AES-256-GCM under a
 * per-file data key. Nonce of segment i = nonce prefix (7) ‖ uint32 BE i ‖ last flag (1): the STREAM
 * construction, so truncation, reordering, dropping and appending are all detected. Every segment's
 * associated data is the header ‖ client id ‖ file id, so an object (or a header) copied to another
 * file or client does not open.
 *
 * Both directions are Transform streams that hold at most one segment; the decryptor pushes a
 * segment's plaintext only after that segment's tag verified, and the last segment's only after the
 * plaintext's SHA-256 matched (when one is expected), so a mismatch fails before the end.
 *
 * Memory: every chunk these streams emit is a fresh Buffer of its own (see OWNED_CHUNKS), which a
 * consumer that is done with it may release at once with releaseChunk() instead of leaving it to
 * the garbage collector. A gigabyte passing through otherwise leaves a gigabyte of dead buffers
 * behind, and V8 (before 14.8) runs a full mark-compact of the whole heap for every 64 MB of them.
 */

export const MAGIC = Buffer.from('AKTF', 'latin1');
export const FORMAT_VERSION = 1;
/** AES-256-GCM, STREAM nonces (7-byte prefix ‖ uint32 BE counter ‖ last flag), 16-byte tags. */
export const ALG_AES256GCM_STREAM = 1;
export const TAG_BYTES = 16;
export const NONCE_PREFIX_BYTES = 7;
export const DEFAULT_SEGMENT_SIZE = 1024 * 1024;
export const MIN_SEGMENT_SIZE = 16;
export const MAX_SEGMENT_SIZE = 16 * 1024 * 1024;
export const MAX_WRAPPED_KEY_BYTES = 1024;
/** Longest client id / file id, in UTF-8 bytes, that the associated data can carry. */
export const MAX_ID_BYTES = 1024;
/** magic 4 + version 1 + algorithm 1 + segment size 4 + key version 4 + wrapped key length 2. */
export const HEADER_FIXED_BYTES = 16;
const MAX_SEGMENTS = 0x1_0000_0000; // the counter is a uint32
/** Pieces a held record is kept in (views on the input) before it is copied together instead. */
const MAX_RECORD_PARTS = 8;
const NONCE_BYTES = NONCE_PREFIX_BYTES + 4 + 1;

export type CorruptReason =
  | 'truncated-header' // the object ended inside its header
  | 'bad-magic' // not an AKTF object
  | 'unsupported-version'
  | 'unsupported-algorithm'
  | 'bad-header' // a header field out of range (segment size, wrapped key length)
  | 'data-key' // the wrapped data key does not open for this owner (moved from another file, wrong key version …)
  | 'segment-auth' // a segment's tag did not verify: changed bits, reordered/swapped/dropped segments, other client or file id
  | 'truncated' // the object ended before its last segment
  | 'trailing-data' // bytes follow the last segment
  | 'too-many-segments' // beyond the 2^32 the counter allows
  | 'sha256-mismatch'; // the plaintext is authentic but not the expected content

/** An encrypted object that does not decrypt. Nothing of the failing segment (or later) was emitted. */
export class CorruptObject extends Error {
  override readonly name = 'CorruptObject';
  constructor(readonly reason: CorruptReason, readonly segment?: number) {
    super(`corrupt encrypted object: ${reason}${segment === undefined ? '' : ` (segment ${segment})`}`);
  }
}

export interface ObjectHeader {
  version: number;
  algorithm: number;
  /** Plaintext bytes per segment; the last segment holds 1…segmentSize (0 only for an empty file). */
  segmentSize: number;
  /** Version of the client key the data key is wrapped under. */
  keyVersion: number;
  wrappedKey: Buffer;
  noncePrefix: Buffer;
  /** Length of the header in bytes = offset of the first segment. */
  length: number;
  /** The header's exact bytes (part of every segment's associated data). */
  bytes: Buffer;
}

export interface EncryptOptions {
  /** The per-file data key (32 bytes), e.g. from newDataKey(clientKey, { clientId, keyVersion, kind, id }). */
  dataKey: Buffer;
  /** Version of the client key that wrapped it; stored in the header. */
  keyVersion: number;
  /** The wrapped data key, stored in the header. */
  wrappedKey: Buffer;
  /** Bound through the associated data; not stored. */
  clientId: string;
  /** Bound through the associated data; not stored. */
  fileId: string;
  segmentSize?: number;
}

export interface EncryptResult {
  plaintextBytes: number;
  /** SHA-256 of the plaintext, lowercase hex. */
  sha256: string;
  /** Bytes emitted: header + segments + tags (= encryptedSize(plaintextBytes, …)). */
  objectBytes: number;
  segments: number;
}

export interface DecryptOptions {
  clientId: string;
  fileId: string;
  /**
   * Returns the data key for this header: the caller unwraps header.wrappedKey with its client key
   * of version header.keyVersion, bound to this client and file. A DecryptionFailed it throws becomes
   * CorruptObject('data-key'); any other error passes through unchanged.
   */
  unwrapKey: (header: ObjectHeader) => Buffer | Promise<Buffer>;
  /** Lowercase or uppercase hex; when given, the stream errors at the end if the plaintext differs. */
  expectedSha256?: string;
}

export interface DecryptResult {
  header: ObjectHeader;
  plaintextBytes: number;
  segments: number;
  /** Only computed when expectedSha256 was given. */
  sha256: string | null;
}

/**
 * Keeps no reference to a written chunk once that chunk's write callback ran (whole segments are
 * sealed from it, the rest is copied), so its writer may then release it. Its output is OWNED_CHUNKS.
 */
export interface EncryptStream extends Transform {
  /** Available once the writable side finished (before or at 'end'); throws earlier. */
  result(): EncryptResult;
  /** Resolves when the last segment was emitted; rejects if the stream errors or closes early. */
  readonly done: Promise<EncryptResult>;
}

/**
 * Its output is OWNED_CHUNKS. When the stream piped into it promises OWNED_CHUNKS (and it is that
 * stream's only consumer), it releases each input chunk once decrypted.
 */
export interface DecryptStream extends Transform {
  result(): DecryptResult;
  readonly done: Promise<DecryptResult>;
}

/**
 * Marks a readable stream whose every chunk is a Buffer spanning a whole ArrayBuffer that nothing
 * else refers to (no pool slice, never pushed twice, not kept by the producer). The stream's one
 * consumer may then release each chunk with releaseChunk() once it no longer needs its bytes.
 * (A plain Symbol.for key, so storage adapters can use it without importing this module.)
 */
export const OWNED_CHUNKS: unique symbol = Symbol.for('akatsuki.ownedChunks') as never;

/** Whether `stream` promises OWNED_CHUNKS and has at most one 'data' listener (its one consumer: nobody else sees its chunks). */
export function ownsChunks(stream: unknown): boolean {
  const s = stream as { [OWNED_CHUNKS]?: boolean; listenerCount?: (e: string) => number } | null;
  return Boolean(s && s[OWNED_CHUNKS] === true && typeof s.listenerCount === 'function' && s.listenerCount('data') <= 1);
}

/** Smaller chunks are left to the garbage collector. (The small piece of a record cut between two reads is above this: ≈16 MB of them per GiB.) */
const RELEASE_MIN_BYTES = 1024;
const canTransfer = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';

/**
 * Frees a Buffer's memory now (detaches its ArrayBuffer: the Buffer reads as empty afterwards).
 * Only for a chunk its caller owns alone and no pending I/O still reads; does nothing for a view on
 * part of a larger ArrayBuffer (a pool slice, a subarray) or a small chunk.
 */
export function releaseChunk(buf: Buffer): void {
  if (!canTransfer || buf.length < RELEASE_MIN_BYTES) return;
  const ab = buf.buffer as ArrayBuffer & { transfer(n: number): ArrayBuffer; detached?: boolean };
  if (buf.byteOffset !== 0 || buf.byteLength !== ab.byteLength || ab.detached || ab instanceof SharedArrayBuffer) return;
  ab.transfer(0);
}

/** Size of the object for a plaintext of `plaintextBytes` (e.g. for a Content-Length or a quota). */
export function encryptedSize(plaintextBytes: number, segmentSize: number, wrappedKeyBytes: number): number {
  const segments = Math.max(1, Math.ceil(plaintextBytes / segmentSize));
  return HEADER_FIXED_BYTES + wrappedKeyBytes + NONCE_PREFIX_BYTES + plaintextBytes + segments * TAG_BYTES;
}

export function encodeHeader(h: { segmentSize: number; keyVersion: number; wrappedKey: Buffer; noncePrefix: Buffer }): Buffer {
  checkSegmentSize(h.segmentSize);
  if (!Number.isInteger(h.keyVersion) || h.keyVersion < 0 || h.keyVersion > 0xffff_ffff) throw new RangeError('keyVersion must be a uint32');
  if (h.wrappedKey.length < 1 || h.wrappedKey.length > MAX_WRAPPED_KEY_BYTES) throw new RangeError(`wrappedKey must be 1…${MAX_WRAPPED_KEY_BYTES} bytes`);
  if (h.noncePrefix.length !== NONCE_PREFIX_BYTES) throw new RangeError(`noncePrefix must be ${NONCE_PREFIX_BYTES} bytes`);
  const buf = Buffer.alloc(HEADER_FIXED_BYTES + h.wrappedKey.length + NONCE_PREFIX_BYTES);
  MAGIC.copy(buf, 0);
  buf.writeUInt8(FORMAT_VERSION, 4);
  buf.writeUInt8(ALG_AES256GCM_STREAM, 5);
  buf.writeUInt32BE(h.segmentSize, 6);
  buf.writeUInt32BE(h.keyVersion, 10);
  buf.writeUInt16BE(h.wrappedKey.length, 14);
  h.wrappedKey.copy(buf, HEADER_FIXED_BYTES);
  h.noncePrefix.copy(buf, HEADER_FIXED_BYTES + h.wrappedKey.length);
  return buf;
}

/**
 * Total header length once enough of its start is known, or null if more bytes are needed.
 * Refuses a wrong magic, version, algorithm or out-of-range field as soon as its bytes are there.
 */
function headerLength(buf: Buffer): number | null {
  const magicSeen = Math.min(buf.length, MAGIC.length);
  if (!buf.subarray(0, magicSeen).equals(MAGIC.subarray(0, magicSeen))) throw new CorruptObject('bad-magic');
  if (buf.length > 4 && buf[4] !== FORMAT_VERSION) throw new CorruptObject('unsupported-version');
  if (buf.length > 5 && buf[5] !== ALG_AES256GCM_STREAM) throw new CorruptObject('unsupported-algorithm');
  if (buf.length >= 10) {
    const s = buf.readUInt32BE(6);
    if (s < MIN_SEGMENT_SIZE || s > MAX_SEGMENT_SIZE) throw new CorruptObject('bad-header');
  }
  if (buf.length < HEADER_FIXED_BYTES) return null;
  const n = buf.readUInt16BE(14);
  if (n < 1 || n > MAX_WRAPPED_KEY_BYTES) throw new CorruptObject('bad-header');
  return HEADER_FIXED_BYTES + n + NONCE_PREFIX_BYTES;
}

/** Parses the header at the start of `buf` (which may hold more of the object). For tools and the decryptor. */
export function parseHeader(buf: Buffer): ObjectHeader {
  const length = headerLength(buf);
  if (length === null || buf.length < length) throw new CorruptObject('truncated-header');
  const bytes = Buffer.from(buf.subarray(0, length));
  const n = bytes.readUInt16BE(14);
  return {
    version: bytes[4]!,
    algorithm: bytes[5]!,
    segmentSize: bytes.readUInt32BE(6),
    keyVersion: bytes.readUInt32BE(10),
    wrappedKey: bytes.subarray(HEADER_FIXED_BYTES, HEADER_FIXED_BYTES + n),
    noncePrefix: bytes.subarray(HEADER_FIXED_BYTES + n, length),
    length,
    bytes,
  };
}

/** Associated data of every segment: header ‖ u16 len ‖ client id ‖ u16 len ‖ file id (UTF-8). */
export function segmentAad(headerBytes: Buffer, clientId: string, fileId: string): Buffer {
  const c = idBytes(clientId, 'clientId');
  const f = idBytes(fileId, 'fileId');
  const out = Buffer.alloc(headerBytes.length + 2 + c.length + 2 + f.length);
  let o = headerBytes.copy(out, 0);
  o = out.writeUInt16BE(c.length, o);
  o += c.copy(out, o);
  o = out.writeUInt16BE(f.length, o);
  f.copy(out, o);
  return out;
}

function idBytes(id: string, name: string): Buffer {
  if (typeof id !== 'string' || id.length === 0) throw new TypeError(`${name} must be a non-empty string`);
  const b = Buffer.from(id, 'utf8');
  if (b.length > MAX_ID_BYTES) throw new RangeError(`${name} is longer than ${MAX_ID_BYTES} bytes`);
  return b;
}

function checkSegmentSize(s: number): void {
  if (!Number.isInteger(s) || s < MIN_SEGMENT_SIZE || s > MAX_SEGMENT_SIZE) {
    throw new RangeError(`segmentSize must be an integer in ${MIN_SEGMENT_SIZE}…${MAX_SEGMENT_SIZE}`);
  }
}

function checkKey(key: unknown): asserts key is Buffer {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new TypeError('the data key must be a 32-byte Buffer');
}

/** The last `n` bytes of a record held in pieces (a view when the last piece has them all). */
function lastBytes(parts: Buffer[], n: number): Buffer {
  const tail = parts[parts.length - 1]!;
  if (tail.length >= n) return tail.subarray(tail.length - n);
  const out = Buffer.alloc(n);
  let at = n;
  for (let i = parts.length - 1; i >= 0 && at > 0; i--) {
    const p = parts[i]!;
    const take = Math.min(at, p.length);
    p.copy(out, at - take, p.length - take);
    at -= take;
  }
  return out;
}

/** A copy in a Buffer of its own (Buffer.from would cut a small one from the shared pool). */
function ownCopy(b: Buffer): Buffer {
  const out = Buffer.allocUnsafeSlow(b.length);
  b.copy(out);
  return out;
}

/** A promise whose rejection is not "unhandled" when nobody awaits it. */
function settleable<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

class SegmentEncryptor extends Transform implements EncryptStream {
  readonly [OWNED_CHUNKS] = true;
  private readonly key: KeyObject; // imported once: a cipher per segment from a raw Buffer key re-imports it each time (≈4× slower setup)
  private readonly header: Buffer;
  private readonly aad: Buffer;
  private readonly nonce: Buffer;
  private readonly segmentSize: number;
  private readonly seg: Buffer; // the held-back plaintext of the current segment
  private segLen = 0;
  private index = 0;
  private headerSent = false;
  private plaintextBytes = 0;
  private objectBytes = 0;
  private readonly hash: Hash = createHash('sha256');
  private finished: EncryptResult | null = null;
  private readonly settle = settleable<EncryptResult>();
  readonly done = this.settle.promise;

  constructor(o: EncryptOptions) {
    super();
    checkKey(o.dataKey);
    this.segmentSize = o.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    const noncePrefix = randomBytes(NONCE_PREFIX_BYTES);
    this.header = encodeHeader({ segmentSize: this.segmentSize, keyVersion: o.keyVersion, wrappedKey: o.wrappedKey, noncePrefix });
    this.aad = segmentAad(this.header, o.clientId, o.fileId);
    this.key = createSecretKey(o.dataKey);
    this.nonce = Buffer.alloc(NONCE_BYTES);
    noncePrefix.copy(this.nonce, 0);
    this.seg = Buffer.allocUnsafe(this.segmentSize);
    this.once('error', (err) => this.settle.reject(err));
    this.once('close', () => { if (!this.finished) this.settle.reject(new Error('the encrypt stream closed before its end')); });
  }

  result(): EncryptResult {
    if (!this.finished) throw new Error('the encrypt stream has not finished');
    return this.finished;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.sendHeader();
      this.hash.update(chunk);
      this.plaintextBytes += chunk.length;
      const size = this.segmentSize;
      let off = 0;
      while (off < chunk.length) {
        // A full held segment with more data arriving after it: it is not the last one.
        if (this.segLen === size) { this.seal(this.seg, false); this.segLen = 0; }
        // A whole segment inside this chunk with more data after it: seal it in place, no copy.
        if (this.segLen === 0 && chunk.length - off > size) {
          this.seal(chunk.subarray(off, off + size), false);
          off += size;
          continue;
        }
        const n = Math.min(size - this.segLen, chunk.length - off);
        chunk.copy(this.seg, this.segLen, off, off + n);
        this.segLen += n;
        off += n;
      }
      cb(); // nothing of `chunk` is kept now
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.sendHeader();
      this.seal(this.seg.subarray(0, this.segLen), true);
      this.segLen = 0;
      this.finished = {
        plaintextBytes: this.plaintextBytes,
        sha256: this.hash.digest('hex'),
        objectBytes: this.objectBytes,
        segments: this.index,
      };
      this.settle.resolve(this.finished);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  private sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.objectBytes += this.header.length;
    this.push(ownCopy(this.header));
  }

  private seal(plaintext: Buffer, last: boolean): void {
    if (this.index >= MAX_SEGMENTS) throw new RangeError('the object has more segments than the format allows');
    this.nonce.writeUInt32BE(this.index, NONCE_PREFIX_BYTES);
    this.nonce[NONCE_BYTES - 1] = last ? 1 : 0;
    const cipher = createCipheriv('aes-256-gcm', this.key, this.nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.aad);
    const ct = cipher.update(plaintext); // a fresh buffer: safe to push although `plaintext` is reused
    cipher.final(); // GCM emits nothing here
    const tag = cipher.getAuthTag();
    this.index++;
    this.objectBytes += ct.length + tag.length;
    if (ct.length > 0) this.push(ct);
    this.push(tag);
  }
}

class SegmentDecryptor extends Transform implements DecryptStream {
  readonly [OWNED_CHUNKS] = true;
  private readonly clientId: string;
  private readonly fileId: string;
  private readonly unwrapKey: DecryptOptions['unwrapKey'];
  private readonly expectedSha256: string | null;
  private readonly hash: Hash | null;
  private headerBuf: Buffer | null = Buffer.alloc(0); // header bytes gathered so far; null once parsed
  private header: ObjectHeader | null = null;
  private key: KeyObject | null = null;
  private aad: Buffer | null = null;
  private readonly nonce = Buffer.alloc(NONCE_BYTES);
  private source: unknown = null; // the stream piped in, if any: its chunks are released when it owns them
  /*
   * The held-back record (ciphertext ‖ tag) of the current segment, as views on the input chunks it
   * came in (no copy: a record usually spans two chunks of a file read); copied into `rec` instead
   * when it arrives in many small pieces. `pinned`: input chunks kept while a view points into them.
   */
  private parts: Buffer[] = [];
  private partsLen = 0;
  private copying = false; // this record is being gathered in `rec`
  private rec: Buffer | null = null;
  private recSize = 0;
  private pinned: Buffer[] = [];
  private index = 0;
  private plaintextBytes = 0;
  private finished: DecryptResult | null = null;
  private readonly settle = settleable<DecryptResult>();
  readonly done = this.settle.promise;

  constructor(o: DecryptOptions) {
    super();
    idBytes(o.clientId, 'clientId');
    idBytes(o.fileId, 'fileId');
    if (typeof o.unwrapKey !== 'function') throw new TypeError('unwrapKey must be a function');
    this.clientId = o.clientId;
    this.fileId = o.fileId;
    this.unwrapKey = o.unwrapKey;
    if (o.expectedSha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(o.expectedSha256)) throw new TypeError('expectedSha256 must be 64 hex digits');
    this.expectedSha256 = o.expectedSha256?.toLowerCase() ?? null;
    this.hash = this.expectedSha256 ? createHash('sha256') : null;
    this.on('pipe', (src: unknown) => { this.source = src; });
    this.on('unpipe', (src: unknown) => { if (this.source === src) this.source = null; });
    this.once('error', (err) => this.settle.reject(err));
    this.once('close', () => { if (!this.finished) this.settle.reject(new Error('the decrypt stream closed before its end')); });
  }

  /**
   * Destroyed before its end (a client gone, a corrupt object): a stream piped in with .pipe() (not
   * pipeline(), which closes it itself) and read by nobody else is closed too, so its file handle or
   * connection does not wait for the garbage collector. Only once the current I/O callbacks are
   * done (setImmediate): a source destroyed from inside this destroy, or on the next tick, left
   * stream.pipeline() waiting forever, while pipeline() has closed its streams by then.
   */
  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    const src = this.source as { destroyed?: boolean; destroy?: () => void; listenerCount?: (e: string) => number } | null;
    if (src && typeof src.destroy === 'function') {
      setImmediate(() => {
        if (!src.destroyed && (src.listenerCount?.('data') ?? 0) === 0) src.destroy!();
      });
    }
    cb(err);
  }

  /** Done with an input chunk: frees it now if it came from a stream that owns its chunks and only feeds us. */
  private doneWith(chunk: Buffer): void {
    if (ownsChunks(this.source)) releaseChunk(chunk);
  }

  /** At the end: no part is held any more. */
  private unpinAll(): void {
    for (const c of this.pinned) releaseChunk(c);
    this.pinned = [];
  }

  /**
   * After a chunk was consumed: frees the input chunks no part of the held record points into
   * (from a source that owns its chunks and only feeds us; those still pointed into wait).
   */
  private unpin(chunk: Buffer): void {
    if (!ownsChunks(this.source)) return;
    this.pinned.push(chunk);
    const inUse = this.parts.map((p) => p.buffer);
    this.pinned = this.pinned.filter((c) => {
      if (inUse.includes(c.buffer)) return true;
      releaseChunk(c);
      return false;
    });
  }

  result(): DecryptResult {
    if (!this.finished) throw new Error('the decrypt stream has not finished');
    return this.finished;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      if (this.key) {
        this.consume(chunk);
        this.unpin(chunk);
        cb();
        return;
      }
      // Still reading the header (small: concatenating is fine here).
      const buf = Buffer.concat([this.headerBuf!, chunk]);
      this.doneWith(chunk);
      const length = headerLength(buf);
      if (length === null || buf.length < length) { this.headerBuf = buf; cb(); return; }
      const header = parseHeader(buf);
      this.headerBuf = null;
      const rest = buf.subarray(length);
      this.withKey(header, () => { this.consume(rest); }, cb);
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (!this.key) throw new CorruptObject('truncated-header');
      const last = this.finishLast();
      this.unpinAll();
      // The last segment is authentic; its plaintext still waits until the whole file's SHA-256 is
      // checked, so a mismatch ends the stream before its end, never after a complete body.
      for (const pt of last) this.hash?.update(pt);
      const sha256 = this.hash ? this.hash.digest('hex') : null;
      if (this.expectedSha256 !== null && sha256 !== this.expectedSha256) throw new CorruptObject('sha256-mismatch');
      this.emit1(last, false);
      this.finished = { header: this.header!, plaintextBytes: this.plaintextBytes, segments: this.index, sha256 };
      this.settle.resolve(this.finished);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  /** Obtains the data key (sync or async), then runs `next` and calls back once. */
  private withKey(header: ObjectHeader, next: () => void, cb: TransformCallback): void {
    const install = (key: Buffer) => {
      checkKey(key);
      this.header = header;
      this.key = createSecretKey(key);
      this.aad = segmentAad(header.bytes, this.clientId, this.fileId);
      header.noncePrefix.copy(this.nonce, 0);
      this.recSize = header.segmentSize + TAG_BYTES;
    };
    const fail = (err: unknown) => cb(err instanceof DecryptionFailed ? new CorruptObject('data-key') : (err as Error));
    let got: Buffer | Promise<Buffer>;
    try {
      got = this.unwrapKey(header);
    } catch (err) {
      fail(err);
      return;
    }
    if (Buffer.isBuffer(got)) {
      install(got); // errors reach _transform's catch
      next();
      cb();
      return;
    }
    Promise.resolve(got).then((key) => {
      try { install(key); next(); } catch (err) { cb(err as Error); return; }
      cb();
    }, fail);
  }

  /** Body bytes: whole records are opened as soon as a byte after them shows they are not the last. */
  private consume(chunk: Buffer): void {
    const size = this.recSize;
    let off = 0;
    while (off < chunk.length) {
      if (this.partsLen === size) this.openNotLast(this.takeRecord());
      if (this.partsLen === 0 && chunk.length - off > size) {
        this.openNotLast([chunk.subarray(off, off + size)]);
        off += size;
        continue;
      }
      const n = Math.min(size - this.partsLen, chunk.length - off);
      this.hold(chunk.subarray(off, off + n));
      off += n;
    }
  }

  /** Adds a piece to the held record: as a view, or a copy once it came in too many pieces. */
  private hold(piece: Buffer): void {
    if (!this.copying && this.parts.length >= MAX_RECORD_PARTS) {
      // Many small chunks (a byte-by-byte source): gather this record in one buffer instead.
      this.rec ??= Buffer.allocUnsafe(this.recSize);
      let at = 0;
      for (const p of this.parts) at += p.copy(this.rec, at);
      this.parts = [this.rec.subarray(0, at)];
      this.copying = true;
    }
    if (this.copying) {
      piece.copy(this.rec!, this.partsLen);
      this.parts = [this.rec!.subarray(0, this.partsLen + piece.length)];
    } else {
      this.parts.push(piece);
    }
    this.partsLen += piece.length;
  }

  /** The held record's pieces, and the hold emptied for the next one. */
  private takeRecord(): Buffer[] {
    const parts = this.parts;
    this.parts = [];
    this.partsLen = 0;
    this.copying = false;
    return parts;
  }

  /** At the end: the held record must be the last segment; returns its verified plaintext (not yet emitted). */
  private finishLast(): Buffer[] {
    if (this.partsLen < TAG_BYTES) throw new CorruptObject('truncated', this.index);
    const full = this.partsLen === this.recSize;
    const record = this.takeRecord();
    const pt = this.tryOpen(record, true);
    if (pt) return pt;
    // An authentic non-last segment where the object ends: cut at a segment boundary.
    if (full && this.tryOpen(record, false)) throw new CorruptObject('truncated', this.index + 1);
    throw new CorruptObject('segment-auth', this.index);
  }

  /** Opens a full record that more bytes follow, so it is not the last; names the cause if it fails. */
  private openNotLast(record: Buffer[]): void {
    const pt = this.tryOpen(record, false);
    if (pt) { this.emit1(pt); return; }
    // The last segment (a full one) with bytes appended after it.
    if (this.tryOpen(record, true)) throw new CorruptObject('trailing-data', this.index + 1);
    throw new CorruptObject('segment-auth', this.index);
  }

  /**
   * The plaintext (one piece per piece of the record) if the record authenticates as segment
   * `index` with this last flag; null otherwise.
   */
  private tryOpen(record: Buffer[], last: boolean): Buffer[] | null {
    if (this.index >= MAX_SEGMENTS) throw new CorruptObject('too-many-segments', this.index);
    this.nonce.writeUInt32BE(this.index, NONCE_PREFIX_BYTES);
    this.nonce[NONCE_BYTES - 1] = last ? 1 : 0;
    let ctLen = -TAG_BYTES;
    for (const p of record) ctLen += p.length;
    const decipher = createDecipheriv('aes-256-gcm', this.key!, this.nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(this.aad!);
    decipher.setAuthTag(lastBytes(record, TAG_BYTES));
    // update() hands back plaintext before the tag is checked: keep it here until final() succeeded.
    const pt: Buffer[] = [];
    for (let i = 0, left = ctLen; left > 0; i++) {
      const p = record[i]!;
      const piece = p.length <= left ? p : p.subarray(0, left);
      pt.push(decipher.update(piece));
      left -= piece.length;
    }
    try {
      decipher.final();
    } catch {
      return null;
    }
    return pt;
  }

  /** Passes on a verified segment's plaintext (hashing it first unless the caller already did). */
  private emit1(pt: Buffer[], hash = true): void {
    this.index++;
    for (const piece of pt) {
      this.plaintextBytes += piece.length;
      if (hash) this.hash?.update(piece);
      if (piece.length > 0) this.push(piece);
    }
  }
}

/** header ‖ segments: a Transform from plaintext to the encrypted object. */
export function createEncryptStream(options: EncryptOptions): EncryptStream {
  return new SegmentEncryptor(options);
}

/** The encrypted object → its plaintext, each segment pushed only after its tag verified. */
export function createDecryptStream(options: DecryptOptions): DecryptStream {
  return new SegmentDecryptor(options);
}
