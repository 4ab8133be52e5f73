import { expect } from 'chai';
import fs from 'node:fs';
import { pino } from 'pino';
import { createHarness, type Harness } from '../support/harness';
import { makeClient, makeUser, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { downloadFile, pdfBytes, sha256, uploadFiles } from '../support/files';
import { createLocalStorage } from '../../storage-adapters/local';
import { AccessReport, AuditEvent, FileRead, Firm, StoredFile, type Client } from '../../server/db/models';
import { periodContaining, previousPeriod } from '../../server/reports/periods';

/**
 * A download whose stored object cannot be opened (the storage down, or the object lost): nothing is
 * read, so the sender is not told the file was opened, and the access log says it failed.
 */
const systemContextFor = (u: MadeUser) => ({ actorId: u.user.id, actorName: u.user.name, actorRole: u.user.role, ip: '127.0.0.1', userAgent: 't', channel: 'test' });

describe('A download the storage cannot serve', () => {
  let h: Harness;
  let failReads = false;
  /** runs before each storage read (a deletion racing the download, a barrier for downloads at once) */
  let beforeRead: ((id: string) => Promise<void>) | null = null;
  const logs: string[] = [];
  let client: Client;
  let firm: MadeUser;
  let admin: MadeUser;
  let file: StoredFile;

  before(async () => {
    h = await createHarness({}, {
      logger: pino({ level: 'info' }, { write: (line: string) => { logs.push(line); } }),
      storage: (c) => {
        const real = createLocalStorage(c.storageDir);
        return { ...real, read: async (id: string) => {
          if (failReads) throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:443'), { code: 'ECONNREFUSED' });
          await beforeRead?.(id);
          return real.read(id);
        } };
      },
    });
    client = await makeClient(h);
    firm = await makeUser(h, { role: 'firm_admin' });
    admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    const sender = new TestBrowser(h.portal.app);
    await sender.login(firm);
    const res = await uploadFiles(sender, { direction: 'to_client', clientId: client.id, category: 'other' }, [{ name: '給与明細.pdf', data: pdfBytes(5000) }]);
    expect(res.status, res.text).to.equal(200);
    file = (await StoredFile.findOne({ where: { clientId: client.id } }))!;
  });
  after(async () => { await h.close(); });

  const downloads = async () => (await AuditEvent.findAll({ where: { targetId: file.id, operation: 'file.download' }, order: [['seq', 'ASC']] })).map((a) => `${a.result}${a.detail ? `: ${a.detail}` : ''}`);

  it('the storage down: 503 with a message about the storage, an error row after the allowed one, no read receipt; logged as a storage fault, not a database one', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    failReads = true;
    let res;
    try { res = await downloadFile(b, file.id); } finally { failReads = false; }
    expect(res.status).to.equal(503);
    expect((res.body as Buffer).toString()).to.contain('ファイルを保管場所から読み出せませんでした');
    expect(await downloads()).to.deep.equal(['allowed', 'error: not read: storage: ECONNREFUSED']);
    expect(await FileRead.count({ where: { fileId: file.id } }), 'not opened').to.equal(0);
    expect(logs.some((l) => l.includes('database unavailable'))).to.equal(false);
    expect(logs.some((l) => l.includes('stored object could not be read'))).to.equal(true);

    // The storage back: the download works, and only now is the file opened.
    const again = await downloadFile(b, file.id);
    expect(again.status).to.equal(200);
    expect(sha256(again.body as Buffer)).to.equal(file.sha256);
    expect((await FileRead.findAll({ where: { fileId: file.id } })).map((r) => [r.userId, r.count])).to.deep.equal([[admin.user.id, 1]]);
  });

  it('an access report the storage cannot serve: 503, and the log says the download failed after allowing it', async () => {
    await Firm.findOrCreate({ where: { id: 1 }, defaults: { id: 1, name: '暁事務所' } });
    const period = previousPeriod(periodContaining('monthly', new Date()));
    await h.booted.services.reports.build(client.id, period);
    const report = (await AccessReport.findOne({ where: { clientId: client.id, status: 'ready' } }))!;
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    failReads = true;
    let res;
    try { res = await b.get(`/reports/${report.id}/download`); } finally { failReads = false; }
    expect(res.status).to.equal(503);
    const rows = (await AuditEvent.findAll({ where: { targetId: report.id, operation: 'report.download' }, order: [['seq', 'ASC']] })).map((a) => `${a.result}${a.detail ? `: ${a.detail}` : ''}`);
    expect(rows).to.deep.equal(['allowed', 'error: not read: storage: ECONNREFUSED']);
    expect((await b.get(`/reports/${report.id}/download`)).status).to.equal(200);
  });

  it('four first openings by one reader at once (a double tap): all answered, one receipt counting four', async () => {
    const sender = new TestBrowser(h.portal.app);
    await sender.login(firm);
    expect((await uploadFiles(sender, { direction: 'to_client', clientId: client.id, category: 'other' }, [{ name: '同時.pdf', data: pdfBytes(3000) }])).status).to.equal(200);
    const f = (await StoredFile.findOne({ where: { displayName: '同時.pdf' } }))!;
    // All four reach the storage before any goes on: their receipts are written at the same moment.
    let waiting: (() => void)[] = [];
    beforeRead = () => new Promise<void>((resolve) => { waiting.push(resolve); if (waiting.length === 4) { waiting.forEach((r) => r()); waiting = []; } });
    try {
      const ctx = { actorId: admin.user.id, actorName: admin.user.name, actorRole: admin.user.role, ip: '127.0.0.1', userAgent: 't', channel: 'test' };
      const results = await Promise.allSettled([1, 2, 3, 4].map(() => h.booted.services.files.open(ctx, admin.user, f, null).then((s) => { s.destroy(); })));
      expect(results.map((r) => (r.status === 'rejected' ? String((r.reason as Error).name) : 'ok'))).to.deep.equal(['ok', 'ok', 'ok', 'ok']);
    } finally { beforeRead = null; }
    expect((await FileRead.findAll({ where: { fileId: f.id } })).map((r) => [r.userId, r.count])).to.deep.equal([[admin.user.id, 4]]);
  });

  it('a file deleted by its sender just as it is opened: 404 (it is gone), and the log says nothing was read', async () => {
    const sender = new TestBrowser(h.portal.app);
    await sender.login(firm);
    expect((await uploadFiles(sender, { direction: 'to_client', clientId: client.id, category: 'other' }, [{ name: '取消.pdf', data: pdfBytes(3000) }])).status).to.equal(200);
    const f = (await StoredFile.findOne({ where: { displayName: '取消.pdf' } }))!;
    beforeRead = async () => { await h.booted.services.files.delete(systemContextFor(firm), firm.user, f); };
    let res;
    try {
      const b = new TestBrowser(h.portal.app);
      await b.login(admin);
      res = await downloadFile(b, f.id);
    } finally { beforeRead = null; }
    expect(res.status).to.equal(404);
    const rows = (await AuditEvent.findAll({ where: { targetId: f.id, operation: 'file.download' }, order: [['seq', 'ASC']] })).map((a) => `${a.result}${a.detail ? `: ${a.detail}` : ''}`);
    expect(rows).to.deep.equal(['allowed', 'error: not read: deleted meanwhile']);
    expect(await FileRead.count({ where: { fileId: f.id } })).to.equal(0);
  });

  it('the object lost: 503, an error row naming it, and the receipt of an earlier opening unchanged', async () => {
    const objectPath = fs.readdirSync(h.config.storageDir, { recursive: true }).map(String).find((p) => p.endsWith(file.objectId))!;
    fs.rmSync(`${h.config.storageDir}/${objectPath}`);
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const res = await downloadFile(b, file.id);
    expect(res.status).to.equal(503);
    expect((await downloads()).at(-1)).to.equal('error: not read: object missing');
    expect((await FileRead.findAll({ where: { fileId: file.id } })).map((r) => r.count)).to.deep.equal([1]);
  });
});
