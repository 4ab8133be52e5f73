import { Transform, type TransformCallback } from 'node:stream';
import { UnsupportedFileType } from '../errors';
import { checkType, SNIFF_BYTES } from './file-types';

/**
 * Passes a file through unchanged once its first bytes show an accepted type; until then it holds
 * them back, so nothing of a refused file is ever encrypted or stored.
 */
export class TypeSniffer extends Transform {
  private head: Buffer[] = [];
  private headBytes = 0;
  private decided = false;
  mime: string | null = null;

  constructor(private readonly displayName: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.decided) return cb(null, chunk);
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes < SNIFF_BYTES) return cb();
    this.decide(cb);
  }

  override _flush(cb: TransformCallback): void {
    if (this.decided) return cb();
    this.decide(cb);
  }

  private decide(cb: TransformCallback): void {
    const head = Buffer.concat(this.head);
    this.head = [];
    checkType(head, this.displayName).then((verdict) => {
      if (!verdict.ok) return cb(new UnsupportedFileType(this.displayName));
      this.decided = true;
      this.mime = verdict.mime;
      cb(null, head);
    }, cb);
  }
}
