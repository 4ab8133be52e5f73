import { expect } from 'chai';
import { createHarness, dialectName, type Harness } from '../support/harness';
import { makeUser, makeClient, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { DisposalItem, DisposalRequest, Employee, type Client } from '../../server/db/models';
import { findPerson } from '../../server/vault/people';
import { systemContext } from '../../server/audit';
import { numberFrom } from '../support/vault';
import { ja } from '../support/security';

/**
 * From a product walk: the retention list offered 「この条件に該当する7件すべてを対象にする」 on a
 * list where nothing was due (seven people still employed, or a leaver whose date is years away):
 * one tick there asked for every number at once, before its time. The box is for what is due;
 * with nothing due the page says so, and when the next number will be.
 */
describe(`廃棄: 「すべてを対象にする」 only for the numbers that are due, otherwise when the next one is (${dialectName})`, () => {
  let h: Harness;
  const due: string[] = [];
  const notDue: string[] = [];

  const employWith = async (client: Client, code: string, leaveDate: string | null, seed: number) => {
    const e = await Employee.create({ clientId: client.id, employeeCode: code, name: `保存 ${code}`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate, userId: null });
    return h.booted.services.vault.register(systemContext('test'), await findPerson(client.id, 'employee', e.id), { number: numberFrom(seed), issueDate: null }, { source: 'proxy', registeredBy: null });
  };
  const signedIn = async (u: MadeUser) => { const b = new TestBrowser(h.portal.app); await b.login(u); return b; };
  /** The "all of these" box, or the line said instead of it. */
  const allDueBox = (html: string) => /<label class="check" data-testid="all-due">[\s\S]*?<\/label>/.exec(html)?.[0] ?? null;
  const noneDue = (html: string) => /<p class="notice" data-testid="none-due">([\s\S]*?)<\/p>/.exec(html)?.[1] ?? null;

  let mixed: MadeUser;
  let nothingDue: MadeUser;
  let onlyEmployed: MadeUser;
  before(async () => {
    h = await createHarness();
    // Two left in 2016 (deletion date 2023: due), one still employed (no date), one left in 2024 (2031-03-31: not yet).
    const a = await makeClient(h, { code: 'AD01', name: '株式会社期限あり' });
    mixed = await makeUser(h, { role: 'client_admin', clientId: a.id, totp: false });
    due.push((await employWith(a, 'D1', '2016-03-31', 63000000001)).id, (await employWith(a, 'D2', '2016-03-31', 63000000002)).id);
    notDue.push((await employWith(a, 'N1', null, 63000000003)).id, (await employWith(a, 'N2', '2024-03-31', 63000000004)).id);
    // Nothing due: one employed, one whose date is 2031.
    const b = await makeClient(h, { code: 'AD02', name: '株式会社期限なし' });
    nothingDue = await makeUser(h, { role: 'client_admin', clientId: b.id, totp: false });
    await employWith(b, 'N1', null, 63000000005);
    await employWith(b, 'N2', '2024-03-31', 63000000006);
    // Everyone still employed: no date at all yet.
    const c = await makeClient(h, { code: 'AD03', name: '株式会社在籍のみ' });
    onlyEmployed = await makeUser(h, { role: 'client_admin', clientId: c.id, totp: false });
    await employWith(c, 'N1', null, 63000000007);
  });
  after(async () => { await h.close(); });

  it('nothing due: no box to tick; the page says nothing is due and the date the next number is', async () => {
    const b = await signedIn(nothingDue);
    for (const path of ['/disposal', '/disposal?due=1']) {
      const page = await b.get(path);
      expect(allDueBox(page.text), path).to.equal(null);
      expect(page.text, path).not.to.contain('name="allMatching"');
      expect(noneDue(page.text), path).to.equal(ja('disposal.noneDueNext', { date: '2031-03-31' }));
    }
  });

  it('only people still employed: nothing due and no date yet, said as such; a filter matching nobody says that', async () => {
    const b = await signedIn(onlyEmployed);
    const page = await b.get('/disposal');
    expect(allDueBox(page.text)).to.equal(null);
    expect(noneDue(page.text)).to.equal(ja('disposal.noneDueNoDate'));
    const nobody = await b.get('/disposal?code=NONE');
    expect(allDueBox(nobody.text)).to.equal(null);
    expect(noneDue(nobody.text)).to.equal(ja('disposal.noneMatching'));
    // No table of headers over no rows: the notice is what the page says.
    expect(page.text).to.contain('data-testid="retention-table"');
    expect(nobody.text).not.to.contain('data-testid="retention-table"');
  });

  it('some due: the box counts the due ones only, and ticking it on the unfiltered list requests exactly those, none early', async () => {
    const b = await signedIn(mixed);
    const page = await b.get('/disposal');
    expect(allDueBox(page.text)).to.contain(ja('disposal.allMatchingOnePage', { count: 2 }));
    expect(page.text).to.contain('name="shownTotal" value="2"');
    expect(noneDue(page.text)).to.equal(null);
    const res = await b.post('/disposal/requests', { allMatching: 'on', shownTotal: '2', reason: '保存期間満了' }, '/disposal');
    expect(res.status, res.text.slice(0, 500)).to.equal(303);
    const req = (await DisposalRequest.findOne({ where: { status: 'requested' } }))!;
    expect(req.early).to.equal(false);
    const items = (await DisposalItem.findAll({ where: { requestId: req.id } })).map((i) => i.itemId);
    expect(items.sort()).to.deep.equal([...due].sort());
    expect(items).not.to.include.members(notDue);
  });
});
