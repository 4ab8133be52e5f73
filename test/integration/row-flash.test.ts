import { expect } from 'chai';
import { createHarness, dialectName, type Harness } from '../support/harness';
import { clientWithAdmin } from '../support/client-admin';
import { makeUser, makeClient, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { makeDependant, makeEmployee, numberFrom } from '../support/vault';
import { ja } from '../support/security';
import { Dependant, Employee, Payee, type Client } from '../../server/db/models';
import { pngBytes } from '../support/files';

/** The top banner of the layout (before <main>), and the message under a row of the people list. */
const topBanner = (html: string) => /<div class="banner banner-ok" role="status">([\s\S]*?)<\/div>\s*<main/.exec(html)?.[1] ?? null;
const underRow = (html: string, personId: string) =>
  new RegExp(`<tr id="person-${personId}" class="just-done">[\\s\\S]*?</tr>\\s*(?:\\{\\{!--[\\s\\S]*?--\\}\\}\\s*)?<tr class="row-flash"><td colspan="7"><p class="banner banner-ok" role="status" data-testid="row-flash">([^<]*)</p>`).exec(html)?.[1] ?? null;

/**
 * The people list opens at the row of the person just added or registered (#person-…): the message
 * saying so stands under that row, where the eye is, not at the top of the page a screen above.
 */
describe(`The people list says what was just done under the row it opens at (${dialectName})`, () => {
  let h: Harness;
  let client: Client;
  let admin: MadeUser;
  let b: TestBrowser;
  before(async () => {
    ({ h, client, admin, browser: b } = await clientWithAdmin({ code: 'RFL', name: '株式会社行のそば' }));
  });
  after(async () => { await h.close(); });

  it('支払先を登録: under the new payee\'s row, once, and not at the top', async () => {
    const res = await b.post('/client/people/payees', { code: 'P100', name: '講師 一郎', nameKana: '', kind: 'lecturer' }, '/client/people');
    expect(res.status).to.equal(303);
    const payee = (await Payee.findOne({ where: { clientId: client.id, code: 'P100' } }))!;
    expect(res.headers.location).to.equal(`/client/people?code=P100#person-${payee.id}`);
    const list = await b.get(res.headers.location!);
    expect(underRow(list.text, payee.id)).to.equal(ja('people.payeeAdded'));
    expect(topBanner(list.text)).to.equal(null);
    expect(list.text.split(ja('people.payeeAdded')).length - 1).to.equal(1);
  });

  it('代理登録 back to the list: マイナンバーを登録しました under the row; back to the employee\'s page: at the top as before', async () => {
    const { employee } = await makeEmployee(client.id, { employeeCode: 'E100', name: '山田 太郎' });
    const path = `/client/people/employee/${employee.id}/number`;
    const toList = await b.post(path, { number: numberFrom(67000000001), issueDate: '' }, path);
    expect(toList.status).to.equal(303);
    const list = await b.get(toList.headers.location!);
    expect(underRow(list.text, employee.id)).to.equal(ja('vault.registered'));
    expect(topBanner(list.text)).to.equal(null);

    const fromPage = `${path}?from=employee`;
    const toPage = await b.post(path, { number: numberFrom(67000000002), issueDate: '', from: 'employee' }, fromPage);
    expect(toPage.headers.location).to.equal(`/client/people/employees/${employee.id}`);
    expect(topBanner((await b.get(toPage.headers.location!)).text)).to.equal(ja('vault.registered'));
  });

  it('a list that does not show the row (another page of it) says it at the top, never nowhere', async () => {
    const res = await b.post('/client/people/payees', { code: 'P200', name: '講師 二郎', nameKana: '', kind: 'lecturer' }, '/client/people');
    expect(res.status).to.equal(303);
    const elsewhere = await b.get('/client/people?code=NOBODY');
    expect(topBanner(elsewhere.text)).to.equal(ja('people.payeeAdded'));
    expect(elsewhere.text).to.not.contain('data-testid="row-flash"');
  });
});

/** The message inside one person's card of じぶんで登録 (the page opens at that card). */
const inCard = (html: string, key: string) =>
  new RegExp(`<section class="card narrow person-card" id="person-${key}"[^>]*>\\s*<h2>[\\s\\S]*?</h2>\\s*<p class="banner banner-ok" role="status" data-testid="row-flash">([^<]*)</p>`).exec(html)?.[1] ?? null;

/**
 * じぶんで登録 on a phone: after a dependant is added, or a number registered or confirmed, the page
 * opens at that person's card; 「登録しました」 stood at the top, out of sight. It is said in the card.
 */
describe(`じぶんで登録 says what was just done in the person's card it opens at (${dialectName})`, () => {
  let h: Harness;
  let eb: TestBrowser;
  before(async () => {
    h = await createHarness();
    const client = await makeClient(h, { code: 'RFS', name: '株式会社カードのなか' });
    const worker = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
    const employee = await Employee.create({ clientId: client.id, employeeCode: 'S001', name: '本人 一郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: worker.user.id });
    await makeDependant(client.id, employee.id, '家族 花子');
    eb = new TestBrowser(h.portal.app);
    await eb.login(worker);
  });
  after(async () => { await h.close(); });

  it('a dependant added: the page opens at their card, the message in it, not at the top', async () => {
    const res = await eb.post('/me/dependants', { name: '家族 次郎', nameKana: '', relationship: 'child' }, '/me/numbers');
    const added = (await Dependant.findOne({ where: { name: '家族 次郎' } }))!;
    expect([res.status, res.headers.location]).to.deep.equal([303, `/me/numbers#person-${added.id}`]);
    const page = await eb.get('/me/numbers');
    expect(inCard(page.text, added.id)).to.equal(ja('vault.self.dependantAdded'));
    expect(topBanner(page.text)).to.equal(null);
  });

  it('a number registered, by a plain form post and by the page\'s script (with the card\'s photo): to that card, the message in it', async () => {
    const child = (await Dependant.findOne({ where: { name: '家族 花子' } }))!;
    const plain = await eb.post('/me/numbers', { person: child.id, number: numberFrom(68000000001), confirm: 'on' }, '/me/numbers');
    expect([plain.status, plain.headers.location]).to.deep.equal([303, `/me/numbers#person-${child.id}`]);
    let page = await eb.get('/me/numbers');
    expect(inCard(page.text, child.id)).to.equal(ja('vault.registered'));
    expect(topBanner(page.text)).to.equal(null);

    const scripted = await eb.agent.post('/me/numbers').set('X-CSRF-Token', csrfIn(page.text)).set('Accept', 'application/json')
      .field('person', 'self').field('number', numberFrom(68000000002)).field('confirm', 'on')
      .attach('files', pngBytes(2500), { filename: 'card.png', contentType: 'image/png' });
    expect(scripted.status, scripted.text).to.equal(200);
    expect(scripted.body.redirect).to.equal('/me/numbers#person-self');
    page = await eb.get('/me/numbers');
    expect(inCard(page.text, 'self')).to.equal(ja('vault.registered'));
    expect(topBanner(page.text)).to.equal(null);
  });
});

/** The message the employee's page shows in the part it opens at (#id): after that element, before the next part. */
const inPart = (html: string, id: string) => {
  const from = html.indexOf(` id="${id}"`);
  if (from < 0) return null;
  const rest = html.slice(from + 1);
  const end = rest.search(/<section|<tr id=|<\/tbody>/);
  return /data-testid="flash-here">([^<]*)</.exec(end < 0 ? rest : rest.slice(0, end))?.[1] ?? null;
};

/**
 * From a product walk: the employee's page opens at the part just saved (#leave, #details, …), and
 * 「退職日を保存しました」 stood in the banner at the top, a screen or more above on a phone.
 */
describe(`The employee's page says what was just done in the part it opens at (${dialectName})`, () => {
  let h: Harness;
  let client: Client;
  let b: TestBrowser;
  let employee: Employee;
  let pageOf: string;
  before(async () => {
    ({ h, client, browser: b } = await clientWithAdmin({ code: 'RFE', name: '株式会社部分のそば' }));
    ({ employee } = await makeEmployee(client.id, { employeeCode: 'E300', name: '部分 一郎' }));
    pageOf = `/client/people/employees/${employee.id}`;
  });
  after(async () => { await h.close(); });

  /** Posts the form, follows the redirect; the message must be in `part` once, and not at the top. */
  const saysIn = async (path: string, body: Record<string, string>, part: (done: { location: string }) => string, key: string) => {
    const res = await b.post(`${pageOf}${path}`, body, pageOf);
    expect(res.status, res.text).to.equal(303);
    const location = res.headers.location!;
    const at = part({ location });
    expect(location).to.equal(`${pageOf}#${at}`);
    const shown = await b.get(location);
    expect(inPart(shown.text, at), at).to.equal(ja(key));
    expect(topBanner(shown.text), at).to.equal(null);
    expect(shown.text.split(ja(key)).length - 1, at).to.equal(1);
  };

  it('退職日 saved: in the leave date\'s part', async () => {
    await saysIn('/leave', { leaveDate: '2026-03-31' }, () => 'leave', 'people.leaveSaved');
    expect((await Employee.findByPk(employee.id))!.leaveDate).to.equal('2026-03-31');
    await saysIn('/leave', { leaveDate: '' }, () => 'leave', 'people.leaveSaved');
  });

  it('details corrected: under 登録内容を修正', async () => {
    await saysIn('/details', { employeeCode: 'E300', name: '部分 壱郎', nameKana: '', hireDate: '' }, () => 'details', 'people.corrected');
  });

  it('a dependant added, then corrected: in their row', async () => {
    let added = '';
    await saysIn('/dependants', { name: '部分 花子', nameKana: '', relationship: 'child' }, ({ location }) => {
      added = /#(dependant-[0-9a-f-]{36})$/.exec(location)?.[1] ?? 'no dependant in the address';
      return added;
    }, 'people.dependantAdded');
    const d = (await Dependant.findOne({ where: { employeeId: employee.id } }))!;
    expect(added).to.equal(`dependant-${d.id}`);
    await saysIn(`/dependants/${d.id}`, { name: '部分 華子', nameKana: '', relationship: 'child' }, () => `dependant-${d.id}`, 'people.corrected');
  });

  it('invited, then the account unlinked: in the account\'s part (the invitation form is gone once invited)', async () => {
    await saysIn('/invite', { email: 'ichiro@example.jp', lang: 'ja' }, () => 'account', 'people.invited');
    await saysIn('/account', { unlink: 'on' }, () => 'account', 'people.accountSaved');
  });
});
