import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn, totpSecretIn } from '../support/browser';
import { linkIn } from '../support/smtp';
import { currentTotp } from '../../server/auth/totp';
import { Client, ClientKey, Department, Employee, Establishment, OneTimeToken, StaffAssignment, User, AuditEvent } from '../../server/db/models';

/** Follows an invitation mail: choose a password (the link then dies) and sign in. */
async function acceptInvite(h: Harness, email: string, password: string): Promise<{ b: TestBrowser }> {
  const b = new TestBrowser(h.portal.app);
  const mail = await h.smtp.lastTo(email);
  expect(mail.subject).to.match(/^【暁ポータル】.+からのご招待$/);
  const link = linkIn(mail);
  expect(link).to.match(/^\/password\/set\/[A-Za-z0-9_-]{40,}$/);
  const form = await b.get(link);
  expect(form.status).to.equal(200);
  const set = await b.agent.post(link).type('form').send({ _csrf: csrfIn(form.text), password, confirm: password });
  expect(set.status).to.equal(303);
  // The link works once.
  expect((await new TestBrowser(h.portal.app).get(link)).status).to.equal(404);
  const login = await b.post('/login', { email, password });
  expect(login.status).to.equal(303);
  expect(login.headers.location).to.equal('/home');
  return { b };
}

async function enrolTotp(b: TestBrowser): Promise<string> {
  const page = await b.get('/account/totp');
  expect(page.status).to.equal(200);
  const secret = totpSecretIn(page.text);
  const done = await b.agent.post('/account/totp').type('form').send({ _csrf: csrfIn(page.text), code: await currentTotp(secret) });
  expect(done.status).to.equal(200);
  return secret;
}

