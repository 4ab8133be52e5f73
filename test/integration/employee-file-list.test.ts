import { expect } from 'chai';
import { createHarness, dialectName, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { pdfBytes, pngBytes, uploadFiles } from '../support/files';
import { makeDependant, numberFrom } from '../support/vault';
import { Employee, Firm, StoredFile, type Client } from '../../server/db/models';

const FIRM = '暁社会保険労務士事務所';
const COMPANY = '株式会社ファイル歩き';

/** The list's rows, each as its file name and its HTML. */
const rowsOf = (html: string) => {
  const list = /<ul class="file-list"[^>]*>([\s\S]*?)<\/ul>/.exec(html)?.[1] ?? '';
  return [...list.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => ({ name: /class="file-name">([^<]*)</.exec(m[1]!)![1]!, html: m[1]! }));
};
const rowOf = (html: string, name: string) => rowsOf(html).find((r) => r.name === name)?.html ?? '';
/** A row's line under the name, as read (tags and runs of spaces out). */
const metaOf = (row: string) => (/<span class="meta">([\s\S]*?)<\/span>\s*(?:<span class="badge|$)/.exec(row)?.[1] ?? '').replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim();

/**
 * From a product walk: an employee's list said 「従業員へ W001 鈴木 次郎」 on the payslip the firm sent
 * them — their own name, as if the file were for someone else — and nothing of who had sent it.
 */
describe(`Files: an employee's list says who sent each file to them, the firm or their company (${dialectName})`, () => {
  let h: Harness;
  let client: Client;
  let staff: MadeUser;
  let admin: MadeUser;
  let worker: MadeUser;
  let eb: TestBrowser;

  before(async () => {
    h = await createHarness();
    await Firm.findOrCreate({ where: { id: 1 }, defaults: { id: 1, name: FIRM } });
    client = await makeClient(h, { code: 'EFL', name: COMPANY });
    staff = await makeUser(h, { role: 'firm_staff', name: '担当 花子' });
    await assign(h, client.id, staff.user.id);
    admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: '総務 一郎' });
    worker = await makeUser(h, { role: 'employee', clientId: client.id, totp: false, name: '鈴木 次郎' });
    const employee = await Employee.create({ clientId: client.id, employeeCode: 'W001', name: '鈴木 次郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: worker.user.id });
    const sb = new TestBrowser(h.portal.app);
    await sb.login(staff);
    expect((await uploadFiles(sb, { clientId: client.id, direction: 'to_employee', employeeId: employee.id, category: 'payroll' }, [{ name: '給与明細_4月.pdf', data: pdfBytes(3000) }])).status).to.equal(200);
    const ab = new TestBrowser(h.portal.app);
    await ab.login(admin);
    expect((await uploadFiles(ab, { direction: 'to_employee', employeeId: employee.id, category: 'year_end' }, [{ name: '源泉徴収票_2025.pdf', data: pdfBytes(3000) }])).status).to.equal(200);
    eb = new TestBrowser(h.portal.app);
    await eb.login(worker);
    expect((await uploadFiles(eb, { direction: 'to_firm', category: 'procedure' }, [{ name: '住所変更届.pdf', data: pdfBytes(3000) }])).status).to.equal(200);
    // じぶんで登録 with the cards' photos: their own, and their child's.
    const child = await makeDependant(client.id, employee.id, '鈴木 三郎');
    for (const [person, seed, name] of [['self', 64100000001, '本人_表.png'], [child.dependant.id, 64100000002, '子_表.png']] as const) {
      const res = await eb.agent.post('/me/numbers').set('X-CSRF-Token', csrfIn((await eb.get('/me/numbers')).text)).set('Accept', 'application/json')
        .field('person', person).field('number', numberFrom(seed)).field('confirm', 'on').attach('files', pngBytes(2500), { filename: name, contentType: 'image/png' });
      expect(res.status, res.text).to.equal(200);
    }
  });
  after(async () => { await h.close(); });

  it('in Japanese: 「（事務所の名前）から」「（会社の名前）から」, never the employee\'s own name; what they sent says 事務所へ (a child\'s card photo names the child)', async () => {
    const list = (await eb.get('/files')).text;
    expect(metaOf(rowOf(list, '給与明細_4月.pdf'))).to.match(new RegExp(`^${FIRM}から · 給与 · `));
    expect(metaOf(rowOf(list, '源泉徴収票_2025.pdf'))).to.match(new RegExp(`^${COMPANY}から · 年末調整 · `));
    expect(metaOf(rowOf(list, '住所変更届.pdf'))).to.match(/^事務所へ · 手続き書類 · /);
    // Their own card's photo is theirs (no name); their child's names the child.
    expect(metaOf(rowOf(list, '本人_表.png'))).to.match(/^事務所へ · 本人確認書類 · /);
    expect(metaOf(rowOf(list, '子_表.png'))).to.match(/^事務所へ 鈴木 三郎 · 本人確認書類 · /);
    for (const r of rowsOf(list)) expect(r.html, r.name).to.not.contain('鈴木 次郎').and.not.contain('従業員へ');
  });

  it('in English: "From …", the same names', async () => {
    await eb.post('/lang', { lang: 'en', back: '/files' }, '/files');
    try {
      const list = (await eb.get('/files')).text;
      expect(metaOf(rowOf(list, '給与明細_4月.pdf'))).to.match(new RegExp(`^From ${FIRM} · Payroll · `));
      expect(metaOf(rowOf(list, '源泉徴収票_2025.pdf'))).to.match(new RegExp(`^From ${COMPANY} · `));
    } finally {
      await eb.post('/lang', { lang: 'ja', back: '/files' }, '/files');
    }
  });

  it('the file\'s page says 差出人 (the firm, and who there sent it), not 送り先 with the employee\'s own name', async () => {
    const file = (await StoredFile.findOne({ where: { displayName: '給与明細_4月.pdf' } }))!;
    const facts = (await eb.get(`/files/${file.id}`)).text.split('<dl class="facts">')[1]!.split('</dl>')[0]!;
    expect(facts).to.contain(`<dt>差出人</dt><dd>${FIRM}</dd>`).and.contain('担当 花子');
    expect(facts).to.not.contain('送り先').and.not.contain('鈴木 次郎');
    // What they sent themselves goes 事務所へ, not 「事務所へ — EFL … — W001 鈴木 次郎」 (送信者 is them, rightly).
    const own = (await StoredFile.findOne({ where: { displayName: '本人_表.png' } }))!;
    const ownFacts = (await eb.get(`/files/${own.id}`)).text.split('<dl class="facts">')[1]!.split('</dl>')[0]!;
    expect(ownFacts).to.contain('<dt>送り先</dt><dd>事務所へ</dd>').and.not.contain('W001').and.not.contain('EFL');
  });

  it('the firm and the company admin still see whom a file went to', async () => {
    const sb = new TestBrowser(h.portal.app);
    await sb.login(staff);
    expect(metaOf(rowOf((await sb.get('/files')).text, '給与明細_4月.pdf'))).to.contain('従業員へ W001 鈴木 次郎');
    const ab = new TestBrowser(h.portal.app);
    await ab.login(admin);
    expect(metaOf(rowOf((await ab.get('/files')).text, '源泉徴収票_2025.pdf'))).to.contain('従業員へ W001 鈴木 次郎');
  });
});
