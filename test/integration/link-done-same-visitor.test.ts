import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { makeDependant, makeEmployee, makePayee, numberFrom, twelveDigitRunsOutsideIds } from '../support/vault';
import { systemContext } from '../../server/audit';
import { NumberRecord, SessionRow, type Client } from '../../server/db/models';
import { editSession, readSession } from '../support/security';
import { LINK_DONE_SHOWN_MS } from '../../server/web/handlers/vault-links';

/**
 * From a product walk (a payee on a phone): the thanks page after a one-time link says what came in,
 * masked; and the same form sent again by the same visitor — a second tap on 登録する over a slow
 * connection, whose answer is the one the browser shows — leads to those thanks, not to
 * 「このURLはもう使えません」 for numbers that did come in. Anyone else still gets the dead-link page.
 */
describe('UX walk: a one-time link, once used, thanks its visitor with what came in (masked), even when the form is sent twice', () => {
  let h: Harness;
  let client: Client;
  let issuer: string;

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'LDN', name: '株式会社ありがとう' });
    issuer = (await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false })).user.id;
  });
  after(async () => { await h.close(); });

  async function open(visitor: TestBrowser, path: string): Promise<string> {
    const page = await visitor.get(path);
    expect(page.status, page.text).to.equal(200);
    return csrfIn(page.text);
  }

  /** The link's form as a browser without the page's script sends it (multipart, fields only, the token among them). */
  function send(visitor: TestBrowser, path: string, fields: Record<string, string>) {
    let req = visitor.agent.post(path).set('Accept', 'text/html');
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    return req;
  }

  it('a payee: the thanks name them and the number masked; the form sent again, or the link opened again, by them comes back to the thanks', async () => {
    const { payee, person } = await makePayee(client.id, { name: '講師 二郎' });
    const link = await h.booted.services.vaultLinks.create(systemContext('test'), person, issuer, null);
    const path = new URL(link.url).pathname;
    const number = numberFrom(27182818284);
    const visitor = new TestBrowser(h.portal.app);
    const token = await open(visitor, path);
    const form = { _csrf: token, code: link.code, number, confirm: 'on' };

    const first = await send(visitor, path, form);
    expect(first.status, first.text).to.equal(303);
    expect(first.headers.location).to.equal('/r/done');
    const thanks = await visitor.get('/r/done');
    expect(thanks.status).to.equal(200);
    expect(thanks.text).to.contain('ご提供ありがとうございました');
    const listed = /<ul data-testid="link-registered">([\s\S]*?)<\/ul>/.exec(thanks.text)?.[1] ?? '';
    expect(listed, 'what came in, masked').to.contain('講＊ 二＊').and.contain(`<code data-testid="masked-number">**********${number.slice(-2)}</code>`);
    expect(twelveDigitRunsOutsideIds(thanks.text), 'no whole number on the thanks page').to.deep.equal([]);

    // The second tap: the same form again, from the same visitor, once the first has landed.
    const again = await send(visitor, path, form);
    expect(again.status, again.text).to.equal(303);
    expect(again.headers.location).to.equal('/r/done');
    // From the browser's history: the link's page again.
    const reopened = await visitor.get(path);
    expect(reopened.status).to.equal(303);
    expect(reopened.headers.location).to.equal('/r/done');
    expect(await NumberRecord.count({ where: { personId: payee.id } }), 'registered once').to.equal(1);

    // Anyone else: the link is dead, and the thanks page tells them nothing.
    const stranger = new TestBrowser(h.portal.app);
    const dead = await stranger.get(path);
    expect(dead.status).to.equal(404);
    expect(dead.text).to.contain('このURLはもう使えません');
    const strangerPost = await send(stranger, path, { ...form, _csrf: csrfIn(dead.text) });
    expect(strangerPost.status).to.equal(404);
    const strangerThanks = await stranger.get('/r/done');
    expect(strangerThanks.text).to.not.contain('link-registered').and.not.contain('講＊');
  });

  it("an employee's sheet: the thanks list their own number and each dependant's given, with the 続柄, in English too", async () => {
    const { employee, person } = await makeEmployee(client.id, { name: '鈴木 一郎' });
    const { dependant } = await makeDependant(client.id, employee.id, '鈴木 花子');
    const link = await h.booted.services.vaultLinks.create(systemContext('test'), person, issuer, null, 'en');
    const url = new URL(link.url);
    const own = numberFrom(31415926535);
    const child = numberFrom(16180339887);
    const visitor = new TestBrowser(h.portal.app);
    const token = await open(visitor, url.pathname + url.search);
    const sent = await send(visitor, url.pathname, { _csrf: token, code: link.code, number: own, [`dep_${dependant.id}`]: child, confirm: 'on' });
    expect(sent.status, sent.text).to.equal(303);
    const thanks = await visitor.get('/r/done');
    expect(thanks.text).to.contain('Numbers received (only the last two digits are shown)');
    const items = [...thanks.text.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => m[1]!.replace(/\s+/g, ' ').trim());
    expect(items).to.deep.equal([
      `鈴＊ 一＊ <code data-testid="masked-number">**********${own.slice(-2)}</code>`,
      `鈴＊ 花＊ <small> (Child)</small> <code data-testid="masked-number">**********${child.slice(-2)}</code>`,
    ]);
    expect(twelveDigitRunsOutsideIds(thanks.text)).to.deep.equal([]);
  });

  it('on a shared browser (an office tablet, a family phone) the thanks do not stay: once a while has passed, the list is gone and the used link is dead', async () => {
    const { person } = await makePayee(client.id, { name: '共用 五郎' });
    const link = await h.booted.services.vaultLinks.create(systemContext('test'), person, issuer, null);
    const path = new URL(link.url).pathname;
    const number = numberFrom(11235813213);
    const tablet = new TestBrowser(h.portal.app);
    const token = await open(tablet, path);
    const sent = await send(tablet, path, { _csrf: token, code: link.code, number, confirm: 'on' });
    expect(sent.status, sent.text).to.equal(303);
    expect((await tablet.get('/r/done')).text).to.contain('共＊ 五＊');
    // The session lives on (hours), its thanks not: as if sent LINK_DONE_SHOWN_MS ago.
    const rows = await SessionRow.findAll({ attributes: ['sid'] });
    let aged = 0;
    for (const row of rows) {
      if (!(await readSession(row.sid))?.vaultLinkDone) continue;
      await editSession(row.sid, (d) => { (d.vaultLinkDone as { at: number }).at = Date.now() - LINK_DONE_SHOWN_MS - 1000; });
      aged++;
    }
    expect(aged).to.be.greaterThan(0);
    const later = await tablet.get('/r/done');
    expect(later.status).to.equal(200);
    expect(later.text).to.contain('ご提供ありがとうございました').and.not.contain('link-registered').and.not.contain('共＊');
    const reopened = await tablet.get(path);
    expect(reopened.status).to.equal(404);
    expect(reopened.text).to.not.contain('共＊ 五＊').and.not.contain(`**********${number.slice(-2)}`);
  });
});
