import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { uploadFiles } from '../support/files';
import { StoredFile, type Client } from '../../server/db/models';

/** The file page's back link: its target and its words. */
const backLinkOf = (html: string) => {
  const m = /<a class="back-link" href="([^"]*)" data-testid="back-to-list">([^<]*)<\/a>/.exec(html);
  return m ? { href: m[1]!.replace(/&amp;/g, '&').replace(/&#x3D;/g, '='), text: m[2]! } : null;
};
const namesIn = (html: string) => [...html.matchAll(/class="file-name">([^<]*)</g)].map((m) => m[1]!);

/**
 * From a product walk: a staff member opened a client's file from that client's 受け取ったファイル (the
 * home page's 未読 link) and pressed ファイル一覧に戻る, to land in every client's files, all boxes.
 */
describe("UX walk: one client's files, for the firm: the file page leads back to them, and sending goes to that client", () => {
  let h: Harness;
  let minato: Client;
  let sakura: Client;
  let staff: MadeUser;
  let hr: MadeUser;
  let sb: TestBrowser;
  let hb: TestBrowser;
  const fileNamed = async (name: string) => (await StoredFile.findOne({ where: { displayName: name } }))!;

  before(async () => {
    h = await createHarness();
    minato = await makeClient(h, { code: 'BKA', name: '株式会社みなと' });
    sakura = await makeClient(h, { code: 'BKB', name: '有限会社さくら' });
    staff = await makeUser(h, { role: 'firm_staff', name: '担当 花子' });
    await assign(h, minato.id, staff.user.id);
    await assign(h, sakura.id, staff.user.id);
    hr = await makeUser(h, { role: 'client_admin', clientId: minato.id, totp: false, name: '総務 一郎' });
    sb = new TestBrowser(h.portal.app);
    await sb.login(staff);
    hb = new TestBrowser(h.portal.app);
    await hb.login(hr);
    const hrSent = await uploadFiles(hb, { direction: 'to_firm', category: 'payroll' }, [{ name: 'ledger-minato.csv', data: Buffer.from('code,amount\nM1,1\n') }]);
    expect(hrSent.status, hrSent.text).to.equal(200);
    for (const [client, name] of [[minato, 'receipt-minato.csv'], [sakura, 'receipt-sakura.csv']] as const) {
      const sent = await uploadFiles(sb, { direction: 'to_client', clientId: client.id, category: 'procedure' }, [{ name, data: Buffer.from(`receipt,${name}\n`) }]);
      expect(sent.status, sent.text).to.equal(200);
    }
  });
  after(async () => { await h.close(); });

  it("a file the client sent: back to that client's 受け取ったファイル, named, listing that client's files only", async () => {
    const file = await fileNamed('ledger-minato.csv');
    const back = backLinkOf((await sb.get(`/files/${file.id}`)).text);
    expect(back).to.deep.equal({ href: `/files?box=received&client=${minato.id}`, text: 'BKA 株式会社みなと のファイル一覧に戻る' });
    const list = (await sb.get(back!.href)).text;
    expect(namesIn(list)).to.deep.equal(['ledger-minato.csv']);
    expect(list).to.contain('aria-current="page">受け取ったファイル');
  });

  it("a file the firm sent: back to that client's 送ったファイル, without the other client's", async () => {
    const file = await fileNamed('receipt-minato.csv');
    const back = backLinkOf((await sb.get(`/files/${file.id}`)).text);
    expect(back?.href).to.equal(`/files?box=sent&client=${minato.id}`);
    expect(namesIn((await sb.get(back!.href)).text)).to.deep.equal(['receipt-minato.csv']);
  });

  it('in English the link names the client in English words', async () => {
    const file = await fileNamed('receipt-sakura.csv');
    const eb = new TestBrowser(h.portal.app);
    await eb.login(staff);
    expect((await eb.post('/lang', { lang: 'en', back: `/files/${file.id}` }, `/files/${file.id}`)).status).to.equal(303);
    const back = backLinkOf((await eb.get(`/files/${file.id}`)).text);
    expect(back).to.deep.equal({ href: `/files?box=sent&client=${sakura.id}`, text: 'Back to the files of BKB 有限会社さくら' });
    // The choice is the person's: back to Japanese for the tests after.
    expect((await eb.post('/lang', { lang: 'ja', back: `/files/${file.id}` }, `/files/${file.id}`)).status).to.equal(303);
  });

  it("one client's file list offers sending to that client first, its form then chosen for it; every client's list only to all", async () => {
    // From the walk: in MINATO's files the one send button was 全顧問先へ書式・ツールを送る.
    const list = (await sb.get(`/files?box=received&client=${minato.id}`)).text.replace(/&#x3D;/g, '=');
    const buttons = [...list.matchAll(/<a class="button[^"]*" href="(\/files\/send[^"]*)"[^>]*>([^<]*)</g)].map((m) => [m[1], m[2]]);
    expect(buttons).to.deep.equal([[`/files/send?client=${minato.id}`, 'この顧問先へファイルを送る'], ['/files/send', '全顧問先へ書式・ツールを送る']]);
    const form = (await sb.get(`/files/send?client=${minato.id}`)).text;
    expect(form).to.contain(`name="clientId" value="${minato.id}"`);
    const all = (await sb.get('/files')).text;
    expect([...all.matchAll(/href="(\/files\/send[^"]*)"/g)].map((m) => m[1])).to.deep.equal(['/files/send']);
  });

  it("the client's admin, who has one company's list, goes back to it as before", async () => {
    const file = await fileNamed('ledger-minato.csv');
    expect(backLinkOf((await hb.get(`/files/${file.id}`)).text)).to.deep.equal({ href: '/files', text: 'ファイル一覧に戻る' });
  });
});
