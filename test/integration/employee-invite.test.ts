import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeClient, makeUser, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { systemContext } from '../../server/audit';
import { AuditEvent, Employee, User, type Client } from '../../server/db/models';

/**
 * 招待して結び付け on the employee's page: the employee's own account, invited by mail and tied to
 * them in one step (before, the admin invited on 利用者管理, then came back to link it, and an
 * employee who signed in meanwhile found a dead end).
 */
describe('The employee page: invite the employee and link the account in one step', () => {
  let h: Harness;
  let client: Client;
  let adminUser: MadeUser;
  let admin: TestBrowser;
  let hanako: Employee;
  const pageOf = (e: Employee) => `/client/people/employees/${e.id}`;

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'EI01', name: '株式会社招待' });
    adminUser = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    hanako = await h.booted.services.people.addEmployee(systemContext('test'), client.id, { employeeCode: 'E200', name: '招待 花子', nameKana: null, departmentId: null, establishmentId: null, hireDate: '2020-04-01', leaveDate: null });
    admin = new TestBrowser(h.portal.app);
    await admin.login(adminUser);
  });
  after(async () => { await h.close(); });

  it('the invitation goes to the address, the account is tied to the employee, and it is logged; the page then shows the link, not the form', async () => {
    const page = await admin.get(pageOf(hanako));
    expect(page.text).to.contain('data-testid="employee-invite"');
    const res = await admin.post(`${pageOf(hanako)}/invite`, { email: 'Hanako@Example.jp', lang: 'ja' }, pageOf(hanako));
    expect(res.status, res.text).to.equal(303);
    const user = (await User.findOne({ where: { email: 'hanako@example.jp' } }))!;
    expect([user.role, user.clientId, user.name, user.passwordHash]).to.deep.equal(['employee', client.id, '招待 花子', null]);
    expect((await Employee.findByPk(hanako.id))!.userId).to.equal(user.id);
    const mail = await h.smtp.lastTo('hanako@example.jp');
    expect(mail.text).to.contain('/password/set/');
    const ops = (await AuditEvent.findAll({ where: { clientId: client.id }, order: [['seq', 'ASC']] })).map((a) => a.operation);
    expect(ops.slice(-2)).to.deep.equal(['user.create', 'person.account']);
    // She follows the link and chooses a password: the sign-in form then has her address, once.
    const link = /\/password\/set\/[A-Za-z0-9_-]+/.exec(mail.text ?? '')![0];
    const she = new TestBrowser(h.portal.app);
    const set = await she.post(link, { password: 'kotoshi mo sakura ga saita 2026', confirm: 'kotoshi mo sakura ga saita 2026' }, link);
    expect(set.status, set.text).to.equal(303);
    expect((await she.get('/login')).text).to.contain('value="hanako@example.jp"');
    expect((await she.get('/login')).text).to.not.contain('hanako@example.jp');
    const after = await admin.get(pageOf(hanako));
    expect(after.text).to.contain('招待のメールを送り、アカウントをこの社員に結び付けました。').and.contain('hanako@example.jp');
    expect(after.text).to.not.contain('data-testid="employee-invite"');
  });

  it('an address already in use, a bad address, an employee already linked: the page again with the reason, nothing written', async () => {
    const taken = await h.booted.services.people.addEmployee(systemContext('test'), client.id, { employeeCode: 'E201', name: '重複 次郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null });
    const users = await User.count();
    let res = await admin.post(`${pageOf(taken)}/invite`, { email: adminUser.email, lang: 'ja' }, pageOf(taken));
    expect(res.status).to.equal(409);
    expect(res.text).to.contain('このメールアドレスはすでに使われています。').and.contain('data-testid="employee-invite"');
    res = await admin.post(`${pageOf(taken)}/invite`, { email: 'not an address', lang: 'ja' }, pageOf(taken));
    expect(res.status).to.equal(400);
    res = await admin.post(`${pageOf(hanako)}/invite`, { email: 'second@example.jp', lang: 'ja' }, pageOf(hanako));
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('既にアカウントが結び付けられています');
    expect(await User.count()).to.equal(users);
    expect((await Employee.findByPk(taken.id))!.userId).to.equal(null);
  });

  it('an employee leaving later may still be invited; one who has left is not (no form, and the service refuses)', async () => {
    const sys = systemContext('test');
    const leaving = await h.booted.services.people.addEmployee(sys, client.id, { employeeCode: 'E202', name: '退職予定 三郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: '2020-04-01', leaveDate: '2099-03-31' });
    const left = await h.booted.services.people.addEmployee(sys, client.id, { employeeCode: 'E203', name: '退職済 四郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: '2010-04-01', leaveDate: '2020-03-31' });
    expect((await admin.get(pageOf(leaving))).text).to.contain('data-testid="employee-invite"');
    expect((await admin.get(pageOf(left))).text).to.not.contain('data-testid="employee-invite"');
    const res = await admin.post(`${pageOf(left)}/invite`, { email: 'shiro@example.jp', lang: 'ja' }, pageOf(left));
    expect(res.status).to.equal(400);
    expect(await User.count({ where: { email: 'shiro@example.jp' } })).to.equal(0);
  });

  // From a product walk: 利用者管理 invited employees too, and nothing there said their account was not tied to them (じぶんで登録 then met a dead end).
  it('利用者管理 points to the employee page for employees, and marks an employee account not tied to an employee', async () => {
    const page = await admin.get('/client/users');
    expect(page.text).to.contain('data-testid="employee-invite-hint"').and.contain('「招待して結び付ける」から招待すると');
    const res = await admin.post('/client/users', { name: '別口 五郎', email: 'goro@example.jp', role: 'employee', lang: 'ja' }, '/client/users');
    expect(res.status, res.text).to.equal(303);
    const rowOf = (html: string, email: string) => html.split('<tr>').find((r) => r.includes(email)) ?? '';
    const list = (await admin.get('/client/users')).text;
    expect(rowOf(list, 'goro@example.jp')).to.contain('data-testid="not-linked"').and.contain('社員と未結び付け').and.contain('href="/client/people"');
    // hanako's account is tied to her record; the admin is no employee
    expect(rowOf(list, 'hanako@example.jp')).to.not.contain('not-linked');
    expect(rowOf(list, adminUser.email)).to.not.contain('not-linked');
    // Once linked on the employee's page, the mark goes.
    const goro = await h.booted.services.people.addEmployee(systemContext('test'), client.id, { employeeCode: 'E204', name: '別口 五郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null });
    const account = (await User.findOne({ where: { email: 'goro@example.jp' } }))!;
    expect((await admin.post(`${pageOf(goro)}/account`, { userId: account.id }, pageOf(goro))).status).to.equal(303);
    expect(rowOf((await admin.get('/client/users')).text, 'goro@example.jp')).to.not.contain('not-linked');
  });
});