describe('Clients, staff and assignments (the firm admin\'s screens)', () => {
  let h: Harness;
  let admin: MadeUser;
  let adminBrowser: TestBrowser;
  before(async () => {
    h = await createHarness();
    admin = await makeUser(h, { role: 'firm_admin' });
    adminBrowser = new TestBrowser(h.portal.app);
    await adminBrowser.login(admin);
  });
  after(async () => { await h.close(); });

  it('creates a client with its own wrapped keys, establishments and departments', async () => {
    const b = adminBrowser;
    const created = await b.post('/firm/clients', { code: 'K001', name: '株式会社かもめ', nameKana: 'カブシキガイシャカモメ' }, '/firm/clients');
    expect(created.status).to.equal(303);
    const client = (await Client.findOne({ where: { code: 'K001' } }))!;
    expect(created.headers.location).to.equal(`/firm/clients/${client.id}`);
    const keys = await ClientKey.findAll({ where: { clientId: client.id } });
    expect(keys.map((k) => k.purpose).sort()).to.deep.equal(['files', 'index', 'numbers']);
    for (const k of keys) expect(k.version).to.equal(1);
    const key = await h.booted.services.clientKeys.current(client.id, 'numbers');
    expect(key.key).to.have.length(32);

    expect((await b.post(`/firm/clients/${client.id}/establishments`, { name: '本社', address: '東京都千代田区' }, `/firm/clients/${client.id}`)).status).to.equal(303);
    expect((await b.post(`/firm/clients/${client.id}/departments`, { code: 'D10', name: '総務部' }, `/firm/clients/${client.id}`)).status).to.equal(303);
    const dup = await b.post(`/firm/clients/${client.id}/departments`, { code: 'D10', name: '別の部' }, `/firm/clients/${client.id}`);
    expect(dup.status).to.equal(409);
    expect(dup.text).to.contain('この部門コードはすでに使われています');
    expect(await Department.count({ where: { clientId: client.id } })).to.equal(1);
    expect(await Establishment.count({ where: { clientId: client.id } })).to.equal(1);

    const page = await b.get(`/firm/clients/${client.id}`);
    expect(page.text).to.contain('本社').and.contain('総務部').and.contain('株式会社かもめ');
  });

  // From a product walk: a client with three employees and one who left in 2024 read 「従業員 4名」.
  it("the client's page counts its employees apart from those who have left (one leaving later still counts)", async () => {
    const client = await makeClient(h, { code: 'CNT01', name: '株式会社人数' });
    const add = (code: string, leaveDate: string | null) => Employee.create({ clientId: client.id, employeeCode: code, name: `社員 ${code}`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate, userId: null });
    await add('A1', null);
    await add('A2', '2099-03-31');
    await add('A3', '2024-03-31');
    expect((await adminBrowser.get(`/firm/clients/${client.id}`)).text, 'the leaver counted with those employed').to.not.contain('従業員 3名');
    const counted = async () => /data-testid="employee-count">([^<]*)</.exec((await adminBrowser.get(`/firm/clients/${client.id}`)).text)?.[1];
    expect(await counted()).to.equal('在籍の従業員 2名 （ほかに退職者 1名）');
    await Employee.destroy({ where: { clientId: client.id, employeeCode: 'A3' } });
    expect(await counted()).to.equal('在籍の従業員 2名');
  });

  it('refuses a bad or duplicate client code with a message on the field, and stores nothing', async () => {
    const before = await Client.count();
    const bad = await adminBrowser.post('/firm/clients', { code: 'コード', name: 'x' }, '/firm/clients');
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain('顧問先コードは半角英数字');
    for (const code of ['K001', 'k001']) {
      const dup = await adminBrowser.post('/firm/clients', { code, name: '別会社' }, '/firm/clients');
      expect(dup.status, code).to.equal(409);
      expect(dup.text).to.contain('この顧問先コードはすでに使われています');
    }
    expect(await Client.count()).to.equal(before);
  });

  it('invites a staff member who sets a password, must enrol TOTP, is assigned, and sees only assigned clients', async () => {
    const invited = await adminBrowser.post('/firm/staff', { name: '佐藤 職員', email: 'sato@example.jp', role: 'firm_staff' }, '/firm/staff');
    expect(invited.status).to.equal(303);
    // (no firm name set up in this test: the mail names the portal instead)
    expect((await h.smtp.lastTo('sato@example.jp')).subject).to.equal('【暁ポータル】暁ポータルからのご招待');
    const { b } = await acceptInvite(h, 'sato@example.jp', 'staff password 123');
    // Firm roles must enrol TOTP before anything else.
    const home = await b.get('/home');
    expect(home.status).to.equal(303);
    expect(home.headers.location).to.equal('/account/totp');
    const secret = await enrolTotp(b);
    expect((await b.get('/home')).status).to.equal(200);

    const kamome = (await Client.findOne({ where: { code: 'K001' } }))!;
    const other = await makeClient(h, { code: 'K002', name: '別の会社' });
    expect((await b.get(`/firm/clients/${kamome.id}`)).status).to.equal(404);
    const staff = (await User.findOne({ where: { email: 'sato@example.jp' } }))!;
    expect((await adminBrowser.post(`/firm/clients/${kamome.id}/assignments`, { userId: staff.id }, `/firm/clients/${kamome.id}`)).status).to.equal(303);
    expect(await StaffAssignment.count({ where: { clientId: kamome.id, userId: staff.id } })).to.equal(1);
    // The staff page says whom each member looks after: the assigned client (a link to its page), not the other.
    const staffPage = await adminBrowser.get('/firm/staff');
    const row = staffPage.text.split('<tr>').find((r) => r.includes('sato@example.jp'))!;
    expect(row).to.contain(`<a href="/firm/clients/${kamome.id}">K001 株式会社かもめ</a>`).and.not.contain('別の会社');
    const adminRow = staffPage.text.split('<tr>').find((r) => r.includes(admin.email))!;
    expect(adminRow).to.match(/data-testid="staff-clients"><span class="hint">なし<\/span>/);

    const list = await b.get('/firm/clients');
    expect(list.text).to.contain('株式会社かもめ').and.not.contain('別の会社');
    expect((await b.get(`/firm/clients/${kamome.id}`)).status).to.equal(200);
    expect((await b.get(`/firm/clients/${other.id}`)).status).to.equal(404);
    // Staff read, they do not manage.
    expect((await b.post(`/firm/clients/${kamome.id}/departments`, { code: 'X', name: 'x' }, '/home')).status).to.equal(403);

    // A fresh sign-in by the new staff member with password and TOTP works.
    const again = new TestBrowser(h.portal.app);
    await again.login({ user: staff, email: 'sato@example.jp', password: 'staff password 123', totpSecret: secret });
    expect((await again.get('/home')).text).to.contain('株式会社かもめ');
  });

  it('invites a client admin who manages the users of their own company only', async () => {
    const kamome = (await Client.findOne({ where: { code: 'K001' } }))!;
    expect((await adminBrowser.post(`/firm/clients/${kamome.id}/users`, { name: '山田 人事', email: 'yamada@kamome.example.jp', role: 'client_admin' }, `/firm/clients/${kamome.id}`)).status).to.equal(303);
    // Invited by the firm's admin: in the firm's name (the portal's here, no firm set up), for the company.
    const fromFirm = await h.smtp.lastTo('yamada@kamome.example.jp');
    expect(fromFirm.subject).to.equal('【暁ポータル】暁ポータルからのご招待');
    expect(fromFirm.text).to.contain(`暁ポータルの${admin.user.name}様が、暁ポータルにあなたのアカウントを作成しました。（株式会社かもめのご担当者としてのアカウントです。）`);
    const { b } = await acceptInvite(h, 'yamada@kamome.example.jp', 'client admin password');
    expect((await b.get('/home')).status).to.equal(200);
    const invited = await b.post('/client/users', { name: '鈴木 一郎', email: 'suzuki@kamome.example.jp', role: 'employee' }, '/client/users');
    expect(invited.status).to.equal(303);
    const suzuki = (await User.findOne({ where: { email: 'suzuki@kamome.example.jp' } }))!;
    expect(suzuki.clientId).to.equal(kamome.id);
    expect(suzuki.role).to.equal('employee');
    // The mail says who invites them and for which company (a mail from an unknown site would look like phishing).
    const mail = await h.smtp.lastTo('suzuki@kamome.example.jp');
    expect(mail.subject).to.equal('【暁ポータル】株式会社かもめからのご招待');
    expect(mail.text).to.contain('/password/set/').and.contain('株式会社かもめの山田 人事様が、暁ポータルにあなたのアカウントを作成しました。\n');
    const page = await b.get('/client/users');
    expect(page.text).to.contain('鈴木 一郎');
    // An invitation can be written in English: the person's screens and mails follow it until they choose.
    expect(page.text).to.match(/<select name="lang"><option value="ja" selected>日本語<\/option><option value="en">English<\/option><\/select>/);
    expect((await b.post('/client/users', { name: 'Alex Brown', email: 'alex@kamome.example.jp', role: 'employee', lang: 'en' }, '/client/users')).status).to.equal(303);
    expect((await User.findOne({ where: { email: 'alex@kamome.example.jp' } }))!.lang).to.equal('en');
    const english = await h.smtp.lastTo('alex@kamome.example.jp');
    expect(english.subject).to.equal('[Akatsuki Portal] Invitation from 株式会社かもめ');
    expect(suzuki.lang, 'no language sent: the default, as before').to.equal(null);
    expect((await b.get('/firm/clients')).status).to.equal(403);
  });

  it('a client can require TOTP for its admins; they must then enrol before going on', async () => {
    const client = await makeClient(h, { code: 'K003', name: '厳格株式会社', requireAdminTotp: true });
    const ca = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(ca);
    const home = await b.get('/home');
    expect(home.status).to.equal(303);
    expect(home.headers.location).to.equal('/account/totp');
    await enrolTotp(b);
    expect((await b.get('/home')).status).to.equal(200);
    expect(await AuditEvent.count({ where: { operation: 'auth.totp.enrol', actorId: ca.user.id } })).to.equal(1);
  });

  it('an assignment removed takes effect at once', async () => {
    const client = await makeClient(h, { code: 'K004' });
    const staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
    const b = new TestBrowser(h.portal.app);
    await b.login(staff);
    expect((await b.get(`/firm/clients/${client.id}`)).status).to.equal(200);
    // Removing asks first (the name in the question); adding starts from no one, and adding no one says so.
    const clientPage = await adminBrowser.get(`/firm/clients/${client.id}`);
    expect(clientPage.text).to.contain(`data-confirm="${staff.user.name} さんをこの顧問先の担当から外します。`);
    expect(clientPage.text).to.match(/<select name="userId"[^>]*required>\s*<option value="">職員を選んでください<\/option>/);
    const nobody = await adminBrowser.post(`/firm/clients/${client.id}/assignments`, { userId: '' }, `/firm/clients/${client.id}`);
    expect(nobody.status).to.equal(400);
    expect(nobody.text).to.contain('担当にする職員を選んでください。').and.not.contain('担当にできるのは有効な事務所職員だけです。');
    expect((await adminBrowser.get('/firm/staff')).text).to.contain(`data-confirm="${staff.user.name} さんの利用を停止します。`);
    const removed = await adminBrowser.post(`/firm/clients/${client.id}/assignments/${staff.user.id}/delete`, {}, `/firm/clients/${client.id}`);
    expect(removed.status).to.equal(303);
    expect((await b.get(`/firm/clients/${client.id}`)).status).to.equal(404);
  });
});

