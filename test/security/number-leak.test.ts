import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Response } from 'supertest';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { pdfBytes, pngBytes, uploadFiles } from '../support/files';
import { Dependant, Employee, Firm, NumberRecord, Payee, SessionRow, StoredFile, type Client } from '../../server/db/models';
import { numberFrom as valid } from '../support/vault';
import type { RouteDef } from '../../server/web/routes';
import { SecBrowser } from '../support/security';

const fullWidth = (n: string) => n.replace(/\d/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0));
const grouped = (n: string) => n.replace(/(\d{4})(?=\d)/g, '$1 ');

/** Every way a number could be written out: plain, grouped for reading, full-width, and its first 10 digits. */
function forms(n: string): string[] {
  return [n, grouped(n), fullWidth(n), n.slice(0, 10)];
}

describe('Security: no unmasked My Number anywhere but a reveal or an export made under the rules', () => {
  let h: Harness;
  let logFile: string;
  let client: Client;
  let other: Client;
  const users = {} as Record<'firmAdmin' | 'staff' | 'clientAdmin' | 'employee', MadeUser>;
  const browsers = {} as Record<keyof typeof users, TestBrowser>;
  const seeded: string[] = [];
  const ids: Record<string, string> = {};
  const bodies: { where: string; text: string }[] = [];

  const keep = (where: string, res: Response) => {
    const text = typeof res.text === 'string' ? res.text : Buffer.isBuffer(res.body) ? (res.body as Buffer).toString('latin1') : JSON.stringify(res.body ?? '');
    bodies.push({ where, text: `${JSON.stringify(res.headers)}\n${text}` });
    return res;
  };

  before(async function () {
    this.timeout(60_000);
    logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-leak-')), 'portal.log');
    // Everything the portal logs, at the most talkative level, into a file this test reads back.
    const logger = pino({ level: 'trace' }, pino.destination({ dest: logFile, sync: true }));
    // Each role's browser comes from an address of its own: walking every page as four roles would spend one address's sign-in rate limit.
    h = await createHarness({ REVEAL_BURST_MAX: '1000', TRUST_PROXY: 'true' }, { logger });
    await Firm.create({ id: 1, name: '暁社会保険労務士事務所' });
    client = await makeClient(h, { code: 'L001', name: '株式会社リーク検査' });
    other = await makeClient(h, { code: 'L002', name: '別会社' });
    users.firmAdmin = await makeUser(h, { role: 'firm_admin', name: '所長' });
    users.staff = await makeUser(h, { role: 'firm_staff', name: '担当' });
    users.clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: '人事' });
    users.employee = await makeUser(h, { role: 'employee', clientId: client.id, totp: false, name: '社員 太郎' });
    await assign(h, client.id, users.staff.user.id);
    for (const k of Object.keys(users) as (keyof typeof users)[]) {
      browsers[k] = new SecBrowser(h.portal.app);
      await browsers[k].login(users[k]);
    }
    const admin = browsers.clientAdmin;

    // People, through the screens.
    await admin.post('/client/people/employees', { employeeCode: 'T001', name: '社員 太郎', leaveDate: '' }, '/client/people');
    await admin.post('/client/people/employees', { employeeCode: 'T002', name: '社員 次郎' }, '/client/people');
    const taro = await Employee.findOne({ where: { clientId: client.id, employeeCode: 'T001' } });
    const jiro = await Employee.findOne({ where: { clientId: client.id, employeeCode: 'T002' } });
    await taro!.update({ userId: users.employee.user.id });
    await admin.post(`/client/people/employees/${taro!.id}/dependants`, { name: '社員 花子', relationship: 'spouse' }, '/client/people');
    await admin.post('/client/people/payees', { code: 'P01', name: '講師 一郎', kind: 'lecturer' }, '/client/people');
    const hanako = await Dependant.findOne({ where: { employeeId: taro!.id } });
    const payee = await Payee.findOne({ where: { clientId: client.id } });
    Object.assign(ids, { clientId: client.id, employeeId: taro!.id, personId: taro!.id, kind: 'employee' });

    // Numbers, through every way in: 代理登録 (full-width), CSV import, じぶんで登録 with a card image, one-time link.
    for (let i = 0; i < 5; i++) seeded.push(valid(47382910563 + i * 7919));
    const [nTaro, nJiro, nHanako, nPayee, nWrong] = seeded as [string, string, string, string, string];
    const regPath = `/client/people/employee/${taro!.id}/number`;
    keep('proxy register', await admin.post(regPath, { number: fullWidth(nTaro), issueDate: '2016-01-01' }, regPath));
    keep('proxy register refused', await admin.post(regPath, { number: `${nWrong.slice(0, 11)}${(Number(nWrong[11]) + 1) % 10}` }, regPath));
    const csv = Buffer.from(`社員コード,扶養家族名,発行日,マイナンバー\r\nT002,,2016/01/01,${nJiro}\r\nT999,,,${nWrong}\r\n`, 'utf8');
    const token = await admin.csrf('/client/numbers/import');
    keep('import', await admin.agent.post('/client/numbers/import').set('X-CSRF-Token', token).attach('file', csv, { filename: 'numbers.csv', contentType: 'text/csv' }));
    const emp = browsers.employee;
    const selfToken = await emp.csrf('/me/numbers');
    keep('self register', await emp.agent.post('/me/numbers').set('X-CSRF-Token', selfToken).set('Accept', 'application/json')
      .field('person', hanako!.id).field('number', grouped(nHanako)).field('confirm', 'on').attach('files', pngBytes(3000), { filename: `マイナンバーカード_${grouped(nHanako)}.png`, contentType: 'image/png' }));
    const sheet = keep('link sheet', await admin.post(`/client/people/payee/${payee!.id}/link`, { email: 'payee@example.jp' }, '/client/people'));
    const linkPath = new URL(/data-testid="link-url">([^<]+)</.exec(sheet.text)![1]!).pathname;
    const code = /data-testid="link-code">(\d{8})</.exec(sheet.text)![1]!;
    const visitor = new TestBrowser(h.portal.app);
    const linkPage = keep('link page', await visitor.get(linkPath));
    keep('link submit', await visitor.agent.post(linkPath).type('form').send({ _csrf: csrfIn(linkPage.text), code, number: nPayee, confirm: 'on' }));
    expect(await NumberRecord.count({ where: { clientId: client.id } })).to.equal(4);
    void jiro;
    // A number typed into a sending's comment, as a hurried HR person would.
    keep('sending', await uploadFiles(admin, { direction: 'to_firm', category: 'procedure', comment: `太郎さんの番号は ${grouped(nTaro)} です` }, [{ name: '届出書.pdf', data: pdfBytes(1500) }]));
    const sent = await StoredFile.findOne({ where: { displayName: '届出書.pdf' } });
    ids.commentedFileId = sent!.id;

    const record = await NumberRecord.findOne({ where: { personKind: 'employee', personId: taro!.id } });
    const image = await StoredFile.findOne({ where: { category: 'identity' } });
    Object.assign(ids, { recordId: record!.id, fileId: image!.id, userId: users.employee.user.id, tokenId: '00000000-0000-4000-8000-000000000000' });
    void other;
  });
  after(async () => { await h.close(); });

  it('every page of every role (all GET routes), and the refusals and 照合 answers, hold no number', async () => {
    const routes: RouteDef[] = h.portal.routes;
    const fill = (p: string) => p.replace(/:(\w+)/g, (_, name: string) => ids[name] ?? '00000000-0000-4000-8000-000000000000');
    let visited = 0;
    for (const role of Object.keys(browsers) as (keyof typeof browsers)[]) {
      for (const r of routes.filter((x) => x.method === 'get' && x.access !== 'apiToken')) {
        if (r.path === '/files/:fileId/download') continue; // the card image itself: bytes, checked as encrypted elsewhere
        const res = keep(`${role} GET ${r.path}`, await browsers[role].get(fill(r.path)));
        expect(res.status, `${role} GET ${r.path}`).to.be.below(500);
        visited++;
      }
    }
    for (const role of ['staff', 'clientAdmin'] as const) {
      const page = keep(`${role} GET the commented sending`, await browsers[role].get(`/files/${ids.commentedFileId}`));
      expect(page.text, 'the comment is shown, its number masked').to.contain('太郎さんの番号は ************ です');
    }
    const staffList = `/firm/clients/${client.id}/numbers`;
    keep('check', await browsers.staff.post(`${staffList}/${ids.recordId}/check`, { typed: seeded[0]! }, staffList));
    keep('check other', await browsers.clientAdmin.post(`/client/numbers/${ids.recordId}/check`, { typed: seeded[4]! }, '/client/people'));
    keep('reveal refused', await browsers.staff.post(`${staffList}/${ids.recordId}/reveal`, { purpose: 'withholding_slip', office: 'tax_office' }, staffList));
    expect(visited).to.be.greaterThan(100);
    for (const b of bodies) for (const n of seeded) for (const f of forms(n)) expect(b.text.includes(f), `${b.where} shows ${f}`).to.equal(false);
  });

  it('the reveal, print and export made under the rules do show the number (the scan can find one)', async () => {
    const staffList = `/firm/clients/${client.id}/numbers`;
    await browsers.staff.reauth(users.staff);
    const res = await browsers.staff.post(`${staffList}/${ids.recordId}/reveal`, { purpose: 'withholding_slip', office: 'tax_office' }, staffList);
    expect(res.status).to.equal(200);
    expect(res.text).to.contain(grouped(seeded[0]!));
  });

  it('no mail and no log line carries a number; the session store does not either', async () => {
    const mails = h.smtp.messages.map((m) => `${m.subject}\n${m.text ?? ''}\n${m.html || ''}`);
    expect(mails.length).to.be.greaterThan(0);
    const log = fs.readFileSync(logFile, 'utf8');
    expect(log.split('\n').length).to.be.greaterThan(100);
    const sessions = (await SessionRow.findAll()).map((s) => s.data).join('\n');
    for (const n of seeded) {
      for (const f of forms(n)) {
        for (const m of mails) expect(m.includes(f), `mail shows ${f}`).to.equal(false);
        expect(log.includes(f), `log shows ${f}`).to.equal(false);
        expect(sessions.includes(f), `a session holds ${f}`).to.equal(false);
      }
    }
  });
});
