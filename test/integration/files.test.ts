import { expect } from 'chai';
import { openBody } from '../../server/mail/outbox';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Express } from 'express';
import type { Response } from 'supertest';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { pdfBytes, pngBytes, htmlBytes, svgBytes, uploadFiles, downloadFile } from '../support/files';
import { AuditEvent, Employee, FileRead, OutboxMail, StoredFile, type Client } from '../../server/db/models';
import { systemContext } from '../../server/audit';
import { ja } from '../support/security';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function binary(res: Response): Buffer {
  return res.body as Buffer;
}

const upload = uploadFiles;
const download = downloadFile;

describe('File exchange: client → firm, firm → client / employee / all', () => {
  let h: Harness;
  let client: Client;
  let other: Client;
  let clientAdmin: MadeUser;
  let otherAdmin: MadeUser;
  let staff: MadeUser;
  let unassigned: MadeUser;
  let employeeUser: MadeUser;
  let coworker: MadeUser;
  let employeeId: string;
  // One signed-in browser per user where a test needs no fresh session: the sign-in routes allow 30 requests a minute from one address.
  const signedIn = new Map<MadeUser, TestBrowser>();
  const as = async (u: MadeUser): Promise<TestBrowser> => {
    let b = signedIn.get(u);
    if (!b) { b = new TestBrowser(h.portal.app); await b.login(u); signedIn.set(u, b); }
    return b;
  };

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'F001', name: '株式会社ファイル' });
    other = await makeClient(h, { code: 'F002', name: '別会社' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: '顧問先 管理者' });
    otherAdmin = await makeUser(h, { role: 'client_admin', clientId: other.id, totp: false });
    staff = await makeUser(h, { role: 'firm_staff', name: '担当 職員' });
    unassigned = await makeUser(h, { role: 'firm_staff' });
    employeeUser = await makeUser(h, { role: 'employee', clientId: client.id, totp: false, name: '従業員 一郎' });
    coworker = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
    await assign(h, client.id, staff.user.id);
    employeeId = (await Employee.create({ clientId: client.id, employeeCode: 'E1', name: '従業員 一郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: employeeUser.user.id })).id;
    await Employee.create({ clientId: client.id, employeeCode: 'E2', name: '同僚', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: coworker.user.id });
  });
  after(async () => { await h.close(); });

  it('a client admin sends two files with a comment; they are stored encrypted, listed for the assigned staff, and a notice without names is mailed', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(clientAdmin);
    const a = pdfBytes(300_000);
    const c = pngBytes(5000);
    const res = await upload(b, { direction: 'to_firm', category: 'procedure', comment: '入社手続きの書類です' }, [
      { name: '入社届_山田.pdf', data: a }, { name: '写真.png', data: c },
    ]);
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.deep.include({ ok: true, count: 2 });
    const rows = await StoredFile.findAll({ where: { clientId: client.id }, order: [['displayName', 'ASC']] });
    expect(rows.map((r) => r.displayName)).to.deep.equal(['入社届_山田.pdf', '写真.png']);
    expect(rows[0]!.sha256).to.equal(sha(a));
    expect(rows[0]!.size).to.equal(a.length);
    expect(await AuditEvent.count({ where: { operation: 'file.upload', clientId: client.id } })).to.equal(2);

    // At rest: encrypted, under a server-made name.
    const stored = path.join(h.config.storageDir);
    const all = fs.readdirSync(stored, { recursive: true }).map(String);
    expect(all.some((p) => p.includes('入社届'))).to.equal(false);
    const objectPath = all.find((p) => p.endsWith(rows[0]!.objectId))!;
    const raw = fs.readFileSync(path.join(stored, objectPath));
    expect(raw.subarray(0, 4).toString()).to.equal('AKTF');
    expect(raw.includes(a.subarray(0, 64))).to.equal(false);

    const mail = await h.smtp.lastTo(staff.email);
    expect(mail.subject).to.contain('新しいファイル').and.contain('顧問先 F001');
    expect(mail.text).to.contain('顧問先コード F001 から').and.contain('2件');
    // The link opens this client's received files.
    expect(mail.text).to.contain(`http://portal.test/files?box=received&client=${client.id}`);
    for (const secret of ['入社届', '山田', '写真', '株式会社ファイル', '顧問先 管理者', '入社手続き']) expect(`${mail.text ?? ''}${mail.subject ?? ''}`).to.not.contain(secret);
    expect(mail.attachments).to.have.length(0);
  });

  it('the mail server refusing during a sending: the files are there, the notice waits in the outbox and goes once the server takes it', async () => {
    const b = await as(clientAdmin);
    const received = h.smtp.messages.length;
    h.smtp.refusing = true;
    try {
      const res = await upload(b, { direction: 'to_firm', category: 'procedure' }, [{ name: '退職届.pdf', data: pdfBytes(2000) }]);
      expect(res.status, res.text).to.equal(200);
      expect(await StoredFile.count({ where: { displayName: '退職届.pdf' } })).to.equal(1);
      let row: OutboxMail | null = null;
      for (let i = 0; i < 400 && !row?.lastError; i++) { // up to 8 s on a busy machine
        await new Promise((r) => setTimeout(r, 20));
        row = await OutboxMail.findOne({ where: { toAddress: staff.email }, order: [['createdAt', 'DESC']] });
      }
      expect(row!.sentAt).to.equal(null);
      expect(row!.lastError, 'the refusal is noted on the queued notice').to.be.a('string');
      expect(openBody(h.booted.services.keys.ring(), row!.id, row!.body)).to.contain('1件').and.not.contain('退職届');
    } finally { h.smtp.refusing = false; }
    expect(h.smtp.messages.length).to.equal(received);
    // The outbox job's next round (due after its back-off) delivers it once.
    await OutboxMail.update({ nextAt: new Date() }, { where: { sentAt: null } });
    await h.booted.services.outbox.deliverDue();
    await h.booted.services.outbox.deliverDue();
    const sent = h.smtp.messages.slice(received).filter((m) => (m.to && !Array.isArray(m.to) ? m.to.text : '').includes(staff.email));
    expect(sent).to.have.length(1);
    expect(sent[0]!.text).to.contain('新しいファイルが1件');
  });

  it('the assigned staff downloads a file (streamed, decrypted, RFC 6266 name, nosniff) and the sender sees it read', async () => {
    const file = (await StoredFile.findOne({ where: { displayName: '入社届_山田.pdf' } }))!;
    const s = new TestBrowser(h.portal.app);
    await s.login(staff);
    const list = await s.get('/files?box=received');
    expect(list.text).to.contain('入社届_山田.pdf').and.contain('未読');
    const res = await download(s, file.id);
    expect(res.status).to.equal(200);
    expect(sha(binary(res))).to.equal(file.sha256);
    expect(res.headers['content-type']).to.equal('application/octet-stream');
    expect(res.headers['x-content-type-options']).to.equal('nosniff');
    expect(res.headers['content-disposition']).to.match(/^attachment; filename="[^"]*\.pdf"; filename\*=UTF-8''%E5%85%A5%E7%A4%BE%E5%B1%8A_%E5%B1%B1%E7%94%B0\.pdf$/);
    expect(res.headers['cache-control']).to.equal('no-store');
    const row = await AuditEvent.findOne({ where: { operation: 'file.download', targetId: file.id } });
    expect(row?.actorId).to.equal(staff.user.id);
    expect(await FileRead.count({ where: { fileId: file.id, userId: staff.user.id } })).to.equal(1);

    const sender = new TestBrowser(h.portal.app);
    await sender.login(clientAdmin);
    const detail = await sender.get(`/files/${file.id}`);
    expect(detail.text).to.contain('担当 職員');
    // On the sender's list the badge says whether the other side opened it (never "未読" for one's own sending).
    const sentList = await sender.get('/files?box=sent');
    const sentRow = (name: string) => sentList.text.slice(sentList.text.lastIndexOf('<li', sentList.text.indexOf(name)), sentList.text.indexOf('</li>', sentList.text.indexOf(name)));
    expect(sentRow('入社届_山田.pdf')).to.contain('相手が開封済み').and.not.contain('未読');
    expect(sentRow('写真.png')).to.contain('相手が未開封').and.not.contain('未読');
  });

  it('a download ends its response whatever the size (one segment or several), so the next request on a kept-alive connection is answered', async () => {
    // A browser reuses the connection: a response that has sent every byte but never ended holds the next page up.
    const server = http.createServer(h.portal.app);
    const finished = new Map<string, Promise<void>>();
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.url?.endsWith('/download')) finished.set(req.url, new Promise((resolve) => res.once('finish', () => resolve())));
    });
    try {
      const s = new TestBrowser(server as unknown as Express);
      await s.login(clientAdmin);
      const sizes = [57, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 17];
      const sent = await upload(s, { direction: 'to_firm', category: 'other' }, sizes.map((n, i) => ({ name: `size-${i}.pdf`, data: pdfBytes(n) })));
      expect(sent.status, sent.text).to.equal(200);
      for (const [i, n] of sizes.entries()) {
        const file = (await StoredFile.findOne({ where: { displayName: `size-${i}.pdf` } }))!;
        const res = await download(s, file.id);
        expect([res.status, binary(res).length]).to.deep.equal([200, n]);
        const ended = finished.get(`/files/${file.id}/download`)!;
        const outcome = await Promise.race([ended.then(() => 'ended'), new Promise((resolve) => setTimeout(() => resolve('still open after 5 s'), 5000).unref())]);
        expect(outcome, `${n} bytes: the server ended its response`).to.equal('ended');
      }
    } finally {
      server.close();
    }
  });

  it('no one outside the client reaches its files: other client admin, unassigned staff → 404', async () => {
    const file = (await StoredFile.findOne({ where: { displayName: '入社届_山田.pdf' } }))!;
    for (const u of [otherAdmin, unassigned, coworker]) {
      const b = new TestBrowser(h.portal.app);
      await b.login(u);
      expect((await b.get(`/files/${file.id}`)).status, u.user.role).to.equal(404);
      expect((await download(b, file.id)).status, u.user.role).to.equal(404);
      expect((await b.get('/files')).text).to.not.contain('入社届_山田.pdf');
    }
  });

  it('firm → one employee: only that employee (and the firm) sees it; the client admin and a coworker do not', async () => {
    const s = new TestBrowser(h.portal.app);
    await s.login(staff);
    const slip = pdfBytes(4000);
    const res = await upload(s, { clientId: client.id, direction: 'to_employee', employeeId, category: 'payroll' }, [{ name: '給与明細_2026年10月.pdf', data: slip }]);
    expect(res.status, res.text).to.equal(200);
    const file = (await StoredFile.findOne({ where: { displayName: '給与明細_2026年10月.pdf' } }))!;
    expect(file.direction).to.equal('to_employee');
    // The firm's list spans clients: the row says whose it is and which employee it went to; a client's view keeps its client across tabs and pages.
    const sentList = await s.get('/files?box=sent');
    const row = sentList.text.slice(sentList.text.lastIndexOf('<li', sentList.text.indexOf('給与明細_2026年10月.pdf')), sentList.text.indexOf('</li>', sentList.text.indexOf('給与明細_2026年10月.pdf')));
    expect(row).to.contain('<span data-testid="file-client">F001 株式会社ファイル</span>').and.contain('<span data-testid="file-employee">E1 従業員 一郎</span>');
    const ofClient = await s.get(`/files?client=${client.id}&category=payroll`);
    expect(ofClient.text).to.contain('F001 株式会社ファイル のファイル').and.contain('給与明細_2026年10月.pdf');
    expect(ofClient.text).to.contain(`href="/files?box=received&amp;client&#x3D;${client.id}&amp;category&#x3D;payroll"`);

    const e = new TestBrowser(h.portal.app);
    await e.login(employeeUser);
    expect((await e.get('/files')).text).to.contain('給与明細_2026年10月.pdf');
    expect(sha(binary(await download(e, file.id)))).to.equal(sha(slip));
    for (const u of [coworker, clientAdmin]) {
      const b = new TestBrowser(h.portal.app);
      await b.login(u);
      expect((await b.get(`/files/${file.id}`)).status).to.equal(404);
      expect((await b.get('/files')).text).to.not.contain('給与明細_2026年10月.pdf');
    }
    expect((await h.smtp.lastTo(employeeUser.email)).subject).to.contain('新しいファイル');
  });

  it('client admin → one of the company\'s employees (a payslip made in-house): that employee and the company\'s admins see it; a coworker, the firm\'s payslips and other companies\' employees stay apart', async () => {
    const hr = await as(clientAdmin);
    const page = await hr.get('/files');
    expect(page.text).to.contain('href="/files/send-employee"');
    const form = await hr.get('/files/send-employee');
    expect(form.text).to.contain('data-testid="send-to-employee-form"').and.contain(`<option value="${employeeId}">E1 従業員 一郎</option>`);
    // The category is chosen, not defaulted; the My Number tick is not offered (what one employee is sent carries no My Number).
    expect(form.text).to.match(/<select name="category" required>\s*<option value="">/).and.not.contain('name="containsMyNumber"');
    // Nor is the employee: the browser asks for one beside the field, not at the Send button.
    expect(form.text).to.match(/<select name="employeeId" required>\s*<option value="">選択してください<\/option>/);
    const slip = pdfBytes(3500);
    const res = await upload(hr, { direction: 'to_employee', employeeId, category: 'payroll' }, [{ name: '給与明細_社内_11月.pdf', data: slip }]);
    expect(res.status, res.text).to.equal(200);
    const file = (await StoredFile.findOne({ where: { displayName: '給与明細_社内_11月.pdf' } }))!;
    expect([file.direction, file.clientId, file.employeeId]).to.deep.equal(['to_employee', client.id, employeeId]);
    expect((await h.smtp.lastTo(employeeUser.email)).text).to.contain('新しいファイルが1件').and.not.contain('給与明細');
    // It stays between the company and the employee: not the firm's (not even in its sent box), and
    // another admin of the company opening it is no read receipt.
    for (const u of [staff.user, (await makeUser(h, { role: 'firm_admin' })).user]) {
      expect(await h.booted.services.files.getFor(u, file.id).then(() => 'found', () => 'not found'), u.role).to.equal('not found');
      expect((await h.booted.services.files.list(u, { box: 'sent', page: 1 })).rows.map((r) => r.id), u.role).to.not.include(file.id);
    }
    const coAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    const opened = await h.booted.services.files.open(systemContext('test'), coAdmin.user, await h.booted.services.files.getFor(coAdmin.user, file.id), null);
    opened.destroy();
    expect(await FileRead.count({ where: { fileId: file.id } })).to.equal(0);
    expect((await hr.get('/files?box=sent')).text).to.contain('相手が未開封');
    // The employee opens it; the sender's list says the other side did, and the firm's payslip (earlier test) is still hidden from HR.
    const e = new TestBrowser(h.portal.app);
    await e.login(employeeUser);
    expect(sha(binary(await download(e, file.id)))).to.equal(sha(slip));
    const sent = await hr.get('/files?box=sent');
    expect(sent.text).to.contain('給与明細_社内_11月.pdf').and.contain('相手が開封済み').and.not.contain('給与明細_2026年10月.pdf');
    // (A coworker and other companies are kept out by the same rule as the firm's payslip above.)
    expect(await h.booted.services.files.getFor(coworker.user, file.id).then(() => 'found', () => 'not found')).to.equal('not found');
    expect(await h.booted.services.files.getFor(otherAdmin.user, file.id).then(() => 'found', () => 'not found')).to.equal('not found');
    // Another company's employee, or none: refused before any byte is stored.
    const before = await StoredFile.count();
    const stranger = await Employee.create({ clientId: other.id, employeeCode: 'Z9', name: '他社 社員', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
    for (const fields of [{ employeeId: stranger.id }, {}] as Record<string, string>[]) {
      const refused = await upload(hr, { direction: 'to_employee', category: 'payroll', ...fields }, [{ name: 'x.pdf', data: pdfBytes(1000) }]);
      expect(refused.status, JSON.stringify(fields)).to.equal(400);
    }
    // The client admin still cannot send to the company or to all (those are the firm's).
    expect((await upload(hr, { direction: 'to_client', category: 'payroll' }, [{ name: 'y.pdf', data: pdfBytes(1000) }])).status).to.equal(403);
    expect(await StoredFile.count()).to.equal(before);
    // An employee cannot send to a coworker.
    expect((await upload(e, { direction: 'to_employee', employeeId, category: 'other' }, [{ name: 'z.pdf', data: pdfBytes(1000) }])).status).to.equal(403);
  });

  it('firm → all clients (書式・ツール): every client admin sees it, employees do not', async () => {
    const admin = await makeUser(h, { role: 'firm_admin' });
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    // Nothing personal goes to every client: a file marked as holding My Numbers, or of a personal category, is refused.
    const before = await StoredFile.count();
    for (const fields of [{ containsMyNumber: 'on', category: 'templates' }, { category: 'identity' }, { category: 'payroll' }] as Record<string, string>[]) {
      const refused = await upload(b, { direction: 'to_all', ...fields }, [{ name: '一覧.pdf', data: pdfBytes(3000) }]);
      expect(refused.status, JSON.stringify(fields)).to.equal(400);
      expect(JSON.stringify(refused.body)).to.contain('全顧問先へは、マイナンバーや本人確認書類を含むファイルは送れません');
    }
    expect(await StoredFile.count()).to.equal(before);
    const form = await b.get('/files/send');
    expect(form.text).to.not.contain('name="containsMyNumber"').and.not.contain('value="identity"');
    expect(form.text).to.match(/<select name="category" required>\s*<option value="templates">/);
    const res = await upload(b, { direction: 'to_all', category: 'templates' }, [{ name: '就業規則ひな形.pdf', data: pdfBytes(3000) }]);
    expect(res.status, res.text).to.equal(200);
    for (const u of [clientAdmin, otherAdmin]) {
      const c = new TestBrowser(h.portal.app);
      await c.login(u);
      expect((await c.get('/files')).text).to.contain('就業規則ひな形.pdf');
    }
    const e = new TestBrowser(h.portal.app);
    await e.login(employeeUser);
    expect((await e.get('/files')).text).to.not.contain('就業規則ひな形.pdf');

    // One client opening it tells no other client anything: not who, not even that it was opened.
    const template = (await StoredFile.findOne({ where: { displayName: '就業規則ひな形.pdf' } }))!;
    const opener = new TestBrowser(h.portal.app);
    await opener.login(clientAdmin);
    expect((await download(opener, template.id)).status).to.equal(200);
    const bystander = new TestBrowser(h.portal.app);
    await bystander.login(otherAdmin);
    const row = (html: string) => html.slice(html.lastIndexOf('<li', html.indexOf('就業規則ひな形.pdf')), html.indexOf('</li>', html.indexOf('就業規則ひな形.pdf')));
    expect(row((await bystander.get('/files')).text)).to.contain('未読').and.not.contain('既読');
    const seen = await bystander.get(`/files/${template.id}`);
    expect(seen.status).to.equal(200);
    expect(seen.text).not.to.contain(clientAdmin.user.name).and.not.to.contain(client.name);
    expect(row((await opener.get('/files')).text)).to.contain('既読');
    expect((await opener.get(`/files/${template.id}`)).text).to.contain(clientAdmin.user.name);
    // The firm sees every reader; the opener's client finds the download in its own log.
    expect((await b.get(`/files/${template.id}`)).text).to.contain(clientAdmin.user.name);
    const logged = (await AuditEvent.findOne({ where: { operation: 'file.download', targetId: template.id } }))!;
    expect(logged.clientId).to.equal(client.id);
  });

  it('a client user cannot address another client, and the form\'s clientId is ignored for them', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(otherAdmin);
    const res = await upload(b, { direction: 'to_firm', clientId: client.id, category: 'other' }, [{ name: 'x.pdf', data: pdfBytes() }]);
    expect(res.status).to.equal(200);
    const row = (await StoredFile.findOne({ where: { displayName: 'x.pdf' } }))!;
    expect(row.clientId).to.equal(other.id);
    const toClient = await upload(b, { direction: 'to_client', clientId: client.id, category: 'other' }, [{ name: 'y.pdf', data: pdfBytes() }]);
    expect(toClient.status).to.equal(403);
    expect(await StoredFile.count({ where: { displayName: 'y.pdf' } })).to.equal(0);
  });

  it('refuses HTML, SVG and a PDF name on HTML bytes (415, nothing stored), and shows hostile names only as text', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(clientAdmin);
    const before = await StoredFile.count();
    for (const f of [{ name: 'page.html', data: htmlBytes() }, { name: 'logo.svg', data: svgBytes() }]) {
      const res = await upload(b, { direction: 'to_firm', category: 'other' }, [f]);
      expect(res.status, f.name).to.equal(415);
      expect(res.body.error.message).to.contain('このファイル形式は送信できません');
    }
    // A name the portal takes on bytes that are something else (an HTML page saved as .pdf or .xls by some payroll
    // software): the person is told the contents do not match, not to "use PDF" for a .pdf.
    for (const f of [{ name: 'invoice.pdf', data: htmlBytes() }, { name: '勤怠.xls', data: htmlBytes() }]) {
      const res = await upload(b, { direction: 'to_firm', category: 'other' }, [f]);
      expect(res.status, f.name).to.equal(415);
      expect(res.body.error.message).to.equal(ja('files.contentMismatch', { name: f.name })).and.not.contain('PDF、画像');
    }
    expect(await StoredFile.count()).to.equal(before);

    const hostile = [
      { sent: '../../etc/passwd.pdf', shown: 'passwd.pdf' },
      { sent: 'invoice\u202Efdp.exe.pdf', shown: 'invoicefdp.exe.pdf' },
      { sent: '<img src=x onerror=alert(1)>.pdf', shown: '<img src=x onerror=alert(1)>.pdf' },
      { sent: `${'長'.repeat(1000)}.pdf`, shown: `${'長'.repeat(196)}.pdf` },
    ];
    for (const n of hostile) {
      const res = await upload(b, { direction: 'to_firm', category: 'other' }, [{ name: n.sent, data: pdfBytes() }]);
      expect(res.status, n.sent).to.equal(200);
      const row = (await StoredFile.findOne({ where: { clientId: client.id }, order: [['createdAt', 'DESC']] }))!;
      expect(row.displayName).to.equal(n.shown);
      expect(row.objectId).to.match(/^f[0-9a-f]{32}$/);
      const list = await b.get('/files?box=sent');
      expect(list.text).to.not.contain('<img src=x');
      if (n.sent.startsWith('<img')) expect(list.text).to.contain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;.pdf');
    }
    // Everywhere else the name appears: the file's page, the log and its CSV, the retention list.
    const img = (await StoredFile.findOne({ where: { displayName: '<img src=x onerror=alert(1)>.pdf' } }))!;
    for (const page of [`/files/${img.id}`, '/audit', '/disposal']) {
      const res = await b.get(page);
      expect(res.status, page).to.equal(200);
      expect(res.text, page).to.not.contain('<img src=x');
      expect(res.text, page).to.contain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;.pdf');
    }
    const csv = await b.get('/audit.csv');
    expect(csv.status).to.equal(200);
    expect(csv.headers['content-type']).to.contain('text/csv');
    expect(csv.text).to.contain('<img src=x onerror=alert(1)>.pdf');
  });

  it('malformed multipart (raw NUL in a part header, cut boundary, missing name) → 400, nothing stored, the process stays up', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(clientAdmin);
    const before = await StoredFile.count();
    const nul = await upload(b, { direction: 'to_firm', category: 'other' }, [{ name: 'a\u0000b.pdf', data: pdfBytes() }]);
    expect(nul.status).to.equal(400);
    const token = await b.csrf('/files');
    const boundary = 'XyZ123';
    const cut = `--${boundary}\r\nContent-Disposition: form-data; name="direction"\r\n\r\nto_firm\r\n--${boundary}\r\nContent-Disposition: form-data; name="category"\r\n\r\nother\r\n--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="x.pdf"\r\n\r\n%PDF-1.7 truncated`;
    const res = await b.agent.post('/files').set('X-CSRF-Token', token).set('Accept', 'application/json').set('Content-Type', `multipart/form-data; boundary=${boundary}`).send(cut);
    expect(res.status).to.equal(400);
    const noName = `--${boundary}\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--${boundary}--\r\n`;
    const res2 = await b.agent.post('/files').set('X-CSRF-Token', token).set('Accept', 'application/json').set('Content-Type', `multipart/form-data; boundary=${boundary}`).send(noName);
    expect(res2.status).to.equal(400);
    expect(await StoredFile.count()).to.equal(before);
    expect((await b.get('/files')).status).to.equal(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(await h.booted.services.sweeper.run(Date.now() + 3_600_000)).to.deep.include({ orphans: 0 });
  });

  it('a stored file with one byte flipped or cut short is refused as corrupt, with nothing sent, and logged', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(clientAdmin);
    const data = pdfBytes(10_000);
    await upload(b, { direction: 'to_firm', category: 'other' }, [{ name: 'flip.pdf', data }]);
    const file = (await StoredFile.findOne({ where: { displayName: 'flip.pdf' } }))!;
    const objectPath = fs.readdirSync(h.config.storageDir, { recursive: true }).map(String).find((p) => p.endsWith(file.objectId))!;
    const full = path.join(h.config.storageDir, objectPath);
    const original = fs.readFileSync(full);
    const flipped = Buffer.from(original);
    flipped[original.length - 100]! ^= 0x01;
    fs.writeFileSync(full, flipped);
    const s = new TestBrowser(h.portal.app);
    await s.login(staff);
    const res = await download(s, file.id);
    expect(res.status).to.equal(500);
    expect(binary(res).includes(data.subarray(0, 100))).to.equal(false);
    expect(res.text ?? binary(res).toString()).to.contain('ファイルが破損しているため開けません');
    fs.writeFileSync(full, original.subarray(0, original.length - 20));
    expect((await download(s, file.id)).status).to.equal(500);
    expect(await AuditEvent.count({ where: { operation: 'file.download', targetId: file.id, result: 'error' } })).to.equal(2);
    fs.writeFileSync(full, original);
    expect(sha(binary(await download(s, file.id)))).to.equal(sha(data));
  });

  it('damage in a later segment of a large file: what was verified has gone out, then the connection is cut (never a complete-looking file), and the event is logged', async () => {
    const b = await as(clientAdmin);
    const data = pdfBytes(3 * (1 << 20) + 17);
    expect((await upload(b, { direction: 'to_firm', category: 'other' }, [{ name: 'late-damage.pdf', data }])).status).to.equal(200);
    const file = (await StoredFile.findOne({ where: { displayName: 'late-damage.pdf' } }))!;
    const objectPath = fs.readdirSync(h.config.storageDir, { recursive: true }).map(String).find((p) => p.endsWith(file.objectId))!;
    const full = path.join(h.config.storageDir, objectPath);
    const original = fs.readFileSync(full);
    const damaged = Buffer.from(original);
    damaged[original.length - 100]! ^= 0x01; // inside the last of four segments
    fs.writeFileSync(full, damaged);
    try {
      const outcome = await download(b, file.id).then(
        (res) => ({ status: res.status, complete: binary(res).length === data.length }),
        (err: { code?: string; message?: string }) => ({ cut: true, why: err.code ?? err.message }));
      expect(outcome).to.not.have.property('complete', true);
      expect(outcome).to.have.property('cut', true);
      // The row is written as the connection is cut: wait for it.
      const logged = () => AuditEvent.count({ where: { operation: 'file.download', targetId: file.id, result: 'error' } });
      for (let i = 0; i < 60 && (await logged()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await logged()).to.equal(1);
      expect((await AuditEvent.findOne({ where: { operation: 'file.download', targetId: file.id, result: 'error' } }))!.detail).to.match(/^corrupt: /);
    } finally {
      fs.writeFileSync(full, original);
    }
    expect(sha(binary(await download(b, file.id)))).to.equal(sha(data));
  });

  it('deleting a file destroys its key and its object; a record stays', async () => {
    const b = await as(clientAdmin);
    await upload(b, { direction: 'to_firm', category: 'other' }, [{ name: 'delete-me.pdf', data: pdfBytes() }]);
    const file = (await StoredFile.findOne({ where: { displayName: 'delete-me.pdf' } }))!;
    const res = await b.post(`/files/${file.id}/delete`, {}, `/files/${file.id}`);
    expect(res.status).to.equal(303);
    const after = (await StoredFile.findByPk(file.id))!;
    expect(after.status).to.equal('deleted');
    expect(after.wrappedKey).to.equal(null);
    expect(after.deletedBy).to.equal(clientAdmin.user.id);
    expect(await h.booted.services.storage.stat(file.objectId)).to.equal(null);
    expect((await b.get(`/files/${file.id}`)).status).to.equal(404);
    expect(await AuditEvent.count({ where: { operation: 'file.delete', targetId: file.id } })).to.equal(1);
  });
});
