/**
 * Baseline servers for the file benchmark, each run in its own process so its figures are its own:
 *   multer-disk  Express + multer disk storage, the unencrypted upload path the portal must keep up with
 *   plain        node:http piping the request body to a file, and a file stream back for downloads
 * Usage: node --import tsx scripts/bench/servers.ts <multer-disk|plain> <dir>
 *   (prints "PORT <port> PID <pid>" on stdout; the bench checks the pid is the process it spawned)
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import multer from 'multer';

const [kind, dir] = process.argv.slice(2);
if (!dir || (kind !== 'multer-disk' && kind !== 'plain')) {
  console.error('usage: servers.ts <multer-disk|plain> <dir>');
  process.exit(2);
}
fs.mkdirSync(dir, { recursive: true });

let server: http.Server;
if (kind === 'multer-disk') {
  const app = express();
  const upload = multer({ storage: multer.diskStorage({ destination: dir }) }).array('files');
  app.post('/upload', upload, (_req, res) => { res.json({ ok: true }); });
  server = app.listen(0, '127.0.0.1');
} else {
  server = http.createServer((req, res) => {
    const file = path.join(dir, 'plain.bin');
    if (req.method === 'POST') {
      req.pipe(fs.createWriteStream(file, { highWaterMark: 1 << 20 })).on('finish', () => res.end('ok'));
    } else {
      res.writeHead(200, { 'Content-Length': fs.statSync(file).size, 'Content-Type': 'application/octet-stream' });
      fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
    }
  }).listen(0, '127.0.0.1');
}
server.on('listening', () => console.log(`PORT ${(server.address() as AddressInfo).port} PID ${process.pid}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
