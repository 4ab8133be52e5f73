import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { StorageAdapter, StoredObject } from './index';
import { ObjectNotFound, assertObjectId, isObjectId } from './ids';

export interface S3StorageOptions {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** '' or a folder-like prefix; objects are stored as <prefix>/<id> */
  prefix?: string;
  /** For tests: an S3Client of one's own (the settings above are then not used to build one). */
  client?: S3Client;
}

const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 4;

/** Options every client talking to an S3-compatible server needs (see pitfalls: Ceph radosgw rejects streamed PutObject with the default checksums). */
export function s3ClientFor(o: Pick<S3StorageOptions, 'endpoint' | 'region' | 'accessKeyId' | 'secretAccessKey'>): S3Client {
  return new S3Client({
    endpoint: o.endpoint,
    region: o.region,
    credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

function isNotFound(err: unknown): boolean {
  if (!(err instanceof S3ServiceException)) return false;
  // HeadObject answers a bare 404 ("NotFound"); a missing bucket is a configuration error, not a missing object.
  return err.name === 'NoSuchKey' || (err.$metadata.httpStatusCode === 404 && err.name !== 'NoSuchBucket');
}

/** Objects in an S3-compatible bucket, optionally under a key prefix; written with multipart uploads. */
export function createS3Storage(options: S3StorageOptions): StorageAdapter {
  const client = options.client ?? s3ClientFor(options);
  const Bucket = options.bucket;
  const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
  const keyPrefix = prefix ? `${prefix}/` : '';
  const keyOf = (id: string) => keyPrefix + id;
  const idOf = (key: string | undefined) => {
    const id = key?.startsWith(keyPrefix) ? key.slice(keyPrefix.length) : null;
    return isObjectId(id) ? id : null;
  };

  return {
    kind: 's3',

    async check() {
      // The bucket exists and these keys may use it. (No probe write: health checks come often.)
      await client.send(new HeadBucketCommand({ Bucket }));
    },

    async write(id, body) {
      assertObjectId(id);
      let size = 0;
      // Counts the bytes on their way through; an error of `body` surfaces here and fails the upload.
      async function* counted() {
        for await (const chunk of body as AsyncIterable<Buffer | string>) {
          const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          size += buf.byteLength;
          yield buf;
        }
      }
      const source = Readable.from(counted(), { objectMode: false });
      const upload = new Upload({
        client,
        params: { Bucket, Key: keyOf(id), Body: source, ContentType: 'application/octet-stream' },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        // On any error lib-storage aborts the multipart upload, so no parts stay behind (sweepIncomplete
        // catches the rare case where the abort itself fails).
        leavePartsOnError: false,
      });
      try {
        // Up to 8 MiB arrives as a single PutObject; more as a multipart upload completed at the end.
        // Either way the key appears only once the whole object is stored.
        await upload.done();
      } catch (err) {
        // If S3 failed first, stop reading the body (like pipeline() would).
        source.destroy();
        if (body instanceof Readable && !body.destroyed) body.destroy();
        throw err;
      }
      return { size };
    },

    async read(id) {
      assertObjectId(id);
      try {
        const res = await client.send(new GetObjectCommand({ Bucket, Key: keyOf(id) }));
        const stream = res.Body;
        if (!(stream instanceof Readable)) throw new Error('S3 GetObject returned no stream');
        return stream;
      } catch (err) {
        if (isNotFound(err)) throw new ObjectNotFound(id);
        throw err;
      }
    },

    async delete(id) {
      assertObjectId(id);
      try {
        await client.send(new DeleteObjectCommand({ Bucket, Key: keyOf(id) }));
      } catch (err) {
        // S3 answers 204 for absent keys; some compatible servers answer 404.
        if (!isNotFound(err)) throw err;
      }
    },

    async stat(id) {
      assertObjectId(id);
      try {
        const res = await client.send(new HeadObjectCommand({ Bucket, Key: keyOf(id) }));
        return { id, size: res.ContentLength ?? 0, modifiedAt: res.LastModified ?? new Date(0) };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },

    async *list(prefix = ''): AsyncGenerator<StoredObject> {
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix: keyPrefix + prefix || undefined, ContinuationToken }));
        for (const o of page.Contents ?? []) {
          const id = idOf(o.Key);
          // Keys the portal did not make (deeper "folders", other names) are not its objects.
          if (id) yield { id, size: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0) };
        }
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
    },

    async sweepIncomplete(olderThanMs) {
      const cutoff = Date.now() - olderThanMs;
      const stale: { Key: string; UploadId: string }[] = [];
      let KeyMarker: string | undefined;
      let UploadIdMarker: string | undefined;
      // Collect first, then abort: aborting while paging could shift the markers.
      for (;;) {
        const page = await client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: keyPrefix || undefined, KeyMarker, UploadIdMarker }));
        for (const u of page.Uploads ?? []) {
          if (!u.Key || !u.UploadId || !idOf(u.Key)) continue;
          if (u.Initiated && u.Initiated.getTime() <= cutoff) stale.push({ Key: u.Key, UploadId: u.UploadId });
        }
        const more = page.IsTruncated === true && (page.NextKeyMarker !== KeyMarker || page.NextUploadIdMarker !== UploadIdMarker);
        KeyMarker = more ? page.NextKeyMarker : undefined;
        UploadIdMarker = more ? page.NextUploadIdMarker : undefined;
        if (!more) break;
      }
      let removed = 0;
      for (const u of stale) {
        try {
          await client.send(new AbortMultipartUploadCommand({ Bucket, ...u }));
          removed += 1;
        } catch (err) {
          // Completed or aborted meanwhile.
          if (!(err instanceof S3ServiceException && (err.name === 'NoSuchUpload' || err.$metadata.httpStatusCode === 404))) throw err;
        }
      }
      return removed;
    },
  };
}
