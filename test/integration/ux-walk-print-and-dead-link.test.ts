import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { makeDependant, makeEmployee, makePayee, numberFrom, validNumber } from '../support/vault';
import { systemContext } from '../../server/audit';
import { VaultInvitation, type Client } from '../../server/db/models';

/** From a product walk: the firm's print page, and a one-time link opened again after it stopped working. */
describe("UX walk: the firm's print page leads back and names each dependant's 続柄", () => {
  let h: Harness;
  let client: Client;
  let staff: MadeUser;
  let b: TestBrowser;
  const ids: string[] = [];
  const listPath = () => `/firm/clients/${client.id}/numbers`;

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'UXP', name: '株式会社プリント歩き' });
    staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
    const parent = await makeEmployee(client.id, { employeeCode: 'P001', name: '山田 太郎' });
    const child = await makeDependant(client.id, parent.employee.id, '山田 花子');
    for (const [i, { person }] of [parent, child].entries()) {
      ids.push((await h.booted.services.vault.register(systemContext('test'), person, { number: numberFrom(65000000000 + i), issueDate: null }, { source: 'proxy', registeredBy: null })).id);
    }
    b = new TestBrowser(h.portal.app);
    await b.login(staff);
    expect((await b.reauth(staff)).status).to.equal(303);
  });
  after(async () => { await h.close(); });

  it('has 一覧に戻る (back to the list as it was left), not printed, and a 続柄 column as the CSV has', async () => {
    const token = await b.csrf(listPath());
    const res = await b.agent.post(`${listPath()}/print?status=registered&page=1`).type('form')
      .send(`_csrf=${encodeURIComponent(token)}&purpose=withholding_slip&office=tax_office&ids=${ids[0]}&ids=${ids[1]}`);
    expect(res.status, res.text).to.equal(200);
    // The way back sits with the print button, in the part the print stylesheet hides.
    const tools = /<p class="no-print[^"]*">([\s\S]*?)<\/p>/.exec(res.text)?.[1] ?? '';
    // 一覧に戻る, which the page's script swaps for このページを閉じる when the sheet is a tab of its own (test/e2e/print-sheet).
    expect(tools).to.contain('data-print').and.contain(`<a class="button" href="${listPath()}?status&#x3D;registered" data-testid="print-back" data-back-unless-closable>一覧に戻る</a>`)
      .and.contain('<button type="button" data-close-tab hidden>このページを閉じる</button>');
    const css = readFileSync('public/css/portal.css', 'utf8');
    expect(/@media print\s*{[^}]*\.no-print[^}]*display:\s*none/.exec(css), 'print CSS hides .no-print').to.not.equal(null);
    // 続柄: the dependant's relationship, blank for the employee.
    expect(res.text).to.contain('<th>続柄</th>');
    expect(res.text).to.contain('<td>P001</td><td>山田 太郎</td><td data-testid="print-relationship"></td>');
    expect(res.text).to.contain('<td>山田 太郎 &gt; 山田 花子</td><td data-testid="print-relationship">子</td>');
  });
});

