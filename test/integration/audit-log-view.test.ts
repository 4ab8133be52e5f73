import { expect } from 'chai';
import { Op } from 'sequelize';
import { execFileSync } from 'node:child_process';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { AuditEvent, Department, DisposalItem, DisposalRequest, Employee, Firm, type Client } from '../../server/db/models';
import { findPerson } from '../../server/vault/people';
import { systemContext, type ActorContext } from '../../server/audit';
import { numberFrom as valid } from '../support/vault';
import { pdfBytes, uploadFiles } from '../support/files';
import { collectReportData } from '../../server/reports/report-data';
import { periodContaining } from '../../server/reports/periods';


describe('操作履歴: the access log view, its filters, paging and downloads', () => {
  let h: Harness;
  let a: Client;
  let b: Client;
  let adminA: MadeUser;
  let adminB: MadeUser;
  let staff: MadeUser;
  let browserA: TestBrowser;
  let browserStaff: TestBrowser;
  const numbers: string[] = [];

  before(async function () {
    this.timeout(30_000);
    // The CSV cap equals the 60 reveals of client A: those download, the whole of A's log is refused.
    h = await createHarness({ REVEAL_BURST_MAX: '1000', LOG_EXPORT_MAX_ROWS: '60' });
    await Firm.create({ id: 1, name: '暁社会保険労務士事務所' });
    a = await makeClient(h, { code: 'LA', name: '株式会社エー' });
    b = await makeClient(h, { code: 'LB', name: '株式会社ビー' });
    adminA = await makeUser(h, { role: 'client_admin', clientId: a.id, totp: false });
    adminB = await makeUser(h, { role: 'client_admin', clientId: b.id, totp: false });
    staff = await makeUser(h, { role: 'firm_staff', name: '担当 花子' });
    await assign(h, a.id, staff.user.id);
    const svc = h.booted.services;
    const dept = await Department.create({ clientId: a.id, code: '100', name: '総務部' });
    const staffCtx: ActorContext = { actorId: staff.user.id, actorName: '担当 花子', actorRole: 'firm_staff', ip: '127.0.0.1', userAgent: 't', channel: 'web:test' };
    for (let i = 0; i < 60; i++) {
      const e = await Employee.create({ clientId: a.id, employeeCode: `E${String(i).padStart(3, '0')}`, name: `社員 ${i}号`, nameKana: null, departmentId: i < 10 ? dept.id : null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
      const n = valid(50000000000 + i * 13);
      numbers.push(n);
      const rec = await svc.vault.register(systemContext('test'), await findPerson(a.id, 'employee', e.id), { number: n, issueDate: null }, { source: 'proxy', registeredBy: null });
      await svc.vault.open(staffCtx, a.id, [rec.id], { purpose: 'withholding_slip', office: i % 2 ? 'tax_office' : 'municipality' }, 'vault.reveal');
    }
    const eb = await Employee.create({ clientId: b.id, employeeCode: 'B001', name: '他社 太郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
    await svc.vault.register(systemContext('test'), await findPerson(b.id, 'employee', eb.id), { number: valid(60000000001), issueDate: null }, { source: 'proxy', registeredBy: null });
    browserA = new TestBrowser(h.portal.app);
    await browserA.login(adminA);
    browserStaff = new TestBrowser(h.portal.app);
    await browserStaff.login(staff);
  });
  after(async () => { await h.close(); });

  const rowsIn = (html: string) => (html.match(/<tr(?: class="denied")?>\s*<td[ >]/g) ?? []).length;

  it('the client admin sees their own company only, 50 rows a page, with masked people and no number', async () => {
    const res = await browserA.get('/audit');
    expect(res.status).to.equal(200);
    const own = await AuditEvent.count({ where: { clientId: a.id } });
    expect(own).to.be.greaterThan(120);
    expect(res.text).to.contain(`${own}件`);
    expect(rowsIn(res.text)).to.equal(50);
    expect(res.text).to.contain('社＊ 5＊＊');
    for (const n of numbers) expect(res.text).not.to.contain(n);
    // Rows the portal itself wrote (here: the registrations) name it in Japanese, not as its internal 'system'.
    expect(res.text).to.contain('<div>システム（自動処理） <small></small></div>').and.not.match(/<td[^>]*>(<div>)?system\b/);
    // ...and say they came from the system, not from a screen (whatever channel name the job gave).
    expect(res.text).to.match(/<td[^>]*>許可<\/td><td[^>]*><div>システム<\/div><\/td>/);
    const last = await browserA.get('/audit?page=3');
    expect(rowsIn(last.text)).to.equal(own - 100);
    expect(res.text).not.to.contain('B001');
  });

  it('another client\'s log is not there (404, as on every other page) for a client admin and for unassigned staff, downloads included', async () => {
    const res = await browserA.get(`/audit?client=${b.id}`);
    expect(res.status).to.equal(404);
    expect(rowsIn(res.text)).to.equal(0);
    const other = new TestBrowser(h.portal.app);
    await other.login(adminB);
    const own = await other.get(`/audit?client=${a.id}`);
    expect(own.status).to.equal(404);
    expect(own.text).not.to.contain('E001');
    const unassigned = await makeUser(h, { role: 'firm_staff' });
    const u = new TestBrowser(h.portal.app);
    await u.login(unassigned);
    for (const path of [`/audit?client=${a.id}`, `/audit.csv?client=${a.id}`, `/audit.pdf?client=${a.id}`]) {
      const r = await u.get(path);
      expect(r.status, path).to.equal(404);
      expect(r.text, path).to.not.contain(a.name);
    }
  });

  it('filters: operation, employee code (exact), department, name (partial), operator, result, period', async () => {
    const q = async (qs: string) => {
      const res = await browserStaff.get(`/audit?client=${a.id}&${qs}`);
      expect(res.status).to.equal(200);
      return /(\d+)件/.exec(res.text)![1];
    };
    expect(await q('operation=vault.reveal')).to.equal('60');
    expect(await q('code=E007')).to.equal('2');
    expect(await q('code=E00')).to.equal('0');
    expect(await q(`department=${(await Department.findOne())!.id}`)).to.equal('20');
    expect(await q('name=' + encodeURIComponent('5号'))).to.equal('12');
    expect(await q('operator=' + encodeURIComponent('担当'))).to.equal('60');
    // The refusals in A's log (the test above): its admin's look at B's log, and the unassigned staff
    // member's three looks at A's (a firm member refused at a client's pages is filed under that client).
    expect(await q('result=denied')).to.equal('4');
    expect(await q('result=denied&operation=security.notFound')).to.equal('4');
    expect(await q('from=2000-01-01&to=2000-12-31')).to.equal('0');
    // The client's own admin filters by department too: the choice is on their page (no ?client= in it) and works.
    const dept = (await Department.findOne())!;
    const own = await browserA.get('/audit');
    expect(own.text).to.match(new RegExp(`<option value="${dept.id}"[^>]*>${dept.code} ${dept.name}</option>`));
    const byDept = await browserA.get(`/audit?department=${dept.id}`);
    expect(/(\d+)件/.exec(byDept.text)![1]).to.equal('20');
    expect(byDept.text).to.match(new RegExp(`<option value="${dept.id}" selected>`));
    const today = new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10);
    expect(await q(`from=${today}&to=${today}`)).to.equal(String(await AuditEvent.count({ where: { clientId: a.id } })));
  });

  it('a period whose end is before its start, or a date that is no date, is refused with the reason, not answered with 0 rows', async () => {
    const exportsBefore = await AuditEvent.count({ where: { operation: { [Op.in]: ['log.export.csv', 'log.export.pdf'] } } });
    const reversed = await browserStaff.get(`/audit?client=${a.id}&from=2026-11-30&to=2026-11-01`);
    expect(reversed.status).to.equal(400);
    expect(reversed.text).to.contain('「期間（まで）」が「期間（から）」より前の日付です。');
    expect(reversed.text).to.contain('value="2026-11-30"').and.contain('aria-invalid="true"');
    expect(rowsIn(reversed.text)).to.equal(0);
    expect(reversed.text).not.to.contain('該当する操作はありません').and.not.contain('data-testid="log-csv"');
    const noDate = await browserStaff.get(`/audit?client=${a.id}&from=2026-02-30`);
    expect(noDate.status).to.equal(400);
    expect(noDate.text).to.contain('日付は 2026-04-01 の形で入力してください。');
    for (const format of ['csv', 'pdf']) {
      const res = await browserStaff.get(`/audit.${format}?client=${a.id}&from=2026-11-30&to=2026-11-01`);
      expect(res.status, format).to.equal(400);
      expect(res.headers['content-type']).to.contain('text/html');
    }
    expect(await AuditEvent.count({ where: { operation: { [Op.in]: ['log.export.csv', 'log.export.pdf'] } } })).to.equal(exportsBefore);
  });

  it('a page past the end shows the last page, with where it is', async () => {
    const own = await AuditEvent.count({ where: { clientId: a.id } });
    const pages = Math.ceil(own / 50);
    const res = await browserA.get('/audit?page=99');
    expect(res.status).to.equal(200);
    expect(rowsIn(res.text)).to.equal(own - (pages - 1) * 50);
    expect(res.text).to.contain(`${pages} / ${pages} ページ`);
    // (Handlebars writes '=' in an attribute as &#x3D;)
    expect(res.text).to.contain(`page&#x3D;${pages - 1}">前へ</a>`);
  });

  it('shows where each access came from, and the operation filter offers every operation the log records, sign-ins included', async () => {
    const res = await browserStaff.get(`/audit?client=${a.id}&operation=vault.reveal`);
    expect(res.text).to.contain('<th>方法・接続元</th>');
    expect(res.text).to.contain('画面<br><small class="ip">127.0.0.1</small>');
    expect(res.text).to.contain('源泉徴収票<br><small>税務署</small>');
    for (const group of ['マイナンバー・対象者', 'ファイル', '報告書・操作履歴', '保存期限・廃棄', 'サインイン・アカウント', '顧問先・利用者・担当の設定']) {
      expect(res.text).to.contain(`<optgroup label="${group}">`);
    }
    const logins = await browserA.get('/audit?operation=auth.login');
    expect(logins.status).to.equal(200);
    const own = await AuditEvent.count({ where: { clientId: a.id, operation: 'auth.login' } });
    expect(own).to.be.greaterThan(0);
    expect(logins.text).to.contain(`${own}件`);
    expect(logins.text).to.contain('<option value="auth.login" selected>');
  });

  it('sorting is on a fixed set of columns only; anything else falls back to time', async () => {
    const byOp = await browserStaff.get(`/audit?client=${a.id}&sort=operation&dir=asc`);
    expect(byOp.status).to.equal(200);
    const odd = await browserStaff.get(`/audit?client=${a.id}&sort=ip;drop&dir=x`);
    expect(odd.status).to.equal(200);
    expect(odd.text).to.contain(`${await AuditEvent.count({ where: { clientId: a.id } })}件`);
  });

  it('a file the reader may not see is listed without its name, in the log, its CSV, its name search and the access report', async () => {
    const employee = await Employee.create({ clientId: a.id, employeeCode: 'F001', name: '山田 太郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
    // The company's admin sends one employee a file (the firm may not see it); the firm sends one the other way.
    expect((await uploadFiles(browserA, { direction: 'to_employee', employeeId: employee.id, category: 'other' }, [{ name: '懲戒処分通知_山田太郎.pdf', data: pdfBytes() }])).status).to.equal(200);
    expect((await uploadFiles(browserStaff, { clientId: a.id, direction: 'to_employee', employeeId: employee.id, category: 'other' }, [{ name: '個別相談記録_山田太郎.pdf', data: pdfBytes() }])).status).to.equal(200);
    const staffLog = (await browserStaff.get(`/audit?client=${a.id}&operation=file.upload`)).text;
    expect(staffLog).to.contain('個別相談記録_山田太郎.pdf').and.not.contain('懲戒処分通知');
    const adminLog = (await browserA.get('/audit?operation=file.upload')).text;
    expect(adminLog).to.contain('懲戒処分通知_山田太郎.pdf').and.not.contain('個別相談記録');
    // The row is there all the same: who sent a file, when.
    expect(rowsIn(adminLog)).to.equal(2);
    expect((await browserA.get('/audit.csv?operation=file.upload')).text).to.contain('懲戒処分通知').and.not.contain('個別相談記録');
    // A name search finds no more than the reader may see.
    expect(rowsIn((await browserA.get(`/audit?name=${encodeURIComponent('個別相談')}`)).text)).to.equal(0);
    expect(rowsIn((await browserA.get(`/audit?name=${encodeURIComponent('懲戒')}`)).text)).to.equal(1);
    // The client's access report is read by its admins and by the firm: neither's hidden name is in it.
    const report = await collectReportData(a.id, periodContaining('monthly', new Date()));
    const names = report.rows.map((r) => r.target?.label ?? '').join('\n');
    expect(names).to.not.contain('懲戒処分通知').and.not.contain('個別相談記録');
    expect(report.rows.filter((r) => r.operation === 'file.upload').length).to.be.greaterThan(1);
    // The log itself is unchanged.
    expect(await AuditEvent.count({ where: { targetLabel: '個別相談記録_山田太郎.pdf' } })).to.equal(1);
  });

  it('the CSV download holds the filtered rows (formula-safe, masked) and is itself logged', async () => {
    const res = await browserStaff.get(`/audit.csv?client=${a.id}&operation=vault.reveal`);
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.contain('text/csv');
    const lines = res.text.trim().split('\r\n');
    expect(lines).to.have.length(61);
    for (const n of numbers) expect(res.text).not.to.contain(n);
    const row = await AuditEvent.findOne({ where: { operation: 'log.export.csv' }, order: [['seq', 'DESC']] });
    expect([row!.actorId, row!.clientId, row!.detail]).to.deep.equal([staff.user.id, a.id, '60 rows']);
  });

  // From a product walk: times were to the minute, so a reveal and the export after it, or two reveals, could not be told apart or ordered by eye.
  it('times are to the second (Japan time), in the page and the CSV', async () => {
    const inJapan = (d: Date) => new Date(d.getTime() + 9 * 3600_000).toISOString().slice(0, 19).replace(/-/g, '/').replace('T', ' ');
    const at = new Set((await AuditEvent.findAll({ where: { clientId: a.id, operation: 'vault.reveal' } })).map((e) => inJapan(e.at)));
    const lines = (await browserStaff.get(`/audit.csv?client=${a.id}&operation=vault.reveal`)).text.trim().split('\r\n').slice(1);
    expect(lines).to.have.length(60);
    for (const line of lines) expect(at, line).to.include(line.split(',')[0]!.replace(/"/g, ''));
    const page = (await browserStaff.get(`/audit?client=${a.id}&operation=vault.reveal`)).text;
    const shown = [...page.matchAll(/<td[^>]*>(\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2})<\/td>/g)].map((m) => m[1]!);
    expect(shown).to.have.length(50);
    for (const t of shown) expect(at).to.include(t);
  });

  it('the CSV also carries the person\'s department, the operator\'s id and the device, as the log keeps them', async () => {
    const lines = (await browserStaff.get(`/audit.csv?client=${a.id}&operation=vault.reveal`)).text.trim().split('\r\n');
    expect(lines[0]!.split(',').slice(-4).map((c) => c.replace(/"/g, ''))).to.deep.equal(['部門コード', '部門', '操作者ID', '端末']);
    const tail = (code: string) => lines.find((l) => l.includes(`"${code} `))!.split(',').slice(-4).map((c) => c.replace(/"/g, ''));
    expect(tail('E003')).to.deep.equal(['100', '総務部', staff.user.id, 't']);
    expect(tail('E042')).to.deep.equal(['', '', staff.user.id, 't']);
  });

  it('a CSV that would be cut short is refused with the count, and the page says so before the click', async () => {
    const all = await AuditEvent.count({ where: { clientId: a.id } });
    expect(all).to.be.greaterThan(60);
    const exportsBefore = await AuditEvent.count({ where: { operation: 'log.export.csv' } });
    const res = await browserStaff.get(`/audit.csv?client=${a.id}`);
    expect(res.status).to.equal(400);
    expect(res.headers['content-type']).to.contain('text/html');
    expect(res.text).to.contain(`条件に合う記録が${all}件あります。CSVは60件までです。`);
    expect(await AuditEvent.count({ where: { operation: 'log.export.csv' } })).to.equal(exportsBefore);
    const page = await browserStaff.get(`/audit?client=${a.id}`);
    expect(page.text).to.contain('data-testid="log-csv-too-many"').and.not.contain('data-testid="log-csv"');
    expect(page.text).to.contain('data-testid="log-pdf"');
    const narrowed = await browserStaff.get(`/audit?client=${a.id}&operation=vault.reveal`);
    expect(narrowed.text).to.contain('data-testid="log-csv"').and.not.contain('data-testid="log-csv-too-many"');
  });

  it('the PDF download holds the same rows in Japanese, signed, and is logged', async () => {
    const res = await browserStaff.agent.get(`/audit.pdf?client=${a.id}&operation=vault.reveal`).buffer(true)
      .parse((r, cb) => { const c: Buffer[] = []; r.on('data', (x: Buffer) => c.push(x)); r.on('end', () => cb(null, Buffer.concat(c))); });
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('application/pdf');
    const text = execFileSync('pdftotext', ['-layout', '-', '-'], { input: res.body as Buffer }).toString('utf8');
    expect(text).to.contain('操作履歴');
    // The filters it was made with: a printed log says which rows it holds.
    expect(text).to.contain('絞り込み条件');
    expect(text).to.match(/顧問先\s+LA 株式会社エー/);
    expect(text).to.match(/操作\s+閲覧/);
    expect(text).to.match(/期間\s+すべて/);
    expect(text).to.match(/件数\s+60件/);
    expect(text).to.contain('担当 花子');
    expect(text).to.contain('E007 社＊ 7＊');
    expect((text.match(/閲覧/g) ?? []).length).to.be.greaterThanOrEqual(60);
    for (const n of numbers) expect(text.replace(/\s/g, '')).not.to.contain(n);
    const row = await AuditEvent.findOne({ where: { operation: 'log.export.pdf' }, order: [['seq', 'DESC']] });
    expect(row!.detail).to.equal('60 rows');
  });
  it('names a file, a report or a certificate as such in the 対象 column, not as a bare label', async () => {
    const ctx = systemContext('test');
    await h.booted.services.audit.recordAlone(ctx, { operation: 'report.build', result: 'allowed', clientId: b.id, targetKind: 'report', targetId: '00000000-0000-4000-8000-00000000000a', targetLabel: '2026-11' });
    await h.booted.services.audit.recordAlone(ctx, { operation: 'disposal.certificate', result: 'allowed', clientId: b.id, targetKind: 'certificate', targetId: '00000000-0000-4000-8000-00000000000b', targetLabel: 'DC-2026-000042' });
    const hr = new TestBrowser(h.portal.app);
    await hr.login(adminB);
    // (A real file: a row about a file the reader may not see, or that never was, shows no name.)
    expect((await uploadFiles(hr, { direction: 'to_firm', category: 'other' }, [{ name: '入社書類.pdf', data: pdfBytes() }])).status).to.equal(200);
    const text = (await hr.get('/audit')).text;
    expect(text).to.contain('>取扱状況報告書 2026-11<').and.contain('>廃棄・削除証明書 DC-2026-000042<').and.contain('>ファイル「入社書類.pdf」<');
  });

  it('says what a disposal request, its approval and its erasure were about (code and masked name), in the page, the CSV and the PDF', async () => {
    const ctx = systemContext('test');
    const req = await DisposalRequest.create({
      clientId: b.id, scope: 'items', reason: '退職後の手続きが完了したため', early: false, status: 'executed',
      requestedBy: adminB.user.id, requestedByName: 'ビー 管理者', requestedAt: new Date(), approvedBy: null, approvedByName: '暁 所長', approvedAt: new Date(),
      claimedBy: null, claimedAt: null, executedAt: new Date(),
    });
    const labels = ['B001 廃＊ 一＊', 'B002 廃＊ 二＊', 'B003 廃＊ 三＊', 'B004 廃＊ 四＊'];
    for (const [i, maskedLabel] of labels.entries()) {
      await DisposalItem.create({
        requestId: req.id, clientId: b.id, itemKind: 'number', itemId: `00000000-0000-4000-8000-00000000010${i}`, objectId: null,
        employeeCode: maskedLabel.slice(0, 4), maskedLabel: maskedLabel.slice(5), dataKind: 'number.employee', deletionDate: null, state: 'verified', erasedAt: new Date(), verifiedAt: new Date(),
      });
    }
    await h.booted.services.audit.recordAlone(ctx, { operation: 'disposal.erase', result: 'allowed', clientId: b.id, targetKind: 'disposal', targetId: req.id, detail: '4 numbers, 0 files' });
    const hr = new TestBrowser(h.portal.app);
    await hr.login(adminB);
    const expected = '廃棄の対象: B001 廃＊ 一＊、B002 廃＊ 二＊、B003 廃＊ 三＊ ほか1件';
    expect((await hr.get('/audit?operation=disposal.erase')).text).to.contain(expected);
    expect((await hr.get('/audit.csv?operation=disposal.erase')).text).to.contain(`"${expected}"`);
    const res = await hr.agent.get('/audit.pdf?operation=disposal.erase').buffer(true)
      .parse((r, cb) => { const c: Buffer[] = []; r.on('data', (x: Buffer) => c.push(x)); r.on('end', () => cb(null, Buffer.concat(c))); });
    const text = execFileSync('pdftotext', ['-raw', '-', '-'], { input: res.body as Buffer }).toString('utf8').replace(/\s/g, '');
    expect(text).to.contain('B001廃＊一＊');
    // the firm's other client does not see it
    expect((await browserA.get('/audit?operation=disposal.erase')).text).not.to.contain('B001');
  });
});
