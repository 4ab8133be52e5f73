import { expect } from 'chai';
import { dialectName, type Harness } from '../support/harness';
import { clientWithAdmin } from '../support/client-admin';
import { makeUser, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { makeDependant, makeEmployee, makePayee } from '../support/vault';
import { systemContext } from '../../server/audit';
import { Employee, type Client } from '../../server/db/models';

/** The label of the form's date field, and whether the field takes dates before the first notices (2015-10-05). */
const issueDateField = (html: string) => {
  const m = /<label>([^<]*)<input type="date" name="issueDate"([^>]*)>/.exec(html);
  return m ? { label: m[1]!.trim(), min: /min="([^"]*)"/.exec(m[2]!)?.[1] ?? null } : null;
};

/**
 * From a product walk on a phone: a payee on the one-time link page, and an employee on じぶんで登録,
 * met a date field labelled only 発行日 — the issue date of what, and must it be filled in? It is the
 * card's (通知カード or マイナンバーカード), and it may be left empty.
 */
describe(`The number forms say whose date 発行日 is, and that it may be left empty (${dialectName})`, () => {
  let h: Harness;
  let client: Client;
  let admin: MadeUser;
  let ab: TestBrowser;
  before(async () => {
    ({ h, client, admin, browser: ab } = await clientWithAdmin({ code: 'NFW', name: '株式会社ことばづかい' }));
  });
  after(async () => { await h.close(); });

  it('the one-time link page, じぶんで登録 and 代理登録: 「カードの発行日（任意）」, never before the first cards', async () => {
    const { payee } = await makePayee(client.id, { code: 'P1', name: '講師 一郎' });
    const sheet = await ab.post(`/client/people/payee/${payee.id}/link`, {}, '/client/people');
    const link = new URL(/data-testid="link-url">([^<]+)</.exec(sheet.text)![1]!).pathname;
    const worker = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
    const { employee } = await makeEmployee(client.id, { employeeCode: 'E1', name: '社員 一郎' });
    await Employee.update({ userId: worker.user.id }, { where: { id: employee.id } });
    const eb = new TestBrowser(h.portal.app);
    await eb.login(worker);
    const pages = {
      link: (await new TestBrowser(h.portal.app).get(link)).text,
      self: (await eb.get('/me/numbers')).text,
      proxy: (await ab.get(`/client/people/payee/${payee.id}/number`)).text,
    };
    for (const [name, html] of Object.entries(pages)) {
      expect(issueDateField(html), name).to.deep.equal({ label: 'カードの発行日（任意）', min: '2015-10-05' });
    }
  });

  // From a later walk: an employee's printed sheet (a link with their dependants) showed a first field labelled only
  // マイナンバー（12桁）, then 「鈴＊ 花＊ （配偶者） マイナンバー（12桁）」: whose number goes first, and must every
  // dependant's be given? The first is the person's own, the dependants' are optional (a blank one is not registered).
  it("an employee's sheet says which number is their own and that their dependants' may be left blank; a payee's page has no such headings", async () => {
    const { employee, person } = await makeEmployee(client.id, { employeeCode: 'SHEET1', name: '鈴木 一郎' });
    await makeDependant(client.id, employee.id, '鈴木 花子');
    const sheet = await h.booted.services.vaultLinks.create(systemContext('test'), person, admin.user.id, null);
    const html = (await new TestBrowser(h.portal.app).get(new URL(sheet.url).pathname)).text;
    const headings = [...html.matchAll(/<h2 data-testid="[a-z-]+">([^<]*)<\/h2>/g)].map((m) => m[1]);
    expect(headings).to.deep.equal(['ご本人（鈴＊ 一＊ 様）の番号', '扶養家族の番号（任意）']);
    // In the page's order: own heading, own number, dependants' heading and hint, the dependant's number.
    const order = ['data-testid="own-section"', 'name="number"', 'data-testid="dependants-section"', '分かる方の分だけ入力してください。空欄の方は登録されません。', 'name="dep_'].map((s) => html.indexOf(s));
    expect(order.every((at, i) => at > 0 && (i === 0 || at > order[i - 1]!)), String(order)).to.equal(true);

    const payeeLink = await h.booted.services.vaultLinks.create(systemContext('test'), (await makePayee(client.id, { code: 'LINK1', name: '講師 三郎' })).person, admin.user.id, null);
    const payeePage = (await new TestBrowser(h.portal.app).get(new URL(payeeLink.url).pathname)).text;
    expect(payeePage).to.not.contain('data-testid="own-section"').and.not.contain('data-testid="dependants-section"');
  });

  // From the same walk: on a phone each row is a card whose values carry their column's name, and a payee's code read 社員コード.
  it('on the people list a payee\'s code is named 支払先コード, an employee\'s 社員コード (each card on a phone says which)', async () => {
    const { payee } = await makePayee(client.id, { code: 'P2', name: '講師 二郎' });
    const { employee } = await makeEmployee(client.id, { employeeCode: 'E2', name: '社員 二郎' });
    const list = (await ab.get('/client/people')).text;
    const codeCell = (id: string) => new RegExp(`<tr id="person-${id}"[^>]*>[\\s\\S]*?<td data-label="([^"]*)">([^<]*)</td>`).exec(list)!.slice(1);
    expect(codeCell(payee.id)).to.deep.equal(['支払先コード', 'P2']);
    expect(codeCell(employee.id)).to.deep.equal(['社員コード', 'E2']);
  });
});
