import { expect } from 'chai';
import { dialectName, type Harness } from '../support/harness';
import { clientWithAdmin } from '../support/client-admin';
import { makeUser, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { makeEmployee, makePayee } from '../support/vault';
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
