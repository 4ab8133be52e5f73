import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeClient, makeUser, type MadeUser } from '../support/factories';
import { disposalService } from '../support/disposal';
import { TestBrowser } from '../support/browser';
import { AuditEvent, Dependant, Employee, NumberRecord, VaultInvitation, type Client } from '../../server/db/models';
import { findPerson } from '../../server/vault/people';
import { systemContext, type ActorContext } from '../../server/audit';
import { numberFrom as valid, rejects } from '../support/vault';
import { BadRequest } from '../../server/errors';

const ctxOf = (u: MadeUser): ActorContext => ({ actorId: u.user.id, actorName: u.user.name, actorRole: u.user.role, ip: '127.0.0.1', userAgent: 't', channel: 'test' });

/**
 * A leaver whose number was disposed of: the portal does not collect it again (a rehire clears the
 * leave date first), says 廃棄済み wherever the number would show, and logs a number given again after
 * a rehire as a registration, not as a correction of a number that no longer exists.
 */
describe('A leaver whose number was disposed of', function () {
  this.timeout(60_000);
  let h: Harness;
  let client: Client;
  let admin: MadeUser;
  let employee: Employee;
  let recordId: string;
  const sys = systemContext('test');

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'DL01', name: '株式会社退職' });
    admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    const firmAdmin = await makeUser(h, { role: 'firm_admin' });
    employee = await Employee.create({ clientId: client.id, employeeCode: 'L-01', name: '伊藤 誠', nameKana: null, departmentId: null, establishmentId: null, hireDate: '2012-07-01', leaveDate: '2024-03-31', userId: null });
    const record = await h.booted.services.vault.register(sys, await findPerson(client.id, 'employee', employee.id), { number: valid(4_242_4242), issueDate: null }, { source: 'proxy', registeredBy: null });
    recordId = record.id;
    const svc = disposalService(h.booted);
    const req = await svc.request(ctxOf(admin), admin.user, client.id, [{ kind: 'number', id: record.id }], '退職後の手続きがすべて完了したため');
    await svc.approve(ctxOf(firmAdmin), firmAdmin.user, req.id);
    expect(await svc.execute(req.id)).to.not.equal(null);
    expect((await NumberRecord.findByPk(record.id))!.sealedNumber).to.equal(null);
  });
  after(async () => { await h.close(); });

  it('the list and the employee page say 廃棄済み and offer neither 登録 nor a one-time link', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const list = await b.get('/client/people');
    expect(list.status).to.equal(200);
    const row = list.text.split(`id="person-${employee.id}"`)[1]!.split('</tr>')[0]!;
    expect(row).to.contain('廃棄済み');
    expect(row).to.not.contain(`/client/people/employee/${employee.id}/number`);
    expect(row).to.not.contain(`/client/people/employee/${employee.id}/link`);
    const page = await b.get(`/client/people/employees/${employee.id}`);
    const facts = page.text.split('data-testid="employee-facts"')[1]!.split('</dl>')[0]!;
    expect(facts).to.contain('廃棄済み').and.contain('先に退職日を消してから');
    expect(facts).to.not.contain('未登録');
    expect(facts).to.not.contain(`/client/people/employee/${employee.id}/number`);
  });

  // From a product walk: the message sent the admin to 社員情報 (the details form, which holds no leave date); the date is a section of its own.
  it('what to do about it leads to the leave date itself: a link to the section (#leave) beside each message', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const page = await b.get(`/client/people/employees/${employee.id}`);
    expect(page.text).to.contain('<section class="card" id="leave">');
    const facts = page.text.split('data-testid="employee-facts"')[1]!.split('</dl>')[0]!;
    expect(facts).to.not.contain('社員情報');
    expect(facts).to.match(/<a href="#leave"[^>]*>退職日を変更する<\/a>/);
    const noDependant = page.text.split('data-testid="add-dependant-leaver"')[1]!.split('</p>')[0]!;
    expect(noDependant).to.match(/<a href="#leave"[^>]*>退職日を変更する<\/a>/);
    // The 代理登録 form, reached from an old bookmark or a page left open: no form to fill in for nothing, the way to the date instead.
    const toLeave = new RegExp(`<a href="/client/people/employees/${employee.id}#leave"[^>]*>退職日を変更する</a>`);
    const form = await b.get(`/client/people/employee/${employee.id}/number`);
    expect(form.text).to.match(toLeave).and.not.contain('data-testid="number-input"');
    const refused = await b.post(`/client/people/employee/${employee.id}/number`, { number: valid(5_353_5353), issueDate: '' }, `/client/people/employees/${employee.id}`);
    expect(refused.status).to.equal(400);
    expect(refused.text).to.match(toLeave).and.contain('この方は退職済みで、マイナンバーは廃棄済みです');
  });

  it('registering it again is refused with the reason (web and service), and so is a one-time link; nothing is written', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const rows = await AuditEvent.count();
    const res = await b.post(`/client/people/employee/${employee.id}/number`, { number: valid(5_353_5353), issueDate: '' }, `/client/people/employee/${employee.id}/number`);
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('この方は退職済みで、マイナンバーは廃棄済みです');
    const link = await b.post(`/client/people/employee/${employee.id}/link`, { email: '' }, '/client/people');
    expect(link.status).to.equal(400);
    expect(await VaultInvitation.count()).to.equal(0);
    await rejects(() => h.booted.services.vault.register(sys, findPersonSync(), { number: valid(5_353_5353), issueDate: null }, { source: 'proxy', registeredBy: null }), BadRequest);
    expect((await NumberRecord.findByPk(recordId))!.sealedNumber).to.equal(null);
    expect(await AuditEvent.count()).to.equal(rows);
  });

  it('the leaver themselves (their account still open): their page says 廃棄済み and whom to ask, with no form; a post is refused with that, not with the company\'s steps', async () => {
    const own = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
    await employee.update({ userId: own.user.id });
    const b = new TestBrowser(h.portal.app);
    await b.login(own);
    const page = await b.get('/me/numbers');
    const card = page.text.split('data-testid="person-self"')[1]!.split('</section>')[0]!;
    expect(card).to.contain('廃棄済み').and.contain('会社のご担当者にお問い合わせください');
    expect(card).to.not.contain('data-testid="number-input"');
    const res = await b.agent.post('/me/numbers').set('X-CSRF-Token', await b.csrf('/me/numbers')).set('Accept', 'application/json')
      .field('person', 'self').field('number', valid(5_353_5353)).field('confirm', 'on');
    expect(res.status).to.equal(400);
    expect(JSON.stringify(res.body)).to.contain('会社のご担当者にお問い合わせください').and.not.contain('退職日を消してから');
    expect((await NumberRecord.findByPk(recordId))!.sealedNumber).to.equal(null);
    await employee.update({ userId: null });
  });

  // From a product walk: a dependant added to the leaver waited as 未登録 on the admin's home, with 登録 offered for a number nothing needs.
  it('no new dependant after leaving: the employee page, the leaver\'s own page and the service refuse it, and nothing waits as 未登録', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const page = await b.get(`/client/people/employees/${employee.id}`);
    expect(page.text).to.not.contain('data-testid="add-dependant"');
    expect(page.text).to.contain('data-testid="add-dependant-leaver"').and.contain('退職した社員には扶養家族を追加できません');
    const rows = await AuditEvent.count();
    const res = await b.post(`/client/people/employees/${employee.id}/dependants`, { name: '伊藤 由紀', nameKana: '', relationship: 'spouse' }, `/client/people/employees/${employee.id}`);
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('退職した社員には扶養家族を追加できません');
    await rejects(() => h.booted.services.people.addDependant(sys, client.id, employee.id, { name: '伊藤 由紀', nameKana: null, relationship: 'spouse' }), BadRequest);
    expect(await Dependant.count({ where: { employeeId: employee.id } })).to.equal(0);
    expect(await AuditEvent.count()).to.equal(rows);
    expect((await b.get('/home')).text).to.not.contain('マイナンバーが未登録の方');

    const own = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
    await employee.update({ userId: own.user.id });
    const e = new TestBrowser(h.portal.app);
    await e.login(own);
    const mine = await e.get('/me/numbers');
    expect(mine.text).to.not.contain('action="/me/dependants"');
    expect(mine.text).to.contain('退職されたため、扶養家族は追加できません');
    expect((await e.post('/me/dependants', { name: '伊藤 由紀', nameKana: '', relationship: 'spouse' }, '/me/numbers')).status).to.equal(400);
    expect(await Dependant.count({ where: { employeeId: employee.id } })).to.equal(0);
    await employee.update({ userId: null });
  });

  it('rehired (the leave date cleared): the number is registered again, logged as a registration, not a correction', async () => {
    await h.booted.services.people.setLeaveDate(sys, client.id, employee.id, null);
    const again = await h.booted.services.vault.register(ctxOf(admin), await findPerson(client.id, 'employee', employee.id), { number: valid(5_353_5353), issueDate: null }, { source: 'proxy', registeredBy: admin.user.id });
    expect(again.id).to.equal(recordId);
    const last = (await AuditEvent.findOne({ where: { targetId: employee.id }, order: [['seq', 'DESC']] }))!;
    expect(last.operation).to.equal('vault.register.proxy');
  });

  let person: Awaited<ReturnType<typeof findPerson>>;
  before(async () => { person = await findPerson(client.id, 'employee', employee.id); });
  function findPersonSync() { return person; }
});
