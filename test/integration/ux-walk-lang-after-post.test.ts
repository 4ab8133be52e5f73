import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { makePayee, numberFrom } from '../support/vault';
import { systemContext } from '../../server/audit';
import { formPages } from '../../server/app';
import { Employee, type Client } from '../../server/db/models';
import { findPerson } from '../../server/vault/people';

/** Where the page's language switch comes back to. */
const backOf = (html: string) => /<form method="post" action="\/lang"[\s\S]*?name="back" value="([^"]*)"/.exec(html)?.[1];

/**
 * From a product walk: a page answering a post (a refused form, the one-time link sheet, a revealed
 * number) sent its language switch back to the post's own path, which is no page: 見つかりません (404).
 */
describe('UX walk: the language switch on a page that answers a post', () => {
  let h: Harness;
  let client: Client;
  let admin: MadeUser;
  let staff: MadeUser;
  let employeeUser: MadeUser;
  let recordId: string;

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'UXLANG', name: '株式会社言語歩き' });
    admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
    employeeUser = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
    const emp = await Employee.create({ clientId: client.id, employeeCode: 'L1', name: '言語 太郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: employeeUser.user.id });
    const person = await findPerson(client.id, 'employee', emp.id);
    recordId = (await h.booted.services.vault.register(systemContext('test'), person, { number: numberFrom(71000000001), issueDate: null }, { source: 'proxy', registeredBy: null })).id;
  });
  after(async () => { await h.close(); });

  it('an employee whose typed number did not match switches to English and lands on their numbers page, not a 404', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(employeeUser);
    const refused = await b.post(`/me/numbers/${recordId}/confirm`, { typed: numberFrom(71000000002) }, '/me/numbers');
    expect(refused.status).to.equal(400);
    expect(backOf(refused.text)).to.equal('/me/numbers');
    const switched = await b.post('/lang', { lang: 'en', back: backOf(refused.text)! }, '/me/numbers');
    expect(switched.status).to.equal(303);
    const landed = await b.get(switched.headers.location!);
    expect(landed.status, landed.text.slice(0, 300)).to.equal(200);
    expect(landed.text).to.contain('lang="en"');
  });

  it("the one-time link sheet and the firm's revealed number come back to their lists", async () => {
    const a = new TestBrowser(h.portal.app);
    await a.login(admin);
    const { payee } = await makePayee(client.id, { code: 'LP1' });
    const sheet = await a.post(`/client/people/payee/${payee.id}/link`, {}, '/client/people');
    expect(sheet.status, sheet.text.slice(0, 300)).to.equal(200);
    expect(backOf(sheet.text)).to.equal('/client/people');

    const s = new TestBrowser(h.portal.app);
    await s.login(staff);
    expect((await s.reauth(staff)).status).to.equal(303);
    const list = `/firm/clients/${client.id}/numbers`;
    const shown = await s.post(`${list}/${recordId}/reveal`, { purpose: 'withholding_slip', office: 'tax_office' }, list);
    expect(shown.status, shown.text.slice(0, 300)).to.equal(200);
    expect(backOf(shown.text)).to.equal(list);
  });

  it('every post of the route table comes back to a page the portal serves to a GET', () => {
    const { routes } = h.portal;
    const pageOf = formPages(routes);
    const pages = routes.filter((d) => d.method === 'get').map((d) => new RegExp(`^${d.path.replace(/[.]/g, '\\.').replace(/:\w+/g, '[^/]+')}$`));
    const anId = '00000000-0000-4000-8000-000000000000';
    const fake = { params: new Proxy({}, { get: () => anId }), body: {} } as never;
    const lost = routes.filter((d) => d.method === 'post').map((d) => `${d.path} → ${pageOf(d)(fake)}`)
      .filter((line) => !pages.some((p) => p.test(line.split(' → ')[1]!)));
    expect(lost).to.deep.equal([]);
    // A post that is a page itself keeps its own path (the sign-in form, a one-time link).
    expect(pageOf(routes.find((d) => d.method === 'post' && d.path === '/r/:token')!)(fake)).to.equal(`/r/${anId}`);
    // Those whose nearest page above is the home page name their form's page instead.
    const toHome = routes.filter((d) => d.method === 'post' && pageOf(d)(fake) === '/' && !['/lang', '/logout'].includes(d.path)).map((d) => d.path);
    expect(toHome).to.deep.equal([]);
  });
});
