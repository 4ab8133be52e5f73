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
