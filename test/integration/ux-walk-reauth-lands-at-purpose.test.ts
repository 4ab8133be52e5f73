import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { uploadFiles } from '../support/files';
import { Employee, StoredFile, User, type Client } from '../../server/db/models';
import { currentTotp } from '../../server/auth/totp';

const unescape = (v: string) => v.replace(/&amp;/g, '&').replace(/&#x3D;/g, '=');
/** Where the page's re-authentication link leads (the only one in the page's main part). */
const reauthLinkOf = (html: string) => {
  const main = unescape(html.slice(html.indexOf('<main')));
  const links = [...main.matchAll(/<a[^>]*href="(\/reauth\?next=[^"]*)"/g)].map((m) => m[1]!);
  expect(links, 'one re-authentication link').to.have.length(1);
  return links[0]!;
};

/**
 * From a product walk on a phone: a staff member filtered a client's numbers (the home page's
 * 番号未登録 link, a name), re-authenticated from the list's notice and came back to the whole list
 * scrolled to the top, the filter gone; and, for a file holding My Numbers, to the file's facts with
 * the purpose choice a screen below. Now both come back as they were, at the purpose choice.
 */
describe('UX walk: re-authentication brings the firm back to the list as filtered, at the purpose choice', () => {
  let h: Harness;
  let client: Client;
  let staff: MadeUser;
  let sb: TestBrowser;

  /** Re-authenticates through the page the link opens (its form carries `next`), and says where it sends the browser. */
  async function reauthThrough(href: string): Promise<string | undefined> {
    const form = await sb.get(href);
    expect(form.status).to.equal(200);
    const next = unescape(/name="next" value="([^"]*)"/.exec(form.text)?.[1] ?? '');
    await User.update({ totpLastStep: null }, { where: { id: staff.user.id } });
    const done = await sb.post('/reauth', { password: staff.password, code: await currentTotp(staff.totpSecret!), next }, href);
    expect(done.status).to.equal(303);
    return done.headers.location;
  }

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'RLP', name: '株式会社リターン' });
    staff = await makeUser(h, { role: 'firm_staff', name: '担当 花子' });
    await assign(h, client.id, staff.user.id);
    for (const [code, name] of [['R001', '山田 太郎'], ['R002', '鈴木 次郎']]) {
      await Employee.create({ clientId: client.id, employeeCode: code!, name: name!, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
    }
    const hr = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    const hb = new TestBrowser(h.portal.app);
    await hb.login(hr);
    const sent = await uploadFiles(hb, { direction: 'to_firm', category: 'procedure', containsMyNumber: 'on' }, [{ name: 'fuyou.csv', data: Buffer.from('code,name\nR001,yamada\n') }]);
    expect(sent.status, sent.text).to.equal(200);
    sb = new TestBrowser(h.portal.app);
    await sb.login(staff);
  });
  after(async () => { await h.close(); });

  it("the numbers list: back filtered (番号未登録, a name) and at the purpose choice", async () => {
    const list = `/firm/clients/${client.id}/numbers?${new URLSearchParams({ name: '山田', status: 'missing' }).toString()}`;
    const before = (await sb.get(list)).text;
    const href = reauthLinkOf(before);
    expect(href).to.equal(`/reauth?next=${encodeURIComponent(`${list}#purpose-choice`)}`);
    const landed = await reauthThrough(href);
    expect(landed).to.equal(`${list}#purpose-choice`);
    const after = (await sb.get(landed!.split('#')[0]!)).text;
    expect(after).to.contain('id="purpose-choice"').and.contain('value="山田"').and.not.contain('href="/reauth?next=');
    expect(after).to.contain('R001').and.not.contain('R002');
  });

  it('a file holding My Numbers: back at its purpose choice', async () => {
    const file = (await StoredFile.findOne({ where: { displayName: 'fuyou.csv' } }))!;
    await sb.post('/logout', {}, '/home');
    await sb.login(staff);
    const href = reauthLinkOf((await sb.get(`/files/${file.id}`)).text);
    expect(href).to.equal(`/reauth?next=${encodeURIComponent(`/files/${file.id}#purpose-choice`)}`);
    const landed = await reauthThrough(href);
    expect(landed).to.equal(`/files/${file.id}#purpose-choice`);
    expect((await sb.get(`/files/${file.id}`)).text).to.contain('id="purpose-choice"');
  });
});
