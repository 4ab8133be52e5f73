import { expect } from 'chai';
import { Readable } from 'node:stream';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { pdfBytes, uploadFiles } from '../support/files';
import { createStorage, type StorageAdapter } from '../../storage-adapters';
import { AuditEvent, PendingObjectDeletion, StoredFile, type Client } from '../../server/db/models';
import { systemContext } from '../../server/audit';
import { makeEmployee, validNumber } from '../support/vault';

const upload = (b: TestBrowser, fields: Record<string, string>, name: string) => uploadFiles(b, fields, [{ name, data: pdfBytes(5000) }]);

describe('Files holding My Numbers: staff open them only after re-authentication, with a purpose', () => {
  let h: Harness;
  let client: Client;
  let hr: MadeUser;
  let staff: MadeUser;
  let fileId: string;

  before(async () => {
    h = await createHarness();
    client = await makeClient(h);
    hr = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
    const b = new TestBrowser(h.portal.app);
    await b.login(hr);
    expect((await upload(b, { direction: 'to_firm', category: 'identity', containsMyNumber: 'on' }, '個人番号カード.pdf')).status).to.equal(200);
    fileId = (await StoredFile.findOne({ where: { displayName: '個人番号カード.pdf' } }))!.id;
  });
  after(async () => { await h.close(); });

  it('is refused without re-authentication (403), without a purpose (400), and opened with one, the purpose logged', async () => {
    const s = new TestBrowser(h.portal.app);
    await s.login(staff);
    const page = await s.get(`/files/${fileId}`);
    expect(page.text).to.contain('マイナンバーが含まれています').and.contain('再認証して開く');
    const refusals = async () => (await AuditEvent.findAll({ where: { operation: 'file.download', result: 'denied' }, order: [['seq', 'ASC']] }))
      .map((r) => [r.targetId, r.detail, r.purpose, r.office]);
    expect((await s.get(`/files/${fileId}/download`)).status).to.equal(403);
    expect((await s.post(`/files/${fileId}/download`, { purpose: 'withholding_slip', office: 'tax_office' }, `/files/${fileId}`)).status).to.equal(403);
    expect((await s.reauth(staff)).status).to.equal(303);
    expect((await s.post(`/files/${fileId}/download`, {}, `/files/${fileId}`)).status).to.equal(400);
    expect((await s.post(`/files/${fileId}/download`, { purpose: 'made_up', office: 'tax_office' }, `/files/${fileId}`)).status).to.equal(400);
    // The office must fit the purpose, as for numbers: a 源泉徴収票 goes to the tax office, not the pension office.
    const misfit = await s.post(`/files/${fileId}/download`, { purpose: 'withholding_slip', office: 'pension_office' }, `/files/${fileId}`);
    expect(misfit.status).to.equal(400);
    expect(misfit.text).to.contain('選んだ手続きは、この提出先には出しません');
    expect(await AuditEvent.count({ where: { operation: 'file.download', targetId: fileId, result: 'allowed' } })).to.equal(0);
    // Every refusal is in the log, with why.
    expect(await refusals()).to.deep.equal([
      [fileId, 'no purpose', null, null],
      [fileId, 'no re-authentication', 'withholding_slip', 'tax_office'],
      [fileId, 'no purpose', null, null],
      [fileId, 'no purpose', null, 'tax_office'],
      [fileId, 'office does not fit the purpose', 'withholding_slip', 'pension_office'],
    ]);
    const ok = await s.post(`/files/${fileId}/download`, { purpose: 'social_insurance_acquire', office: 'pension_office' }, `/files/${fileId}`);
    expect(ok.status).to.equal(200);
    expect(ok.headers['content-disposition']).to.match(/^attachment;/);
    const row = (await AuditEvent.findOne({ where: { operation: 'file.download', targetId: fileId, result: 'allowed' } }))!;
    expect(row.purpose).to.equal('social_insurance_acquire');
    expect(row.office).to.equal('pension_office');
  });

  it('a firm admin not assigned to the client is told so and refused (logged), as for the vault; 照合 too', async () => {
    const boss = await makeUser(h, { role: 'firm_admin' });
    const b = new TestBrowser(h.portal.app);
    await b.login(boss);
    await b.reauth(boss);
    const page = await b.get(`/files/${fileId}`);
    expect(page.text).to.contain('data-testid="not-assigned"').and.not.contain(`action="/files/${fileId}/download`);
    const res = await b.post(`/files/${fileId}/download`, { purpose: 'social_insurance_acquire', office: 'pension_office' }, `/files/${fileId}`);
    expect(res.status).to.equal(403);
    expect(res.text).to.contain('この顧問先の担当者ではないため');
    const row = (await AuditEvent.findOne({ where: { operation: 'file.download', actorId: boss.user.id }, order: [['seq', 'DESC']] }))!;
    expect([row.result, row.detail, row.targetId, row.purpose]).to.deep.equal(['denied', 'not assigned', fileId, 'social_insurance_acquire']);
    const number = validNumber(41414141414);
    const rec = await h.booted.services.vault.register(systemContext('test'), (await makeEmployee(client.id)).person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
    const listPath = `/firm/clients/${client.id}/numbers`;
    const check = await b.post(`${listPath}/${rec.id}/check`, { typed: number }, listPath);
    expect(check.status).to.equal(403);
    expect(check.text).to.not.contain('一致');
    const checkRow = (await AuditEvent.findOne({ where: { operation: 'vault.check', actorId: boss.user.id } }))!;
    expect([checkRow.result, checkRow.detail]).to.deep.equal(['denied', 'not assigned']);
    // Assigned, the same admin opens the file.
    await assign(h, client.id, boss.user.id);
    expect((await b.post(`/files/${fileId}/download`, { purpose: 'social_insurance_acquire', office: 'pension_office' }, `/files/${fileId}`)).status).to.equal(200);
  });

  it('the client admin who sent it opens it without those steps', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(hr);
    expect((await b.get(`/files/${fileId}/download`)).status).to.equal(200);
  });

  it('staff may set a retention date; a client user may not', async () => {
    const s = new TestBrowser(h.portal.app);
    await s.login(staff);
    expect((await s.post(`/files/${fileId}/retention`, { retentionDate: '2033-03-31' }, `/files/${fileId}`)).status).to.equal(303);
    expect((await StoredFile.findByPk(fileId))!.retentionDate).to.equal('2033-03-31');
    expect((await s.post(`/files/${fileId}/retention`, { retentionDate: 'next year' }, `/files/${fileId}`)).status).to.equal(400);
    // A past date would make it due for disposal at once: refused, and the date stays.
    const past = await s.post(`/files/${fileId}/retention`, { retentionDate: '2020-01-01' }, `/files/${fileId}`);
    expect(past.status).to.equal(400);
    expect(past.text).to.contain('保存期限には今日以降の日付を入力してください');
    // On the file's own page, beside the field, with what was typed: not an error page that loses both.
    expect(past.text).to.contain(`action="/files/${fileId}/retention#retention"`).and.contain('value="2020-01-01"');
    expect((await StoredFile.findByPk(fileId))!.retentionDate).to.equal('2033-03-31');
    // The log says what it was and what it became.
    expect((await s.post(`/files/${fileId}/retention`, { retentionDate: '' }, `/files/${fileId}`)).status).to.equal(303);
    const logged = await AuditEvent.findOne({ where: { operation: 'file.retention', targetId: fileId }, order: [['seq', 'DESC']] });
    expect(logged!.detail).to.equal('2033-03-31 → none');
    expect((await s.post(`/files/${fileId}/retention`, { retentionDate: '2033-03-31' }, `/files/${fileId}`)).status).to.equal(303);
    const b = new TestBrowser(h.portal.app);
    await b.login(hr);
    expect((await b.post(`/files/${fileId}/retention`, { retentionDate: '2040-01-01' }, `/files/${fileId}`)).status).to.equal(403);
    expect((await StoredFile.findByPk(fileId))!.retentionDate).to.equal('2033-03-31');
  });
});

