import { Op } from 'sequelize';
import { expect } from 'chai';
import request from 'supertest';
import { japanDay } from '../../server/domain/dates';
import { addYears, rulesOf, saveRules } from '../../server/disposal/retention-rules';
import { systemContext } from '../../server/audit';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { downloadFile, pdfBytes, pngBytes, uploadFiles } from '../support/files';
import { AuditEvent, Dependant, Employee, Firm, NumberRecord, Payee, SessionRow, StoredFile, VaultInvitation, type Client } from '../../server/db/models';
import { makeDependant, numberFrom as validNumber, twelveDigitRunsOutsideIds, wrongCheckDigit } from '../support/vault';
import { ja } from '../support/security';

const lastAudit = (operation: string) => AuditEvent.findOne({ where: { operation }, order: [['seq', 'DESC']] });

describe('Vault screens: people, 代理登録, 照合, one-time links, じぶんで登録, reveal / print / CSV', () => {
  let h: Harness;
  let client: Client;
  let clientAdmin: MadeUser;
  let employeeUser: MadeUser;
  let staff: MadeUser;
  let unassigned: MadeUser;
  let admin: TestBrowser;
  let employeeId: string;
  let recordId: string;
  const ichiro = validNumber(11112222333);

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'V001', name: '株式会社ボールト' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: '人事 担当' });
    employeeUser = await makeUser(h, { role: 'employee', clientId: client.id, totp: false, name: '山田 一郎' });
    staff = await makeUser(h, { role: 'firm_staff', name: '担当 職員' });
    unassigned = await makeUser(h, { role: 'firm_staff', name: '別 職員' });
    await assign(h, client.id, staff.user.id);
    admin = new TestBrowser(h.portal.app);
    await admin.login(clientAdmin);
  });
  after(async () => { await h.close(); });

  it('the client admin adds an employee, a dependant and a payee; the list shows them as not registered', async () => {
    let res = await admin.post('/client/people/employees', { employeeCode: 'E001', name: '山田 一郎', nameKana: 'ヤマダ イチロウ', hireDate: '2020-04-01' }, '/client/people');
    expect(res.status, res.text).to.equal(303);
    const emp = await Employee.findOne({ where: { clientId: client.id, employeeCode: 'E001' } });
    employeeId = emp!.id;
    await emp!.update({ userId: employeeUser.user.id });
    res = await admin.post(`/client/people/employees/${employeeId}/dependants`, { name: '山田 花子', relationship: 'spouse' }, '/client/people');
    expect(res.status).to.equal(303);
    res = await admin.post('/client/people/payees', { code: 'P001', name: '=HYPERLINK("x") 講師', kind: 'lecturer' }, '/client/people');
    expect(res.status).to.equal(303);
    res = await admin.post('/client/people/employees', { employeeCode: 'E001', name: '重複' }, '/client/people');
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('このコードは既に使われています。');
    const list = await admin.get('/client/people');
    expect(list.text).to.contain('山田 一郎 &gt; 山田 花子');
    expect(list.text.match(/未登録/g)?.length).to.be.greaterThanOrEqual(3);
  });

  it('代理登録 accepts full-width digits, refuses a wrong check digit beside the field, and flags a duplicate', async () => {
    const path = `/client/people/employee/${employeeId}/number`;
    let res = await admin.post(path, { number: '123456789019' }, path);
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('マイナンバーが正しくありません。12桁をもう一度ご確認ください');
    expect(res.text).not.to.contain('123456789019');
    expect(await NumberRecord.count()).to.equal(0);
    // A card issued before the first notification cards, or in the future, is a typing mistake: refused beside the date.
    for (const [issueDate, message] of [['2099-01-01', '発行日が未来の日付です。'], ['1900-01-01', '発行日が2015年10月5日（通知カードの送付開始）より前です。']] as const) {
      res = await admin.post(path, { number: ichiro, issueDate }, path);
      expect(res.status, issueDate).to.equal(400);
      expect(res.text).to.contain(message).and.not.contain(ichiro);
    }
    expect(await NumberRecord.count()).to.equal(0);
    const fullWidth = ichiro.replace(/\d/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0));
    res = await admin.post(path, { number: fullWidth, issueDate: '2016-01-01' }, path);
    expect(res.status, res.text).to.equal(303);
    const rec = await NumberRecord.findOne({ where: { personId: employeeId } });
    expect(rec!.source).to.equal('proxy');
    expect(rec!.lastTwo).to.equal(ichiro.slice(-2));
    recordId = rec!.id;
    const dep = await Dependant.findOne({ where: { employeeId, name: '山田 花子' } });
    const depPath = `/client/people/dependant/${dep!.id}/number`;
    res = await admin.post(depPath, { number: ichiro }, depPath);
    expect(res.status).to.equal(409);
    expect(res.text).to.contain('別の方に既に登録されています');
    const list = await admin.get('/client/people');
    expect(list.text).to.contain(`**********${ichiro.slice(-2)}`);
    expect(list.text).not.to.contain(ichiro);
    const rows = await AuditEvent.findAll({ where: { operation: 'vault.register.proxy' }, order: [['seq', 'DESC']], limit: 2 });
    // The registration, then the refusal of the same number for the dependant, logged under her (never the number).
    expect(rows.map((r) => [r.result, r.targetLabel, r.detail])).to.deep.equal([['denied', 'E001 山田 一郎 > 山田 花子', 'number held by another person'], ['allowed', 'E001 山田 一郎', 'proxy']]);
  });

  it('registering from a filtered list comes back to that list, at the person', async () => {
    const dep = (await makeDependant(client.id, employeeId, '戻り 先子')).dependant;
    const list = await admin.get('/client/people?status=missing');
    const href = new RegExp(`href="(/client/people/dependant/${dep.id}/number\\?list=[^"]+)"`).exec(list.text)?.[1];
    expect(href, 'the register link carries the list').to.equal(`/client/people/dependant/${dep.id}/number?list=status%3Dmissing`);
    const form = await admin.get(href!);
    expect(form.text).to.contain('<input type="hidden" name="list" value="status&#x3D;missing">');
    const path = `/client/people/dependant/${dep.id}/number`;
    const res = await admin.post(path, { number: validNumber(55554444333), list: 'status=missing' }, path);
    expect(res.status, res.text).to.equal(303);
    expect(res.headers.location).to.equal(`/client/people?status=missing#person-${dep.id}`);
    // Anything but the list's own fields is dropped on the way back.
    const odd = await admin.post(path, { number: validNumber(55554444333), list: 'status=missing&next=https://evil.example' }, path);
    expect(odd.headers.location).to.equal(`/client/people?status=missing#person-${dep.id}`);
  });

  it('照合 answers matches / does not match without showing the number, and logs both', async () => {
    let res = await admin.post(`/client/numbers/${recordId}/check`, { typed: ichiro }, '/client/people');
    expect(res.status).to.equal(200);
    expect(res.text).to.contain('一致しました。');
    res = await admin.post(`/client/numbers/${recordId}/check`, { typed: validNumber(99998888777) }, '/client/people');
    expect(res.text).to.contain('一致しません。');
    expect(res.text).not.to.contain(validNumber(99998888777));
    const rows = await AuditEvent.findAll({ where: { operation: 'vault.check' }, order: [['seq', 'ASC']] });
    expect(rows.map((r) => r.detail)).to.deep.equal(['match', 'mismatch']);
  });

  it('the client admin confirms a number (管理者確認) only by typing the one registered', async () => {
    for (const typed of [undefined, validNumber(99998888777), '12345']) {
      const refused = await admin.post(`/client/numbers/${recordId}/confirm`, typed === undefined ? {} : { typed }, '/client/people');
      expect(refused.status, String(typed)).to.equal(400);
      expect(refused.text).to.not.contain(validNumber(99998888777));
      if (typed === validNumber(99998888777)) expect(refused.text).to.contain('一致しないため、確認済みにしていません');
      expect((await NumberRecord.findByPk(recordId))!.adminConfirmedAt, String(typed)).to.equal(null);
    }
    expect(await AuditEvent.count({ where: { operation: 'vault.confirm.admin' } })).to.equal(0);
    const listed = await admin.get('/client/people');
    expect(listed.text).to.contain(`formaction="/client/numbers/${recordId}/confirm#person-${employeeId}"`);
    // From a filtered list, the confirmation comes back to that list, at the person's row.
    const filtered = await admin.get('/client/people?code=E001&status=registered');
    expect(filtered.text).to.contain(`formaction="/client/numbers/${recordId}/confirm?code&#x3D;E001&amp;status&#x3D;registered#person-${employeeId}"`);
    const token = await admin.csrf('/client/people');
    const res = await admin.agent.post(`/client/numbers/${recordId}/confirm?code=E001&status=registered`).type('form').send({ _csrf: token, typed: ichiro });
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal(`/client/people?code=E001&status=registered#person-${employeeId}`);
    expect((await NumberRecord.findByPk(recordId))!.status).to.equal('admin_confirmed');
    // A 社労士 reads 本人確認 as the Act's identity check: the list says what its confirmations are not.
    const page = await admin.get('/client/people?status=admin_confirmed');
    expect(page.text).to.contain('管理者が確認済み');
    expect(page.text).to.contain('番号法の本人確認（番号確認と身元確認）に代わるものではありません');
    expect(page.text).not.to.contain('本人確認済み');
  });

  it('a link refused for its address (or a mail server that refuses) comes back on the list, its form open on that row with what was typed', async () => {
    const payee = await Payee.findOne({ where: { clientId: client.id, code: 'P001' } });
    const links = await VaultInvitation.count();
    const rowOf = (html: string) => /<tr id="person-[^"]*"(?:(?!<\/tr>)[\s\S])*<\/tr>/g;
    const openRow = (html: string) => [...html.matchAll(rowOf(html))].map((m) => m[0]).filter((r) => r.includes('<details class="inline-details" open>'));
    const bad = await admin.post(`/client/people/payee/${payee!.id}/link`, { email: 'kobayashi@lawoffice' }, '/client/people');
    expect(bad.status).to.equal(400);
    const [row, ...others] = openRow(bad.text);
    expect(others).to.have.length(0);
    expect(row).to.contain(`/client/people/payee/${payee!.id}/link`).and.contain('value="kobayashi@lawoffice"').and.contain(ja('form.email'));
    h.smtp.refusing = true;
    let refused;
    try {
      refused = await admin.post(`/client/people/payee/${payee!.id}/link`, { email: 'lecturer@example.jp' }, '/client/people');
    } finally { h.smtp.refusing = false; }
    expect(refused.status).to.equal(503);
    expect(openRow(refused.text)[0]).to.contain('value="lecturer@example.jp"').and.contain(ja('error.mailUnavailable'));
    expect(await VaultInvitation.count()).to.equal(links);
  });

  it('a payee registers through a one-time link and code; the link then is dead', async () => {
    const payee = await Payee.findOne({ where: { clientId: client.id, code: 'P001' } });
    const sheet = await admin.post(`/client/people/payee/${payee!.id}/link`, { email: 'lecturer@example.jp' }, '/client/people');
    expect(sheet.status).to.equal(200);
    const url = /data-testid="link-url">([^<]+)</.exec(sheet.text)![1]!;
    const code = /data-testid="link-code">(\d{8})</.exec(sheet.text)![1]!;
    const mail = await h.smtp.lastTo('lecturer@example.jp');
    expect(mail.text).to.contain(url);
    expect(mail.text).not.to.contain(code);
    const path = new URL(url).pathname;
    const visitor = new TestBrowser(h.portal.app);
    const page = await visitor.get(path);
    expect(page.status).to.equal(200);
    // Before the code, the holder of the link sees the name masked only.
    expect(page.text).to.contain('講＊');
    expect(page.text).not.to.contain('HYPERLINK');
    // A payee is told the payee's purpose of use, not an employee's.
    const purposes = (html: string) => /data-testid="link-purposes">([\s\S]*?)<\/ul>/.exec(html)![1]!;
    expect(purposes(page.text)).to.contain('報酬・料金等の支払調書の作成・提出').and.not.contain('源泉徴収票').and.not.contain('扶養控除等申告書');
    // An employee's link (printed sheet) tells the employee's three purposes and not the payee's.
    const employeeSheet = await admin.post(`/client/people/employee/${employeeId}/link`, {}, '/client/people');
    const employeePage = await new TestBrowser(h.portal.app).get(new URL(/data-testid="link-url">([^<]+)</.exec(employeeSheet.text)![1]!).pathname);
    expect(purposes(employeePage.text)).to.contain('源泉徴収票・給与支払報告書の作成と提出').and.contain('雇用保険・健康保険・厚生年金保険の届出')
      .and.contain('扶養控除等申告書・国民年金第3号被保険者の届出').and.not.contain('支払調書');
    expect(employeePage.text).to.contain('山＊ 一＊ 様');
    const number = validNumber(55556666777);
    let res = await visitor.agent.post(path).type('form').send({ _csrf: csrfIn(page.text), code: '00000000', number, confirm: 'on', issueDate: '2020-01-02' });
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('確認コードが正しくありません');
    // The tick and the date are kept; the code and the number are never written back into the page.
    expect(res.text).to.contain('name="confirm" value="on" required checked').and.contain('value="2020-01-02"');
    expect(res.text).not.to.contain('00000000').and.not.to.contain(number);
    expect(res.text).to.contain('あと4回間違えると、このURLは使えなくなります。');
    // The right code with a mistyped number: the number is asked again, the code is not (this session passed it).
    res = await visitor.agent.post(path).type('form').send({ _csrf: csrfIn(res.text), code, number: wrongCheckDigit(number), confirm: 'on' });
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('確認コードは確認済みです').and.not.contain('data-testid="code-input"').and.not.contain('data-testid="tries-left"');
    expect(await NumberRecord.count({ where: { personKind: 'payee', personId: payee!.id } })).to.equal(0);
    // Someone else's number of the company: refused without saying so (the visitor is outside the company), and logged under the payee.
    res = await visitor.agent.post(path).type('form').send({ _csrf: csrfIn(res.text), number: ichiro, confirm: 'on' });
    expect(res.status).to.equal(409);
    expect(res.text).to.contain('この番号は登録できませんでした。').and.not.contain('別の方').and.not.contain(ichiro);
    const held = (await lastAudit('vault.register.link'))!;
    expect([held.result, held.detail, held.channel, held.targetKind]).to.deep.equal(['denied', 'number held by another person', 'link:/r/:token', 'payee']);
    // Another visitor of the same link still needs the code.
    const stranger = new TestBrowser(h.portal.app);
    const strangerPage = await stranger.get(path);
    expect(strangerPage.text).to.contain('data-testid="code-input"');
    const noCode = await stranger.agent.post(path).type('form').send({ _csrf: csrfIn(strangerPage.text), number, confirm: 'on' });
    expect(noCode.status).to.equal(400);
    expect(noCode.text).to.contain('確認コードが正しくありません').and.contain('あと3回');
    expect(await NumberRecord.count({ where: { personKind: 'payee', personId: payee!.id } })).to.equal(0);
    res = await visitor.agent.post(path).type('form').send({ _csrf: csrfIn(res.text), number, confirm: 'on' });
    // Thanks on a page of its own, so a reload sends nothing again.
    expect(res.status, res.text).to.equal(303);
    expect(res.headers.location).to.equal('/r/done');
    expect((await visitor.get('/r/done')).text).to.contain('ご提供ありがとうございました');
    const rec = await NumberRecord.findOne({ where: { personKind: 'payee', personId: payee!.id } });
    expect(rec!.source).to.equal('link');
    // Opened again by its visitor, the link leads back to the thanks (test/integration/link-done-same-visitor); to anyone else it is dead.
    const again = await new TestBrowser(h.portal.app).get(path);
    expect(again.status).to.equal(404);
    expect(again.text).to.contain('このURLは期限が切れたか、既に使われています。');
  });

  it('an employee registers a dependant\'s number with a card image; number and image land together, encrypted', async () => {
    const emp = new TestBrowser(h.portal.app);
    await emp.login(employeeUser);
    const page = await emp.get('/me/numbers');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('利用目的のお知らせ');
    const dep = await Dependant.findOne({ where: { employeeId, name: '山田 花子' } });
    const token = csrfIn(page.text);
    const image = pngBytes(4000);
    const number = validNumber(22223333444);
    // An issue date in the future: refused beside the date, nothing stored (not even the image).
    let res = await emp.agent.post('/me/numbers').set('X-CSRF-Token', token)
      .field('person', dep!.id).field('number', number).field('confirm', 'on').field('issueDate', '2099-12-31').attach('files', image, { filename: 'card.png', contentType: 'image/png' });
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('発行日が未来の日付です。');
    // That person's card comes back with the date and the tick as sent, never the number.
    const card = res.text.slice(res.text.indexOf(`value="${dep!.id}"`));
    expect(card.slice(0, card.indexOf('</form>'))).to.contain('value="2099-12-31"').and.contain('name="confirm" value="on" required checked').and.not.contain(number);
    expect(await StoredFile.count({ where: { category: 'identity' } })).to.equal(0);
    expect(await NumberRecord.count({ where: { personKind: 'dependant', personId: dep!.id } })).to.equal(0);
    // A text file is no photo of a card, though the portal takes text files elsewhere.
    res = await emp.agent.post('/me/numbers').set('X-CSRF-Token', token)
      .field('person', dep!.id).field('number', number).field('confirm', 'on').attach('files', Buffer.from('notes'), { filename: 'notes.txt', contentType: 'text/plain' });
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('写真は画像（JPEG・PNG・HEIC・WebP）またはPDFを選んでください。');
    expect(await StoredFile.count({ where: { category: 'identity' } })).to.equal(0);
    expect(await NumberRecord.count({ where: { personKind: 'dependant', personId: dep!.id } })).to.equal(0);
    // Without the confirmation tick: refused, nothing stored (not even the image).
    res = await emp.agent.post('/me/numbers').set('X-CSRF-Token', token).set('Accept', 'application/json')
      .field('person', dep!.id).field('number', number).attach('files', image, { filename: 'card.png', contentType: 'image/png' });
    expect(res.status).to.equal(400);
    expect(await StoredFile.count({ where: { category: 'identity' } })).to.equal(0);
    res = await emp.agent.post('/me/numbers').set('X-CSRF-Token', token).set('Accept', 'application/json')
      .field('person', dep!.id).field('number', number).field('confirm', 'on').attach('files', image, { filename: 'card.png', contentType: 'image/png' });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.deep.include({ ok: true });
    const rec = await NumberRecord.findOne({ where: { personKind: 'dependant', personId: dep!.id } });
    expect(rec!.status).to.equal('person_confirmed');
    const file = await StoredFile.findByPk(rec!.idFileId!);
    expect(file!.containsMyNumber).to.equal(true);
    expect(file!.employeeId).to.equal(employeeId);
    // The badge leads to the photo's own page (its download logged there).
    const imageBadge = `<code data-testid="masked-number">**********${number.slice(-2)}</code> <a class="badge" href="/files/${file!.id}" data-testid="id-image">画像あり</a>`;
    expect((await admin.get('/client/people')).text).to.contain(imageBadge);
    // A new photo of the same card replaces the old one beside the number; the old one is due for disposal today, and the log says why.
    res = await emp.agent.post('/me/numbers').set('X-CSRF-Token', token).set('Accept', 'application/json')
      .field('person', dep!.id).field('number', number).field('confirm', 'on').attach('files', pngBytes(4100), { filename: 'card2.png', contentType: 'image/png' });
    expect(res.status, res.text).to.equal(200);
    const replaced = (await NumberRecord.findByPk(rec!.id))!;
    expect(replaced.idFileId).to.be.a('string').and.not.equal(file!.id);
    expect((await StoredFile.findByPk(file!.id))!.retentionDate).to.equal(japanDay());
    expect((await StoredFile.findByPk(replaced.idFileId!))!.retentionDate).to.not.equal(japanDay());
    const retired = await AuditEvent.findOne({ where: { operation: 'file.retention', targetId: file!.id } });
    expect(retired!.detail).to.equal(`${addYears(japanDay(file!.createdAt), 7)} → ${japanDay()}: superseded card photo`);
    // Where the client gave standing approval, the nightly job disposes of the old photo (no number points to it), not the new one.
    const rules = await rulesOf(client.id);
    await Firm.findOrCreate({ where: { id: 1 }, defaults: { id: 1, name: '暁社会保険労務士事務所' } }); // the certificate names the firm
    await saveRules(h.booted.services, systemContext('test'), client.id, { ...rules, autoDispose: true });
    try {
      expect(await h.booted.services.disposal.runAutomatic()).to.equal(1);
      expect((await StoredFile.findByPk(file!.id))!.status).to.equal('deleted');
      expect((await StoredFile.findByPk(replaced.idFileId!))!.status).to.equal('ready');
      expect((await NumberRecord.findByPk(rec!.id))!.sealedNumber).to.not.equal(null);
    } finally {
      await saveRules(h.booted.services, systemContext('test'), client.id, rules);
    }
    // The employee deletes the (new) photo: the number stays, the list no longer says it has one.
    expect((await emp.post(`/files/${replaced.idFileId}/delete`, {}, `/files/${replaced.idFileId}`)).status).to.equal(303);
    expect((await NumberRecord.findByPk(rec!.id))!.idFileId).to.equal(null);
    expect((await admin.get('/client/people')).text).to.contain(`**********${number.slice(-2)}`).and.not.contain('data-testid="id-image"');
    // An employee cannot register for another employee's dependant.
    const stranger = await Employee.create({ clientId: client.id, employeeCode: 'E999', name: '他人', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
    const strangerDep = await Dependant.create({ clientId: client.id, employeeId: stranger.id, name: '他人の家族', nameKana: null, relationship: 'child' });
    res = await emp.agent.post('/me/numbers').set('X-CSRF-Token', token).set('Accept', 'application/json')
      .field('person', strangerDep.id).field('number', validNumber(31313131313)).field('confirm', 'on');
    expect(res.status).to.equal(404);
    // Their own number typed as the dependant's (someone else's in the company): refused, and the refusal is
    // in the log, under the person it was typed for (it tells the typist the number is held), never the number.
    res = await emp.agent.post('/me/numbers').set('X-CSRF-Token', token).set('Accept', 'application/json')
      .field('person', 'self').field('number', number).field('confirm', 'on');
    expect(res.status).to.equal(409);
    // The employee is not told that the number is a colleague's.
    expect(JSON.stringify(res.body)).to.contain('この番号は登録できませんでした').and.not.contain('別の方');
    const refused = (await lastAudit('vault.register.self'))!;
    expect([refused.result, refused.detail, refused.actorId, refused.targetKind]).to.deep.equal(['denied', 'number held by another person', employeeUser.user.id, 'employee']);
    expect(JSON.stringify(refused)).to.not.contain(number);
  });

  it('じぶんで登録 takes the card\'s front and back (two photos), as 代理登録 and the one-time link do', async () => {
    const emp = new TestBrowser(h.portal.app);
    await emp.login(employeeUser);
    const dep = (await makeDependant(client.id, employeeId, '両面 写子')).dependant;
    const page = await emp.get('/me/numbers');
    const input = new RegExp(`<form[^>]*#person-${dep.id}"[\\s\\S]*?<input type="file" name="files"([^>]*)>`).exec(page.text)?.[1];
    expect(input, 'the photo field of the new dependant').to.match(/\bmultiple\b/);
    const res = await emp.agent.post('/me/numbers').set('X-CSRF-Token', csrfIn(page.text)).set('Accept', 'application/json')
      .field('person', dep.id).field('number', validNumber(22223333999)).field('confirm', 'on')
      .attach('files', pngBytes(4200), { filename: 'front.png', contentType: 'image/png' })
      .attach('files', pngBytes(4300), { filename: 'back.png', contentType: 'image/png' });
    expect(res.status, res.text).to.equal(200);
    const rec = await NumberRecord.findOne({ where: { personKind: 'dependant', personId: dep.id } });
    const photos = await StoredFile.findAll({ where: { clientId: client.id, displayName: ['front.png', 'back.png'] } });
    expect(photos.map((f) => [f.displayName, f.category]).sort()).to.deep.equal([['back.png', 'identity'], ['front.png', 'identity']]);
    expect(photos.map((f) => f.id)).to.include(rec!.idFileId);
    // The employee sees that the photo arrived, on that person's card of the page.
    const after = await emp.get('/me/numbers');
    expect(after.text.split(`data-testid="person-${dep.id}"`)[1]!.split('</section>')[0]).to.contain('本人確認書類の写真も受け取りました。');
    // The company's file list names whose card it is: the dependant, after the employee who sent it.
    const list = await admin.get('/files?box=employees');
    const row = list.text.split('front.png')[1]!.split('</li>')[0]!;
    expect(row).to.contain('&gt; 両面 写子');
  });

  describe('firm staff', () => {
    let b: TestBrowser;
    const listPath = () => `/firm/clients/${client.id}/numbers`;
    const purpose = { purpose: 'withholding_slip', office: 'tax_office' };

    before(async () => {
      b = new TestBrowser(h.portal.app);
      await b.login(staff);
    });

    it('see the masked list of an assigned client', async () => {
      const res = await b.get(listPath());
      expect(res.status).to.equal(200);
      expect(res.text).to.contain(`**********${ichiro.slice(-2)}`);
      expect(res.text).not.to.contain(ichiro);
      // The card photo sent with a number is a tap away, as on the client's list (the list's intro says so).
      const withPhoto = (await NumberRecord.findAll({ where: { clientId: client.id } })).find((r) => r.idFileId)!;
      expect(res.text).to.contain(`<a class="badge" href="/files/${withPhoto.idFileId}" data-testid="id-image">画像あり</a>`);
    });

    it('cannot reveal without re-authentication (403, logged)', async () => {
      const res = await b.post(`${listPath()}/${recordId}/reveal`, purpose, listPath());
      expect(res.status).to.equal(403);
      const row = await lastAudit('vault.reveal');
      expect(row!.result).to.equal('denied');
      expect(row!.detail).to.equal('no re-authentication');
      // Whose number was asked for, as every refusal says.
      expect([row!.targetKind, row!.targetLabel]).to.deep.equal(['employee', 'E001 山田 一郎']);
      const ids = (await NumberRecord.findAll({ where: { clientId: client.id } })).map((r) => r.id);
      const token = await b.csrf(listPath());
      expect((await b.agent.post(`${listPath()}/print`).type('form').send(`_csrf=${encodeURIComponent(token)}&purpose=withholding_slip&office=tax_office&${ids.map((id) => `ids=${id}`).join('&')}`)).status).to.equal(403);
      expect((await lastAudit('vault.print'))!.detail).to.equal(`no re-authentication (${ids.length} records)`);
    });

    it('cannot reveal without a purpose (400, logged)', async () => {
      await b.reauth(staff);
      const res = await b.post(`${listPath()}/${recordId}/reveal`, { purpose: 'withholding_slip' }, listPath());
      expect(res.status).to.equal(400);
      expect(res.text).to.contain('提出先を選んでください。');
      const row = await lastAudit('vault.reveal');
      expect(row!.result).to.equal('denied');
      expect(row!.detail).to.equal('no purpose');
      // A procedure with an office it is never filed at: the list again, the reason beside the choice, logged as such.
      const misfiled = await b.post(`${listPath()}/${recordId}/reveal`, { purpose: 'withholding_slip', office: 'hello_work' }, listPath());
      expect(misfiled.status).to.equal(400);
      expect(misfiled.text).to.contain('選んだ手続きは、この提出先には出しません。').and.contain('data-testid="vault-table"');
      expect((await lastAudit('vault.reveal'))!.detail).to.equal('office does not fit the purpose');
      // A procedure not on the list (and an office not on it) is no purpose: 400, logged, nothing shown.
      const seq = Number((await AuditEvent.max('seq')) ?? 0);
      const madeUp = await b.post(`${listPath()}/${recordId}/reveal`, { purpose: 'curiosity', office: 'tax_office' }, listPath());
      expect(madeUp.status).to.equal(400);
      expect(madeUp.text).to.not.contain(ichiro.replace(/(\d{4})(?=\d)/g, '$1 '));
      const madeUpRow = (await lastAudit('vault.reveal'))!;
      expect([Number(madeUpRow.seq) > seq, madeUpRow.result, madeUpRow.detail]).to.deep.equal([true, 'denied', 'no purpose']);
      expect((await b.post(`${listPath()}/${recordId}/reveal`, { purpose: 'withholding_slip', office: 'the_moon' }, listPath())).status).to.equal(400);
      expect(await AuditEvent.count({ where: { operation: 'vault.reveal', result: 'allowed', actorId: staff.user.id } })).to.equal(0);
      // Sent from a filtered list, the refusal shows that list again, its filter kept in every form.
      const fromFiltered = await b.agent.post(`${listPath()}/${recordId}/reveal?code=E001`).type('form').send({ _csrf: await b.csrf(listPath()), purpose: 'withholding_slip', office: 'hello_work' });
      expect(fromFiltered.status).to.equal(400);
      expect(fromFiltered.text).to.contain('name="code" value="E001"').and.contain(`/reveal?code&#x3D;E001#purpose-choice"`);
    });

    it('reveal: the number shows with the purpose, leaves after the time, and its audit row is there first', async () => {
      const res = await b.post(`${listPath()}/${recordId}/reveal`, purpose, listPath());
      expect(res.status).to.equal(200);
      expect(res.text).to.contain(ichiro.replace(/(\d{4})(?=\d)/g, '$1 '));
      expect(res.text).to.contain(`<noscript><meta http-equiv="refresh" content="60; url&#x3D;${listPath()}"></noscript>`);
      expect(res.headers['cache-control']).to.contain('no-store');
      const row = await lastAudit('vault.reveal');
      expect(row!.result).to.equal('allowed');
      expect([row!.purpose, row!.office]).to.deep.equal(['withholding_slip', 'tax_office']);
      expect(row!.targetLabel).to.equal('E001 山田 一郎');
      // From a filtered list, the way back (and the page's own leaving) return to that list, at the person's row.
      const filtered = await b.agent.post(`${listPath()}/${recordId}/reveal?code=E001&page=1`).type('form').send({ _csrf: await b.csrf(listPath()), ...purpose });
      const person = (await NumberRecord.findByPk(recordId))!.personId;
      expect(filtered.text).to.contain(`href="${listPath()}?code&#x3D;E001#person-${person}" data-testid="reveal-back"`)
        .and.contain(`content="60; url&#x3D;${listPath()}?code&#x3D;E001"`);
    });

    it('print and CSV export: one audit row per person, formula-safe cells', async () => {
      // Employees and the payee: a dependant's number is not on a 支払調書.
      const records = await NumberRecord.findAll({ where: { clientId: client.id, personKind: ['employee', 'payee'] } });
      const ids = records.map((r) => r.id);
      const before = await AuditEvent.count({ where: { operation: 'vault.export', result: 'allowed' } });
      const token = await b.csrf(listPath());
      const res = await b.agent.post(`${listPath()}/export`).type('form').send(`_csrf=${encodeURIComponent(token)}&purpose=payment_record&office=tax_office&${ids.map((id) => `ids=${id}`).join('&')}`);
      expect(res.status, res.text).to.equal(200);
      expect(res.headers['content-type']).to.contain('text/csv');
      expect(res.headers['content-disposition']).to.equal(`attachment; filename="mynumber-${client.code}-payment_record-${japanDay().replaceAll('-', '')}.csv"`);
      const csv = res.text;
      expect(csv).to.contain(ichiro);
      expect(csv).to.contain(`"'=HYPERLINK(""x"") 講師"`);
      expect(await AuditEvent.count({ where: { operation: 'vault.export', result: 'allowed' } })).to.equal(before + ids.length);
      // A dependant's row names the dependant, not "社員 > 扶養家族": its employee is the row's 社員コード.
      const dependantRecord = (await NumberRecord.findOne({ where: { clientId: client.id, personKind: 'dependant', sealedNumber: { [Op.ne]: null } } }))!;
      const depCsv = await b.agent.post(`${listPath()}/export`).type('form').send(`_csrf=${encodeURIComponent(token)}&purpose=withholding_slip&office=tax_office&ids=${dependantRecord.id}`);
      expect(depCsv.status, depCsv.text).to.equal(200);
      const depRow = depCsv.text.replace(/^\uFEFF/, '').split(/\r?\n/)[1]!;
      const dep = (await Dependant.findByPk(dependantRecord.personId))!;
      expect(depRow.split(',')[1]!.replace(/"/g, '')).to.equal(dep.name);
      expect(depRow).to.not.contain('>');
      const printed = await b.agent.post(`${listPath()}/print`).type('form').send(`_csrf=${encodeURIComponent(token)}&purpose=withholding_slip&office=municipality&ids=${recordId}`);
      expect(printed.status).to.equal(200);
      expect((await lastAudit('vault.print'))!.office).to.equal('municipality');
      // Nobody ticked: the message, not a server error, and nothing logged as opened.
      const rowsBefore = await AuditEvent.count({ where: { result: 'allowed' } });
      for (const action of ['print', 'export']) {
        const none = await b.agent.post(`${listPath()}/${action}`).type('form').send(`_csrf=${encodeURIComponent(token)}&purpose=withholding_slip&office=municipality`);
        expect(none.status, action).to.equal(400);
        expect(none.text, action).to.contain('対象者を選んでください。');
      }
      expect(await AuditEvent.count({ where: { result: 'allowed' } })).to.equal(rowsBefore);
    });

    it('after the re-authentication window the reveal is refused (403, logged)', async () => {
      // Move this session's window into the past, as if REAUTH_MINUTES had gone by.
      const sid = decodeURIComponent(b.cookie()!).replace(/^s:/, '').split('.')[0]!;
      const row = await SessionRow.findByPk(sid);
      const data = JSON.parse(row!.data) as { reauthUntil: number };
      expect(data.reauthUntil).to.be.greaterThan(Date.now());
      await row!.update({ data: JSON.stringify({ ...data, reauthUntil: Date.now() - 1000 }) });
      const res = await b.post(`${listPath()}/${recordId}/reveal`, purpose, listPath());
      expect(res.status).to.equal(403);
      expect((await lastAudit('vault.reveal'))!.result).to.equal('denied');
      // The way on: re-authenticate, then back to the list the form was on.
      expect(res.text.replace(/&#x3D;/g, '=')).to.contain(`href="/reauth?next=${encodeURIComponent(listPath())}"`);
      await b.reauth(staff);
    });

    it('re-authentication in one session does not count in another', async () => {
      const other = new TestBrowser(h.portal.app);
      await other.login(staff);
      const res = await other.post(`${listPath()}/${recordId}/reveal`, purpose, listPath());
      expect(res.status).to.equal(403);
      expect(res.text).to.not.contain(ichiro.replace(/(\d{4})(?=\d)/g, '$1 ')).and.not.contain(ichiro);
      const row = (await lastAudit('vault.reveal'))!;
      expect([row.result, row.actorId, row.detail]).to.deep.equal(['denied', staff.user.id, 'no re-authentication']);
    });

    it('unassigned staff are refused (403, logged); an assignment removed takes effect at once', async () => {
      const u = new TestBrowser(h.portal.app);
      await u.login(unassigned);
      await u.reauth(unassigned);
      // A firm admin sees every client's list but opens numbers only where assigned: the list says so before a
      // button is pressed, and its buttons stay off even re-authenticated; an assigned member's are on.
      const headUser = await makeUser(h, { role: 'firm_admin' });
      const head = new TestBrowser(h.portal.app);
      await head.login(headUser);
      await head.reauth(headUser);
      const seen = await head.get(listPath());
      expect(seen.text).to.contain('data-testid="not-assigned"').and.match(/data-testid="reveal" disabled/);
      const assignedList = await b.get(listPath());
      expect(assignedList.text).to.not.contain('data-testid="not-assigned"').and.not.match(/data-testid="reveal" disabled/);
      let res = await u.post(`${listPath()}/${recordId}/reveal`, purpose, '/account');
      expect(res.status).to.equal(403);
      let row = await lastAudit('vault.reveal');
      expect([row!.result, row!.actorId, row!.detail]).to.deep.equal(['denied', unassigned.user.id, 'not assigned']);
      // Whose number was asked for: an auditor's first question about a refusal.
      expect([row!.targetId, row!.targetLabel]).to.deep.equal([employeeId, 'E001 山田 一郎']);
      const token = await u.csrf('/account');
      res = await u.agent.post(`${listPath()}/print`).type('form').send(`_csrf=${encodeURIComponent(token)}&purpose=withholding_slip&office=tax_office&ids=${recordId}&ids=${recordId}`);
      expect(res.status).to.equal(403);
      row = await lastAudit('vault.print');
      // The same box sent twice is one person: the refusal names them.
      expect([row!.result, row!.detail, row!.targetId]).to.deep.equal(['denied', 'not assigned', employeeId]);
      await h.booted.services.clients.unassignStaff({ actorId: null, actorName: 'test', actorRole: 'system', ip: null, userAgent: null, channel: 'test' }, client, staff.user.id);
      res = await b.post(`${listPath()}/${recordId}/reveal`, purpose, '/account');
      expect(res.status).to.equal(403);
      row = await lastAudit('vault.reveal');
      expect([row!.result, row!.actorId]).to.deep.equal(['denied', staff.user.id]);
      await assign(h, client.id, staff.user.id);
    });
  });
});

describe('Vault screens: corrections found in review', () => {
  let h: Harness;
  let client: Client;
  let admin: TestBrowser;
  let clientAdmin: MadeUser;
  let employeeUser: MadeUser;
  let employeeId: string;

  before(async () => {
    h = await createHarness({ REVEAL_BURST_MAX: '2' });
    client = await makeClient(h, { code: 'R001' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    employeeUser = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
    admin = new TestBrowser(h.portal.app);
    await admin.login(clientAdmin);
    employeeId = (await Employee.create({ clientId: client.id, employeeCode: 'A1', name: '本人 確子', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: employeeUser.user.id })).id;
    await Employee.create({ clientId: client.id, employeeCode: 'A2', name: '二番 目', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
  });
  after(async () => { await h.close(); });

  it('the CSV import names the real line, explains Excel\'s damage, never shows a number, and does not overwrite', async () => {
    const first = validNumber(70000000001);
    const csv = [
      '社員コード,扶養家族名,発行日,マイナンバー',
      `A1,,,${first}`,
      '',
      ',,,',
      'A2,,,1.23457E+11',
      `${validNumber(70000000002)},,,`,
      `A1,,,${validNumber(70000000003)}`,
    ].join('\r\n');
    const token = await admin.csrf('/client/numbers/import');
    const res = await admin.agent.post('/client/numbers/import').set('X-CSRF-Token', token).attach('file', Buffer.from(csv), { filename: 'a.csv', contentType: 'text/csv' });
    expect(res.status).to.equal(200);
    expect(res.text).to.contain('1件を登録しました。登録できなかった行: 3件').and.contain('従業員の一覧へ');
    expect(res.text).to.match(/<td[^>]*>5<\/td><td[^>]*>A2<\/td><td[^>]*><\/td><td[^>]*>[^<]*指数表示/);
    expect(res.text).to.match(/<td[^>]*>6<\/td><td[^>]*><\/td><td[^>]*><\/td><td[^>]*>マイナンバーを入力してください。/);
    expect(res.text).to.match(/<td[^>]*>7<\/td><td[^>]*>A1<\/td><td[^>]*><\/td><td[^>]*>同じ人の行がファイル内に2つあります。/);
    expect(res.text).not.to.contain(validNumber(70000000002));
    const again = await admin.agent.post('/client/numbers/import').set('X-CSRF-Token', token).attach('file', Buffer.from(`社員コード,マイナンバー\r\nA1,${validNumber(70000000004)}\r\n`), { filename: 'b.csv', contentType: 'text/csv' });
    expect(again.text).to.contain('この方の番号は既に登録されています');
    const rec = await NumberRecord.findOne({ where: { personId: employeeId } });
    expect(rec!.lastTwo).to.equal(first.slice(-2));
  });

  it('an import line refused because its number is someone else\'s in the company is logged as a denied registration under the person it was typed for', async () => {
    const token = await admin.csrf('/client/numbers/import');
    const res = await admin.agent.post('/client/numbers/import').set('X-CSRF-Token', token).attach('file', Buffer.from(`社員コード,マイナンバー\r\nA2,${validNumber(70000000001)}\r\n`), { filename: 'dup.csv', contentType: 'text/csv' });
    expect(res.status).to.equal(200);
    expect(res.text).to.contain('別の方に既に登録されています');
    const a2 = await Employee.findOne({ where: { clientId: client.id, employeeCode: 'A2' } });
    const refused = await AuditEvent.findAll({ where: { operation: 'vault.register.import', result: 'denied' } });
    expect(refused.map((r) => [r.targetId, r.targetLabel, r.detail])).to.deep.equal([[a2!.id, 'A2 二番 目', 'number held by another person']]);
    expect((await lastAudit('vault.import'))!.detail).to.equal('0 imported, 1 rejected');
    expect(await NumberRecord.count({ where: { personId: a2!.id } })).to.equal(0);
  });

  it('the import page explains every column, and a file written as it says (any column order, the example date, a name typed with a full-width space) is taken', async () => {
    const page = await admin.get('/client/numbers/import');
    expect(page.status).to.equal(200);
    const guide = page.text.slice(page.text.indexOf('data-testid="import-guide"'), page.text.indexOf('</details>', page.text.indexOf('data-testid="import-guide"')));
    const rows = [...guide.matchAll(/<tr><td[^>]*><code>([^<]+)<\/code><\/td><td[^>]*>([^<]+)<\/td><td[^>]*>([^<]+)<\/td><td[^>]*>(?:<code>([^<]+)<\/code>|([^<]+))<\/td><\/tr>/g)]
      .map((m) => ({ heading: m[1], required: m[2], example: m[4] ?? null }));
    expect(rows.map((r) => [r.heading, r.required])).to.deep.equal([['社員コード', '必須'], ['扶養家族名', '空欄可'], ['発行日', '空欄可'], ['マイナンバー', '必須']]);
    expect(guide).to.contain('列の順番は問いません');
    const runs = twelveDigitRunsOutsideIds(page.text);
    // Where a run was found, so a failure says what on the page it was.
    const around = runs.map((m) => JSON.stringify(page.text.slice(page.text.indexOf(m) - 120, page.text.indexOf(m) + 40)));
    expect(runs, `no 12-digit example anywhere on the page: ${around.join(' | ')}`).to.deep.equal([]);

    const emp = await Employee.create({ clientId: client.id, employeeCode: 'G1', name: '案内 通', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
    const dep = await makeDependant(client.id, emp.id, rows[1]!.example!);
    const [own, theirs] = [validNumber(70000000011), validNumber(70000000012)];
    const csv = ['マイナンバー,発行日,扶養家族名,社員コード', `${own},${rows[2]!.example},,G1`, `${theirs},,${rows[1]!.example!.replace(' ', '\u3000')},G1`].join('\r\n');
    const token = await admin.csrf('/client/numbers/import');
    const res = await admin.agent.post('/client/numbers/import').set('X-CSRF-Token', token).attach('file', Buffer.from(csv), { filename: 'guide.csv', contentType: 'text/csv' });
    expect(res.status).to.equal(200);
    expect(res.text).to.contain('2件を登録しました。登録できなかった行: 0件');
    expect(res.text, 'the guide stays on the page after an import, folded').to.match(/<details class="import-guide" data-testid="import-guide">/);
    expect((await NumberRecord.findOne({ where: { personKind: 'employee', personId: emp.id } }))!.issueDate).to.equal('2016-01-01');
    expect((await NumberRecord.findOne({ where: { personKind: 'dependant', personId: dep.dependant.id } }))!.lastTwo).to.equal(theirs.slice(-2));
  });

  it('本人確認 of a number the admin typed needs the employee to type it again, and a different one is not confirmed', async () => {
    const rec = await NumberRecord.findOne({ where: { personId: employeeId } });
    const emp = new TestBrowser(h.portal.app);
    await emp.login(employeeUser);
    let res = await emp.post(`/me/numbers/${rec!.id}/confirm`, { typed: validNumber(70000000009) }, '/me/numbers');
    expect(res.status).to.equal(400);
    // A slip of the finger is typed again; a wrong number registered is put right by the employee (the card's own section), not by a call to HR.
    expect(res.text).to.contain('登録されている番号と一致しません').and.contain('もう一度入力してください').and.contain('下の「番号を登録し直す」から正しい番号を登録してください')
      .and.not.contain('会社のご担当者にご連絡ください');
    expect(res.text.indexOf('<summary>番号を登録し直す</summary>'), 'the way it names is on the page').to.be.greaterThan(res.text.indexOf('一致しません'));
    expect((await NumberRecord.findByPk(rec!.id))!.personConfirmedAt).to.equal(null);
    res = await emp.post(`/me/numbers/${rec!.id}/confirm`, { typed: validNumber(70000000001) }, '/me/numbers');
    expect(res.status).to.equal(303);
    expect((await NumberRecord.findByPk(rec!.id))!.status).to.equal('person_confirmed');
    const statusOn = async () => /data-testid="number-status">([^<]+)</.exec((await emp.get('/me/numbers')).text)?.[1];
    expect(await statusOn()).to.equal('本人が確認済み');
    // Once the admin confirms too, the employee reads both, as HR's list shows both.
    res = await admin.post(`/client/numbers/${rec!.id}/confirm`, { typed: validNumber(70000000001) }, '/client/people');
    expect(res.status).to.equal(303);
    expect(await statusOn()).to.equal('本人と管理者が確認済み');
  });

  /** A new member of the firm's staff, assigned to the client, signed in and re-authenticated: a burst window of their own. */
  async function reauthenticatedStaff(): Promise<{ staff: MadeUser; b: TestBrowser }> {
    const staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
    const b = new TestBrowser(h.portal.app);
    await b.login(staff);
    await b.reauth(staff);
    return { staff, b };
  }

  it('a user stopped for a burst of reveals cannot carry on by printing or exporting', async () => {
    const { staff, b } = await reauthenticatedStaff();
    const list = `/firm/clients/${client.id}/numbers`;
    const rec = await NumberRecord.findOne({ where: { personId: employeeId } });
    const purpose = { purpose: 'withholding_slip', office: 'tax_office' };
    expect((await b.post(`${list}/${rec!.id}/reveal`, purpose, list)).status).to.equal(200);
    expect((await b.post(`${list}/${rec!.id}/reveal`, purpose, list)).status).to.equal(200);
    expect((await b.post(`${list}/${rec!.id}/reveal`, purpose, list)).status).to.equal(429);
    const printed = await b.post(`${list}/print`, { ...purpose, ids: rec!.id }, list);
    expect(printed.status).to.equal(429);
    expect(printed.text).not.to.contain(validNumber(70000000001).slice(0, 4) + ' ');
    expect(await AuditEvent.count({ where: { operation: 'vault.burst' } })).to.equal(1);
    expect(await AuditEvent.count({ where: { operation: 'vault.print', result: 'allowed' } })).to.equal(0);
  });

  it('each print or export counts once against the limit, however many people it holds: printing and exporting again and again is stopped', async () => {
    const { staff, b } = await reauthenticatedStaff();
    const list = `/firm/clients/${client.id}/numbers`;
    const ids = (await NumberRecord.findAll({ where: { clientId: client.id } })).map((r) => r.id);
    expect(ids.length, 'records to export').to.be.greaterThan(1);
    const token = await b.csrf(list);
    const send = (action: string) => b.agent.post(`${list}/${action}`).type('form').send(`_csrf=${encodeURIComponent(token)}&purpose=withholding_slip&office=tax_office&${ids.map((id) => `ids=${id}`).join('&')}`);
    const exported = await send('export');
    expect(exported.status, exported.text).to.equal(200);
    const rows = await AuditEvent.findAll({ where: { actorId: staff.user.id, operation: 'vault.export', result: 'allowed' }, order: [['seq', 'ASC']] });
    expect(rows.map((r) => r.detail)).to.deep.equal(ids.map((_, i) => `${i + 1} of ${ids.length}`));
    // The export of several people was one request: one more fits (the limit is 2), then none.
    expect((await send('print')).status).to.equal(200);
    const third = await send('export');
    expect(third.status).to.equal(429);
    expect(third.text).to.not.contain(validNumber(70000000001));
    expect((await send('print')).status).to.equal(429);
    expect(await AuditEvent.count({ where: { actorId: staff.user.id, operation: 'vault.burst' } })).to.equal(1);
  });

  it('the firm\'s downloads of files holding My Numbers count against the same limit: a burst cannot go on through the card photos', async () => {
    const sent = await uploadFiles(admin, { direction: 'to_firm', category: 'identity', containsMyNumber: 'on' }, [{ name: 'カード表面_バースト.pdf', data: pdfBytes(1500) }]);
    expect(sent.status, sent.text).to.equal(200);
    const fileId = (await StoredFile.findOne({ where: { displayName: 'カード表面_バースト.pdf' } }))!.id;
    const { staff, b } = await reauthenticatedStaff();
    const purpose = { purpose: 'social_insurance_acquire', office: 'pension_office' };
    const download = () => b.post(`/files/${fileId}/download`, purpose, `/files/${fileId}`);
    expect((await download()).status).to.equal(200);
    expect((await download()).status).to.equal(200);
    const stopped = await download();
    expect(stopped.status).to.equal(429);
    expect(stopped.headers['retry-after']).to.match(/^\d+$/);
    // Two downloads used the window: a reveal is refused too, and neither left an allowed row.
    const list = `/firm/clients/${client.id}/numbers`;
    const rec = await NumberRecord.findOne({ where: { personId: employeeId } });
    expect((await b.post(`${list}/${rec!.id}/reveal`, { purpose: 'withholding_slip', office: 'tax_office' }, list)).status).to.equal(429);
    expect(await AuditEvent.count({ where: { actorId: staff.user.id, operation: 'file.download', result: 'allowed' } })).to.equal(2);
    expect(await AuditEvent.count({ where: { actorId: staff.user.id, operation: 'vault.reveal', result: 'allowed' } })).to.equal(0);
    expect(await AuditEvent.count({ where: { actorId: staff.user.id, operation: 'vault.burst' } })).to.equal(1);
    // The company's own admin opens it as before: only the firm's openings are counted.
    for (let i = 0; i < 3; i++) expect((await downloadFile(admin, fileId)).status).to.equal(200);
  });

  it('a person stopped for a burst cannot carry on through an API token of their own, nor spend a fresh allowance a token', async () => {
    const firmAdmin = await makeUser(h, { role: 'firm_admin' });
    await assign(h, client.id, firmAdmin.user.id);
    const b = new TestBrowser(h.portal.app);
    await b.login(firmAdmin);
    await b.reauth(firmAdmin);
    const rec = await NumberRecord.findOne({ where: { personId: employeeId } });
    const tokenInput = { clientIds: [client.id], purposes: ['withholding_slip' as const], days: 1 };
    const made = (name: string) => h.booted.services.apiTokens.create(systemContext('test'), firmAdmin.user.id, { ...tokenInput, name });
    const apiRead = (secret: string) => request(h.portal.app).get(`/api/v1/clients/${client.id}/numbers/${rec!.id}?purpose=withholding_slip&office=tax_office`).set('Authorization', `Bearer ${secret}`);
    // Two tokens share their maker's window: one read each fills it (the limit is 2).
    const [first, second] = [await made('給与ソフト'), await made('年調ソフト')];
    expect((await apiRead(first.secret)).status).to.equal(200);
    expect((await apiRead(second.secret)).status).to.equal(200);
    expect((await apiRead(first.secret)).status).to.equal(429);
    const list = `/firm/clients/${client.id}/numbers`;
    const web = await b.post(`${list}/${rec!.id}/reveal`, { purpose: 'withholding_slip', office: 'tax_office' }, list);
    expect(web.status, 'the maker on the web shares the window').to.equal(429);
    const third = await made('三本目');
    const late = await apiRead(third.secret);
    expect(late.status, 'a token made after the stop').to.equal(429);
    expect(JSON.stringify(late.body)).to.not.contain(validNumber(70000000001));
    const hands = [firmAdmin.user.id, first.token.id, second.token.id, third.token.id];
    expect(await AuditEvent.count({ where: { actorId: hands, operation: ['vault.api.read', 'vault.reveal'], result: 'allowed' } })).to.equal(2);
    expect(await AuditEvent.count({ where: { actorId: hands, operation: 'vault.burst' } }), 'one alert for the person, whichever hand').to.equal(1);
  });
});
