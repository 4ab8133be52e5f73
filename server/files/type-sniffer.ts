import { finished, type Readable } from 'node:stream';
import { UnsupportedFileType } from '../errors';
import { checkType, SNIFF_BYTES } from './file-types';

export interface SniffedFile {
  mime: string;
  /** The chunks read for the check, in order: they are the start of the file and must be passed on first. */
  head: Buffer[];
  /** The whole file fitted in `head`: the stream has ended. */
  ended: boolean;
}

/**
 * Checks a file's type on its first bytes before anything of it is encrypted or stored: reads `src`
 * until SNIFF_BYTES have arrived (or it ends), leaves it paused there, and checks them. Rejects with
 * UnsupportedFileType for a refused file, or with the stream's own error if it fails first.
 * (Done on the first chunks by the upload engine itself rather than as a Transform in the pipe: one
 * stream hop less for every chunk of the file.)
 */
export async function sniffType(src: Readable, displayName: string): Promise<SniffedFile> {
  const head: Buffer[] = [];
  let bytes = 0;
  const ended = await new Promise<boolean>((resolve, reject) => {
    let stopWatching = () => {};
    const done = () => {
      src.off('data', onData);
      stopWatching();
    };
    const onData = (chunk: Buffer) => {
      head.push(chunk);
      bytes += chunk.length;
      if (bytes < SNIFF_BYTES) return;
      src.pause();
      done();
      resolve(false);
    };
    // Also answers at once for a stream that already failed or closed.
    stopWatching = finished(src, (err) => {
      done();
      if (err) reject(err);
      else resolve(true);
    });
    src.on('data', onData);
  });
  const verdict = await checkType(head.length === 1 ? head[0]! : Buffer.concat(head), displayName);
  if (!verdict.ok) throw new UnsupportedFileType(displayName, verdict.mismatch);
  return { mime: verdict.mime, head, ended };
}
