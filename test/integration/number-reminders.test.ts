import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeClient, makeUser, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { AuditEvent, Employee, NumberRecord, OutboxMail, User, type Client } from '../../server/db/models';
import { systemContext } from '../../server/audit';
import { findPerson } from '../../server/vault/people';
import { makeDependant, numberFrom } from '../support/vault';

describe('登録のお願い: the client admin asks, by mail, employees whose numbers are missing', () => {
  let h: Harness;
  let client: Client;
  let hr: MadeUser;
  const users: Record<string, MadeUser> = {};

  const employee = async (code: string, o: { account?: 'active' | 'invited' | 'disabled'; own?: boolean | 'disposed'; dependant?: 'missing' | 'held'; left?: boolean } = {}) => {
    let userId: string | null = null;
    if (o.account) {
      const u = await makeUser(h, { role: 'employee', clientId: client.id, totp: false, email: `${code.toLowerCase()}@remind.example` });
      if (o.account === 'invited') await User.update({ passwordHash: null }, { where: { id: u.user.id } });
      if (o.account === 'disabled') await User.update({ disabledAt: new Date() }, { where: { id: u.user.id } });
      users[code] = u;
      userId = u.user.id;
    }
    const e = await Employee.create({ clientId: client.id, employeeCode: code, name: `社員 ${code}`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: o.left ? '2025-03-31' : null, userId });
    const seed = Number(code.replace(/\D/g, '')) * 1_000_003;
    if (o.own) {
      const rec = await h.booted.services.vault.register(systemContext('test'), await findPerson(client.id, 'employee', e.id), { number: numberFrom(seed), issueDate: null }, { source: 'proxy', registeredBy: null });
      // As a disposal leaves it: the record stays, its number erased.
      if (o.own === 'disposed') await NumberRecord.update({ sealedNumber: null, blindIndex: null, lastTwo: null }, { where: { id: rec.id } });
    }
    if (o.dependant) {
      const d = await makeDependant(client.id, e.id, `家族 ${code}`);
      if (o.dependant === 'held') await h.booted.services.vault.register(systemContext('test'), d.person, { number: numberFrom(seed + 7), issueDate: null }, { source: 'proxy', registeredBy: null });
    }
  };

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'RM01', name: '株式会社おねがい' });
    hr = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    await employee('R1', { account: 'active' }); // nothing registered
    await employee('R2', { account: 'active', own: true, dependant: 'missing' }); // a dependant's is missing
    await employee('R3', { account: 'active', own: true, dependant: 'held' }); // all done
    await employee('R4', { own: false }); // no account: the one-time link is the way
    await employee('R5', { account: 'invited' }); // invitation not yet taken up
    await employee('R6', { account: 'disabled' });
    await employee('R7', { account: 'active', left: true }); // left: their number is no longer to be collected
    await employee('R8', { account: 'active', own: 'disposed' }); // disposed of: not asked again
  });
  after(async () => { await h.close(); });

  it('mails only active accounts with a missing number (own or a dependant\'s), names nobody, logs the count, once a day', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(hr);
    const list = await b.get('/client/people');
    expect(list.text).to.contain('data-testid="remind"').and.contain('data-confirm=');
    const res = await b.post('/client/people/remind', {}, '/client/people');
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/client/people?status=missing#remind');
    expect((await b.get(res.headers.location as string)).text).to.contain('2人に登録をお願いするメールを送りました。');

    for (const code of ['R1', 'R2']) {
      const mail = await h.smtp.lastTo(users[code]!.email);
      expect(mail.subject).to.contain('マイナンバーのご登録のお願い').and.contain('株式会社おねがい');
      expect(mail.text).to.contain('http://portal.test/me/numbers');
      for (const secret of ['社員 R', '家族 R', 'R1', 'R2']) expect(`${mail.subject}${mail.text}`).to.not.contain(secret);
    }
    const queued = (await OutboxMail.findAll()).map((m) => m.toAddress).sort();
    expect(queued).to.deep.equal([users.R1!.email, users.R2!.email].sort());
    const row = await AuditEvent.findOne({ where: { operation: 'vault.remind', clientId: client.id } });
    expect([row!.actorId, row!.detail]).to.deep.equal([hr.user.id, '2 employees']);

    // A second click the same day: nobody gets a second mail, and the page says why.
    const sent = h.smtp.messages.length;
    const again = await b.post('/client/people/remind', {}, '/client/people');
    expect(again.status).to.equal(303);
    expect((await b.get(again.headers.location as string)).text).to.contain('今日すでにお願いを送った方ばかりです（2人）');
    expect(await OutboxMail.count()).to.equal(2);
    expect(await AuditEvent.count({ where: { operation: 'vault.remind', clientId: client.id } })).to.equal(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.smtp.messages.length).to.equal(sent);
  });

  it('says so when there is nobody to ask, and sends nothing', async () => {
    const other = await makeClient(h, { code: 'RM02', name: '株式会社すみ' });
    const admin = await makeUser(h, { role: 'client_admin', clientId: other.id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const before = await OutboxMail.count();
    const res = await b.post('/client/people/remind', {}, '/client/people');
    expect((await b.get(res.headers.location as string)).text).to.contain('お願いを送る方はいません');
    expect(await OutboxMail.count()).to.equal(before);
    expect(await AuditEvent.count({ where: { operation: 'vault.remind', clientId: other.id } })).to.equal(0);
  });

  it('nobody to ask while people without an account still miss their number: the answer says how to collect theirs', async () => {
    // From a product walk: 12 people listed as 未登録, and the answer to the button above them was only
    // "nobody to ask, everyone with an account has registered", with no word of what to do for the 12.
    const c = await makeClient(h, { code: 'RM04', name: '株式会社てがみなし' });
    const admin = await makeUser(h, { role: 'client_admin', clientId: c.id, totp: false });
    await Employee.create({ clientId: c.id, employeeCode: 'N1', name: '無アカ 一', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const res = await b.post('/client/people/remind', {}, '/client/people');
    const page = (await b.get(res.headers.location as string)).text;
    expect(page).to.contain('お願いを送る方はいません').and.contain('「登録」から代わりに登録するか、「ワンタイムURL」でご本人に入力してもらえます');
    await b.post('/lang', { lang: 'en', back: '/home' }, '/home');
    await b.post('/client/people/remind', {}, '/client/people');
    expect((await b.get(res.headers.location as string)).text).to.contain('register the number for them (Register, in the list below), send them a one-time link');
  });

  it('employees invited but without an account yet are not asked, and the page says so instead of "nobody"', async () => {
    const c = await makeClient(h, { code: 'RM03', name: '株式会社しょうたい' });
    const admin = await makeUser(h, { role: 'client_admin', clientId: c.id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    expect((await b.post('/client/users', { name: '新人 一', email: 'shinjin@example.jp', role: 'employee', lang: 'ja' }, '/client/users')).status).to.equal(303);
    const invited = await User.findOne({ where: { email: 'shinjin@example.jp' } });
    expect(invited!.passwordHash).to.equal(null);
    await Employee.create({ clientId: c.id, employeeCode: 'S1', name: '新人 一', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: invited!.id });
    const before = await OutboxMail.count();
    const res = await b.post('/client/people/remind', {}, '/client/people');
    const page = (await b.get(res.headers.location as string)).text;
    expect(page).to.contain('番号が未登録の方のうち1人は招待中で、まだアカウントを作っていません').and.not.contain('お願いを送る方はいません');
    expect(await OutboxMail.count()).to.equal(before);
  });

  it('is the client admin\'s: an employee is refused', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(users.R1!);
    expect((await b.post('/client/people/remind', {}, '/me/numbers')).status).to.equal(403);
  });
});
