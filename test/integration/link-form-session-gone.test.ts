import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { makePayee, numberFrom } from '../support/vault';
import { systemContext } from '../../server/audit';
import { SessionRow } from '../../server/db/models';

/**
 * From a product walk (a payee on a phone): the one-time link's page left open until its session was
 * gone (swept overnight, say), then sent — the answer was 「この操作はできません」 / 「フォームの有効期限が
 * 切れました。ページを開き直して…」 with トップへ戻る only, which leads to a sign-in page a payee has no
 * account for. The page now offers the form's own page, opened afresh; the link still works there.
 */
describe('UX walk: a one-time link\'s form sent after its session is gone leads back to the link\'s page', () => {
  let h: Harness;
  before(async () => { h = await createHarness(); });
  after(async () => { await h.close(); });

  it('403 with a button to the link\'s page (not only to the top page); from there the number goes in', async () => {
    const client = await makeClient(h, { code: 'LSG', name: '株式会社ひらきなおし' });
    const issuer = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    const { person } = await makePayee(client.id, { name: '講師 三郎' });
    const link = await h.booted.services.vaultLinks.create(systemContext('test'), person, issuer.user.id, null);
    const path = new URL(link.url).pathname;
    const visitor = new TestBrowser(h.portal.app);
    const token = csrfIn((await visitor.get(path)).text);
    await SessionRow.destroy({ where: {} });

    const number = numberFrom(14142135623);
    const late = await visitor.agent.post(path).type('form').send({ _csrf: token, code: link.code, number, confirm: 'on' });
    expect(late.status).to.equal(403);
    expect(late.text).to.contain('フォームの有効期限が切れました').and.not.contain(number);
    expect(late.text).to.contain(`<a class="button primary" href="${path}" data-testid="reopen-form">ページを開き直す</a>`);

    const reopened = await visitor.get(path);
    expect(reopened.status).to.equal(200);
    const done = await visitor.agent.post(path).type('form').send({ _csrf: csrfIn(reopened.text), code: link.code, number, confirm: 'on' });
    expect(done.status, done.text).to.equal(303);
    expect(done.headers.location).to.equal('/r/done');
  });

  it('a form whose page is the top page (the language switch) gets no such button', async () => {
    const visitor = new TestBrowser(h.portal.app);
    const token = csrfIn((await visitor.get('/login')).text);
    await SessionRow.destroy({ where: {} });
    const late = await visitor.agent.post('/lang').type('form').send({ _csrf: token, lang: 'en', back: '/login' });
    expect(late.status).to.equal(403);
    expect(late.text).to.not.contain('data-testid="reopen-form"');
  });
});