describe('The storage sweeper', () => {
  let h: Harness;
  let failDeletes = false;
  before(async () => {
    h = await createHarness({}, {
      storage: (config) => {
        const real: StorageAdapter = createStorage(config);
        return { ...real, async delete(id) { if (failDeletes) throw new Error('storage unreachable'); return real.delete(id); } };
      },
    });
  });
  after(async () => { await h.close(); });

  it('removes objects no live file points to (once old enough), keeps live ones', async () => {
    const storage = h.booted.services.storage;
    const client = await makeClient(h);
    const hr = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(hr);
    await upload(b, { direction: 'to_firm', category: 'other' }, 'live.pdf');
    const live = (await StoredFile.findOne({ where: { displayName: 'live.pdf' } }))!;
    await storage.write('forphan0000000000000000000000001', Readable.from([Buffer.from('left by a crash')]));
    expect((await h.booted.services.sweeper.run()).orphans).to.equal(0);
    const later = Date.now() + (h.config.sweepAfterMinutes + 1) * 60_000;
    expect((await h.booted.services.sweeper.run(later)).orphans).to.equal(1);
    expect(await storage.stat('forphan0000000000000000000000001')).to.equal(null);
    expect(await storage.stat(live.objectId)).to.not.equal(null);
  });

  it('retries an object delete that failed, until it succeeds', async () => {
    const storage = h.booted.services.storage;
    const hr = await makeUser(h, { role: 'client_admin', clientId: (await makeClient(h)).id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(hr);
    await upload(b, { direction: 'to_firm', category: 'other' }, 'stuck.pdf');
    const file = (await StoredFile.findOne({ where: { displayName: 'stuck.pdf' } }))!;
    failDeletes = true;
    expect((await b.post(`/files/${file.id}/delete`, {}, `/files/${file.id}`)).status).to.equal(303);
    expect((await StoredFile.findByPk(file.id))!.wrappedKey).to.equal(null);
    expect(await PendingObjectDeletion.count({ where: { objectId: file.objectId } })).to.equal(1);
    expect(await storage.stat(file.objectId)).to.not.equal(null);
    expect((await h.booted.services.sweeper.run(Date.now() + 120_000)).retried).to.equal(0);
    expect((await PendingObjectDeletion.findByPk(file.objectId))!.attempts).to.equal(2);
    failDeletes = false;
    expect((await h.booted.services.sweeper.run(Date.now() + 3_600_000)).retried).to.equal(1);
    expect(await storage.stat(file.objectId)).to.equal(null);
    expect(await PendingObjectDeletion.count()).to.equal(0);
  });
});
