import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { createHarness, sharedDatabase, type Harness } from '../support/harness';
import { makeUser, makeClient, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { pdfBytes, uploadFiles, downloadFile } from '../support/files';
import { envFor, ROOT } from '../support/run-cli';
import { createStorage, type StorageAdapter } from '../../storage-adapters';
import { AuditEvent, StoredFile } from '../../server/db/models';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const upload = (b: TestBrowser, files: { name: string; data: Buffer }[]) => uploadFiles(b, { direction: 'to_firm', category: 'other' }, files);

/** Everything under the storage folder (objects and temps). */
function storedFiles(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String).filter((p) => fs.statSync(path.join(dir, p)).isFile()) : [];
}

/** Local storage whose writes fail after `failAfter` bytes, like a disk that fills up. */
function failingStorage(root: string, failAfter: number): StorageAdapter {
  const real = createStorage({ storageDir: root });
  return {
    ...real,
    write(id, body) {
      let seen = 0;
      const tap = new Transform({
        transform(chunk: Buffer, _e, cb) {
          seen += chunk.length;
          if (seen > failAfter) return cb(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
          cb(null, chunk);
        },
      });
      tap.on('error', () => {}); // surfaces through real.write, which reads the destroyed stream
      (body as NodeJS.ReadableStream).pipe(tap);
      return real.write(id, tap);
    },
  };
}

describe('Faults during uploads: nothing lost, nothing half-visible', () => {
  let h: Harness;
  let u: MadeUser;
  afterEach(async () => { await h?.close(); });

  it('storage fails mid-upload (disk full): an error, no temp, no row; earlier files intact', async () => {
    h = await createHarness({}, { storage: (config) => failingStorage(config.storageDir, 200_000) });
    u = await makeUser(h, { role: 'client_admin', clientId: (await makeClient(h)).id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(u);
    const small = pdfBytes(50_000);
    expect((await upload(b, [{ name: 'small.pdf', data: small }])).status).to.equal(200);
    const before = storedFiles(h.config.storageDir);
    const res = await upload(b, [{ name: 'big.pdf', data: pdfBytes(1_000_000) }]);
    expect(res.status).to.equal(500);
    expect(res.body.error.message).to.contain('サーバーで問題が発生しました');
    expect(await StoredFile.count({ where: { displayName: 'big.pdf' } })).to.equal(0);
    expect(storedFiles(h.config.storageDir)).to.deep.equal(before);
    expect(await AuditEvent.count({ where: { operation: 'file.upload' } })).to.equal(1);
    const file = (await StoredFile.findOne({ where: { displayName: 'small.pdf' } }))!;
    const down = await downloadFile(b, file.id);
    expect(sha(down.body as Buffer)).to.equal(sha(small));
  });

  it('the database goes away before the sending is recorded: 503, the stored objects are removed, nothing listed', async () => {
    let onWritten: (() => Promise<void>) | null = null;
    h = await createHarness({}, {
      storage: (config) => {
        const real = createStorage(config);
        return { ...real, async write(id, body) { const r = await real.write(id, body); if (onWritten) await onWritten(); return r; } };
      },
    });
    u = await makeUser(h, { role: 'client_admin', clientId: (await makeClient(h)).id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(u);
    const token = await b.csrf('/files');
    const objectsBefore = storedFiles(h.config.storageDir).filter((p) => !p.includes('.tmp')).length;
    onWritten = async () => { await h.booted.sequelize.close(); };
    const res = await b.agent.post('/files').set('X-CSRF-Token', token).set('Accept', 'application/json')
      .field('direction', 'to_firm').field('category', 'other').attach('files', pdfBytes(30_000), { filename: 'lost.pdf' });
    expect(res.status).to.equal(503);
    expect(res.body.error.message).to.contain('ただいまサービスを利用できません');
    expect(storedFiles(h.config.storageDir).filter((p) => !p.includes('.tmp')).length).to.equal(objectsBefore);
    // Reopen on the same data: the file was never recorded.
    const config = h.config;
    h.portal.close();
    await h.smtp.stop();
    const again = await createHarness({}, { dataDir: config.dataDir, keepDatabase: config.databaseUrl ? { url: config.databaseUrl } : undefined });
    try {
      expect(await StoredFile.count({ where: { displayName: 'lost.pdf' } })).to.equal(0);
    } finally {
      await again.close();
      fs.rmSync(config.dataDir, { recursive: true, force: true });
      h = undefined as unknown as Harness;
    }
  });

  it('one byte over the file limit → 413 with a clear message, nothing left; an oversized Content-Length is refused before the body is read', async () => {
    h = await createHarness({ UPLOAD_MAX_FILE_MB: '1', UPLOAD_MAX_REQUEST_MB: '3' });
    u = await makeUser(h, { role: 'client_admin', clientId: (await makeClient(h)).id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(u);
    expect((await upload(b, [{ name: 'exact.pdf', data: pdfBytes(1024 * 1024) }])).status).to.equal(200);
    const before = storedFiles(h.config.storageDir);
    const over = await upload(b, [{ name: 'over.pdf', data: pdfBytes(1024 * 1024 + 1) }]);
    expect(over.status).to.equal(413);
    expect(over.body.error.message).to.contain('送信されたデータが大きすぎます');
    expect(storedFiles(h.config.storageDir)).to.deep.equal(before);
    expect(await StoredFile.count({ where: { displayName: 'over.pdf' } })).to.equal(0);

    // A client announcing 4 MiB is answered at once, without sending its body.
    const address = await new Promise<{ port: number; close: () => void }>((resolve) => {
      const server = h.portal.app.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as { port: number }).port, close: () => server.close() }));
    });
    try {
      const token = await b.csrf('/files');
      const cookie = `akatsuki.sid=${b.cookie()}`;
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: address.port, path: '/files', method: 'POST', headers: {
          Cookie: cookie, 'X-CSRF-Token': token, Accept: 'application/json', 'Content-Type': 'multipart/form-data; boundary=abc', 'Content-Length': String(4 * 1024 * 1024),
        } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
        req.on('error', reject);
        req.write('--abc\r\n'); // only the first bytes: the answer must not wait for the rest
      });
      expect(status).to.equal(413);
    } finally {
      address.close();
    }
  });
});

describe('Upload limits a client cannot talk its way past', () => {
  let h: Harness;
  after(async () => { await h?.close(); });

  /** A multipart body sent in chunks without a Content-Length, as a streaming client sends it; gives the status and answer. */
  async function chunkedUpload(b: TestBrowser, files: { name: string; data: Buffer }[]): Promise<{ status: number; body: string }> {
    const address = await new Promise<{ port: number; close: () => void }>((resolve) => {
      const server = h.portal.app.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as { port: number }).port, close: () => server.close() }));
    });
    try {
      const token = await b.csrf('/files');
      const part = (headers: string, body: Buffer | string) => Buffer.concat([Buffer.from(`--xyz\r\n${headers}\r\n\r\n`), Buffer.from(body), Buffer.from('\r\n')]);
      const chunks = [
        part('Content-Disposition: form-data; name="direction"', 'to_firm'),
        part('Content-Disposition: form-data; name="category"', 'other'),
        ...files.map((f) => part(`Content-Disposition: form-data; name="files"; filename="${f.name}"\r\nContent-Type: application/pdf`, f.data)),
        Buffer.from('--xyz--\r\n'),
      ];
      return await new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: address.port, path: '/files', method: 'POST', headers: {
          Cookie: `akatsuki.sid=${b.cookie()}`, 'X-CSRF-Token': token, Accept: 'application/json', 'Content-Type': 'multipart/form-data; boundary=xyz',
        } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => { body += d.toString(); });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        // The server may answer and close before the whole body is written.
        req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
        for (const c of chunks) req.write(c);
        req.end();
      });
    } finally {
      address.close();
    }
  }

  it('a body with no Content-Length (chunked) is held to the request limit too: 413, nothing stored; within it, both files are taken', async () => {
    h = await createHarness({ UPLOAD_MAX_FILE_MB: '1', UPLOAD_MAX_REQUEST_MB: '1' });
    const u = await makeUser(h, { role: 'client_admin', clientId: (await makeClient(h)).id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(u);
    const over = await chunkedUpload(b, [{ name: 'a.pdf', data: pdfBytes(700 * 1024) }, { name: 'b.pdf', data: pdfBytes(700 * 1024) }]);
    expect(over.status, over.body).to.equal(413);
    expect(JSON.parse(over.body).error.message).to.contain('送信されたデータが大きすぎます');
    expect(storedFiles(h.config.storageDir)).to.deep.equal([]);
    expect(await StoredFile.count()).to.equal(0);
    const within = await chunkedUpload(b, [{ name: 'c.pdf', data: pdfBytes(400 * 1024) }, { name: 'd.pdf', data: pdfBytes(400 * 1024) }]);
    expect(within.status, within.body).to.equal(200);
    expect((await StoredFile.findAll()).map((f) => f.displayName).sort()).to.deep.equal(['c.pdf', 'd.pdf']);
  });

  it('one file more than UPLOAD_MAX_FILES is refused whole, and nothing of the sending is stored', async () => {
    await h.close();
    h = await createHarness({ UPLOAD_MAX_FILES: '2' });
    const u = await makeUser(h, { role: 'client_admin', clientId: (await makeClient(h)).id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(u);
    const res = await upload(b, ['1', '2', '3'].map((n) => ({ name: `${n}.pdf`, data: pdfBytes(2000) })));
    expect(res.status).to.equal(413);
    expect(res.body.error.message).to.equal('一度に送れるファイルは2件までです。分けて送ってください。');
    expect((await b.get('/files')).text, 'the form says so before anyone tries').to.contain('一度に2件まで');
    expect(storedFiles(h.config.storageDir)).to.deep.equal([]);
    expect(await StoredFile.count()).to.equal(0);
    expect((await upload(b, ['1', '2'].map((n) => ({ name: `${n}.pdf`, data: pdfBytes(2000) })))).status).to.equal(200);
  });
});

describe('Faults: the portal process is killed mid-upload', () => {
  it('after a restart no half-finished file is listed, its temp is swept, and earlier files are intact', async function () {
    this.timeout(90_000);
    const db = await sharedDatabase();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-kill-'));
    const keep = db.url ? { url: db.url } : undefined;
    const h = await createHarness({}, { dataDir, keepDatabase: keep });
    const u = await makeUser(h, { role: 'client_admin', clientId: (await makeClient(h)).id, totp: false });
    const earlier = pdfBytes(200_000);
    const b = new TestBrowser(h.portal.app);
    await b.login(u);
    expect((await upload(b, [{ name: 'earlier.pdf', data: earlier }])).status).to.equal(200);
    const env = envFor(h, { PORT: '0', SWEEP_AFTER_MINUTES: '0', LOG_LEVEL: 'info' });
    await h.close();

    const start = () => new Promise<{ child: ReturnType<typeof spawn>; port: number }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
        if (m) resolve({ child, port: Number(m[1]) });
      });
      child.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
    });
    const remote = (port: number) => new TestBrowser(`http://127.0.0.1:${port}` as never);
    try {
      const first = await start();
      const rb = remote(first.port);
      await rb.login(u);
      const token = await rb.csrf('/files');
      // Send the start of a 64 MiB upload, then kill the server while the rest is still coming.
      const boundary = 'killtest';
      const head = `--${boundary}\r\nContent-Disposition: form-data; name="direction"\r\n\r\nto_firm\r\n--${boundary}\r\nContent-Disposition: form-data; name="category"\r\n\r\nother\r\n--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="half.pdf"\r\nContent-Type: application/pdf\r\n\r\n`;
      const req = http.request({ host: '127.0.0.1', port: first.port, path: '/files', method: 'POST', headers: {
        Cookie: `akatsuki.sid=${rb.cookie()}`, 'X-CSRF-Token': token, 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': String(64 * 1024 * 1024),
      } });
      req.on('error', () => { /* the server dies under it */ });
      req.write(head);
      req.write(pdfBytes(4 * 1024 * 1024));
      const tmpDir = path.join(dataDir, 'storage', '.tmp');
      const deadline = Date.now() + 15_000;
      while (!(fs.existsSync(tmpDir) && fs.readdirSync(tmpDir).some((f) => f.endsWith('.part')))) {
        if (Date.now() > deadline) throw new Error('the upload never reached storage');
        await new Promise((r) => setTimeout(r, 20));
      }
      first.child.kill('SIGKILL');
      await new Promise((r) => first.child.once('exit', r));
      expect(fs.readdirSync(tmpDir).filter((f) => f.endsWith('.part'))).to.have.length(1);

      const second = await start();
      try {
        const sb = remote(second.port);
        await sb.login(u);
        const list = await sb.get('/files');
        expect(list.text).to.contain('earlier.pdf').and.not.contain('half.pdf');
        const deadline2 = Date.now() + 10_000;
        while (fs.readdirSync(tmpDir).some((f) => f.endsWith('.part'))) {
          if (Date.now() > deadline2) throw new Error('the temp of the killed upload was not swept');
          await new Promise((r) => setTimeout(r, 50));
        }
        const id = /href="\/files\/([0-9a-f-]{36})"/.exec(list.text)![1]!;
        const down = await downloadFile(sb, id);
        expect(down.status).to.equal(200);
        expect(sha(down.body as Buffer)).to.equal(sha(earlier));
      } finally {
        second.child.kill('SIGKILL');
      }
    } finally {
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
