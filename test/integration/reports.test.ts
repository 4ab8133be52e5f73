import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { envFor, runScript } from '../support/run-cli';
import { AccessReport, AuditEvent, Employee, Firm, OutboxMail, StoredFile, type Client } from '../../server/db/models';
import { pdfBytes, uploadFiles } from '../support/files';
import { findPerson } from '../../server/vault/people';
import { systemContext, type ActorContext } from '../../server/audit';
import { numberFrom as valid } from '../support/vault';
import { collectReportData } from '../../server/reports/report-data';
import { parsePeriod, periodContaining, previousPeriod } from '../../server/reports/periods';
import { BadRequest } from '../../server/errors';
import { openSealed, readAll, storeSealed, type SealedObject } from '../../server/files/sealed-object';

const pdftotext = (pdf: Buffer) => execFileSync('pdftotext', ['-layout', '-', '-'], { input: pdf }).toString('utf8');
const pdfsig = (file: string) => { try { return execFileSync('pdfsig', [file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString('utf8'); } catch (e) { return String((e as { stdout?: Buffer }).stdout ?? ''); } };

describe('取扱状況報告書: access reports, their PDF, signature, schedule and notice', function () {
  this.timeout(60_000);
  let h: Harness;
  let client: Client;
  let clientAdmin: MadeUser;
  let staff: MadeUser;
  const numbers: string[] = [];

  before(async () => {
    h = await createHarness({ REVEAL_BURST_MAX: '1000' });
    const svc = h.booted.services;
    await Firm.create({ id: 1, name: '暁社会保険労務士事務所' });
    client = await makeClient(h, { code: 'RP01', name: '株式会社レポート' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, email: 'hr@report.example' });
    staff = await makeUser(h, { role: 'firm_staff', name: '佐藤 職員' });
    const other = await makeUser(h, { role: 'firm_staff', name: '田中 職員' });
    await assign(h, client.id, staff.user.id);
    await assign(h, client.id, other.user.id);
    const ctxOf = (u: MadeUser, name: string): ActorContext => ({ actorId: u.user.id, actorName: name, actorRole: 'firm_staff', ip: '127.0.0.1', userAgent: 't', channel: 'web:test' });
    for (let i = 0; i < 4; i++) {
      const e = await Employee.create({ clientId: client.id, employeeCode: `R${i}`, name: `山田 太郎${i}`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
      numbers.push(valid(81000000000 + i * 101));
      const rec = await svc.vault.register(systemContext('test'), await findPerson(client.id, 'employee', e.id), { number: numbers[i]!, issueDate: null }, { source: 'proxy', registeredBy: null });
      // 佐藤: 2 reveals per person at the tax office; 田中: 1 at the pension office.
      await svc.vault.open(ctxOf(staff, '佐藤 職員'), client.id, [rec.id], { purpose: 'withholding_slip', office: 'tax_office' }, 'vault.reveal');
      await svc.vault.open(ctxOf(staff, '佐藤 職員'), client.id, [rec.id], { purpose: 'dependant_declaration', office: 'tax_office' }, 'vault.reveal');
      await svc.vault.open(ctxOf(other, '田中 職員'), client.id, [rec.id], { purpose: 'social_insurance_acquire', office: 'pension_office' }, 'vault.reveal');
    }
    // A file downloaded and a disposal certificate issued: named as such, never counted as people.
    const hr = new TestBrowser(h.portal.app);
    await hr.login(clientAdmin);
    expect((await uploadFiles(hr, { direction: 'to_firm', category: 'other' }, [{ name: '明細.pdf', data: pdfBytes() }])).status).to.equal(200);
    const payslip = (await StoredFile.findOne({ where: { clientId: client.id, displayName: '明細.pdf' } }))!;
    await svc.audit.recordAlone({ ...ctxOf(clientAdmin, '人事 担当'), actorRole: 'client_admin' }, { operation: 'file.download', result: 'allowed', clientId: client.id, targetKind: 'file', targetId: payslip.id, targetLabel: '明細.pdf' });
    await svc.audit.recordAlone(systemContext('test'), { operation: 'disposal.certificate', result: 'allowed', clientId: client.id, targetKind: 'certificate', targetId: '00000000-0000-4000-8000-000000000002', targetLabel: 'DC-2026-000009' });
  });
  after(async () => { await h.close(); });

  it('the data: every access listed with masked people, totals by person, operator and office, holdings, staff, chain head', async () => {
    const period = periodContaining('monthly', new Date());
    const data = await collectReportData(client.id, period);
    const reveals = data.rows.filter((r) => r.operation === 'vault.reveal');
    expect(reveals).to.have.length(12);
    expect(data.byOperator.get('佐藤 職員')).to.equal(8);
    expect(data.byOperator.get('田中 職員')).to.equal(4);
    expect(data.byOffice.get('tax_office')).to.equal(8);
    expect(data.byOffice.get('pension_office')).to.equal(4);
    expect(data.byPerson.get('R0 山＊ 太＊＊')).to.equal(4); // registration + 3 reveals
    expect([...data.byPerson.keys()].sort()).to.deep.equal(['R0 山＊ 太＊＊', 'R1 山＊ 太＊＊', 'R2 山＊ 太＊＊', 'R3 山＊ 太＊＊']);
    expect(data.rows.find((r) => r.operation === 'file.download')).to.deep.include({ person: '', target: { kind: 'file', label: '明細.pdf' } });
    expect(data.disposals.map((r) => r.target)).to.deep.equal([{ kind: 'certificate', label: 'DC-2026-000009' }]);
    expect(data.numbersByStatus.get('registered')).to.equal(4);
    expect(data.staff.map((s) => s.name)).to.deep.equal(['佐藤 職員', '田中 職員']);
    const head = await AuditEvent.findOne({ order: [['seq', 'DESC']] });
    expect(data.head).to.deep.equal({ seq: Number(head!.seq), hash: head!.hash });
    expect(JSON.stringify(data.rows)).not.to.contain('山田');
  });

  it('the staff named are those assigned at some moment of the period (not today\'s list), with when it began or ended in it', async () => {
    const svc = h.booted.services;
    const c = await makeClient(h, { code: 'RP20', name: '株式会社担当替え' });
    const stays = await makeUser(h, { role: 'firm_staff', name: '青木 継続' });
    const leaves = await makeUser(h, { role: 'firm_staff', name: '井上 交代' });
    await assign(h, c.id, stays.user.id);
    await assign(h, c.id, leaves.user.id);
    await svc.clients.unassignStaff(systemContext('test'), (await svc.clients.getFor({ role: 'firm_admin' } as never, c.id)), leaves.user.id);
    const [assigned, unassigned] = await Promise.all(['assignment.create', 'assignment.delete'].map((operation) =>
      AuditEvent.findOne({ where: { clientId: c.id, operation, targetId: leaves.user.id } })));
    const thisMonth = periodContaining('monthly', new Date());
    const now = await collectReportData(c.id, thisMonth);
    expect(now.staff.map((s) => [s.name, s.changes.map((x) => [x.kind, x.at.getTime()])])).to.deep.equal([
      ['井上 交代', [['from', assigned!.at.getTime()], ['until', unassigned!.at.getTime()]]],
      ['青木 継続', [['from', (await AuditEvent.findOne({ where: { clientId: c.id, operation: 'assignment.create', targetId: stays.user.id } }))!.at.getTime()]]],
    ]);
    // Last month nobody was assigned yet; next month only the one still assigned, throughout.
    expect((await collectReportData(c.id, previousPeriod(thisMonth))).staff).to.deep.equal([]);
    const next = { ...thisMonth, start: thisMonth.end, end: new Date(thisMonth.end.getTime() + 28 * 86400_000) };
    expect((await collectReportData(c.id, next)).staff).to.deep.equal([{ name: '青木 継続', mayReveal: true, changes: [] }]);
    // The PDF says so in its table.
    const text = pdftotext(Buffer.from(await svc.pdf.accessReport(now))).replace(/\s/g, '');
    expect(text).to.contain('期間中の担当者と閲覧権限').and.contain('井上交代').and.contain('に担当を外れた').and.contain('から担当');
    const throughout = pdftotext(Buffer.from(await svc.pdf.accessReport(await collectReportData(c.id, next)))).replace(/\s/g, '');
    expect(throughout).to.contain('期間を通じて担当').and.contain('青木継続').and.not.contain('井上交代');
  });

  it('番号の閲覧 says whether they could open the numbers at some moment of the period, not whether the account is enabled today; disabling and enabling while assigned are listed', async () => {
    const svc = h.booted.services;
    const c = await makeClient(h, { code: 'RP21', name: '株式会社停止' });
    const paused = await makeUser(h, { role: 'firm_staff', name: '上田 一時停止' });
    const stopped = await makeUser(h, { role: 'firm_staff', name: '木村 停止' });
    await assign(h, c.id, paused.user.id);
    await assign(h, c.id, stopped.user.id);
    const pause = async (u: MadeUser, disabled: boolean) => {
      await new Promise((r) => setTimeout(r, 5));
      await svc.accounts.setDisabled(systemContext('test'), u.user, disabled);
    };
    await pause(paused, true);
    await pause(paused, false);
    await pause(stopped, true);
    const at = async (operation: string, u: MadeUser) => (await AuditEvent.findAll({ where: { operation, targetId: u.user.id }, order: [['seq', 'ASC']] })).map((e) => e.at.getTime());
    const [pausedFrom] = await at('assignment.create', paused);
    const [stoppedFrom] = await at('assignment.create', stopped);
    const thisMonth = periodContaining('monthly', new Date());
    const now = await collectReportData(c.id, thisMonth);
    expect(now.staff.map((s) => [s.name, s.mayReveal, s.changes.map((x) => [x.kind, x.at.getTime()])])).to.deep.equal([
      ['上田 一時停止', true, [['from', pausedFrom], ['disabled', (await at('user.disable', paused))[0]], ['enabled', (await at('user.enable', paused))[0]]]],
      // Disabled today, but could open the numbers from the assignment until then.
      ['木村 停止', true, [['from', stoppedFrom], ['disabled', (await at('user.disable', stopped))[0]]]],
    ]);
    // Next month the one still disabled could open nothing all along.
    const next = { ...thisMonth, start: thisMonth.end, end: new Date(thisMonth.end.getTime() + 28 * 86400_000) };
    expect((await collectReportData(c.id, next)).staff.map((s) => [s.name, s.mayReveal, s.changes])).to.deep.equal([
      ['上田 一時停止', true, []], ['木村 停止', false, []],
    ]);
    const text = pdftotext(Buffer.from(await svc.pdf.accessReport(now))).replace(/\s/g, '');
    expect(text).to.contain('期間中の変更（担当・アカウント）').and.contain('にアカウント停止').and.contain('にアカウント再開');
  });

  let pdf: Buffer;

  it('the PDF: the expected lines in Japanese, no unmasked number, a signature pdfsig accepts and a one-byte change breaks', async () => {
    const period = periodContaining('monthly', new Date());
    // Not before the period is over (it would stand for the whole of it); built as on its first day after.
    const after = new Date(period.end.getTime() + 60_000);
    const early = await h.booted.services.reports.build(client.id, period).catch((e: unknown) => e);
    expect(early).to.be.instanceOf(BadRequest).and.have.property('messageKey', 'report.periodNotOver');
    expect(await AccessReport.count({ where: { clientId: client.id, period: period.key } })).to.equal(0);
    expect(await h.booted.services.reports.build(client.id, period, after)).to.equal(true);
    expect(await h.booted.services.reports.build(client.id, period, after)).to.equal(false);
    const report = (await AccessReport.findOne({ where: { clientId: client.id, period: period.key } }))!;
    expect(report.status).to.equal('ready');
    pdf = await h.booted.services.reports.read(report);
    const text = pdftotext(pdf);
    expect(text).to.contain('マイナンバー等取扱状況報告書');
    expect(text).to.contain('株式会社レポート');
    expect(text).to.contain('佐藤 職員');
    expect(text).to.contain('R0 山＊ 太＊＊');
    expect(text).to.contain('ファイル「明細.pdf」').and.contain('廃棄・削除証明書 DC-2026-000009').and.not.contain('D＊＊');
    expect(text).to.contain(report.headHash!);
    expect(text).to.match(/1\s*\/\s*\d+/);
    expect(text).to.contain('暁社会保険労務士事務所');
    for (const n of numbers) expect(text.replace(/\s/g, '')).not.to.contain(n);
    const file = path.join(h.dataDir, 'report.pdf');
    fs.writeFileSync(file, pdf);
    expect(pdfsig(file)).to.contain('Signature is Valid.');
    const tampered = Buffer.from(pdf);
    const at = 200; // inside the first objects, well within the signed byte range
    tampered[at] = tampered[at]! ^ 0x01;
    const bad = path.join(h.dataDir, 'tampered.pdf');
    fs.writeFileSync(bad, tampered);
    expect(pdfsig(bad)).not.to.contain('Signature is Valid.');
  });

  it('the client admin lists and downloads it (logged); the notice mail is queued once and carries nothing personal', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(clientAdmin);
    const list = await b.get('/reports');
    expect(list.status).to.equal(200);
    const id = /\/reports\/([0-9a-f-]{36})\/download/.exec(list.text)![1]!;
    const dl = await b.agent.get(`/reports/${id}/download`).buffer(true).parse((res, cb) => { const c: Buffer[] = []; res.on('data', (x: Buffer) => c.push(x)); res.on('end', () => cb(null, Buffer.concat(c))); });
    expect(dl.status).to.equal(200);
    expect(dl.headers['content-type']).to.equal('application/pdf');
    expect((dl.body as Buffer).equals(pdf)).to.equal(true);
    expect(await AuditEvent.count({ where: { operation: 'report.download', actorId: clientAdmin.user.id } })).to.equal(1);
    const queued = await OutboxMail.findAll({ where: { toAddress: 'hr@report.example' } });
    expect(queued).to.have.length(1);
    await h.booted.services.outbox.deliverDue();
    const mail = await h.smtp.lastTo('hr@report.example');
    expect(mail.subject).to.contain('取扱状況報告書');
    expect(mail.text).to.contain('http://portal.test/reports');
    expect(mail.text).not.to.contain('山田');
    expect(mail.attachments).to.have.length(0);
    // Another client's admin cannot reach it.
    const otherClient = await makeClient(h, { code: 'RP02' });
    const stranger = await makeUser(h, { role: 'client_admin', clientId: otherClient.id, totp: false });
    const sb = new TestBrowser(h.portal.app);
    await sb.login(stranger);
    expect((await sb.get(`/reports/${id}/download`)).status).to.equal(404);
  });

  it('the assigned staff member downloads it through the link the list gives (it named no client, so it was 404)', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(staff);
    const list = await b.get(`/reports?client=${client.id}`);
    expect(list.status).to.equal(200);
    const href = /href="(\/reports\/[0-9a-f-]{36}\/download[^"]*)"/.exec(list.text)![1]!.replace(/&amp;/g, '&');
    const dl = await b.agent.get(href).buffer(true).parse((res, cb) => { const c: Buffer[] = []; res.on('data', (x: Buffer) => c.push(x)); res.on('end', () => cb(null, Buffer.concat(c))); });
    expect(dl.status).to.equal(200);
    expect(dl.headers['content-type']).to.equal('application/pdf');
    expect(await AuditEvent.count({ where: { operation: 'report.download', actorId: staff.user.id } })).to.equal(1);
  });

  it('missed months are caught up: a portal down since August builds September and October on its next run', async () => {
    const late = await makeClient(h, { code: 'RP03', name: '株式会社キャッチアップ' });
    await h.booted.sequelize.query('UPDATE clients SET created_at = ? WHERE id = ?', { replacements: [new Date('2026-08-20T00:00:00Z'), late.id] });
    const svc = h.booted.services.reports;
    await svc.runDue(new Date('2026-09-10T00:00:00Z'));
    expect((await AccessReport.findAll({ where: { clientId: late.id } })).map((r) => r.period)).to.deep.equal(['2026-08']);
    await svc.runDue(new Date('2026-11-02T00:00:00Z'));
    expect((await AccessReport.findAll({ where: { clientId: late.id }, order: [['period', 'ASC']] })).map((r) => r.period)).to.deep.equal(['2026-08', '2026-09', '2026-10']);
    expect(parsePeriod('2026-10')).to.not.equal(null);
  });

  it('a report due while the mail server refuses: the report is built and kept, the notice waits and is sent once when the server takes mail again', async () => {
    const c = await makeClient(h, { code: 'RP05', name: '株式会社メール不通' });
    await h.booted.sequelize.query('UPDATE clients SET created_at = ? WHERE id = ?', { replacements: [new Date('2026-09-20T00:00:00Z'), c.id] });
    await makeUser(h, { role: 'client_admin', clientId: c.id, totp: false, email: 'hr@down.example' });
    const { reports, outbox } = h.booted.services;
    h.smtp.refusing = true;
    try {
      await reports.runDue(new Date('2026-10-02T00:00:00Z'));
      const built = await AccessReport.findAll({ where: { clientId: c.id } });
      expect(built.map((r) => r.period)).to.deep.equal(['2026-09']);
      expect((await reports.read(built[0]!)).subarray(0, 5).toString('latin1')).to.equal('%PDF-');
      await outbox.deliverDue();
      await outbox.deliverDue();
      const queued = (await OutboxMail.findAll({ where: { toAddress: 'hr@down.example' } }))!;
      expect(queued.map((m) => [m.sentAt, m.attempts > 0])).to.deep.equal([[null, true]]);
      expect(h.smtp.messages.filter((m) => (m.to && !Array.isArray(m.to) ? m.to.text : '').includes('hr@down.example'))).to.have.length(0);
    } finally {
      h.smtp.refusing = false;
    }
    // Past its back-off the notice goes, once; later rounds send nothing more.
    await outbox.deliverDue(new Date(Date.now() + 3600_000));
    await outbox.deliverDue(new Date(Date.now() + 7200_000));
    expect(h.smtp.messages.filter((m) => (m.to && !Array.isArray(m.to) ? m.to.text : '').includes('hr@down.example'))).to.have.length(1);
    expect(await AccessReport.count({ where: { clientId: c.id } })).to.equal(1);
  });

  it('two portal processes on one database build one report per client and period', async () => {
    const twin = await makeClient(h, { code: 'RP04', name: '株式会社ふたご' });
    // Relative to today, so the test means the same in any month: the client began mid-month two months ago.
    const lastMonth = previousPeriod(periodContaining('monthly', new Date()));
    const monthBefore = previousPeriod(lastMonth);
    await h.booted.sequelize.query('UPDATE clients SET created_at = ? WHERE id = ?', { replacements: [new Date(monthBefore.start.getTime() + 14 * 86400_000), twin.id] });
    // Port 0: each process takes a free port (fixed ones collided with other processes on a busy machine).
    const env = () => envFor(h, { PORT: '0', LOG_LEVEL: 'info', SMTP_URL: `smtp://127.0.0.1:${h.smtp.port}` });
    const done = /access reports: start-up run finished/;
    const [p1, p2] = await Promise.all([
      runScript('server/main.ts', [], env(), { untilOutput: done, timeoutMs: 50_000 }),
      runScript('server/main.ts', [], env(), { untilOutput: done, timeoutMs: 50_000 }),
    ]);
    for (const p of [p1, p2]) expect(p.stdout + p.stderr, `exit ${p.code}: ${p.stderr.slice(-2000)}`).to.match(done);
    const rows = await AccessReport.findAll({ where: { clientId: twin.id }, order: [['period', 'ASC']] });
    expect(rows.map((r) => [r.period, r.status])).to.deep.equal([[monthBefore.key, 'ready'], [lastMonth.key, 'ready']]);
    expect(await AuditEvent.count({ where: { operation: 'report.build', clientId: twin.id } })).to.equal(2);
  });

  it('a builder that took over a stale claim and then lost the race leaves the finished report readable (its own object goes, not the winner\'s)', async () => {
    const c = await makeClient(h, { code: 'RP09', name: '株式会社おそい' });
    const period = previousPeriod(periodContaining('monthly', new Date()));
    const stale = new Date(Date.now() - 11 * 60_000);
    const row = await AccessReport.create({
      clientId: c.id, period: period.key, periodStart: period.startDate, periodEnd: period.endDate, status: 'building',
      objectId: null, keyVersion: null, wrappedKey: null, sha256: null, size: null, events: null, headSeq: null, headHash: null,
      claimedBy: 'a-slow-instance', claimedAt: stale, finishedAt: null, error: null,
    });
    const svc = h.booted.services;
    const deps = (svc.reports as unknown as { d: { render: (data: unknown) => Promise<Uint8Array> } }).d;
    const render = deps.render;
    // This instance takes the stale claim over; while it renders, the slow one finishes after all.
    deps.render = async (data: unknown) => {
      deps.render = render;
      const pdf = await render(data);
      const theirs = await storeSealed(svc, c.id, 'report', row.id, pdf);
      await AccessReport.update({ status: 'ready', ...theirs, events: 0, headSeq: 0, finishedAt: new Date(), claimedBy: 'a-slow-instance' }, { where: { id: row.id } });
      return pdf;
    };
    const lost = await svc.reports.build(c.id, period).then(() => null, (err: unknown) => err);
    deps.render = render;
    expect(String(lost)).to.contain('report claim was lost');
    const ready = (await AccessReport.findByPk(row.id))!;
    expect(ready.status).to.equal('ready');
    const pdf = await readAll(await openSealed(svc, c.id, 'report', row.id, ready as unknown as SealedObject));
    expect(pdf.subarray(0, 5).toString()).to.equal('%PDF-');
  });

  it('counts every kind of access the client\'s log holds: deletion dates moved, people imported, certificates and log exports read', async () => {
    const c = await makeClient(h, { code: 'RP10', name: '株式会社ぜんぶ' });
    const ctx = { ...systemContext('test'), actorName: '人事 担当', actorRole: 'client_admin' as const };
    const ops = ['retention.change', 'retention.cancel', 'people.import', 'certificate.download', 'log.export.csv', 'log.export.pdf'];
    for (const operation of ops) await h.booted.services.audit.recordAlone(ctx, { operation, result: 'allowed', clientId: c.id });
    // Not access to the client's data: the client's own settings.
    await h.booted.services.audit.recordAlone(ctx, { operation: 'client.update', result: 'allowed', clientId: c.id });
    const data = await collectReportData(c.id, periodContaining('monthly', new Date()));
    expect(data.rows.map((r) => r.operation)).to.deep.equal(ops);
  });

  it('holdings are those at the period\'s end: a number disposed of and a file deleted since still count for it', async () => {
    const c = await makeClient(h, { code: 'RP11', name: '株式会社期末' });
    const admin = await makeUser(h, { role: 'client_admin', clientId: c.id, totp: false });
    const firmAdmin = await makeUser(h, { role: 'firm_admin' });
    const svc = h.booted.services;
    const e = await Employee.create({ clientId: c.id, employeeCode: 'K1', name: '期末 太郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: '2015-03-31', userId: null });
    const rec = await svc.vault.register(systemContext('test'), await findPerson(c.id, 'employee', e.id), { number: valid(81234567890), issueDate: null }, { source: 'proxy', registeredBy: null });
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    expect((await uploadFiles(b, { direction: 'to_firm', category: 'payroll' }, [{ name: '給与台帳.pdf', data: pdfBytes() }])).status).to.equal(200);
    const file = (await StoredFile.findOne({ where: { clientId: c.id } }))!;
    // Both were there before last month ended; both go today.
    const last = previousPeriod(periodContaining('monthly', new Date()));
    const before = new Date(last.end.getTime() - 86400_000);
    await h.booted.sequelize.query('UPDATE number_records SET created_at = ? WHERE id = ?', { replacements: [before, rec.id] });
    await h.booted.sequelize.query('UPDATE files SET created_at = ? WHERE id = ?', { replacements: [before, file.id] });
    const ctx = (u: MadeUser): ActorContext => ({ actorId: u.user.id, actorName: u.user.name, actorRole: u.user.role, ip: null, userAgent: null, channel: 'test' });
    const req = await svc.disposal.request(ctx(admin), admin.user, c.id, [{ kind: 'number', id: rec.id }], '保存期間満了');
    await svc.disposal.approve(ctx(firmAdmin), firmAdmin.user, req.id);
    expect(await svc.disposal.execute(req.id)).to.not.equal(null);
    await svc.files.delete(ctx(admin), admin.user, file);
    const data = await collectReportData(c.id, last);
    expect([...data.numbersByStatus.values()].reduce((a, n) => a + n, 0)).to.equal(1);
    expect(data.filesByCategory.get('payroll')).to.equal(1);
    // This month's holdings: gone.
    const now = await collectReportData(c.id, periodContaining('monthly', new Date()));
    expect([now.numbersByStatus.size, now.filesByCategory.size]).to.deep.equal([0, 0]);
  });

  it('the rows of a disposal (申請・承認・消去…) say whose data it disposed of, masked as on the certificate, not a blank 対象', async () => {
    // From a product walk: a client's HR read 期間中の廃棄・削除 as six rows of which only the certificate's named anything.
    const c = await makeClient(h, { code: 'RP12', name: '株式会社廃棄' });
    const admin = await makeUser(h, { role: 'client_admin', clientId: c.id, totp: false });
    const firmAdmin = await makeUser(h, { role: 'firm_admin' });
    const svc = h.booted.services;
    const ids: string[] = [];
    for (const [code, name, seed] of [['D2', '退職 花子', 81234567891], ['D1', '退職 太郎', 81234567892]] as const) {
      const e = await Employee.create({ clientId: c.id, employeeCode: code, name, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: '2015-03-31', userId: null });
      ids.push((await svc.vault.register(systemContext('test'), await findPerson(c.id, 'employee', e.id), { number: valid(seed), issueDate: null }, { source: 'proxy', registeredBy: null })).id);
    }
    const ctx = (u: MadeUser): ActorContext => ({ actorId: u.user.id, actorName: u.user.name, actorRole: u.user.role, ip: null, userAgent: null, channel: 'test' });
    const req = await svc.disposal.request(ctx(admin), admin.user, c.id, ids.map((id) => ({ kind: 'number' as const, id })), '保存期間満了');
    await svc.disposal.approve(ctx(firmAdmin), firmAdmin.user, req.id);
    const cert = await svc.disposal.execute(req.id);
    const data = await collectReportData(c.id, periodContaining('monthly', new Date()));
    const named = 'D1 退＊ 太＊、D2 退＊ 花＊';
    expect(data.disposals.length).to.be.greaterThan(2);
    for (const r of data.disposals) {
      if (r.operation === 'disposal.certificate') expect(r.target).to.deep.equal({ kind: 'certificate', label: cert!.number });
      else expect([r.operation, r.target], r.operation).to.deep.equal([r.operation, { kind: 'disposal', label: named, more: 0 }]);
    }
    // The disposal counts nobody as a person again (each was counted once, for their registration), and the PDF says it in its words (no number in it).
    expect([...data.byPerson.entries()].sort()).to.deep.equal([['D1 退＊ 太＊', 1], ['D2 退＊ 花＊', 1]]);
    const text = pdftotext(Buffer.from(await svc.pdf.accessReport(data))).replace(/\s/g, '');
    expect(text).to.contain(`廃棄の対象:${named}`.replace(/\s/g, ''));
    // Neither number, however spaced (any 12 digits in a row would also match the day chart's labels run together).
    for (const seed of [81234567891, 81234567892]) expect(text).to.not.contain(valid(seed));
  });
});