describe('UX walk: a one-time link opened again once it no longer works', () => {
  let h: Harness;
  let admin: TestBrowser;
  before(async () => {
    h = await createHarness();
    const client = await makeClient(h, { code: 'UXL', name: '株式会社リンク歩き' });
    const made = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    admin = new TestBrowser(h.portal.app);
    await admin.login(made);
  });
  after(async () => { await h.close(); });

  async function newLink(): Promise<{ path: string; code: string }> {
    const { payee } = await makePayee((await VaultInvitation.sequelize!.models.Client!.findOne({ where: { code: 'UXL' } }))!.get('id') as string);
    const sheet = await admin.post(`/client/people/payee/${payee.id}/link`, { email: `payee-${payee.id.slice(0, 8)}@example.jp` }, '/client/people');
    expect(sheet.status, sheet.text).to.equal(200);
    return { path: new URL(/data-testid="link-url">([^<]+)</.exec(sheet.text)![1]!).pathname, code: /data-testid="link-code">(\d{8})</.exec(sheet.text)![1]! };
  }

  /** The page a link's holder gets: says the link is no longer valid, whom to ask, and offers no sign-in. */
  function expectDeadPage(res: { status: number; text: string }, what: string) {
    expect(res.status, what).to.equal(404);
    expect(res.text, what).to.contain('<h1>このURLはもう使えません</h1>').and.contain('このURLを送ってきた会社の担当者にご依頼ください');
    // Asked once: the reason above it does not ask again (依頼元にお問い合わせください / 新しいURLと確認コードを依頼).
    expect(res.text.match(/依頼/g), what).to.have.length(1);
    expect(res.text, what).to.not.contain('見つかりません').and.not.contain('トップへ戻る').and.not.contain('href="/login"');
  }

  // From a product walk: 戻る on the sheet led to the top of the list, the person somewhere below (支払先を登録 opens at the row already).
  it('the sheet\'s 戻る leads back to the list as it was left, at that person\'s row', async () => {
    const clientId = (await VaultInvitation.sequelize!.models.Client!.findOne({ where: { code: 'UXL' } }))!.get('id') as string;
    const { payee } = await makePayee(clientId, { code: 'P777', name: '戻る 先生' });
    const back = (html: string) => /<a class="back-link" href="([^"]*)"/.exec(html)?.[1]?.replace(/&amp;/g, '&').replace(/&#x3D;/g, '=');
    const plain = await admin.post(`/client/people/payee/${payee.id}/link`, { email: '' }, '/client/people');
    expect(plain.status, plain.text).to.equal(200);
    expect(back(plain.text)).to.equal(`/client/people#person-${payee.id}`);
    // Made from a filtered list (its form keeps the filter in its address): back to that list, at the row.
    const filtered = await admin.agent.post(`/client/people/payee/${payee.id}/link?status=missing&name=${encodeURIComponent('戻る')}`).type('form').send({ _csrf: await admin.csrf('/client/people'), email: '' });
    expect(filtered.status, filtered.text).to.equal(200);
    expect(back(filtered.text)).to.equal(`/client/people?name=${encodeURIComponent('戻る')}&status=missing#person-${payee.id}`);
  });

  it('used: a heading that says so, and to ask the company that sent it for a new one, with no way to a login page', async () => {
    const { path, code } = await newLink();
    const visitor = new TestBrowser(h.portal.app);
    const form = await visitor.get(path);
    expect(form.status).to.equal(200);
    const done = await visitor.agent.post(path).type('form').send({ _csrf: csrfIn(form.text), code, number: validNumber(66667777888), confirm: 'on' });
    expect(done.status, done.text).to.equal(303);
    // Whoever used it is led back to their thanks (test/integration/link-done-same-visitor); anyone else gets this page.
    expect((await visitor.get(path)).headers.location, 'reopened by its visitor').to.equal('/r/done');
    const someoneElse = new TestBrowser(h.portal.app);
    const dead = await someoneElse.get(path);
    expectDeadPage(dead, 'opened by someone else after use');
    // Posting the form again (someone else's page left open): the same page.
    expectDeadPage(await someoneElse.agent.post(path).type('form').send({ _csrf: csrfIn(dead.text), code, number: validNumber(66667777888), confirm: 'on' }), 'posted again');
  });

  it('expired, or never issued: the same page (a link\'s state is not told); a script asking for JSON still gets the error', async () => {
    const { path } = await newLink();
    await VaultInvitation.update({ expiresAt: new Date(Date.now() - 1000) }, { where: {} });
    expectDeadPage(await new TestBrowser(h.portal.app).get(path), 'expired');
    expectDeadPage(await new TestBrowser(h.portal.app).get('/r/not-a-real-link-token-aaaaaaaaaaaaaaaaaaaa'), 'never issued');
    const json = await new TestBrowser(h.portal.app).get(path).set('Accept', 'application/json');
    expect(json.status).to.equal(404);
    expect(json.body.error.code).to.equal('vault.link.dead');
  });

  it('worn out by wrong codes: says why, and asks for a new link once', async () => {
    const { path, code } = await newLink();
    const visitor = new TestBrowser(h.portal.app);
    const form = await visitor.get(path);
    await VaultInvitation.update({ failedAttempts: 4 }, { where: {} });
    const wrong = code === '00000000' ? '11111111' : '00000000';
    const res = await visitor.agent.post(path).type('form').send({ _csrf: csrfIn(form.text), code: wrong, number: validNumber(66667777888), confirm: 'on' });
    expectDeadPage(res, 'worn out');
    expect(res.text).to.contain('確認コードを続けて間違えたため、このURLは使えなくなりました。');
  });

  it('in English, with no Japanese of its own', async () => {
    const { path } = await newLink();
    await VaultInvitation.update({ expiresAt: new Date(Date.now() - 1000) }, { where: {} });
    const res = await new TestBrowser(h.portal.app).get(path).set('Cookie', 'lang=en');
    expect(res.status).to.equal(404);
    expect(res.text).to.contain('<html lang="en">').and.contain('<h1>This link is no longer valid</h1>').and.contain('ask the company that sent you this link for a new one');
    const main = /<main[^>]*>([\s\S]*?)<\/main>/.exec(res.text)![1]!;
    expect(main.match(/[\u3040-\u30ff\u3400-\u9fff（）「」。、]/g) ?? []).to.deep.equal([]);
    expect(main).to.not.contain('href="/login"');
  });
});
