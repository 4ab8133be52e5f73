import { createHash } from 'node:crypto';
import type { TestBrowser } from './browser';
import { randomBytes } from 'node:crypto';

/** Small files whose first bytes carry the real signature of their type. */
export function pdfBytes(size = 2000): Buffer {
  const head = Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n', 'latin1');
  return Buffer.concat([head, randomBytes(Math.max(0, size - head.length))]);
}

/** A real 1×1 PNG, padded after its IEND chunk. */
export function pngBytes(size = 1000): Buffer {
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
  return Buffer.concat([png, Buffer.alloc(Math.max(0, size - png.length))]);
}

export const htmlBytes = () => Buffer.from('<!doctype html><html><body><script>alert(document.cookie)</script></body></html>');
export const svgBytes = () => Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>');

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Sends files the way the page's script does: fields first, then the files, the token in a header, JSON back. */
export async function uploadFiles(b: TestBrowser, fields: Record<string, string>, files: { name: string; data: Buffer }[]) {
  const token = await b.csrf('/files');
  let req = b.agent.post('/files').set('X-CSRF-Token', token).set('Accept', 'application/json');
  for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
  for (const f of files) req = req.attach('files', f.data, { filename: f.name, contentType: 'application/octet-stream' });
  return req;
}

/** A download, its body collected as bytes whatever the content type. */
export function downloadFile(b: TestBrowser, fileId: string) {
  return b.agent.get(`/files/${fileId}/download`).buffer(true).parse((res, cb) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => cb(null, Buffer.concat(chunks)));
  });
}
