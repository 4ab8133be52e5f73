import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { downloadFile, pdfBytes, pngBytes, uploadFiles } from '../support/files';
import { makeDependant, makePayee, numberFrom } from '../support/vault';
import { systemContext } from '../../server/audit';
import { AuditEvent, Employee, FileRead, StoredFile, type Client } from '../../server/db/models';

/** The list's rows, each as its file name and its HTML. */
const rowsOf = (html: string) => {
  const list = /<ul class="file-list"[^>]*>([\s\S]*?)<\/ul>/.exec(html)?.[1] ?? '';
  return [...list.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => ({ name: /class="file-name">([^<]*)</.exec(m[1]!)![1]!, html: m[1]! }));
};
const row = (html: string, name: string) => rowsOf(html).find((r) => r.name === name)?.html ?? '';
/** How many rows carry the 未読 badge. */
const unreadIn = (html: string) => rowsOf(html).filter((r) => r.html.includes('data-state="unread"')).length;

/**
 * From a product walk: the firm's home counted 未読 by another rule than the file list showed it, and a
 * client admin found the employees' card photos in 送ったファイル, marked 未読.
 */
describe('UX walk: 未読 on home and in the file boxes', () => {
  let h: Harness;
  let client: Client;
  let staff: MadeUser;
  let admin: MadeUser;
  let employeeUser: MadeUser;
  let sb: TestBrowser;
  let ab: TestBrowser;
  let eb: TestBrowser;
  const photoNames = ['本人_表.png', '本人_裏.png', '子_表.png', '子_裏.png'];
  /** The client's line of the firm's overview on /home. */
  const overview = async () => {
    const html = (await sb.get('/home')).text;
    const at = html.indexOf('UXW 株式会社ウォーク');
    return html.slice(at, html.indexOf('</li>', at));
  };

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'UXW', name: '株式会社ウォーク' });
    staff = await makeUser(h, { role: 'firm_staff', name: '担当 花子' });
    await assign(h, client.id, staff.user.id);
    admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: '総務 一郎' });
    employeeUser = await makeUser(h, { role: 'employee', clientId: client.id, totp: false, name: '鈴木 次郎' });
    const employee = await Employee.create({ clientId: client.id, employeeCode: 'W001', name: '鈴木 次郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: employeeUser.user.id });
    const child = await makeDependant(client.id, employee.id, '鈴木 三郎');
    sb = new TestBrowser(h.portal.app);
    await sb.login(staff);
    ab = new TestBrowser(h.portal.app);
    await ab.login(admin);
    eb = new TestBrowser(h.portal.app);
    await eb.login(employeeUser);
    // The employee registers their own number and their child's, each with the card's two sides (じぶんで登録).
    for (const [person, seed, names] of [['self', 64000000001, photoNames.slice(0, 2)], [child.dependant.id, 64000000002, photoNames.slice(2)]] as const) {
      const token = csrfIn((await eb.get('/me/numbers')).text);
      let req = eb.agent.post('/me/numbers').set('X-CSRF-Token', token).set('Accept', 'application/json')
        .field('person', person).field('number', numberFrom(seed)).field('confirm', 'on');
      for (const name of names) req = req.attach('files', pngBytes(2500), { filename: name, contentType: 'image/png' });
      const res = await req;
      expect(res.status, res.text).to.equal(200);
    }
    expect(await StoredFile.count({ where: { clientId: client.id, cardPhoto: true } })).to.equal(4);
    // The admin sends the firm a ledger.
    const sent = await uploadFiles(ab, { direction: 'to_firm', category: 'payroll' }, [{ name: 'ledger.csv', data: Buffer.from('code,name,amount\nW001,suzuki,1000\n') }]);
    expect(sent.status, sent.text).to.equal(200);
  });
  after(async () => { await h.close(); });

  it("the firm's home counts 未読 by the file list's rule, and leads to that list", async () => {
    // The list the home page links to shows the ledger as 未読, and the four card photos as such, never 未読.
    const received = (await sb.get(`/files?box=received&client=${client.id}`)).text;
    expect(rowsOf(received).map((r) => r.name).sort()).to.deep.equal(['ledger.csv', ...photoNames].sort());
    expect(row(received, 'ledger.csv')).to.contain('data-state="unread"').and.contain('未読');
    for (const name of photoNames) {
      expect(row(received, name), name).to.contain('本人確認書類').and.not.contain('未読').and.not.contain('badge-new');
    }
    // Home says as many, with a link to exactly that list.
    expect(unreadIn(received)).to.equal(1);
    expect(await overview()).to.contain('未読ファイル 1件').and.contain(`href="/files?box=received&amp;client=${client.id}"`);
    // The service's count is the list's: one query condition for both.
    expect((await h.booted.services.files.unreadCounts(staff.user, [client.id])).get(client.id)).to.equal(1);

    // Opening the ledger clears both: no 未読 on home, none in the list (the photos were never 未読).
    const ledger = (await StoredFile.findOne({ where: { displayName: 'ledger.csv' } }))!;
    expect((await downloadFile(sb, ledger.id)).status).to.equal(200);
    const after = (await sb.get(`/files?box=received&client=${client.id}`)).text;
    expect(unreadIn(after)).to.equal(0);
    expect(after).to.not.contain('未読');
    expect(row(after, 'ledger.csv')).to.contain('既読');
    expect(await overview()).to.not.contain('未読ファイル');
  });

  it("a client admin: the employees' card photos are not in 送ったファイル but in a box of their own, with whether the firm opened them — never 未読", async () => {
    // 送ったファイル: the admin's own sending only, with whether the firm opened it.
    const sentBox = (await ab.get('/files?box=sent')).text;
    expect(rowsOf(sentBox).map((r) => r.name)).to.deep.equal(['ledger.csv']);
    expect(row(sentBox, 'ledger.csv')).to.contain('相手が開封済み');
    // 受け取ったファイル: nothing was sent to them.
    const receivedBox = await ab.get('/files?box=received');
    expect(rowsOf(receivedBox.text)).to.deep.equal([]);
    // The employees' sendings, under their own tab, say whether the firm has opened them.
    expect(sentBox).to.contain('href="/files?box=employees"').and.contain('従業員・支払先が送ったファイル');
    const fromEmployees = (await ab.get('/files?box=employees')).text;
    expect(fromEmployees).to.contain('data-testid="box-employees-hint"');
    expect(rowsOf(fromEmployees).map((r) => r.name).sort()).to.deep.equal([...photoNames].sort());
    for (const name of photoNames) expect(row(fromEmployees, name), name).to.contain('事務所が未開封').and.not.contain('未読');
    // The firm opens one side: that row says so.
    await FileRead.create({ fileId: (await StoredFile.findOne({ where: { displayName: '本人_表.png' } }))!.id, userId: staff.user.id, userName: staff.user.name, firstAt: new Date(), lastAt: new Date(), count: 1 });
    const later = (await ab.get('/files?box=employees')).text;
    expect(row(later, '本人_表.png')).to.contain('事務所が開封済み');
    expect(row(later, '本人_裏.png')).to.contain('事務所が未開封');
    // 'All' holds every file, with the same truthful badges and no 未読 anywhere.
    const all = (await ab.get('/files')).text;
    expect(rowsOf(all)).to.have.length(5);
    expect(all).to.not.contain('未読');
    expect(row(all, '子_表.png')).to.contain('事務所が未開封');
    // Nothing waits for the admin to open: home says nothing of files.
    expect((await ab.get('/home')).text).to.not.contain('data-testid="home-unread"');
  });

  it('the employee sees their own photos as sent, with whether the firm opened them; the tab of the employees is the admin\'s only', async () => {
    const sentBox = (await eb.get('/files?box=sent')).text;
    expect(rowsOf(sentBox).map((r) => r.name).sort()).to.deep.equal([...photoNames].sort());
    expect(row(sentBox, '本人_表.png')).to.contain('相手が開封済み');
    expect(row(sentBox, '子_裏.png')).to.contain('相手が未開封').and.not.contain('未読');
    expect(sentBox).to.not.contain('box=employees');
    // Asked for anyway, it is simply every file the employee may see.
    const asked = (await eb.get('/files?box=employees')).text;
    expect(rowsOf(asked)).to.have.length(4);
  });

  it("what the firm sends the company: 未読 for the admin in 受け取ったファイル and on the admin's home, cleared by opening it", async () => {
    const sent = await uploadFiles(sb, { clientId: client.id, direction: 'to_client', category: 'procedure' }, [{ name: '算定基礎届_控.pdf', data: pdfBytes(1800) }]);
    expect(sent.status, sent.text).to.equal(200);
    // The firm's own sending is "not opened yet" on its side, not 未読.
    expect(row((await sb.get('/files?box=sent')).text, '算定基礎届_控.pdf')).to.contain('相手が未開封').and.not.contain('未読');
    const received = (await ab.get('/files?box=received')).text;
    expect(unreadIn(received)).to.equal(1);
    const home = (await ab.get('/home')).text;
    expect(home).to.contain('data-testid="home-unread"').and.contain('未読のファイル 1件').and.contain('href="/files?box=received"');
    const file = (await StoredFile.findOne({ where: { displayName: '算定基礎届_控.pdf' } }))!;
    expect((await downloadFile(ab, file.id)).status).to.equal(200);
    expect(unreadIn((await ab.get('/files?box=received')).text)).to.equal(0);
    expect((await ab.get('/home')).text).to.not.contain('data-testid="home-unread"');
    expect(row((await sb.get('/files?box=sent')).text, '算定基礎届_控.pdf')).to.contain('相手が開封済み');
  });

  it('in English too, with no Japanese of the page\'s own', async () => {
    const en = new TestBrowser(h.portal.app);
    await en.login(admin);
    await en.post('/lang', { lang: 'en', back: '/files' }, '/files');
    const page = (await en.get('/files?box=employees')).text;
    expect(page).to.contain('Sent by your employees and payees').and.contain('Not opened by the firm yet');
    await en.post('/lang', { lang: 'ja', back: '/files' }, '/files');
  });

  it("a payee's card photo sent through a one-time link is with what the company's people sent, not in the issuing admin's 送ったファイル", async () => {
    const { person } = await makePayee(client.id, { code: 'P01', name: '講師 二郎' });
    const link = await h.booted.services.vaultLinks.create(systemContext('test'), person, admin.user.id, null);
    const payee = new TestBrowser(h.portal.app);
    const at = new URL(link.url).pathname;
    const token = csrfIn((await payee.get(at)).text);
    const res = await payee.agent.post(at).set('X-CSRF-Token', token).set('Accept', 'application/json')
      .field('code', link.code).field('number', numberFrom(64000000003)).field('confirm', 'on')
      .attach('files', pngBytes(3000), { filename: '講師_表.png', contentType: 'image/png' });
    expect(res.status, res.text).to.equal(200);
    const photo = (await StoredFile.findOne({ where: { displayName: '講師_表.png' } }))!;
    // Filed under the admin who issued the link (files are an account's), marked as sent through it.
    expect([photo.senderId, photo.cardPhoto, photo.throughLink]).to.deep.equal([admin.user.id, true, true]);
    const sentBox = (await ab.get('/files?box=sent')).text;
    expect(rowsOf(sentBox).map((r) => r.name)).to.deep.equal(['ledger.csv']);
    const fromPeople = (await ab.get('/files?box=employees')).text;
    expect(rowsOf(fromPeople).map((r) => r.name)).to.include('講師_表.png');
    expect(row(fromPeople, '講師_表.png')).to.contain('講師 二郎').and.contain('事務所が未開封');
    expect(fromPeople).to.contain('従業員・支払先が送ったファイル');
    // The firm receives it as before.
    expect(rowsOf((await sb.get(`/files?box=received&client=${client.id}`)).text).map((r) => r.name)).to.include('講師_表.png');
  });

  it("a client admin opens an employee's card photo (a whole number in a picture) only re-authenticated in the session, logged; the employee opens their own as before", async () => {
    const photo = (await StoredFile.findOne({ where: { displayName: '子_裏.png' } }))!;
    const fresh = new TestBrowser(h.portal.app);
    await fresh.login(admin);
    const pageBefore = (await fresh.get(`/files/${photo.id}`)).text.replace(/&#x3D;/g, '=');
    expect(pageBefore).to.contain('data-testid="card-photo-notice"').and.contain(`href="/reauth?next=${encodeURIComponent(`/files/${photo.id}`)}"`).and.not.contain('data-testid="download"');
    const refused = await downloadFile(fresh, photo.id);
    expect([refused.status, refused.headers.location]).to.deep.equal([303, `/reauth?next=${encodeURIComponent(`/files/${photo.id}`)}`]);
    expect((refused.body as Buffer).includes(Buffer.from('\x89PNG', 'latin1')), 'not a byte of the photo').to.equal(false);
    expect(refused.headers['content-disposition']).to.equal(undefined);
    const rows = async (result: string) => AuditEvent.count({ where: { operation: 'file.download', targetId: photo.id, actorId: admin.user.id, result } });
    expect([await rows('denied'), await rows('allowed')]).to.deep.equal([1, 0]);
    // Re-authenticated in this session: the page offers the download, and it is logged as allowed.
    await fresh.reauth(admin);
    expect((await fresh.get(`/files/${photo.id}`)).text).to.contain('data-testid="download"');
    const opened = await downloadFile(fresh, photo.id);
    expect(opened.status).to.equal(200);
    expect((opened.body as Buffer).equals(pngBytes(2500)), 'the photo as sent').to.equal(true);
    expect([await rows('denied'), await rows('allowed')]).to.deep.equal([1, 1]);
    // Another session of the same admin is not re-authenticated by this one.
    expect((await downloadFile(ab, photo.id)).status).to.equal(303);
    // The employee's own photo: no re-authentication asked.
    expect((await downloadFile(eb, photo.id)).status).to.equal(200);
  });
});
