import { expect } from 'chai';
import { dialectName, type Harness } from '../support/harness';
import { clientWithAdmin } from '../support/client-admin';
import { makeUser, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { makeEmployee, makePayee } from '../support/vault';
import { translate } from '../../server/i18n';
import { Employee, User, type Client } from '../../server/db/models';

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

  /**
   * From the English walk: an employee invited in Japanese (the admin's page was in Japanese) pressed
   * English on the sign-in page and signed in to a home page in Japanese (the inviter's language won);
   * an account with no language of its own read the portal in English and got its mails in Japanese.
   */
  it('English picked on the sign-in page stays after signing in (password, or password + code), over the language an inviter chose', async () => {
    for (const role of ['employee', 'firm_staff'] as const) {
      const u = await makeUser(h, { role, clientId: role === 'employee' ? client.id : null, totp: role === 'firm_staff' });
      await u.user.update({ lang: 'ja' });
      const b = new TestBrowser(h.portal.app);
      await b.post('/lang', { lang: 'en', back: '/login' }, '/login');
      expect(pageOf((await b.get('/login')).text).lang, `${role}: the sign-in page`).to.equal('en');
      await b.login(u);
      expect(pageOf((await b.get('/home')).text).lang, `${role}: the home page after signing in`).to.equal('en');
      expect((await User.findByPk(u.user.id))!.lang, `${role}: the account's language`).to.equal('en');
    }
  });

  it("an account with no language of its own that signs in on an English browser gets its mails in English; one that never chose stays without", async () => {
    const u = await makeUser(h, { role: 'employee', clientId: client.id, totp: false, email: 'mia@example.jp' });
    const { employee } = await makeEmployee(client.id, { employeeCode: 'L002', name: 'Lee Mia' });
    await Employee.update({ userId: u.user.id }, { where: { id: employee.id } });
    // English chosen on an earlier visit: this session knows nothing of it, the browser's language cookie does.
    const b = new TestBrowser(h.portal.app);
    (b.agent as unknown as { jar: { setCookie(c: string, domain: string, path: string): void } }).jar.setCookie('lang=en; Path=/', '127.0.0.1', '/');
    expect(pageOf((await b.get('/login')).text).lang).to.equal('en');
    await b.login(u);
    expect((await User.findByPk(u.user.id))!.lang).to.equal('en');
    const asked = await ab.post('/client/people/remind', {}, '/client/people');
    expect(asked.status, asked.text.slice(0, 300)).to.equal(303);
    const mail = await h.smtp.lastTo('mia@example.jp');
    expect(mail.subject).to.equal(translate('en', 'mail.numberReminder.subject', { company: client.name }));

    const never = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
    await new TestBrowser(h.portal.app).login(never);
    expect((await User.findByPk(never.user.id))!.lang).to.equal(null);
  });

  it('a password reset asked for on an English page, by someone with no language of their own: its link opens in English on another device too', async () => {
    const u = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, email: 'omar@example.jp' });
    const laptop = new TestBrowser(h.portal.app);
    await laptop.post('/lang', { lang: 'en', back: '/password/forgot' }, '/login');
    expect((await laptop.post('/password/forgot', { email: 'omar@example.jp' }, '/password/forgot')).status).to.equal(200);
    const mail = await h.smtp.lastTo('omar@example.jp');
    expect(mail.subject).to.equal(en('mail.reset.subject'));
    const phone = new TestBrowser(h.portal.app);
    const form = await phone.get(pathOf(linkIn(mail.text ?? '')));
    expect(pageOf(form.text)).to.deep.equal({ lang: 'en', h1: en('password.set.title') });
    expect((await User.findByPk(u.user.id))!.lang, 'asking for a reset chooses nothing').to.equal(null);
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
