import fs from 'node:fs';
import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { uploadFiles, pdfBytes, downloadFile } from '../support/files';
import { makeEmployee, numberFrom } from '../support/vault';
import { systemContext } from '../../server/audit';
import { AuditEvent, StoredFile } from '../../server/db/models';

const spaced = (n: string) => n.replace(/(\d{4})(?=\d)/g, '$1 ');

/**
 * The database goes away in the middle of a request: after the number or the file has been read,
 * at the moment its audit row is being written. The visitor gets a clear 503 and nothing of the
 * data; reopened on the same database, no audit row claims the access happened.
 */
describe('Faults: the database goes away mid-request (reveal, download)', function () {
  this.timeout(60_000);
  let h: Harness;
  let armed = false;

  async function reopen(): Promise<Harness> {
    const config = h.config;
    h.portal.close();
    await h.smtp.stop();
    armed = false;
    return createHarness({}, { dataDir: config.dataDir, keepDatabase: config.databaseUrl ? { url: config.databaseUrl } : undefined });
  }

  beforeEach(async () => {
    h = await createHarness();
    // When armed, the next audit row about to be written closes the database under the request.
    AuditEvent.addHook('beforeCreate', 'databaseGoesAway', async (_row, options) => {
      if (!armed) return;
      armed = false;
      // The request's own connection is cut (as when the server dies), then the pool goes too.
      const conn = (options.transaction as unknown as { connection: { destroy?: () => void; close?: (cb: () => void) => void } }).connection;
      if (conn.destroy) conn.destroy();
      else await new Promise<void>((resolve) => conn.close!(() => resolve()));
      void h.booted.sequelize.close().catch(() => undefined);
    });
  });
  afterEach(() => { AuditEvent.removeHook('beforeCreate', 'databaseGoesAway'); });

  it('a reveal: 503 with a clear message, no number on the page, and no audit row saying it was shown', async () => {
    const client = await makeClient(h, { code: 'DG01' });
    const staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
    const { person } = await makeEmployee(client.id, { employeeCode: 'G1', name: '落下 太郎' });
    const number = numberFrom(88_001);
    const rec = await h.booted.services.vault.register(systemContext('test'), person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
    const b = new TestBrowser(h.portal.app);
    await b.login(staff);
    await b.reauth(staff);
    const list = `/firm/clients/${client.id}/numbers`;
    const token = await b.csrf(list);
    armed = true;
    const res = await b.agent.post(`${list}/${rec.id}/reveal`).type('form').send({ _csrf: token, purpose: 'withholding_slip', office: 'tax_office' });
    expect(res.status).to.equal(503);
    expect(res.text).to.contain('ただいまサービスを利用できません');
    expect(res.text).to.not.contain(number);
    expect(res.text).to.not.contain(spaced(number));
    expect(res.text).to.not.match(/Sequelize|SQLITE|ER_|at .*\.(ts|js):\d+/);
    const again = await reopen();
    try {
      expect(await AuditEvent.count({ where: { operation: 'vault.reveal' } })).to.equal(0);
      expect((await again.booted.services.audit.verify()).ok).to.equal(true);
    } finally {
      await again.close();
      fs.rmSync(again.config.dataDir, { recursive: true, force: true });
    }
  });

  it('a download: 503 before any byte of the file, and no audit row saying it was downloaded', async () => {
    const client = await makeClient(h, { code: 'DG02' });
    const hr = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(hr);
    const data = pdfBytes(200_000);
    expect((await uploadFiles(b, { direction: 'to_firm', category: 'other' }, [{ name: 'kept.pdf', data }])).status).to.equal(200);
    const file = (await StoredFile.findOne({ where: { displayName: 'kept.pdf' } }))!;
    armed = true;
    const res = await downloadFile(b, file.id);
    expect(res.status).to.equal(503);
    expect(res.headers['content-disposition']).to.equal(undefined);
    expect(Buffer.isBuffer(res.body) ? (res.body as Buffer).includes(data.subarray(0, 64)) : String(res.text ?? '').includes('%PDF')).to.equal(false);
    const again = await reopen();
    try {
      expect(await AuditEvent.count({ where: { operation: 'file.download' } })).to.equal(0);
      // The file itself is intact and downloads once the database is back.
      const b2 = new TestBrowser(again.portal.app);
      await b2.login(hr);
      const ok = await downloadFile(b2, file.id);
      expect(ok.status).to.equal(200);
      expect((ok.body as Buffer).equals(data)).to.equal(true);
    } finally {
      await again.close();
      fs.rmSync(again.config.dataDir, { recursive: true, force: true });
    }
  });
});
