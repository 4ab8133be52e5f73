import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import type { Client } from '../../server/db/models';

const crumbOf = (html: string) => {
  const m = /<nav class="crumbs"[^>]*><a href="\/firm\/clients">([^<]*)<\/a> › <a href="([^"]*)" data-testid="client-crumb">([^<]*)<\/a><\/nav>/.exec(html);
  return m ? { list: m[1]!, href: m[2]!, label: m[3]! } : null;
};
const unescape = (s: string) => s.replace(/&amp;/g, '&').replace(/&#x3D;/g, '=');

/**
 * From a product walk: the firm reaches a client's files, numbers, reports, log and disposal from the
 * client's page, and none of those pages led back to it (only the browser's back button did).
 */
describe("UX walk: the firm's pages for one client lead back to that client's page", () => {
  let h: Harness;
  let minato: Client;
  let staff: MadeUser;
  let hr: MadeUser;
  let sb: TestBrowser;
  let hb: TestBrowser;
  let linked: string[];

  before(async () => {
    h = await createHarness();
    minato = await makeClient(h, { code: 'BKA', name: '株式会社みなと' });
    staff = await makeUser(h, { role: 'firm_staff', name: '担当 花子' });
    await assign(h, minato.id, staff.user.id);
    hr = await makeUser(h, { role: 'client_admin', clientId: minato.id, totp: false, name: '総務 一郎' });
    sb = new TestBrowser(h.portal.app);
    await sb.login(staff);
    hb = new TestBrowser(h.portal.app);
    await hb.login(hr);
    const clientPage = await sb.get(`/firm/clients/${minato.id}`);
    expect(clientPage.status).to.equal(200);
    // The page's own buttons, so a page it links to later is covered too.
    linked = [...clientPage.text.matchAll(/<a class="button[^"]*" href="([^"]+)"/g)].map((m) => unescape(m[1]!));
  });
  after(async () => { await h.close(); });

  it("every page the client's page links to names the client and links back to it", async () => {
    expect(linked).to.include.members([`/files?client=${minato.id}`, `/firm/clients/${minato.id}/numbers`, `/reports?client=${minato.id}`,
      `/audit?client=${minato.id}`, `/disposal?client=${minato.id}`, `/files/send?client=${minato.id}`]);
    for (const href of linked) {
      const res = await sb.get(href);
      expect(res.status, href).to.equal(200);
      expect(crumbOf(res.text), href).to.deep.equal({ list: '顧問先', href: `/firm/clients/${minato.id}`, label: 'BKA 株式会社みなと' });
    }
  });

  it('pages across clients have none, nor have the client\'s own users, who have no client page', async () => {
    for (const href of ['/audit', '/files', '/home']) {
      const res = await sb.get(href);
      expect(res.status, href).to.equal(200);
      expect(res.text, href).not.to.contain('class="crumbs"');
    }
    for (const href of ['/reports', '/files', '/audit', '/disposal']) {
      const res = await hb.get(href);
      expect(res.status, href).to.equal(200);
      expect(res.text, href).not.to.contain('class="crumbs"');
    }
  });

  it('in English', async () => {
    const eb = new TestBrowser(h.portal.app);
    await eb.login(staff);
    expect((await eb.post('/lang', { lang: 'en', back: '/home' }, '/home')).status).to.equal(303);
    const res = await eb.get(`/reports?client=${minato.id}`);
    expect(crumbOf(res.text)).to.deep.equal({ list: 'Clients', href: `/firm/clients/${minato.id}`, label: 'BKA 株式会社みなと' });
    expect(res.text).to.contain('aria-label="You are here"');
  });
});
