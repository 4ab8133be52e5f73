import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { systemContext } from '../../server/audit';
import { Dependant, DisposalRequest, Employee, Firm, NumberRecord, StoredFile, type Client } from '../../server/db/models';
import { downloadFile, pdfBytes, pngBytes, uploadFiles } from '../support/files';
import { findPerson } from '../../server/vault/people';
import { makeDependant, numberFrom } from '../support/vault';

/** The home page says what is left to do, for the role that has to do it, and leads there. */
describe('Home: what is left to do', () => {
  let h: Harness;
  let client: Client;
  let admin: MadeUser;
  let employeeUser: MadeUser;
  let recordIds: string[];
  /** The to-do part of the page: from its list to the row of buttons under it. */
  const todo = (html: string) => {
    const at = html.indexOf('data-testid="home-todo"');
    return at < 0 ? '' : html.slice(at, html.indexOf('class="row"', at));
  };

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'HOME', name: '株式会社ほーむ' });
    admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    employeeUser = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
    const sys = systemContext('test');
    recordIds = [];
    // Four employees: two with a number (one confirmed by the person), two without; the first is the signed-in employee, with a dependant.
    for (let i = 0; i < 4; i++) {
      const e = await Employee.create({ clientId: client.id, employeeCode: `H00${i}`, name: `家 ${i}`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: i === 0 ? employeeUser.user.id : null });
      if (i === 0) await makeDependant(client.id, e.id, '家 子');
      if (i < 2) recordIds.push((await h.booted.services.vault.register(sys, await findPerson(client.id, 'employee', e.id), { number: numberFrom(63000000000 + i), issueDate: null }, { source: 'proxy', registeredBy: null })).id);
    }
    await h.booted.services.vault.confirm(sys, client.id, recordIds[1]!, 'person');
  });
  after(async () => { await h.close(); });

  it("the firm: the admin's list is headed as every client, a staff member's as their own", async () => {
    const head = await makeUser(h, { role: 'firm_admin' });
    const staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
    for (const [u, heading] of [[head, '顧問先（すべて）'], [staff, '担当の顧問先']] as const) {
      const b = new TestBrowser(h.portal.app);
      await b.login(u);
      const home = await b.get('/home');
      expect(home.text, u.user.role).to.contain(`<h2>${heading}</h2>`).and.contain('HOME 株式会社ほーむ');
    }
  });

  it('the firm: each client shows what waits (numbers missing or unconfirmed, files nobody at the firm opened), and the admin the disposals to approve', async () => {
    const head = await makeUser(h, { role: 'firm_admin' });
    const staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
    const row = (html: string) => { const at = html.indexOf('HOME 株式会社ほーむ'); return html.slice(at, html.indexOf('</li>', at)); };
    const sb = new TestBrowser(h.portal.app);
    await sb.login(staff);
    // Three people without a number (two employees and the dependant), two numbers not confirmed by the admin.
    let home = row((await sb.get('/home')).text);
    expect(home).to.contain('番号未登録 3人').and.contain(`href="/firm/clients/${client.id}/numbers?status=missing"`).and.contain('未確認の番号 2件').and.not.contain('未読ファイル');
    const hr = new TestBrowser(h.portal.app);
    await hr.login(admin);
    expect((await uploadFiles(hr, { direction: 'to_firm', category: 'procedure' }, [{ name: '届出.pdf', data: pdfBytes(1500) }])).status).to.equal(200);
    home = row((await sb.get('/home')).text);
    expect(home).to.contain('未読ファイル 1件').and.contain(`href="/files?box=received&amp;client=${client.id}"`);
    const file = (await StoredFile.findOne({ where: { displayName: '届出.pdf' } }))!;
    expect((await downloadFile(sb, file.id)).status).to.equal(200);
    expect(row((await sb.get('/home')).text)).to.not.contain('未読ファイル');
    // A card photo sent with じぶんで登録 is not counted: no badge should invite opening a My Number image.
    const emp = new TestBrowser(h.portal.app);
    await emp.login(employeeUser);
    const empToken = csrfIn((await emp.get('/me/numbers')).text);
    const dep = await Dependant.findOne({ where: { name: '家 子' } });
    const sent = await emp.agent.post('/me/numbers').set('X-CSRF-Token', empToken).set('Accept', 'application/json')
      .field('person', dep!.id).field('number', numberFrom(63000000099)).field('confirm', 'on').attach('files', pngBytes(3000), { filename: 'card.png', contentType: 'image/png' });
    expect(sent.status, sent.text).to.equal(200);
    expect(await StoredFile.count({ where: { clientId: client.id, category: 'identity' } })).to.equal(1);
    expect(row((await sb.get('/home')).text)).to.not.contain('未読ファイル');
    await NumberRecord.destroy({ where: { personId: dep!.id } }); // the later tests count the dependant as still missing
    // A disposal request waits for the firm admin: their home says so, staff's does not.
    const token = await hr.csrf('/disposal');
    expect((await hr.agent.post('/disposal/requests').type('form').send(`_csrf=${encodeURIComponent(token)}&reason=${encodeURIComponent('整理')}&items=number:${recordIds[0]}`)).status).to.equal(303);
    const hb = new TestBrowser(h.portal.app);
    await hb.login(head);
    expect((await hb.get('/home')).text).to.contain('承認を待っている廃棄の申請があります（1件）').and.contain('href="/disposal/approvals"');
    expect((await sb.get('/home')).text).to.not.contain('data-testid="home-approvals"');
    await DisposalRequest.update({ status: 'rejected', rejectedAt: new Date(), rejectedByName: 'test', rejectReason: 'test' }, { where: { status: 'requested' } });
  });

  it('the client admin: people without a number, numbers nobody confirmed, numbers waiting for the admin — each a link to the list so filtered', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const home = await b.get('/home');
    const list = todo(home.text);
    expect(list).to.contain('<a href="/client/people?status=missing#remind">マイナンバーが未登録の方: 3人</a>');
    expect(list).to.contain('<a href="/client/people?status=registered">本人も管理者もまだ確認していない番号: 1件</a>');
    expect(list).to.contain('<a href="/client/people?status=person_confirmed">本人が確認済みで、管理者の確認を待っている番号: 1件</a>');
    // The links lead to exactly those people.
    const missing = await b.get('/client/people?status=missing');
    expect(missing.text).to.contain('3人');
    // Once both are confirmed by the admin, one line is left.
    for (const id of recordIds) await h.booted.services.vault.confirm(systemContext('test'), client.id, id, 'admin');
    const after = todo((await b.get('/home')).text);
    expect(after).to.contain('マイナンバーが未登録の方: 3人').and.not.contain('確認');
    expect(home.text).to.contain('href="/reauth"');
  });

  it('a number disposed of (a leaver\'s) is no longer counted or listed as missing: the list says 廃棄済み and filters it apart; the firm\'s overview agrees', async () => {
    const svc = h.booted.services;
    await Firm.findOrCreate({ where: { id: 1 }, defaults: { id: 1, name: '暁事務所' } });
    const firmAdmin = await makeUser(h, { role: 'firm_admin' });
    await assign(h, client.id, firmAdmin.user.id);
    const leaver = await Employee.create({ clientId: client.id, employeeCode: 'H009', name: '退職 済', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: '2015-03-31', userId: null });
    const rec = await svc.vault.register(systemContext('test'), await findPerson(client.id, 'employee', leaver.id), { number: numberFrom(63000000009), issueDate: null }, { source: 'proxy', registeredBy: null });
    const actor = (u: MadeUser) => ({ actorId: u.user.id, actorName: u.user.name, actorRole: u.user.role, ip: null, userAgent: null, channel: 'test' });
    const before = await svc.vault.countByStatus(client.id);
    const req = await svc.disposal.request(actor(admin), admin.user, client.id, [{ kind: 'number', id: rec.id }], '保存期間満了');
    await svc.disposal.approve(actor(firmAdmin), firmAdmin.user, req.id);
    expect(await svc.disposal.execute(req.id)).to.not.equal(null);
    const after = await svc.vault.countByStatus(client.id);
    expect([after.missing, after.disposed], 'missing as before the leaver came, one disposed').to.deep.equal([before.missing, 1]);
    expect((await svc.vault.countByStatusOfClients([client.id])).get(client.id)).to.deep.equal(after);

    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    expect(todo((await b.get('/home')).text)).to.contain(`マイナンバーが未登録の方: ${before.missing}人`);
    const rowOf = (html: string) => { const at = html.indexOf(`id="person-${leaver.id}"`); return at < 0 ? '' : html.slice(at, html.indexOf('</tr>', at)); };
    expect(rowOf((await b.get('/client/people?status=missing')).text), 'not among the missing').to.equal('');
    const disposed = await b.get('/client/people?status=disposed');
    expect(rowOf(disposed.text)).to.contain('data-testid="number-disposed">廃棄済み<');
    expect(disposed.text).to.match(/<option value="disposed" selected>廃棄済み<\/option>/);

    // An employee whose dependant's number was disposed of (early, with a reason) is not asked for it on their home.
    const own = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
    const self = await Employee.create({ clientId: client.id, employeeCode: 'H010', name: '在籍 中', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: own.user.id });
    const child = (await makeDependant(client.id, self.id, '在籍 子')).dependant;
    await svc.vault.register(systemContext('test'), await findPerson(client.id, 'employee', self.id), { number: numberFrom(63000000010), issueDate: null }, { source: 'proxy', registeredBy: null });
    const childRec = await svc.vault.register(systemContext('test'), await findPerson(client.id, 'dependant', child.id), { number: numberFrom(63000000011), issueDate: null }, { source: 'proxy', registeredBy: null });
    const early = await svc.disposal.request(actor(admin), admin.user, client.id, [{ kind: 'number', id: childRec.id }], '扶養から外れたため');
    await svc.disposal.approve(actor(firmAdmin), firmAdmin.user, early.id);
    expect(await svc.disposal.execute(early.id)).to.not.equal(null);
    const e = new TestBrowser(h.portal.app);
    await e.login(own);
    expect(todo((await e.get('/home')).text)).to.not.contain('まだ登録されていない');
  });

  it('the employee: whose numbers are missing or wait for them, and the way to register; no re-authentication link', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(employeeUser);
    const home = await b.get('/home');
    const list = todo(home.text);
    // Their own number was registered by the company and is not confirmed by them; their dependant has none.
    expect(list).to.contain('マイナンバーがまだ登録されていない方（ご本人・扶養家族）: 1人').and.contain('あなたの確認を待っているもの: 1件');
    // Each line leads where it is done, as the admin's do.
    expect(list.match(/<li><a href="\/me\/numbers">/g) ?? []).to.have.length(2);
    const main = home.text.slice(home.text.indexOf('<main'));
    expect(main).to.contain('class="button primary" href="/me/numbers"');
    expect(home.text).not.to.contain('href="/reauth"');
  });

  it('an employee whose account is tied to no employee record is told whom to ask', async () => {
    const loose = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(loose);
    const home = await b.get('/home');
    expect(home.text).to.contain('社員情報とアカウントがまだ結び付いていません。');
    expect(home.text.slice(home.text.indexOf('<main'))).not.to.contain('href="/me/numbers"');
  });
});