describe('Password reset by mailed single-use link', () => {
  let h: Harness;
  before(async () => { h = await createHarness(); });
  after(async () => { await h.close(); });

  it('mails a link valid for 30 minutes, stores only its hash, works once, and ends other sessions', async () => {
    const u = await makeUser(h, { role: 'client_admin', clientId: (await makeClient(h)).id, totp: false });
    const other = new TestBrowser(h.portal.app);
    await other.login(u);
    expect((await other.get('/home')).status).to.equal(200);

    const b = new TestBrowser(h.portal.app);
    const sent = await b.post('/password/forgot', { email: u.email.toUpperCase() });
    expect(sent.status).to.equal(200);
    expect(sent.text).to.contain('再設定用のリンクをお送りしました');
    const mail = await h.smtp.lastTo(u.email);
    expect(mail.subject).to.contain('パスワード再設定');
    expect(mail.text).to.contain('30分間');
    const link = linkIn(mail);
    const raw = link.split('/').pop()!;
    const tokens = await OneTimeToken.findAll({ where: { userId: u.user.id, purpose: 'password_reset' } });
    expect(tokens).to.have.length(1);
    expect(tokens[0]!.tokenHash).to.not.contain(raw);
    const ttl = tokens[0]!.expiresAt.getTime() - Date.now();
    expect(ttl).to.be.within(29 * 60_000, 30 * 60_000);

    const form = await b.get(link);
    const mismatch = await b.agent.post(link).type('form').send({ _csrf: csrfIn(form.text), password: 'new password one', confirm: 'different' });
    expect(mismatch.status).to.equal(400);
    expect(mismatch.text).to.contain('確認用のパスワードが一致しません');
    const ok = await b.agent.post(link).type('form').send({ _csrf: csrfIn(mismatch.text), password: 'new password one', confirm: 'new password one' });
    expect(ok.status).to.equal(303);
    expect((await b.get(link)).status).to.equal(404);
    expect((await other.get('/home')).status).to.equal(303);
    await b.login({ ...u, password: 'new password one' });
    expect((await b.get('/home')).status).to.equal(200);
  });

  it('answers the same for an unknown address and sends nothing', async () => {
    const before = h.smtp.messages.length;
    const b = new TestBrowser(h.portal.app);
    const res = await b.post('/password/forgot', { email: 'nobody@example.jp' });
    expect(res.status).to.equal(200);
    expect(res.text).to.contain('再設定用のリンクをお送りしました');
    await new Promise((r) => setTimeout(r, 100));
    expect(h.smtp.messages.length).to.equal(before);
  });

  it('an expired link no longer works', async () => {
    const u = await makeUser(h, { role: 'employee', clientId: (await makeClient(h)).id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.post('/password/forgot', { email: u.email });
    const link = linkIn(await h.smtp.lastTo(u.email));
    await OneTimeToken.update({ expiresAt: new Date(Date.now() - 1000) }, { where: { userId: u.user.id } });
    expect((await b.get(link)).status).to.equal(404);
  });
});
