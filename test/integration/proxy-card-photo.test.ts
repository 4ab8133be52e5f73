import { expect } from 'chai';
import fs from 'node:fs';
import { createHarness, type Harness } from '../support/harness';
import { assign, makeUser, makeClient, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { pngBytes } from '../support/files';
import { AuditEvent, DisposalItem, Employee, Firm, NumberRecord, Payee, StoredFile, type Client } from '../../server/db/models';
import { rulesOf, saveRules } from '../../server/disposal/retention-rules';
import { japanDay } from '../../server/domain/dates';
import { systemContext } from '../../server/audit';
import { makeDependant, numberFrom as validNumber } from '../support/vault';

const lastAudit = (operation: string) => AuditEvent.findOne({ where: { operation }, order: [['seq', 'DESC']] });

describe('代理登録 with the card\'s photo or scan', () => {
  let h: Harness;
  let client: Client;
  let clientAdmin: MadeUser;
  let admin: TestBrowser;
  let employeeId: string;

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'PH01', name: '株式会社写真' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    admin = new TestBrowser(h.portal.app);
    await admin.login(clientAdmin);
    employeeId = (await Employee.create({ clientId: client.id, employeeCode: 'E1', name: '写真 一郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null })).id;
  });
  after(async () => { await h.close(); });

  it('代理登録 takes a photo or scan of the card with the number: both land together, or neither', async () => {
    expect((await admin.post('/client/people/payees', { code: 'P001', name: '写真 支払先', kind: 'lecturer' }, '/client/people')).status).to.equal(303);
    const payee = (await Payee.findOne({ where: { clientId: client.id, code: 'P001' } }))!;
    const path = `/client/people/payee/${payee.id}/number`;
    const form = await admin.get(path);
    expect(form.text).to.contain('enctype="multipart/form-data"').and.contain('data-testid="photo-input"').and.contain('本人確認書類の写真・スキャン（任意）');
    const objects = () => (fs.existsSync(h.config.storageDir) ? fs.readdirSync(h.config.storageDir, { recursive: true }).filter((f) => fs.statSync(`${h.config.storageDir}/${String(f)}`).isFile()).length : 0);
    const send = async (number: string, file: { name: string; data: Buffer; type: string }, accept = 'application/json') => admin.agent.post(path)
      .set('X-CSRF-Token', await admin.csrf(path)).set('Accept', accept)
      .field('number', number).attach('files', file.data, { filename: file.name, contentType: file.type });
    const files = await StoredFile.count();
    const stored = objects();
    // A wrong number: the photo that came with it does not stay.
    let res = await send('123456789019', { name: 'card.png', data: pngBytes(3000), type: 'image/png' });
    expect(res.status).to.equal(400);
    expect(res.body.error.message).to.contain('マイナンバーが正しくありません');
    // Not a picture or a scan: refused, the number not stored either.
    const payeeNumber = validNumber(66665555444);
    res = await send(payeeNumber, { name: 'card.csv', data: Buffer.from('a,b\n1,2\n'), type: 'text/csv' });
    expect(res.status).to.equal(400);
    expect(res.body.error.message).to.contain('写真は画像');
    // Without the page's script the refusal is the page again, the reason beside the field.
    res = await send(payeeNumber, { name: 'card.csv', data: Buffer.from('a,b\n1,2\n'), type: 'text/csv' }, 'text/html');
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('写真は画像').and.not.contain(payeeNumber);
    expect([await StoredFile.count(), await NumberRecord.count({ where: { personId: payee.id } })]).to.deep.equal([files, 0]);
    await new Promise((r) => setTimeout(r, 50));
    expect(objects(), 'stored objects after the refusals').to.equal(stored);
    // The number with its card: one record pointing at one encrypted identity file of the client, for the firm.
    res = await send(payeeNumber, { name: 'カード表.png', data: pngBytes(5000), type: 'image/png' });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.deep.equal({ ok: true, redirect: `/client/people#person-${payee.id}` });
    const rec = (await NumberRecord.findOne({ where: { personId: payee.id } }))!;
    const photo = (await StoredFile.findByPk(rec.idFileId!))!;
    expect([photo.clientId, photo.direction, photo.category, photo.employeeId, photo.containsMyNumber, photo.senderId, photo.displayName])
      .to.deep.equal([client.id, 'to_firm', 'identity', null, true, clientAdmin.user.id, 'カード表.png']);
    expect((await lastAudit('vault.register.proxy'))!.targetId).to.equal(payee.id);
    expect((await lastAudit('file.upload'))!.targetId).to.equal(photo.id);
    // A dependant's card names their employee, as じぶんで登録 does.
    const dep = (await makeDependant(client.id, employeeId, '写真 添付子')).dependant;
    const depPath = `/client/people/dependant/${dep.id}/number`;
    res = await admin.agent.post(depPath).set('X-CSRF-Token', await admin.csrf(depPath)).set('Accept', 'application/json')
      .field('number', validNumber(66665555433)).attach('files', pngBytes(2000), { filename: 'dep.png', contentType: 'image/png' });
    expect(res.status, res.text).to.equal(200);
    const depRec = (await NumberRecord.findOne({ where: { personId: dep.id } }))!;
    expect((await StoredFile.findByPk(depRec.idFileId!))!.employeeId).to.equal(employeeId);
    // The list says the number has an image.
    expect((await admin.get('/client/people')).text).to.contain(`href="/files/${photo.id}" data-testid="id-image"`);
  });

  it('a card\'s photos (front and back) are marked as such, a payee\'s too: not counted as unread by the firm, and replaced together, then disposed of together where the client allowed it', async () => {
    expect((await admin.post('/client/people/payees', { code: 'P002', name: '両面 支払先', kind: 'lecturer' }, '/client/people')).status).to.equal(303);
    const payee = (await Payee.findOne({ where: { clientId: client.id, code: 'P002' } }))!;
    const path = `/client/people/payee/${payee.id}/number`;
    const number = validNumber(77776666555);
    const sendPhotos = async (names: string[]) => {
      let req = admin.agent.post(path).set('X-CSRF-Token', await admin.csrf(path)).set('Accept', 'application/json').field('number', number);
      for (const name of names) req = req.attach('files', pngBytes(2500), { filename: name, contentType: 'image/png' });
      return req;
    };
    // Three is more than a card has sides: the reason, nothing stored.
    const files = await StoredFile.count();
    const three = await sendPhotos(['1.png', '2.png', '3.png']);
    expect(three.status).to.equal(400);
    expect(three.body.error.message).to.equal('写真はカードの表と裏の2枚までです。');
    expect([await StoredFile.count(), await NumberRecord.count({ where: { personId: payee.id } })]).to.deep.equal([files, 0]);
    expect((await sendPhotos(['表.png', '裏.png'])).status).to.equal(200);
    const rec = (await NumberRecord.findOne({ where: { personId: payee.id } }))!;
    const first = (await StoredFile.findAll({ where: { clientId: client.id, displayName: ['表.png', '裏.png'] }, order: [['displayName', 'ASC']] }));
    expect(first.map((f) => [f.cardPhoto, f.employeeId])).to.deep.equal([[true, null], [true, null]]);
    expect(first.map((f) => f.id)).to.include(rec.idFileId);
    // The firm's home counts files nobody there opened, never card photos.
    expect((await h.booted.services.files.unreadByFirm([client.id])).get(client.id) ?? 0).to.equal(0);
    // New photos of the card: both old ones are superseded today, the new ones stay.
    const sent = await admin.agent.post(path).set('X-CSRF-Token', await admin.csrf(path)).set('Accept', 'application/json').field('number', number)
      .attach('files', pngBytes(2600), { filename: '新表.png', contentType: 'image/png' }).attach('files', pngBytes(2600), { filename: '新裏.png', contentType: 'image/png' });
    expect(sent.status, sent.text).to.equal(200);
    for (const f of first) expect((await StoredFile.findByPk(f.id))!.retentionDate, f.displayName).to.equal(japanDay());
    const replaced = await StoredFile.findAll({ where: { clientId: client.id, displayName: ['新表.png', '新裏.png'] } });
    for (const f of replaced) expect(f.retentionDate, f.displayName).to.not.equal(japanDay());
    // With the client's standing approval the nightly run disposes of the two old photos, not the new ones nor the number.
    await Firm.findOrCreate({ where: { id: 1 }, defaults: { id: 1, name: '暁社会保険労務士事務所' } });
    const rules = await rulesOf(client.id);
    await saveRules(h.booted.services, systemContext('test'), client.id, { ...rules, autoDispose: true });
    expect(await h.booted.services.disposal.runAutomatic()).to.equal(1);
    for (const f of first) expect((await StoredFile.findByPk(f.id))!.status, f.displayName).to.equal('deleted');
    for (const f of replaced) expect((await StoredFile.findByPk(f.id))!.status, f.displayName).to.equal('ready');
    expect((await NumberRecord.findByPk(rec.id))!.sealedNumber).to.not.equal(null);
  });

  it('a card photo in use stays as long as its number (never by the category\'s years); deleting one side ties the other to the number', async () => {
    expect((await admin.post('/client/people/payees', { code: 'P003', name: '削除 支払先', kind: 'lecturer' }, '/client/people')).status).to.equal(303);
    const payee = (await Payee.findOne({ where: { clientId: client.id, code: 'P003' } }))!;
    const path = `/client/people/payee/${payee.id}/number`;
    const sent = await admin.agent.post(path).set('X-CSRF-Token', await admin.csrf(path)).set('Accept', 'application/json').field('number', validNumber(88887777666))
      .attach('files', pngBytes(2700), { filename: '削除表.png', contentType: 'image/png' }).attach('files', pngBytes(2700), { filename: '削除裏.png', contentType: 'image/png' });
    expect(sent.status, sent.text).to.equal(200);
    const rec = (await NumberRecord.findOne({ where: { personId: payee.id } }))!;
    const photos = await StoredFile.findAll({ where: { clientId: client.id, displayName: ['削除表.png', '削除裏.png'] } });
    // Sent long ago under a one-year rule for identity files, and past their own date: still in use, so kept.
    await StoredFile.update({ retentionDate: '2020-01-01' }, { where: { id: photos.map((p) => p.id) } });
    await h.booted.sequelize.query('UPDATE files SET created_at = ? WHERE id IN (?)', { replacements: [new Date('2019-01-01T00:00:00Z'), photos.map((p) => p.id)] });
    await Firm.findOrCreate({ where: { id: 1 }, defaults: { id: 1, name: '暁社会保険労務士事務所' } });
    const rules = await rulesOf(client.id);
    await saveRules(h.booted.services, systemContext('test'), client.id, { ...rules, fileYears: { ...rules.fileYears, identity: 1 }, autoDispose: true });
    await h.booted.services.disposal.runAutomatic();
    for (const p of photos) expect((await StoredFile.findByPk(p.id))!.status, p.displayName).to.equal('ready');
    await saveRules(h.booted.services, systemContext('test'), client.id, rules);
    // The admin deletes the side the number points to: the other side takes its place.
    const pointed = rec.idFileId!;
    const other = photos.find((p) => p.id !== pointed)!;
    expect((await admin.post(`/files/${pointed}/delete`, {}, `/files/${pointed}`)).status).to.equal(303);
    expect((await NumberRecord.findByPk(rec.id))!.idFileId).to.equal(other.id);
    expect((await admin.post(`/files/${other.id}/delete`, {}, `/files/${other.id}`)).status).to.equal(303);
    expect((await NumberRecord.findByPk(rec.id))!.idFileId).to.equal(null);
    expect((await NumberRecord.findByPk(rec.id))!.sealedNumber).to.not.equal(null);
  });

  it('a disposal request of numbers takes each number\'s card photos (both sides) once, and reads the files in two queries however many numbers it holds', async () => {
    const numbers: NumberRecord[] = [];
    for (let i = 0; i < 5; i++) {
      expect((await admin.post('/client/people/payees', { code: `Q00${i}`, name: `廃棄 支払先${i}`, kind: 'lecturer' }, '/client/people')).status).to.equal(303);
      const payee = (await Payee.findOne({ where: { clientId: client.id, code: `Q00${i}` } }))!;
      const path = `/client/people/payee/${payee.id}/number`;
      const sent = await admin.agent.post(path).set('X-CSRF-Token', await admin.csrf(path)).set('Accept', 'application/json').field('number', validNumber(55550000100 + i * 7))
        .attach('files', pngBytes(2100), { filename: `表${i}.png`, contentType: 'image/png' }).attach('files', pngBytes(2100), { filename: `裏${i}.png`, contentType: 'image/png' });
      expect(sent.status, sent.text).to.equal(200);
      numbers.push((await NumberRecord.findOne({ where: { personId: payee.id } }))!);
    }
    const photosOf = async (r: NumberRecord) => (await StoredFile.findAll({ where: { batchId: (await StoredFile.findByPk(r.idFileId!))!.batchId } })).map((f) => f.id);
    const photos = (await Promise.all(numbers.map(photosOf))).flat();
    expect(photos).to.have.length(10);
    // Each number its own date, and the photos a date of their own (2040): a photo that goes with its number takes the number's.
    for (const [i, r] of numbers.entries()) await NumberRecord.update({ deletionDate: `2031-0${i + 1}-15` }, { where: { id: r.id } });
    await StoredFile.update({ retentionDate: '2040-12-31' }, { where: { id: photos } });
    // The first number's front is ticked as well: it is listed once all the same, on its own date.
    const refs = [...numbers.map((r) => ({ kind: 'number' as const, id: r.id })), { kind: 'file' as const, id: numbers[0]!.idFileId! }];
    let fileReads = 0;
    StoredFile.addHook('beforeFind', 'count-reads', () => { fileReads++; });
    let req;
    try {
      req = await h.booted.services.disposal.request(systemContext('test'), clientAdmin.user, client.id, refs, '退職者の番号と写真の廃棄');
    } finally {
      StoredFile.removeHook('beforeFind', 'count-reads');
    }
    expect(fileReads, 'file queries of the request').to.equal(2);
    const items = await DisposalItem.findAll({ where: { requestId: req.id } });
    expect(items.map((i) => i.itemId).sort()).to.deep.equal([...numbers.map((r) => r.id), ...photos].sort());
    const dateOf = (id: string) => items.find((i) => i.itemId === id)!.deletionDate;
    for (const [i, r] of numbers.entries()) {
      expect(dateOf(r.id)).to.equal(`2031-0${i + 1}-15`);
      for (const photo of photos.slice(i * 2, i * 2 + 2)) {
        expect(dateOf(photo), `photo of number ${i}`).to.equal(photo === numbers[0]!.idFileId ? '2040-12-31' : `2031-0${i + 1}-15`);
      }
    }
  });

  it('a card photo replaced by a newer one no longer opens for the firm (due for disposal, and whose number it showed is no longer known to fit the procedure); the new one does, for its person\'s procedures', async () => {
    expect((await admin.post('/client/people/payees', { code: 'P009', name: '差替 支払先', kind: 'lecturer' }, '/client/people')).status).to.equal(303);
    const payee = (await Payee.findOne({ where: { clientId: client.id, code: 'P009' } }))!;
    const path = `/client/people/payee/${payee.id}/number`;
    const send = async (name: string) => admin.agent.post(path).set('X-CSRF-Token', await admin.csrf(path)).set('Accept', 'application/json')
      .field('number', validNumber(66660000999)).attach('files', pngBytes(2200), { filename: name, contentType: 'image/png' });
    expect((await send('旧.png')).status).to.equal(200);
    expect((await send('新.png')).status).to.equal(200);
    const old = (await StoredFile.findOne({ where: { clientId: client.id, displayName: '旧.png' } }))!;
    const current = (await StoredFile.findOne({ where: { clientId: client.id, displayName: '新.png' } }))!;
    const staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
    const b = new TestBrowser(h.portal.app);
    await b.login(staff);
    expect((await b.reauth(staff)).status).to.equal(303);
    const download = (f: StoredFile, purpose: string, office: string) => b.post(`/files/${f.id}/download`, { purpose, office }, `/files/${f.id}`);
    // A payee's number opens for the 支払調書 only: the superseded photo of it opens for no procedure, that one included.
    for (const [purpose, office] of [['withholding_slip', 'tax_office'], ['payment_record', 'tax_office']] as const) {
      const refused = await download(old, purpose, office);
      expect(refused.status, purpose).to.equal(400);
      expect(refused.text).to.contain('この本人確認書類の写真は新しいものに差し替えられたため、開けません');
      const row = (await lastAudit('file.download'))!;
      expect([row.result, row.detail, row.targetId, row.purpose]).to.deep.equal(['denied', 'superseded card photo', old.id, purpose]);
    }
    expect((await download(current, 'withholding_slip', 'tax_office')).status).to.equal(400);
    expect((await download(current, 'payment_record', 'tax_office')).status).to.equal(200);
  });
});
