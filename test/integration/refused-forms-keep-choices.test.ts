import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { TestBrowser } from '../support/browser';
import { assign, makeClient, makeUser, type MadeUser } from '../support/factories';
import { makeEmployee, validNumber } from '../support/vault';
import { pdfBytes, uploadFiles } from '../support/files';
import { Department, StoredFile, User, type Client } from '../../server/db/models';
import { systemContext } from '../../server/audit';
import { ja } from '../support/security';

/** The <option> a page has selected in the <select name="…"> (none: the browser shows the first). */
function chosen(html: string, name: string): string | null {
  const select = new RegExp(`<select name="${name}"[^>]*>([\\s\\S]*?)</select>`).exec(html)?.[1];
  expect(select, `a select named ${name}`).to.be.a('string');
  return /<option value="([^"]*)"[^>]* selected>/.exec(select!)?.[1] ?? null;
}

/**
 * A form refused for one field comes back with every other choice as the person made it: fixing
 * only the e-mail must not invite someone with the role or language the page starts with, nor add
 * an employee without the department that was picked.
 */
describe('Refused forms keep the choices made in their drop-downs', () => {
  let h: Harness;
  let client: Client;
  let firmAdmin: MadeUser;
  let clientAdmin: MadeUser;
  let staff: MadeUser;
  const browsers: Record<string, TestBrowser> = {};

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { name: '株式会社えらぶ' });
    firmAdmin = await makeUser(h, { role: 'firm_admin' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
    for (const [name, u] of [['firm', firmAdmin], ['client', clientAdmin], ['staff', staff]] as const) {
      browsers[name] = new TestBrowser(h.portal.app);
      await browsers[name].login(u);
    }
  });
  after(async () => { await h.close(); });

  it('an invitation refused for its address keeps the role and the mail language chosen', async () => {
    const taken = clientAdmin.email;
    const cases: [TestBrowser, string, string, Record<string, string>][] = [
      [browsers.client!, '/client/users', '/client/users', { role: 'client_admin', lang: 'en' }],
      [browsers.firm!, '/firm/staff', '/firm/staff', { role: 'firm_admin', lang: 'en' }],
      [browsers.firm!, `/firm/clients/${client.id}/users`, `/firm/clients/${client.id}`, { role: 'employee', lang: 'en' }],
    ];
    for (const [b, action, page, choice] of cases) {
      // The page starts on the other role and the page's language.
      const blank = await b.get(page);
      expect([chosen(blank.text, 'role'), chosen(blank.text, 'lang')], page).to.deep.equal([null, 'ja']);
      const res = await b.post(action, { name: '選択 太郎', email: taken, ...choice }, page);
      expect(res.status, action).to.equal(409);
      expect([chosen(res.text, 'role'), chosen(res.text, 'lang')], action).to.deep.equal([choice.role, 'en']);
    }
    expect(await User.count({ where: { name: '選択 太郎' } })).to.equal(0);
  });

  it('a client refused for a code already used keeps "admins must use two-step sign-in" ticked', async () => {
    const res = await browsers.firm!.post('/firm/clients', { code: client.code, name: '株式会社ふたつめ', requireAdminTotp: 'on' }, '/firm/clients');
    expect(res.status).to.be.oneOf([400, 409]);
    expect(res.text).to.contain('name="requireAdminTotp" value="on" checked');
    expect((await browsers.firm!.get('/firm/clients')).text).to.contain('name="requireAdminTotp" value="on">');
  });

  it('an employee refused for a code already used keeps the department; a payee keeps its kind', async () => {
    const dept = await Department.create({ clientId: client.id, code: '200', name: '経理部' });
    await makeEmployee(client.id, { employeeCode: 'K001' });
    const b = browsers.client!;
    const employee = await b.post('/client/people/employees', { employeeCode: 'K001', name: '重複 花子', departmentId: dept.id }, '/client/people');
    expect(employee.status).to.equal(400);
    expect(employee.text).to.contain(ja('people.codeTaken'));
    expect(chosen(employee.text, 'departmentId')).to.equal(dept.id);
    const payee = await b.post('/client/people/payees', { code: '', name: '講師 一郎', kind: 'lecturer' }, '/client/people');
    expect(payee.status).to.equal(400);
    expect(chosen(payee.text, 'kind')).to.equal('lecturer');
  });

  it('a purpose refused for its office keeps both choices, on the number list and on a file holding numbers', async () => {
    const { person } = await makeEmployee(client.id, { employeeCode: 'K002' });
    const record = await h.booted.services.vault.register(systemContext('test'), person, { number: validNumber(9090), issueDate: null }, { source: 'proxy', registeredBy: null });
    const b = browsers.staff!;
    await b.reauth(staff);
    const mismatch = { purpose: 'withholding_slip', office: 'pension_office' };
    const list = await b.post(`/firm/clients/${client.id}/numbers/print`, { ids: record.id, ...mismatch }, `/firm/clients/${client.id}/numbers`);
    expect(list.status).to.equal(400);
    expect([chosen(list.text, 'purpose'), chosen(list.text, 'office')]).to.deep.equal(['withholding_slip', 'pension_office']);
    expect((await uploadFiles(browsers.client!, { direction: 'to_firm', category: 'procedure', containsMyNumber: 'on' }, [{ name: '扶養控除申告書.pdf', data: pdfBytes(2000) }])).status).to.equal(200);
    const file = (await StoredFile.findOne({ where: { clientId: client.id, displayName: '扶養控除申告書.pdf' } }))!;
    const refused = await b.post(`/files/${file.id}/download`, mismatch, `/files/${file.id}`);
    expect(refused.status).to.equal(400);
    expect([chosen(refused.text, 'purpose'), chosen(refused.text, 'office')]).to.deep.equal(['withholding_slip', 'pension_office']);
  });
});
