import { expect } from 'chai';
import { translate } from '../../server/i18n';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createHarness, type Harness } from '../support/harness';
import { assign, makeUser, makeClient, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { envFor, runScript } from '../support/run-cli';
import { pdfBytes, pngBytes, uploadFiles } from '../support/files';
import { AuditEvent, DisposalCertificate, DisposalRequest, Employee, Firm, NumberRecord, OutboxMail, StoredFile, type Client } from '../../server/db/models';
import { Op } from 'sequelize';
import { findPerson } from '../../server/vault/people';
import { systemContext } from '../../server/audit';
import { numberFrom as valid } from '../support/vault';
import { addYears, rulesOf } from '../../server/disposal/retention-rules';
import { japanDay } from '../../server/domain/dates';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const binary = async (r: any): Promise<{ status: number; body: Buffer }> =>
  r.buffer(true).parse((res: NodeJS.ReadableStream, cb: (e: Error | null, b: Buffer) => void) => { const c: Buffer[] = []; res.on('data', (x: Buffer) => c.push(x)); res.on('end', () => cb(null, Buffer.concat(c))); });

describe('廃棄 screens: request → approval by the firm admin → certificate; the public check and the CLI', function () {
  this.timeout(90_000);
  let h: Harness;
  let client: Client;
  let clientAdmin: MadeUser;
  let firmAdmin: MadeUser;
  let recordIds: string[] = [];
  const numbers: string[] = [];
  let pdf: Buffer;
  let certNumber: string;
  // One signed-in browser per user for the later tests: the sign-in routes allow 30 requests a minute from one address.
  const signedIn = new Map<MadeUser, TestBrowser>();
  const as = async (u: MadeUser): Promise<TestBrowser> => {
    let b = signedIn.get(u);
    if (!b) { b = new TestBrowser(h.portal.app); await b.login(u); signedIn.set(u, b); }
    return b;
  };

  before(async () => {
    h = await createHarness();
    await Firm.create({ id: 1, name: '暁社会保険労務士事務所' });
    client = await makeClient(h, { code: 'DW01', name: '株式会社はいき' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    firmAdmin = await makeUser(h, { role: 'firm_admin', name: '所長' });
    for (let i = 0; i < 3; i++) {
      const e = await Employee.create({ clientId: client.id, employeeCode: `W${i}`, name: `退職 者${i}`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: '2016-03-31', userId: null });
      numbers.push(valid(73620000000 + i * 917));
      const r = await h.booted.services.vault.register(systemContext('test'), await findPerson(client.id, 'employee', e.id), { number: numbers[i]!, issueDate: null }, { source: 'proxy', registeredBy: null });
      recordIds.push(r.id);
    }
  });
  after(async () => { await h.close(); });

  it('the client admin sees deletion dates (leave + 7 years), moves one with a reason, and the change is logged', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(clientAdmin);
    const list = await b.get('/disposal');
    expect(list.status).to.equal(200);
    expect(list.text).to.contain('2023-03-31');
    for (const n of numbers) expect(list.text).not.to.contain(n);
    let res = await b.post(`/disposal/numbers/${recordIds[2]}/date`, { date: '', reason: '' }, '/disposal');
    expect(res.status).to.equal(400);
    res = await b.post(`/disposal/numbers/${recordIds[2]}/date`, { date: '', reason: '再雇用のため保管を継続' }, '/disposal');
    expect(res.status).to.equal(303);
    expect((await NumberRecord.findByPk(recordIds[2]))!.deletionDate).to.equal(null);
    const cancelled = (await AuditEvent.findOne({ where: { operation: 'retention.cancel' } }))!;
    expect(cancelled.detail).to.contain('再雇用のため保管を継続');
    // Named as every row about a person is, so the log's person column and filter find it.
    expect(cancelled.targetLabel).to.equal('W2 退職 者2');
    // A number typed into the reason is not kept (the reason is shown in the log and the report).
    res = await b.post(`/disposal/numbers/${recordIds[2]}/date`, { date: '', reason: `番号 ${numbers[2]} の本人から依頼` }, '/disposal');
    expect(res.status).to.equal(303);
    expect((await AuditEvent.findOne({ where: { operation: 'retention.cancel' }, order: [['seq', 'DESC']] }))!.detail).to.equal('— → —: 番号 ************ の本人から依頼');
  });

  it('the list filters by code, name, due and no date; bringing a date forward is logged with its reason', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(clientAdmin);
    const rows = (html: string) => (html.match(/name="items" value="number:/g) ?? []).length;
    expect(rows((await b.get('/disposal')).text)).to.equal(3);
    expect(rows((await b.get('/disposal?code=W1')).text)).to.equal(1);
    expect(rows((await b.get('/disposal?code=W')).text)).to.equal(0);
    expect(rows((await b.get(`/disposal?name=${encodeURIComponent('者1')}`)).text)).to.equal(1);
    expect(rows((await b.get('/disposal?due=1')).text)).to.equal(2);
    expect(rows((await b.get('/disposal?noDate=1')).text)).to.equal(1);
    // A date in the past is refused (it would be due at once): earlier disposal is a request for the firm admin to approve.
    const past = await b.post(`/disposal/numbers/${recordIds[1]}/date`, { date: '2022-12-31', reason: '手続き完了のため前倒し' }, '/disposal');
    expect(past.status).to.equal(400);
    expect(past.text).to.contain('削除予定日には今日以降の日付を入力してください').and.contain('下の「廃棄を申請する」');
    // On that number's row, with what was typed (a long list on a phone: the top of the page is far away).
    const row = new RegExp(`<tr[^>]*>(?:(?!</tr>)[\\s\\S])*value="number:${recordIds[1]}"(?:(?!</tr>)[\\s\\S])*</tr>`).exec(past.text)?.[0] ?? '';
    expect(row).to.contain('削除予定日には今日以降の日付を入力してください').and.contain('value="2022-12-31"').and.contain('value="手続き完了のため前倒し"');
    expect(past.text.split('削除予定日には今日以降の日付を入力してください').length).to.equal(2);
    // The label the message names is the button's.
    expect(past.text).to.contain('>廃棄を申請する</button>');
    expect((await NumberRecord.findByPk(recordIds[1]))!.deletionDate).to.equal('2023-03-31');
    const today = japanDay();
    const res = await b.post(`/disposal/numbers/${recordIds[1]}/date`, { date: today, reason: '手続き完了のため前倒し' }, '/disposal');
    expect(res.status).to.equal(303);
    expect((await NumberRecord.findByPk(recordIds[1]))!.deletionDate).to.equal(today);
    expect((await AuditEvent.findOne({ where: { operation: 'retention.change' }, order: [['seq', 'DESC']] }))!.detail).to.equal(`2023-03-31 → ${today}: 手続き完了のため前倒し`);
  });

  it('a refused request comes back with its ticks and reason, its message beside the button', async () => {
    const b = await as(clientAdmin);
    const token = await b.csrf('/disposal');
    // The count of "all of these" changed since the page was read: refused, nothing requested.
    const res = await b.agent.post('/disposal/requests').type('form')
      .send(`_csrf=${encodeURIComponent(token)}&reason=${encodeURIComponent('退職者の整理')}&items=number:${recordIds[0]}&allMatching=on&shownTotal=99`);
    expect(res.status).to.equal(409);
    expect(await DisposalRequest.count()).to.equal(0);
    expect(res.text).to.contain(`value="number:${recordIds[0]}" checked`).and.not.contain(`value="number:${recordIds[1]}" checked`);
    expect(res.text).to.contain('value="退職者の整理"');
    const form = res.text.slice(res.text.indexOf('id="disposal-request"'));
    const [error, button] = [form.indexOf('role="alert" id="request-error"'), form.indexOf('>廃棄を申請する</button>')];
    expect(error).to.be.greaterThan(form.indexOf('name="items"'));
    expect(button).to.be.greaterThan(error);
  });

  it('request → approval (re-authenticated firm admin) → certificate; the client admin downloads a signed PDF', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(clientAdmin);
    const token = await b.csrf('/disposal');
    const res = await b.agent.post('/disposal/requests').type('form').send(`_csrf=${encodeURIComponent(token)}&reason=${encodeURIComponent('保存期間満了')}&items=number:${recordIds[0]}&items=number:${recordIds[1]}`);
    expect(res.status, res.text).to.equal(303);
    const req = (await DisposalRequest.findOne())!;
    // The firm admin is told a request waits: the client and a link, nothing of whose data.
    const notice = await h.smtp.lastTo(firmAdmin.email);
    expect(notice.subject).to.contain('廃棄の申請が承認を待っています').and.contain('株式会社はいき');
    expect(notice.text).to.contain('http://portal.test/disposal/approvals');
    for (const secret of ['退職 者', 'W0', 'W1', '保存期間満了', ...numbers]) expect(`${notice.subject}${notice.text}`).to.not.contain(secret);
    const admin = new TestBrowser(h.portal.app);
    await admin.login(firmAdmin);
    expect((await admin.post(`/disposal/requests/${req.id}/approve`, {}, '/disposal/approvals')).status).to.equal(403);
    await admin.reauth(firmAdmin);
    expect((await admin.post(`/disposal/requests/${req.id}/approve`, {}, '/disposal/approvals')).status).to.equal(303);
    const cert = (await DisposalCertificate.findOne({ where: { requestId: req.id } }))!;
    certNumber = cert.number;
    for (const id of recordIds.slice(0, 2)) expect((await NumberRecord.findByPk(id))!.sealedNumber).to.equal(null);
    // Gone from the queue, it is listed as carried out: two items, by whom, and its certificate.
    const approvals = await admin.get('/disposal/approvals');
    expect(approvals.text).not.to.contain(`data-testid="request-${req.id}"`);
    const decided = approvals.text.slice(approvals.text.indexOf(`data-testid="decided-${req.id}"`), approvals.text.indexOf('</tr>', approvals.text.indexOf(`data-testid="decided-${req.id}"`)));
    expect(decided).to.contain('完了').and.contain(firmAdmin.user.name).and.contain('保存期間満了');
    expect(decided).to.match(/data-label="件数">2</);
    expect(decided).to.contain(`<a href="/certificates/${cert.id}/download" data-testid="decided-certificate">${cert.number}</a>`);
    const list = await b.get('/certificates');
    expect(list.text).to.contain(cert.number);
    const dl = await binary(b.agent.get(`/certificates/${cert.id}/download`));
    expect(dl.status).to.equal(200);
    pdf = dl.body;
    const file = path.join(h.dataDir, 'cert.pdf');
    fs.writeFileSync(file, pdf);
    const sig = execFileSync('pdfsig', [file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(sig).to.contain('Signature is Valid.');
    const text = execFileSync('pdftotext', ['-layout', file, '-']).toString();
    expect(text).to.contain('廃棄・削除証明書').and.contain(cert.number).and.contain('暗号鍵の消去およびデータの削除（復元不可能）');
    for (const n of numbers) expect(text.replace(/\s/g, '')).not.to.contain(n);
    // Someone else's client admin cannot fetch it.
    const other = await makeClient(h, { code: 'DW02' });
    const stranger = new TestBrowser(h.portal.app);
    await stranger.login(await makeUser(h, { role: 'client_admin', clientId: other.id, totp: false }));
    expect((await stranger.get(`/certificates/${cert.id}/download`)).status).to.equal(404);
  });

  it('the public page answers genuine for the file and for number + fingerprint, not genuine for a tampered copy, unknown otherwise', async () => {
    const v = new TestBrowser(h.portal.app);
    const form = await v.get('/verify');
    expect(form.status).to.equal(200);
    const ask = async (fields: Record<string, string>, file?: Buffer) => {
      const token = csrfIn((await v.get('/verify')).text);
      let r = v.agent.post('/verify').field('_csrf', token);
      for (const [k, val] of Object.entries(fields)) r = r.field(k, val);
      if (file) r = r.attach('file', file, { filename: 'c.pdf', contentType: 'application/pdf' });
      const res = await r;
      return /data-testid="verify-answer">([^<]+)</.exec(res.text)?.[1];
    };
    expect(await ask({}, pdf)).to.equal('真正な証明書です。');
    const tampered = Buffer.from(pdf);
    tampered[300] = tampered[300]! ^ 0x01;
    expect(await ask({}, tampered)).to.not.equal('真正な証明書です。');
    const cert = (await DisposalCertificate.findOne({ where: { number: certNumber } }))!;
    expect(await ask({ number: cert.number, sha256: cert.fingerprint })).to.equal('真正な証明書です。');
    expect(await ask({ number: cert.number, sha256: 'a'.repeat(64) })).to.equal('真正な証明書ではありません（改変されているか、記録と一致しません）。');
    expect(await ask({ number: 'DC-1999-000001', sha256: cert.fingerprint })).to.equal('確認できませんでした（記録にありません）。');

    // Nothing to check, or a number without its fingerprint, asks for what is missing instead of answering "unknown".
    const token = csrfIn((await v.get('/verify')).text);
    const empty = await v.agent.post('/verify').field('_csrf', token);
    expect(empty.status).to.equal(400);
    expect(empty.text).to.contain('証明書のPDFを選ぶか、証明書番号とSHA-256を入力してください。').and.not.contain('data-testid="verify-answer"');
    const numberOnly = await v.agent.post('/verify').field('_csrf', token).field('number', cert.number);
    expect(numberOnly.status).to.equal(400);
    expect(numberOnly.text).to.contain('SHA-256（64桁の英数字）も入力してください').and.contain(`value="${cert.number}"`);

    // The QR code's link answers at once, without a button; a wrong fingerprint in it does not pass.
    const scanned = await new TestBrowser(h.portal.app).get(`/verify?number=${cert.number}&sha256=${cert.fingerprint}`);
    expect(/data-testid="verify-answer">([^<]+)</.exec(scanned.text)?.[1]).to.equal('真正な証明書です。');
    const forged = await new TestBrowser(h.portal.app).get(`/verify?number=${cert.number}&sha256=${'b'.repeat(64)}`);
    expect(/data-testid="verify-answer">([^<]+)</.exec(forged.text)?.[1]).to.equal('真正な証明書ではありません（改変されているか、記録と一致しません）。');
  });

  it('certificate:list, certificate:export and certificate:verify (exit 0 only when genuine)', async () => {
    const env = envFor(h);
    const list = await runScript('scripts/cli.ts', ['certificate:list'], env);
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.contain(certNumber);
    const out = path.join(h.dataDir, 'exported.pdf');
    const exp = await runScript('scripts/cli.ts', ['certificate:export', certNumber, out], env);
    expect(exp.code, exp.stderr).to.equal(0);
    expect(fs.readFileSync(out).equals(pdf)).to.equal(true);
    // Read out by the operator as a download is: in the client's log.
    const read = (await AuditEvent.findOne({ where: { operation: 'certificate.download', targetLabel: certNumber, channel: 'cli:certificate:export' } }))!;
    expect([read.clientId, read.detail]).to.deep.equal([client.id, 'written out by the operator']);
    const ok = await runScript('scripts/cli.ts', ['certificate:verify', out], env);
    expect([ok.code, ok.stdout.trim()]).to.deep.equal([0, 'genuine']);
    const bad = Buffer.from(pdf);
    bad[300] = bad[300]! ^ 0x01;
    fs.writeFileSync(out, bad);
    const no = await runScript('scripts/cli.ts', ['certificate:verify', out], env);
    expect(no.code).to.equal(1);
  });

  it('retention rules: years per kind, set by the firm admin on the screen and logged; leave dates and payees follow them', async () => {
    // The client admin sees the rules but cannot change them (nor switch on automatic disposal).
    const hr = await as(clientAdmin);
    const shown = await hr.get('/disposal');
    expect(shown.text).to.contain('data-testid="rules-by-admin"').and.match(/<fieldset class="plain" disabled>/);
    expect((await hr.post('/disposal/rules', { numberYears: '1', payeeYears: '1', autoDispose: 'on' }, '/disposal')).status).to.equal(403);
    expect((await rulesOf(client.id)).autoDispose).to.equal(false);
    const b = await as(firmAdmin);
    let res = await b.post('/disposal/rules', { clientId: client.id, numberYears: '0', payeeYears: '7' }, `/disposal?client=${client.id}`);
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('年数は1〜50の整数で入力してください。');
    res = await b.post('/disposal/rules', { clientId: client.id, numberYears: '5', payeeYears: '3', file_identity: '1' }, `/disposal?client=${client.id}`);
    expect(res.status).to.equal(303);
    const e = await Employee.create({ clientId: client.id, employeeCode: 'W9', name: '規則 確認', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
    const rec = await h.booted.services.vault.register(systemContext('test'), await findPerson(client.id, 'employee', e.id), { number: valid(73629999001), issueDate: null }, { source: 'proxy', registeredBy: null });
    expect(rec.deletionDate).to.equal(null);
    await h.booted.services.people.setLeaveDate(systemContext('test'), client.id, e.id, '2024-03-31');
    expect((await NumberRecord.findByPk(rec.id))!.deletionDate).to.equal('2029-03-31');
    expect((await AuditEvent.findOne({ where: { operation: 'retention.rules' }, order: [['seq', 'DESC']] }))!.detail).to.contain('numbers 5y');
    // Files take their date from the rule of their category at once; a blank category gets none.
    await uploadFiles(hr, { direction: 'to_firm', category: 'identity' }, [{ name: 'id.png', data: pngBytes(2000) }]);
    await uploadFiles(hr, { direction: 'to_firm', category: 'procedure' }, [{ name: 'form.pdf', data: pdfBytes(2000) }]);
    const today = new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10);
    expect((await StoredFile.findOne({ where: { clientId: client.id, category: 'identity' } }))!.retentionDate).to.equal(addYears(today, 1));
    expect((await StoredFile.findOne({ where: { clientId: client.id, category: 'procedure' } }))!.retentionDate).to.equal(null);
  });

  it('automatic disposal: only for a client that allowed it, only items whose date has come, with its own certificate', async () => {
    const svc = h.booted.services.disposal;
    const before = await DisposalCertificate.count();
    expect(await svc.runAutomatic()).to.equal(0); // not allowed yet
    const b = await as(firmAdmin);
    await b.post('/disposal/rules', { clientId: client.id, numberYears: '7', payeeYears: '7', autoDispose: 'on' }, `/disposal?client=${client.id}`);
    // A date brought forward by hand (here straight in the database, as no screen takes a past date) is an early
    // disposal: standing approval does not cover it. W9 left in 2024: 7 years after is 2031.
    const w9 = (await NumberRecord.findOne({ where: { clientId: client.id, deletionDate: '2029-03-31' } }))!;
    await NumberRecord.update({ deletionDate: '2020-01-01' }, { where: { id: w9.id } });
    // Due: the record whose schedule was cancelled earlier gets its date back (left 2016-03-31: due 2023-03-31 under the rules).
    await NumberRecord.update({ deletionDate: '2023-03-31' }, { where: { id: recordIds[2] } });
    expect(await svc.runAutomatic()).to.equal(1);
    expect((await NumberRecord.findByPk(w9.id))!.sealedNumber, 'brought forward by hand: not disposed automatically').to.not.equal(null);
    await NumberRecord.update({ deletionDate: '2029-03-31' }, { where: { id: w9.id } });
    expect((await NumberRecord.findByPk(recordIds[2]))!.sealedNumber).to.equal(null);
    expect(await NumberRecord.count({ where: { clientId: client.id, deletionDate: '2029-03-31' } })).to.equal(1);
    expect((await NumberRecord.findOne({ where: { clientId: client.id, deletionDate: '2029-03-31' } }))!.sealedNumber).to.not.equal(null);
    expect(await DisposalCertificate.count()).to.equal(before + 1);
    const req = (await DisposalRequest.findOne({ order: [['requestedAt', 'DESC']] }))!;
    expect([req.approvedBy, req.approvedByName, req.early]).to.deep.equal([null, '顧問先の事前承認（自動廃棄）', false]);
    expect(await svc.runAutomatic()).to.equal(0);

    // The approvals page names who asked and who approved in the reader's language (the row keeps the certificate's Japanese).
    const admin = b;
    const decidedRow = (html: string) => html.slice(html.indexOf(`data-testid="decided-${req.id}"`), html.indexOf('</tr>', html.indexOf(`data-testid="decided-${req.id}"`)));
    const ja = decidedRow((await admin.get('/disposal/approvals')).text);
    expect(ja).to.contain('自動廃棄').and.contain('顧問先の事前承認（自動廃棄）').and.contain('保存期間満了');
    await admin.post('/lang', { lang: 'en', back: '/disposal/approvals' }, '/disposal/approvals');
    const en = decidedRow((await admin.get('/disposal/approvals')).text);
    expect(en).to.contain('Automatic disposal').and.contain('Retention period over').and.contain(translate('en', 'disposal.standingApproval').replace("'", '&#x27;'));
    expect(en.replaceAll(client.name, '').match(/[\u3040-\u30ff\u4e00-\u9fff]/g) ?? [], 'no Japanese in the English row but the client\'s name').to.deep.equal([]);
  });

  it('the client admin\'s retention list holds only files they may see: not one the firm sent to a single employee (nor can they request it)', async () => {
    const admin = await as(firmAdmin);
    const employee = await Employee.findOne({ where: { clientId: client.id, employeeCode: 'W9' } });
    const sent = await uploadFiles(admin, { clientId: client.id, direction: 'to_employee', employeeId: employee!.id, category: 'payroll' }, [{ name: '給与明細_W9_減給.pdf', data: pdfBytes(2000) }]);
    expect(sent.status, sent.text).to.equal(200);
    const slip = (await StoredFile.findOne({ where: { displayName: '給与明細_W9_減給.pdf' } }))!;
    expect((await admin.get(`/disposal?client=${client.id}`)).text, 'the firm sees it').to.contain('給与明細_W9_減給.pdf');
    const hr = await as(clientAdmin);
    const list = await hr.get('/disposal');
    expect(list.text).to.not.contain('給与明細_W9_減給.pdf').and.not.contain(slip.id);
    const token = csrfIn(list.text);
    const asked = await hr.agent.post('/disposal/requests').type('form').send(`_csrf=${encodeURIComponent(token)}&reason=${encodeURIComponent('整理')}&items=file:${slip.id}`);
    expect(asked.status).to.equal(404);
    expect(await DisposalRequest.count({ where: { status: 'requested' } })).to.equal(0);
  });

  it("a firm admin's own request says who approves it, and says so when there is nobody who can", async () => {
    const admin = new TestBrowser(h.portal.app);
    await admin.login(firmAdmin);
    const held = (await NumberRecord.findOne({ where: { clientId: client.id, deletionDate: '2029-03-31' } }))!;
    const token = await admin.csrf(`/disposal?client=${client.id}`);
    const asked = await admin.agent.post('/disposal/requests').type('form')
      .send(`_csrf=${encodeURIComponent(token)}&clientId=${client.id}&reason=${encodeURIComponent('退職者の書類整理')}&items=number:${held.id}`);
    expect(asked.status, asked.text).to.equal(303);
    const req = (await DisposalRequest.findOne({ where: { status: 'requested' }, order: [['requestedAt', 'DESC']] }))!;
    const row = (html: string) => html.slice(html.indexOf(`data-testid="request-${req.id}"`), html.indexOf('</tr>', html.indexOf(`data-testid="request-${req.id}"`)));
    await admin.post('/lang', { lang: 'ja', back: '/disposal/approvals' }, '/disposal/approvals');
    const alone = row((await admin.get('/disposal/approvals')).text);
    expect(alone).to.contain('ほかに事務所管理者がいません').and.not.contain('data-testid="approve"');
    // Nobody else to tell: no notice goes to the requester themself.
    expect(await OutboxMail.count({ where: { dedupeKey: { [Op.like]: `disposal-request:${req.id}:%` } } })).to.equal(0);
    await makeUser(h, { role: 'firm_admin', name: '副所長' });
    const withColleague = row((await admin.get('/disposal/approvals')).text);
    expect(withColleague).to.contain('ご自身の申請です。別の事務所管理者が承認します。').and.not.contain('ほかに事務所管理者がいません');
  });
});

describe('廃棄 screens: the 予定解除 button and the hint on the rules', () => {
  let h: Harness;
  let client: Client;
  let clientAdmin: MadeUser;
  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'DW02', name: '株式会社かいじょ' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
  });
  after(async () => { await h.close(); });

  it('a row with a date has a 予定解除 button: it cancels the date whatever the date field holds, with the reason; firm staff are not told to ask the firm', async () => {
    const e = await Employee.create({ clientId: client.id, employeeCode: 'W9', name: '解除 予定', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: '2016-03-31', userId: null });
    const r = await h.booted.services.vault.register(systemContext('test'), await findPerson(client.id, 'employee', e.id), { number: valid(73620009999), issueDate: null }, { source: 'proxy', registeredBy: null });
    const b = new TestBrowser(h.portal.app);
    await b.login(clientAdmin);
    const list = await b.get('/disposal?code=W9');
    expect(list.text).to.match(new RegExp(`<button type="submit" form="date-${r.id}" name="cancel" value="on"[^>]*>予定解除</button>`));
    const res = await b.post(`/disposal/numbers/${r.id}/date`, { date: '2023-03-31', reason: '再雇用の予定', cancel: 'on' }, '/disposal?code=W9');
    expect(res.status).to.equal(303);
    expect((await b.get(res.headers.location as string)).text).to.contain('削除予定を解除しました。');
    const after = (await NumberRecord.findByPk(r.id))!;
    expect([after.deletionDate, after.deletionDateByHand]).to.deep.equal([null, true]);
    expect((await AuditEvent.findOne({ where: { operation: 'retention.cancel', targetLabel: 'W9 解除 予定' } }))!.detail).to.contain('再雇用の予定');
    expect((await b.get('/disposal?code=W9')).text, 'no date, no button').to.not.contain('data-testid="cancel-date"');

    const staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
    const sb = new TestBrowser(h.portal.app);
    await sb.login(staff);
    const staffPage = await sb.get(`/disposal?client=${client.id}`);
    const hint = /data-testid="rules-by-admin">([^<]+)</.exec(staffPage.text)?.[1];
    expect(hint).to.contain('事務所管理者が設定します').and.not.contain('事務所にご依頼');
    const hrHint = /data-testid="rules-by-admin">([^<]+)</.exec((await b.get('/disposal')).text)?.[1];
    expect(hrHint).to.contain('変更は事務所にご依頼ください');
  });
});
