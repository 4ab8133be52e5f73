import { expect } from 'chai';
import { dialectName, type Harness } from '../support/harness';
import { clientWithAdmin } from '../support/client-admin';
import type { MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { makeEmployee, makePayee } from '../support/vault';
import { translate } from '../../server/i18n';
import type { Client } from '../../server/db/models';

const en = (key: string) => translate('en', key);
const ja = (key: string) => translate('ja', key);
/** The page's language and its first heading. */
const pageOf = (html: string) => ({ lang: /<html lang="(\w+)">/.exec(html)?.[1], h1: /<h1>([^<]*)</.exec(html)?.[1]?.trim() });
const linkIn = (text: string) => /(https?:\/\/\S+)/.exec(text)![1]!;
/** The link as a sheet shows it (Handlebars writes '=' as &#x3D;). */
const sheetLink = (html: string) => /data-testid="link-url">([^<]+)</.exec(html)![1]!.replace(/&#x3D;/g, '=');
const pathOf = (url: string) => { const u = new URL(url); return `${u.pathname}${u.search}`; };

/**
 * From a product walk on a phone: an employee invited in English (the mail in English) chose a
 * password on a page in Japanese; a payee's one-time link mailed in English opened a page in
 * Japanese. A page reached from a mail or a sheet opens in its language, until the reader picks one.
 */
describe(`Pages opened from a mail open in the mail's language (${dialectName})`, () => {
  let h: Harness;
  let client: Client;
  let admin: MadeUser;
  let ab: TestBrowser;
  before(async () => {
    ({ h, client, admin, browser: ab } = await clientWithAdmin({ code: 'MLP', name: '株式会社ことば' }));
  });
  after(async () => { await h.close(); });

  it('an invitation in English: the password page, and the sign-in after it, in English; a browser that chose 日本語 keeps it', async () => {
    const { employee } = await makeEmployee(client.id, { employeeCode: 'L001', name: 'Smith John' });
    const page = `/client/people/employees/${employee.id}`;
    const invited = await ab.post(`${page}/invite`, { email: 'john@example.jp', lang: 'en' }, page);
    expect(invited.status, invited.text.slice(0, 300)).to.equal(303);
    const mail = await h.smtp.lastTo('john@example.jp');
    expect(mail.subject).to.match(/^\[Akatsuki Portal\]/);
    const path = pathOf(linkIn(mail.text ?? ''));

    const chose = new TestBrowser(h.portal.app);
    await chose.post('/lang', { lang: 'ja', back: '/login' }, '/login');
    expect(pageOf((await chose.get(path)).text)).to.deep.equal({ lang: 'ja', h1: ja('password.set.title') });

    const john = new TestBrowser(h.portal.app);
    const form = await john.get(path);
    expect(pageOf(form.text)).to.deep.equal({ lang: 'en', h1: en('password.set.title') });
    const set = await john.agent.post(path).type('form').send({ _csrf: csrfIn(form.text), password: 'a river of quiet lanterns 2026', confirm: 'a river of quiet lanterns 2026' });
    expect([set.status, set.headers.location]).to.deep.equal([303, '/login']);
    expect(pageOf((await john.get('/login')).text)).to.deep.equal({ lang: 'en', h1: en('auth.login.title') });
  });

  it('a one-time link made in English: its mail and sheet lead to the page in English; made in Japanese, in Japanese', async () => {
    const { payee } = await makePayee(client.id, { code: 'P1', name: 'Brown Anna' });
    await ab.post('/lang', { lang: 'en', back: '/client/people' }, '/client/people');
    try {
      const sheet = await ab.post(`/client/people/payee/${payee.id}/link`, { email: 'anna@example.jp' }, '/client/people');
      expect(sheet.status).to.equal(200);
      const url = sheetLink(sheet.text);
      expect(url).to.match(/\/r\/[\w-]+\?lang=en$/);
      expect(linkIn((await h.smtp.lastTo('anna@example.jp')).text ?? '')).to.equal(url);
      expect(pageOf((await new TestBrowser(h.portal.app).get(pathOf(url))).text)).to.deep.equal({ lang: 'en', h1: en('vault.link.pageTitle') });
    } finally {
      await ab.post('/lang', { lang: 'ja', back: '/client/people' }, '/client/people');
    }
    const sheet = await ab.post(`/client/people/payee/${payee.id}/link`, {}, '/client/people');
    const url = sheetLink(sheet.text);
    expect(url).to.not.contain('?');
    expect(pageOf((await new TestBrowser(h.portal.app).get(pathOf(url))).text)).to.deep.equal({ lang: 'ja', h1: ja('vault.link.pageTitle') });
  });
});
