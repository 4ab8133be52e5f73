import { expect } from 'chai';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createHarness, type Harness } from '../support/harness';
import { assign, makeUser, makeClient, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { pngBytes, pdfBytes } from '../support/files';
import { AuditEvent, Employee, FileBatch, NumberRecord, Payee, StoredFile, User, VaultInvitation, type Client } from '../../server/db/models';
import { makeDependant, numberFrom as validNumber, wrongCheckDigit } from '../support/vault';
import { ja } from '../support/security';

const lastAudit = (operation: string) => AuditEvent.findOne({ where: { operation }, order: [['seq', 'DESC']] });

describe('One-time link with the card\'s photo or scan (a payee, or an employee\'s printed sheet)', () => {
  let h: Harness;
  let client: Client;
  let clientAdmin: MadeUser;
  let admin: TestBrowser;

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'LP01', name: '株式会社リンク写真' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: '人事 発行' });
    admin = new TestBrowser(h.portal.app);
    await admin.login(clientAdmin);
  });
  after(async () => { await h.close(); });

  /** A link for the person as the client admin issues it: its path and its code. */
  async function issueLink(kind: 'payee' | 'employee', id: string): Promise<{ path: string; code: string }> {
    const sheet = await admin.post(`/client/people/${kind}/${id}/link`, {}, '/client/people');
    expect(sheet.status).to.equal(200);
    return {
      path: new URL(/data-testid="link-url">([^<]+)</.exec(sheet.text)![1]!).pathname,
      code: /data-testid="link-code">(\d{8})</.exec(sheet.text)![1]!,
    };
  }

  /** Every object the portal starts to write: a photo refused before it is taken is never written at all. */
  const writes: string[] = [];
  before(() => {
    const storage = h.booted.services.storage;
    const write = storage.write.bind(storage);
    storage.write = (id, body) => { writes.push(id); return write(id, body); };
  });

  const objects = () => (fs.existsSync(h.config.storageDir) ? fs.readdirSync(h.config.storageDir, { recursive: true }).filter((f) => fs.statSync(`${h.config.storageDir}/${String(f)}`).isFile()).length : 0);
  /** Stored objects are removed just after the answer: a moment for the removal to finish. */
  const settled = () => new Promise((r) => setTimeout(r, 50));
  type Photo = { name: string; data: Buffer; type: string };
  const front: Photo = { name: 'カード表.png', data: pngBytes(4000), type: 'image/png' };
  const back: Photo = { name: 'カード裏.pdf', data: pdfBytes(3000), type: 'application/pdf' };

  /** The page's form as its upload script sends it: the fields, then the photos. */
  function send(visitor: TestBrowser, path: string, token: string | null, fields: Record<string, string>, photos: Photo[], accept = 'application/json') {
    let req = visitor.agent.post(path).set('Accept', accept);
    if (token) req = req.set('X-CSRF-Token', token);
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    for (const p of photos) req = req.attach('files', p.data, { filename: p.name, contentType: p.type });
    return req;
  }

  it('a payee sends the card\'s front and back with the number: taken only with the right code, and they land with the number or not at all', async () => {
    expect((await admin.post('/client/people/payees', { code: 'P001', name: '写真 講師', kind: 'lecturer' }, '/client/people')).status).to.equal(303);
    const payee = (await Payee.findOne({ where: { clientId: client.id, code: 'P001' } }))!;
    const { path, code } = await issueLink('payee', payee.id);
    const visitor = new TestBrowser(h.portal.app);
    const page = await visitor.get(path);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('enctype="multipart/form-data"').and.contain('data-testid="photo-input"').and.contain('マイナンバーカードまたは通知カードの写真・スキャン（任意）');
    const token = csrfIn(page.text);
    const invitation = async () => (await VaultInvitation.findOne({ where: { personKind: 'payee', personId: payee.id } }))!;
    const files = await StoredFile.count();
    const stored = objects();
    const number = validNumber(77771111222);

    // A form refused before any code was checked (the tick missing) does not count as the code passed.
    let res = await send(visitor, path, token, { code: '', number }, []);
    expect(res.status).to.equal(400);
    res = await send(visitor, path, token, { number, confirm: 'on' }, [], 'text/html');
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('確認コードが正しくありません').and.contain('data-testid="code-input"');
    expect(await NumberRecord.count({ where: { personId: payee.id } })).to.equal(0);
    await VaultInvitation.update({ failedAttempts: 0 }, { where: { personKind: 'payee', personId: payee.id } });

    // A wrong code: the photo is refused before it is taken, the try counted and logged.
    res = await send(visitor, path, token, { code: '00000000', number, confirm: 'on' }, [front]);
    expect(res.status).to.equal(400);
    // The tries left are told as on the page without its script.
    expect(res.body.error.message).to.equal('確認コードが正しくありません。あと4回間違えると、このURLは使えなくなります。');
    expect((await invitation()).failedAttempts).to.equal(1);
    expect((await lastAudit('vault.link.fail'))!.targetId).to.equal(payee.id);
    // The last try wrong: the link is worn out, and the person is told that (not "expired or used").
    await VaultInvitation.update({ failedAttempts: 4 }, { where: { personKind: 'payee', personId: payee.id } });
    res = await send(visitor, path, token, { code: '00000000', number, confirm: 'on' }, [front]);
    expect(res.status).to.equal(404);
    expect(res.body.error.message).to.equal(ja('vault.link.wornOut'));
    await VaultInvitation.update({ failedAttempts: 1 }, { where: { personKind: 'payee', personId: payee.id } });
    // Without the form's token nothing is taken and no try is used.
    res = await send(visitor, path, null, { code, number, confirm: 'on' }, [front]);
    expect(res.status).to.equal(403);
    expect((await invitation()).failedAttempts).to.equal(1);
    expect(writes, 'objects written before the code passed').to.deep.equal([]);
    expect((await visitor.get(path)).text, 'the code is still asked for').to.contain('data-testid="code-input"');
    // The right code with a mistyped number: the photo does not stay; the code now stands for this visitor.
    res = await send(visitor, path, token, { code, number: wrongCheckDigit(number), confirm: 'on' }, [front]);
    expect(res.status).to.equal(400);
    expect(res.body.error.message).to.contain('マイナンバーが正しくありません');
    expect((await visitor.get(path)).text).to.contain('data-testid="code-checked"');
    // Three photos, or a file that is no picture or scan: refused, the number not stored either.
    res = await send(visitor, path, token, { number, confirm: 'on' }, [front, back, front]);
    expect(res.status).to.equal(400);
    expect(res.body.error.message).to.equal('写真はカードの表と裏の2枚までです。');
    res = await send(visitor, path, token, { number, confirm: 'on' }, [{ name: 'card.csv', data: Buffer.from('a,b\n1,2\n'), type: 'text/csv' }]);
    expect(res.status).to.equal(400);
    expect(res.body.error.message).to.contain('写真は画像');
    // Without the page's script the refusal is the page again, the reason beside the field, no number in it.
    res = await send(visitor, path, token, { number, confirm: 'on' }, [{ name: 'card.csv', data: Buffer.from('a,b\n1,2\n'), type: 'text/csv' }], 'text/html');
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('写真は画像');
    expect(res.text).not.to.contain(number);
    expect([await StoredFile.count(), await NumberRecord.count({ where: { personId: payee.id } }), await AuditEvent.count({ where: { operation: 'file.upload' } })]).to.deep.equal([files, 0, 0]);
    await settled();
    expect(objects(), 'stored objects after the refusals').to.equal(stored);

    // The number with both sides: one record pointing at the front, two encrypted identity files of the client, for the firm.
    res = await send(visitor, path, token, { number, confirm: 'on' }, [front, back]);
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.deep.equal({ ok: true, redirect: '/r/done' });
    const rec = (await NumberRecord.findOne({ where: { personId: payee.id } }))!;
    expect(rec.source).to.equal('link');
    const photos = await StoredFile.findAll({ where: { clientId: client.id, cardPhoto: true } });
    expect(photos.map((p) => p.displayName).sort()).to.deep.equal([front.name, back.name].sort());
    // The number points at the first photo sent, the front.
    expect(rec.idFileId).to.equal(photos.find((p) => p.displayName === front.name)!.id);
    for (const p of photos) {
      expect([p.direction, p.category, p.employeeId, p.containsMyNumber, p.status, p.batchId]).to.deep.equal(['to_firm', 'identity', null, true, 'ready', photos[0]!.batchId]);
    }
    // Sent under the account that issued the link, named for the payee who sent it.
    const batch = (await FileBatch.findByPk(photos[0]!.batchId))!;
    expect([batch.senderId, batch.senderName]).to.deep.equal([clientAdmin.user.id, '写真 講師']);
    // Logged as the visitor of the link (no account: the person it is for, masked as the page shows them), by the link.
    const upload = (await lastAudit('file.upload'))!;
    expect([upload.actorId, upload.actorName, upload.channel, upload.clientId]).to.deep.equal([null, '写＊ 講＊', 'link:/r/:token', client.id]);
    const registered = (await lastAudit('vault.register.link'))!;
    expect([registered.actorName, registered.targetLabel]).to.deep.equal(['写＊ 講＊', `${payee.code} 写真 講師`]);
    // The log's "how" says it came by a one-time link; a wrong code's row names the person.
    const fail = (await lastAudit('vault.link.fail'))!;
    expect(fail.targetLabel).to.equal(`${payee.code} 写真 講師`);
    // Whoever typed a wrong code is nobody known: not logged as the person the link is for.
    expect([fail.actorId, fail.actorName, fail.channel]).to.deep.equal([null, null, 'link:/r/:token']);
    const log = await admin.get('/audit');
    expect(log.status).to.equal(200);
    expect(log.text).to.contain('写＊ 講＊').and.contain('ワンタイムURL');
    expect(await AuditEvent.count({ where: { operation: 'file.upload' } })).to.equal(2);
    // Encrypted at rest: neither photo's bytes are in any stored object.
    for (const f of fs.readdirSync(h.config.storageDir, { recursive: true })) {
      const full = `${h.config.storageDir}/${String(f)}`;
      if (!fs.statSync(full).isFile()) continue;
      const bytes = fs.readFileSync(full);
      expect(bytes.includes(front.data.subarray(0, 60))).to.equal(false);
      expect(bytes.includes(back.data.subarray(0, 60))).to.equal(false);
    }
    // The thanks are a page of their own; the link is dead.
    expect((await visitor.get('/r/done')).text).to.contain('ご提供ありがとうございました');
    // Opened again, the link leads its visitor back to those thanks; to anyone else it is dead.
    expect((await visitor.get(path)).headers.location).to.equal('/r/done');
    expect((await new TestBrowser(h.portal.app).get(path)).status).to.equal(404);
    // The client admin's list says the number has an image.
    expect((await admin.get('/client/people')).text).to.contain(`href="/files/${rec.idFileId}" data-testid="id-image"`);
  });

  it('the firm opens a payee\'s card photos (either side) for the procedures their number opens for only: another is refused beside the choice and logged', async () => {
    const staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
    const b = new TestBrowser(h.portal.app);
    await b.login(staff);
    expect((await b.reauth(staff)).status).to.equal(303);
    const back = (await StoredFile.findOne({ where: { clientId: client.id, cardPhoto: true, displayName: 'カード裏.pdf' } }))!;
    const download = (purpose: string, office: string) => b.post(`/files/${back.id}/download`, { purpose, office }, `/files/${back.id}`);
    const refused = await download('social_insurance_acquire', 'pension_office');
    expect(refused.status).to.equal(400);
    expect(refused.text).to.contain('支払先の方の番号は、支払調書のためにだけ開けます。');
    expect(refused.text).to.match(/<option value="social_insurance_acquire" selected>/);
    const row = (await AuditEvent.findOne({ where: { operation: 'file.download' }, order: [['seq', 'DESC']] }))!;
    expect([row.result, row.detail, row.targetId, row.purpose]).to.deep.equal(['denied', 'purpose not for a payee', back.id, 'social_insurance_acquire']);
    expect((await download('payment_record', 'tax_office')).status).to.equal(200);
  });

  it('an employee\'s printed sheet takes the photo too (a plain form post, no script): it names the employee', async () => {
    const employee = await Employee.create({ clientId: client.id, employeeCode: 'E1', name: '紙 太郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
    const { path, code } = await issueLink('employee', employee.id);
    const visitor = new TestBrowser(h.portal.app);
    const token = csrfIn((await visitor.get(path)).text);
    const res = await send(visitor, path, token, { _csrf: token, code, number: validNumber(77772222333), confirm: 'on' }, [front], 'text/html');
    expect(res.status, res.text).to.equal(303);
    expect(res.headers.location).to.equal('/r/done');
    const rec = (await NumberRecord.findOne({ where: { personKind: 'employee', personId: employee.id } }))!;
    const photo = (await StoredFile.findByPk(rec.idFileId!))!;
    expect([photo.employeeId, photo.cardPhoto, photo.displayName]).to.deep.equal([employee.id, true, 'カード表.png']);
  });

  it('an employee\'s sheet with six dependants: every number goes in one form post, and a plain post with three photos is told so', async () => {
    const employee = await Employee.create({ clientId: client.id, employeeCode: 'E6', name: '大家 族男', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
    const children = [];
    for (let i = 0; i < 6; i++) children.push((await makeDependant(client.id, employee.id, `大家 子${i}`)).dependant);
    const { path, code } = await issueLink('employee', employee.id);
    const visitor = new TestBrowser(h.portal.app);
    const token = csrfIn((await visitor.get(path)).text);
    // The fields the page sends: its token, the code, the number, the (empty) issue date, the tick and one per dependant.
    const fields: Record<string, string> = { _csrf: token, code, number: validNumber(77775555000), issueDate: '', confirm: 'on' };
    children.forEach((c, i) => { fields[`dep_${c.id}`] = validNumber(77775555100 + i * 11); });
    // Sent as the page sends it without its script: every field, then the photos (three, one too many).
    const three = await send(visitor, path, null, fields, [front, back, front], 'text/html');
    expect(three.status).to.equal(400);
    expect(three.text).to.contain('写真はカードの表と裏の2枚までです。');
    // A post whose fields after the photos were never read (the reading stops at the third) is answered about the photos too, not the tick.
    const cut = await send(visitor, path, null, { _csrf: token, number: fields.number! }, [front, back, front], 'text/html');
    expect(cut.status).to.equal(400);
    expect(cut.text).to.contain('写真はカードの表と裏の2枚までです。');
    expect(await NumberRecord.count({ where: { personId: [employee.id, ...children.map((c) => c.id)] } })).to.equal(0);
    const res = await send(visitor, path, null, fields, [front], 'text/html');
    expect(res.status, res.text.slice(0, 300)).to.equal(303);
    expect(await NumberRecord.count({ where: { personId: [employee.id, ...children.map((c) => c.id)] } })).to.equal(7);
  });

  it('a link whose issuing account is gone, disabled or no longer the company\'s admin takes no photo: it says so beside the field, and nothing is stored', async () => {
    expect((await admin.post('/client/people/payees', { code: 'P002', name: '孤児 リンク', kind: 'lecturer' }, '/client/people')).status).to.equal(303);
    const payee = (await Payee.findOne({ where: { clientId: client.id, code: 'P002' } }))!;
    const { path, code } = await issueLink('payee', payee.id);
    const visitor = new TestBrowser(h.portal.app);
    const token = csrfIn((await visitor.get(path)).text);
    const files = await StoredFile.count();
    const written = writes.length;
    const other = await makeClient(h, { code: 'LP02', name: '株式会社よそ' });
    const elsewhere = await makeUser(h, { role: 'client_admin', clientId: other.id, totp: false });
    const disabled = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    await User.update({ disabledAt: new Date() }, { where: { id: disabled.user.id } });
    // Told with the company's name: to the page's script, to a plain form post (beside the field), and in English.
    const told = 'このURLでは写真を送れません。写真を付けずに送信するか、株式会社リンク写真にお問い合わせください。';
    for (const [issuer, accept] of [[randomUUID(), 'application/json'], [elsewhere.user.id, 'text/html'], [disabled.user.id, 'en']]) {
      await VaultInvitation.update({ createdBy: issuer }, { where: { personKind: 'payee', personId: payee.id, usedAt: null } });
      if (accept === 'en') await visitor.agent.post('/lang').type('form').send({ _csrf: token, lang: 'en', back: path });
      const res = await send(visitor, path, token, { code, number: validNumber(77773333444), confirm: 'on' }, [front], accept === 'text/html' ? accept : 'application/json');
      expect(res.status, issuer).to.equal(400);
      if (accept === 'text/html') expect(res.text).to.contain(`<p class="field-error" role="alert">${told}</p>`);
      else expect(res.body.error.message).to.equal(accept === 'en' ? 'Photos cannot be sent through this link. Send without a photo, or contact 株式会社リンク写真.' : told);
    }
    await visitor.agent.post('/lang').type('form').send({ _csrf: token, lang: 'ja', back: path });
    expect([await StoredFile.count(), await NumberRecord.count({ where: { personId: payee.id } })]).to.deep.equal([files, 0]);
    expect(writes.length, "objects written for the refused photo").to.equal(written);
    // Without the photo the number goes through.
    const plain = await send(visitor, path, token, { number: validNumber(77773333444), confirm: 'on' }, [], 'text/html');
    expect(plain.status, plain.text).to.equal(303);
    expect(await NumberRecord.count({ where: { personId: payee.id } })).to.equal(1);
  });
});

describe('One-time link: the page names the company the card\'s photos go to', () => {
  let h: Harness;
  before(async () => { h = await createHarness(); });
  after(async () => { await h.close(); });

  // From a product walk: the English page said the photos go "to whoever asked"; the page names the company everywhere else.
  it('the page says the photos go to the company that asked, by its name, in Japanese and in English', async () => {
    const client = await makeClient(h, { code: 'LP03', name: '株式会社リンク写真' });
    const admin = new TestBrowser(h.portal.app);
    await admin.login(await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false }));
    expect((await admin.post('/client/people/payees', { code: 'P003', name: '宛先 確認', kind: 'lecturer' }, '/client/people')).status).to.equal(303);
    const payee = (await Payee.findOne({ where: { clientId: client.id, code: 'P003' } }))!;
    const sheet = await admin.post(`/client/people/payee/${payee.id}/link`, {}, '/client/people');
    const path = new URL(/data-testid="link-url">([^<]+)</.exec(sheet.text)![1]!).pathname;
    const visitor = new TestBrowser(h.portal.app);
    const hint = (html: string) => /<p class="hint" id="photo-hint">([^<]*)<\/p>/.exec(html)?.[1];
    const page = await visitor.get(path);
    expect(hint(page.text)).to.equal('表と裏の2枚まで（画像またはPDF）。確認コードが正しいときだけ受け取り、暗号化して株式会社リンク写真へ届けます。');
    await visitor.agent.post('/lang').type('form').send({ _csrf: csrfIn(page.text), lang: 'en', back: path });
    const english = await visitor.get(path);
    expect(english.text).to.contain('株式会社リンク写真 asks you to provide your My Number.');
    expect(hint(english.text)).to.equal('Up to two (front and back), images or PDF. They are taken only with the right code, and delivered encrypted to 株式会社リンク写真.');
    expect(english.text).to.not.contain('whoever');
  });
});
