import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { systemContext } from '../../server/audit';
import { AuditEvent, Dependant, Employee, NumberRecord, Payee, type Client } from '../../server/db/models';
import { findPerson } from '../../server/vault/people';
import { numberFrom as validNumber } from '../support/vault';
import { rulesOf, saveRules } from '../../server/disposal/retention-rules';

/** The page of one employee (client admin): their dependants and numbers, adding a dependant, the leave date. */
describe('The employee page: dependants and the leave date', () => {
  let h: Harness;
  let client: Client;
  let other: Client;
  let admin: TestBrowser;
  let adminUser: MadeUser;
  let taro: Employee;
  let outsider: Employee;
  const pageOf = (e: Employee) => `/client/people/employees/${e.id}`;

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'EP01', name: '株式会社社員頁' });
    other = await makeClient(h, { code: 'EP02', name: '株式会社よそ' });
    adminUser = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    const sys = systemContext('test');
    taro = await h.booted.services.people.addEmployee(sys, client.id, { employeeCode: 'E100', name: '頁 太郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: '2019-04-01', leaveDate: null });
    outsider = await h.booted.services.people.addEmployee(sys, other.id, { employeeCode: 'X100', name: '他社 次郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null });
    await h.booted.services.vault.register(sys, await findPerson(client.id, 'employee', taro.id), { number: validNumber(20000000001), issueDate: null }, { source: 'proxy', registeredBy: null });
    admin = new TestBrowser(h.portal.app);
    await admin.login(adminUser);
  });
  after(async () => { await h.close(); });

  it('the list links each employee (not dependants or payees) to their page, which shows the masked number and no dependants yet', async () => {
    const list = await admin.get('/client/people');
    expect(list.status).to.equal(200);
    expect(list.text).to.contain(`href="${pageOf(taro)}"`);
    expect(list.text.match(/href="\/client\/people\/employees\/[0-9a-f-]{36}"/g)).to.have.length(1);
    const res = await admin.get(pageOf(taro));
    expect(res.status).to.equal(200);
    expect(res.text).to.contain('E100 頁 太郎').and.contain('2019-04-01');
    expect(res.text).to.contain(`**********${validNumber(20000000001).slice(-2)}`);
    expect(res.text).not.to.contain(validNumber(20000000001));
    expect(res.text).to.contain('扶養家族はまだ登録されていません。');
  });

  // From a product walk: 社員を登録 and 支払先を登録 led back to the top of the list with 登録しました, the new person somewhere below.
  it('a new employee opens at their page, a new payee at their row of the list, each saying what comes next', async () => {
    let res = await admin.post('/client/people/employees', { employeeCode: 'E150', name: '新入 三郎', hireDate: '2026-04-01' }, '/client/people');
    expect(res.status, res.text).to.equal(303);
    const saburo = (await Employee.findOne({ where: { clientId: client.id, employeeCode: 'E150' } }))!;
    expect(res.headers.location).to.equal(pageOf(saburo));
    const page = await admin.get(res.headers.location!);
    expect(page.text).to.contain('社員を登録しました。扶養家族の追加、マイナンバーの登録、ご本人の招待はこの画面から行えます。').and.contain('data-testid="add-dependant"');
    res = await admin.post('/client/people/payees', { code: 'P-150', name: '講師 四郎', kind: 'lecturer' }, '/client/people');
    expect(res.status, res.text).to.equal(303);
    const payee = (await Payee.findOne({ where: { clientId: client.id, code: 'P-150' } }))!;
    expect(res.headers.location).to.equal(`/client/people?code=P-150#person-${payee.id}`);
    const list = await admin.get(res.headers.location!.split('#')[0]!);
    expect(list.text).to.contain('支払先を登録しました。').and.contain(`id="person-${payee.id}"`);
    expect(list.text).to.not.contain('新入 三郎');
  });

  it('adds a dependant and comes back to the page, which lists them as not registered with a link to register', async () => {
    const res = await admin.post(`${pageOf(taro)}/dependants`, { name: '頁 花子', nameKana: 'ページ ハナコ', relationship: 'child' }, pageOf(taro));
    expect(res.status).to.equal(303);
    const d = await Dependant.findOne({ where: { employeeId: taro.id } });
    expect(res.headers.location).to.equal(`${pageOf(taro)}#dependant-${d!.id}`);
    expect(d!.name).to.equal('頁 花子');
    expect(d!.relationship).to.equal('child');
    const back = await admin.get(pageOf(taro));
    expect(back.text).to.contain('扶養家族を追加しました。続けて、この方のマイナンバーを登録してください。');
    const table = back.text.slice(back.text.indexOf('data-testid="dependants"'));
    expect(table).to.contain('頁 花子').and.contain('子').and.contain('未登録');
    expect(table).to.contain(`href="/client/people/dependant/${d!.id}/number?from=employee"`);
  });

  it('refuses a dependant without a name or relationship beside the fields (400), keeps what was typed, stores nothing', async () => {
    const before = await Dependant.count();
    const auditBefore = await AuditEvent.count({ where: { operation: 'person.create' } });
    const res = await admin.post(`${pageOf(taro)}/dependants`, { name: '', nameKana: 'ナナシ', relationship: 'cousin' }, pageOf(taro));
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('続柄を選んでください。');
    expect(res.text).to.contain('value="ナナシ"');
    // No 続柄 is chosen for the person (a child added in a hurry is not saved as a spouse).
    const fresh = await admin.get(pageOf(taro));
    const form = fresh.text.slice(fresh.text.indexOf('data-testid="add-dependant"'));
    const select = /<select name="relationship" required>([\s\S]*?)<\/select>/.exec(form)?.[1] ?? '';
    expect(select).to.match(/^<option value="">/).and.not.contain(' selected');
    expect(res.text).to.contain('E100 頁 太郎');
    expect(await Dependant.count()).to.equal(before);
    expect(await AuditEvent.count({ where: { operation: 'person.create' } })).to.equal(auditBefore);
  });

  it('corrects the employee\'s details and a dependant\'s name and 続柄 (logged with what changed); a taken code, a hire date after leaving, another employee\'s dependant are refused and change nothing', async () => {
    const sys = systemContext('test');
    const mate = await h.booted.services.people.addEmployee(sys, client.id, { employeeCode: 'E200', name: '頁 次郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: '2024-03-31' });
    const page = await admin.get(pageOf(mate));
    expect(page.text).to.contain('data-testid="employee-details-form"').and.contain('value="E200"');
    // A typo in the name fixed, the reading added.
    let res = await admin.post(`${pageOf(mate)}/details`, { employeeCode: 'E200', name: '頁 治郎', nameKana: 'ページ ジロウ', hireDate: '' }, pageOf(mate));
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal(`${pageOf(mate)}#details`);
    let row = (await Employee.findByPk(mate.id))!;
    expect([row.name, row.nameKana, row.employeeCode, row.leaveDate]).to.deep.equal(['頁 治郎', 'ページ ジロウ', 'E200', '2024-03-31']);
    const logged = (await AuditEvent.findOne({ where: { operation: 'person.update', targetId: mate.id } }))!;
    expect(logged.detail).to.equal('changed: name, nameKana (was E200 頁 次郎)');
    // Another employee's code: refused beside the field, what was typed kept, nothing changed.
    res = await admin.post(`${pageOf(mate)}/details`, { employeeCode: 'E100', name: '頁 治郎', hireDate: '' }, pageOf(mate));
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('value="E100"').and.match(/<details id="details" open>/);
    // A hire date after the leave date.
    res = await admin.post(`${pageOf(mate)}/details`, { employeeCode: 'E200', name: '頁 治郎', hireDate: '2025-04-01' }, pageOf(mate));
    expect(res.status).to.equal(400);
    row = (await Employee.findByPk(mate.id))!;
    expect([row.employeeCode, row.hireDate]).to.deep.equal(['E200', null]);
    expect(await AuditEvent.count({ where: { operation: 'person.update', targetId: mate.id } })).to.equal(1);

    // A dependant: name and relationship corrected from the employee's page.
    const d = await Dependant.findOne({ where: { employeeId: taro.id, name: '頁 花子' } });
    res = await admin.post(`${pageOf(taro)}/dependants/${d!.id}`, { name: '頁 華子', nameKana: 'ページ ハナコ', relationship: 'spouse' }, pageOf(taro));
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal(`${pageOf(taro)}#dependant-${d!.id}`);
    expect((await admin.get(pageOf(taro))).text).to.contain('保存しました。');
    const fixed = (await Dependant.findByPk(d!.id))!;
    expect([fixed.name, fixed.relationship]).to.deep.equal(['頁 華子', 'spouse']);
    expect((await AuditEvent.findOne({ where: { operation: 'person.update', targetId: d!.id } }))!.detail).to.equal('changed: name, relationship (was 頁 花子)');
    // A refused correction (the name left empty) comes back with that dependant's form open, what was typed kept, the reason in it.
    res = await admin.post(`${pageOf(taro)}/dependants/${d!.id}`, { name: '', nameKana: 'ページ カコ', relationship: 'child' }, pageOf(taro));
    expect(res.status).to.equal(400);
    const depRow = res.text.slice(res.text.indexOf(`id="dependant-${d!.id}"`), res.text.indexOf('</tr>', res.text.indexOf(`id="dependant-${d!.id}"`)));
    expect(depRow).to.match(/<details class="inline-details" open>/).and.contain('value="ページ カコ"').and.match(/class="field-error"[^>]*>[^<]+</);
    expect(depRow).to.match(/<option value="child" selected>/);
    expect((await Dependant.findByPk(d!.id))!.name).to.equal('頁 華子');
    // Under another employee's page, the same dependant is not found.
    res = await admin.post(`${pageOf(mate)}/dependants/${d!.id}`, { name: '乗っ取り', relationship: 'child' }, pageOf(mate));
    expect(res.status).to.equal(404);
    expect((await Dependant.findByPk(d!.id))!.name).to.equal('頁 華子');
    await Dependant.update({ name: '頁 花子', relationship: 'child' }, { where: { id: d!.id } });
  });

  it('says how many years after leaving the numbers are kept, by the client\'s own rule', async () => {
    expect((await admin.get(pageOf(taro))).text).to.contain('退職日から7年後が');
    await saveRules(h.booted.services, systemContext('test'), client.id, { ...(await rulesOf(client.id)), numberYears: 5 });
    try {
      expect((await admin.get(pageOf(taro))).text).to.contain('退職日から5年後が').and.not.contain('7年後');
    } finally {
      await saveRules(h.booted.services, systemContext('test'), client.id, { ...(await rulesOf(client.id)), numberYears: 7 });
    }
  });

  it('sets the leave date (the numbers\' deletion date follows), refuses a bad date beside the field, and clears it', async () => {
    let res = await admin.post(`${pageOf(taro)}/leave`, { leaveDate: '2025-02-30' }, pageOf(taro));
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('value="2025-02-30"');
    expect(res.text).to.match(/class="field-error"[^>]*>[^<]+</);
    expect((await Employee.findByPk(taro.id))!.leaveDate).to.equal(null);

    res = await admin.post(`${pageOf(taro)}/leave`, { leaveDate: '2025-03-31' }, pageOf(taro));
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal(`${pageOf(taro)}#leave`);
    expect((await Employee.findByPk(taro.id))!.leaveDate).to.equal('2025-03-31');
    const record = await NumberRecord.findOne({ where: { personKind: 'employee', personId: taro.id } });
    expect(record!.deletionDate).to.equal('2032-03-31');
    const page = await admin.get(pageOf(taro));
    expect(page.text).to.contain('退職日を保存しました。').and.contain('value="2025-03-31"').and.contain('2032-03-31');

    // Before the hire date (2019-04-01): a slip that would make the numbers due at once, refused beside the field.
    res = await admin.post(`${pageOf(taro)}/leave`, { leaveDate: '2009-03-31' }, pageOf(taro));
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('退職日が入社日より前になっています。');
    expect((await Employee.findByPk(taro.id))!.leaveDate).to.equal('2025-03-31');
    expect((await NumberRecord.findOne({ where: { personKind: 'employee', personId: taro.id } }))!.deletionDate).to.equal('2032-03-31');
    res = await admin.post('/client/people/employees', { employeeCode: 'E101', name: '逆 順', hireDate: '2020-04-01', leaveDate: '2020-03-31' }, pageOf(taro));
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('退職日が入社日より前になっています。');
    expect(await Employee.count({ where: { employeeCode: 'E101' } })).to.equal(0);

    res = await admin.post(`${pageOf(taro)}/leave`, { leaveDate: '' }, pageOf(taro));
    expect(res.status).to.equal(303);
    expect((await Employee.findByPk(taro.id))!.leaveDate).to.equal(null);
  });

  it('代理登録 opened from the employee\'s page goes back there (after a refusal too); from the list, back to the list', async () => {
    const hanako = await Dependant.findOne({ where: { employeeId: taro.id } });
    const form = `/client/people/dependant/${hanako!.id}/number`;
    const fromPage = await admin.get(`${form}?from=employee`);
    expect(fromPage.text).to.contain(`class="back-link" href="${pageOf(taro)}"`);
    let res = await admin.post(form, { from: 'employee', number: '123456789019' }, pageOf(taro));
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('name="from" value="employee"').and.contain(`href="${pageOf(taro)}"`);
    res = await admin.post(form, { from: 'employee', number: validNumber(20000000002) }, pageOf(taro));
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal(pageOf(taro));
    // From the list, back to the list at this person's row.
    expect((await admin.get(form)).text).to.contain(`class="back-link" href="/client/people#person-${hanako!.id}"`);
    res = await admin.post(form, { number: validNumber(20000000003) }, pageOf(taro));
    expect(res.headers.location).to.equal(`/client/people#person-${hanako!.id}`);
    // Only ever this person's employee: anything else named in `from` is the list.
    res = await admin.post(form, { from: 'https://evil.example/', number: validNumber(20000000004) }, pageOf(taro));
    expect(res.headers.location).to.equal(`/client/people#person-${hanako!.id}`);
  });

  it('links the employee\'s own account (only an unlinked employee account of this client), who can then register from their phone; unlinks it', async () => {
    const own = await makeUser(h, { role: 'employee', clientId: client.id, totp: false, name: '頁 太郎' });
    const elsewhere = await makeUser(h, { role: 'employee', clientId: other.id, totp: false, name: '他社 社員' });
    const colleague = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: '人事 同僚' });
    const page = await admin.get(pageOf(taro));
    const section = page.text.slice(page.text.indexOf('data-testid="employee-account"'));
    expect(section).to.contain(`value="${own.user.id}"`).and.contain('頁 太郎');
    for (const u of [elsewhere, colleague]) expect(section, u.user.name).not.to.contain(u.user.id);

    const linkedBefore = (await Employee.findByPk(taro.id))!.userId;
    for (const u of [elsewhere, colleague]) {
      const res = await admin.post(`${pageOf(taro)}/account`, { userId: u.user.id }, pageOf(taro));
      expect(res.status, u.user.name).to.equal(400);
      expect(res.text).to.contain('このアカウントは選べません。');
    }
    expect((await admin.post(`${pageOf(taro)}/account`, { userId: '' }, pageOf(taro))).status).to.equal(400);
    expect((await Employee.findByPk(taro.id))!.userId).to.equal(linkedBefore);

    let res = await admin.post(`${pageOf(taro)}/account`, { userId: own.user.id }, pageOf(taro));
    expect(res.status).to.equal(303);
    expect((await Employee.findByPk(taro.id))!.userId).to.equal(own.user.id);
    expect((await AuditEvent.findOne({ where: { operation: 'person.account' }, order: [['seq', 'DESC']] }))!.detail).to.equal(`linked ${own.email}`);
    const shown = await admin.get(pageOf(taro));
    expect(shown.text).to.contain('アカウントの結び付けを保存しました。').and.contain(own.email);

    // The same account for a second employee: refused, it is taken.
    const jiro = await h.booted.services.people.addEmployee(systemContext('test'), client.id, { employeeCode: 'E102', name: '頁 次郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null });
    expect((await admin.get(pageOf(jiro))).text).not.to.contain(`value="${own.user.id}"`);
    res = await admin.post(`${pageOf(jiro)}/account`, { userId: own.user.id }, pageOf(jiro));
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('既に別の社員に結び付けられています');

    // じぶんで登録 now works for them: their own card and their dependant's.
    const phone = new TestBrowser(h.portal.app);
    await phone.login(own);
    const self = await phone.get('/me/numbers');
    expect(self.text).to.contain('data-testid="person-self"').and.contain('頁 花子');

    res = await admin.post(`${pageOf(taro)}/account`, { unlink: 'on' }, pageOf(taro));
    expect(res.status).to.equal(303);
    expect((await Employee.findByPk(taro.id))!.userId).to.equal(null);
    expect((await phone.get('/me/numbers')).text).not.to.contain('data-testid="person-self"');
  });

  it('代理登録 of a person whose number was disposed of starts empty: nothing of the erased record (its issue date) comes back', async () => {
    const e = await h.booted.services.people.addEmployee(systemContext('test'), client.id, { employeeCode: 'E103', name: '頁 三郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null });
    const r = await h.booted.services.vault.register(systemContext('test'), await findPerson(client.id, 'employee', e.id), { number: validNumber(20000000005), issueDate: '2016-01-01' }, { source: 'proxy', registeredBy: null });
    const form = `/client/people/employee/${e.id}/number`;
    expect((await admin.get(form)).text).to.contain('value="2016-01-01"');
    // Erased as a disposal erases it: the ciphertext and index go, the row stays as a tombstone.
    await NumberRecord.update({ sealedNumber: null, blindIndex: null }, { where: { id: r.id } });
    const page = await admin.get(form);
    expect(page.text).not.to.contain('2016-01-01');
    expect(page.text).not.to.contain(`**********${validNumber(20000000005).slice(-2)}`);
  });

  it('another client\'s employee, a made-up id and a malformed one are not found, and nothing is changed', async () => {
    for (const path of [pageOf(outsider), '/client/people/employees/00000000-0000-4000-8000-000000000000', '/client/people/employees/..%2Fpayees']) {
      expect((await admin.get(path)).status, path).to.equal(404);
    }
    expect((await admin.post(`${pageOf(outsider)}/dependants`, { name: '侵入', relationship: 'spouse' }, pageOf(taro))).status).to.equal(404);
    expect((await admin.post(`${pageOf(outsider)}/dependants`, { name: '', relationship: 'x' }, pageOf(taro))).status).to.equal(404);
    expect((await admin.post(`${pageOf(outsider)}/leave`, { leaveDate: '2025-03-31' }, pageOf(taro))).status).to.equal(404);
    expect(await Dependant.count({ where: { employeeId: outsider.id } })).to.equal(0);
    expect((await Employee.findByPk(outsider.id))!.leaveDate).to.equal(null);
  });

  it('is the client admin\'s: an employee of the same client is refused, a visitor sent to sign in', async () => {
    const employee = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
    const asEmployee = new TestBrowser(h.portal.app);
    await asEmployee.login(employee);
    expect((await asEmployee.get(pageOf(taro))).status).to.equal(403);
    expect((await new TestBrowser(h.portal.app).get(pageOf(taro))).status).to.be.oneOf([302, 303]);
  });
});
