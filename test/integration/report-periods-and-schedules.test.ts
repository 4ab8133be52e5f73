import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { Op } from 'sequelize';
import { createHarness, type Harness } from '../support/harness';
import { makeClient, makeUser } from '../support/factories';
import { envFor, runScript } from '../support/run-cli';
import { pdfSig, pdfText } from '../support/pdf';
import { AccessReport, AuditEvent, Firm, OutboxMail, type Client } from '../../server/db/models';
import { systemContext, type ActorContext } from '../../server/audit';
import { collectReportData } from '../../server/reports/report-data';
import { periodContaining, periodLabel, previousPeriod, type Period } from '../../server/reports/periods';
import { translate } from '../../server/i18n';

/**
 * 取扱状況報告書 (issue 5): totals by date, the chain head at the period's end, quarterly and
 * yearly schedules with their own recipients, and report:run building one on demand.
 */

const ja = (key: string, p: Record<string, unknown> = {}) => translate('ja', key, p);
const STAFF: ActorContext = { actorId: null, actorName: '佐藤 職員', actorRole: 'firm_staff', ip: '127.0.0.1', userAgent: 't', channel: 'web:test' };
const mailsTo = (h: Harness, address: string) => h.smtp.messages.filter((m) => (m.to && !Array.isArray(m.to) ? m.to.text : '').includes(address));

describe('取扱状況報告書: totals by date, the chain head at the period\'s end, schedules and report:run', function () {
  this.timeout(60_000);
  let h: Harness;

  before(async () => {
    h = await createHarness({ REVEAL_BURST_MAX: '1000' });
    await Firm.create({ id: 1, name: '暁社会保険労務士事務所' });
  });
  after(async () => { await h.close(); });

  describe('last month\'s report, built this month after more rows were written', () => {
    let client: Client;
    let last: Period;
    let lastBeforeEnd: AuditEvent;
    let newest: AuditEvent;
    let report: AccessReport;
    let text: string;

    before(async () => {
      client = await makeClient(h, { code: 'RPD1', name: '株式会社日別' });
      last = previousPeriod(periodContaining('monthly', new Date()));
      const reveal = (i: number) => h.booted.services.audit.recordAlone(STAFF, {
        operation: 'vault.reveal', result: 'allowed', clientId: client.id, targetKind: 'employee', targetId: `00000000-0000-4000-8000-00000000000${i}`,
        targetLabel: `D${i} 日別 太郎`, purpose: 'withholding_slip', office: 'tax_office',
      });
      for (let i = 1; i <= 5; i++) await reveal(i);
      const fixture = await AuditEvent.findAll({ where: { clientId: client.id, operation: 'vault.reveal' }, order: [['seq', 'ASC']] });
      // The log as it would be had these been written last month: everything up to the third reveal just
      // after midnight on the 13th (Japan time; still the 12th in UTC), the rest late on the 24th.
      const on13 = new Date(`${last.key}-13T00:30:00+09:00`);
      const on24 = new Date(`${last.key}-24T23:30:00+09:00`);
      const q = h.booted.sequelize.getQueryInterface();
      await h.booted.sequelize.query(`UPDATE ${q.quoteIdentifier('audit_events')} SET ${q.quoteIdentifier('at')} = ? WHERE ${q.quoteIdentifier('seq')} <= ?`, { replacements: [on13, fixture[2]!.seq] });
      await h.booted.sequelize.query(`UPDATE ${q.quoteIdentifier('audit_events')} SET ${q.quoteIdentifier('at')} = ? WHERE ${q.quoteIdentifier('seq')} > ? AND ${q.quoteIdentifier('seq')} <= ?`, { replacements: [on24, fixture[2]!.seq, fixture[4]!.seq] });
      lastBeforeEnd = (await AuditEvent.findOne({ where: { seq: fixture[4]!.seq } }))!;
      // This month: two more accesses, after the period's end.
      for (let i = 6; i <= 7; i++) await reveal(i);
      newest = (await AuditEvent.findOne({ order: [['seq', 'DESC']] }))!;
      expect(newest.seq).to.be.greaterThan(lastBeforeEnd.seq);
      expect(await h.booted.services.reports.build(client.id, last)).to.equal(true);
      report = (await AccessReport.findOne({ where: { clientId: client.id, period: last.key } }))!;
      text = pdfText(await h.booted.services.reports.read(report));
    });

    it('holds the accesses per day (Japan\'s days) for the two days, and the PDF has the by-date chart with them', async () => {
      const data = await collectReportData(client.id, last);
      expect([...data.byDate.entries()]).to.deep.equal([[`${last.key}-13`, 3], [`${last.key}-24`, 2]]);
      expect(data.rows).to.have.length(5);
      expect(report.events).to.equal(5);
      const start = text.indexOf(ja('report.pdf.byDate'));
      const end = text.indexOf(ja('report.pdf.byOperator'));
      expect(start, 'the by-date heading').to.be.greaterThan(-1);
      expect(end).to.be.greaterThan(start);
      const section = text.slice(start, end);
      for (const part of ja('report.pdf.byDateCaption').split('\u3000')) expect(section).to.contain(part);
      expect(section).to.not.contain(ja('report.pdf.noEvents'));
      // The chart's days: the 13th and the 24th, not the 12th (UTC's day for the first three).
      const words = section.split(/\s+/);
      expect(words).to.include('13').and.include('24').and.not.include('12');
      expect(words.indexOf('13')).to.be.lessThan(words.indexOf('24'));
      // The listing has the five accesses, not this month's two.
      expect(text).to.contain('D1 日＊ 太＊').and.contain('D5 日＊ 太＊').and.not.contain('D6 日＊').and.not.contain('D7 日＊');
    });

    it('names as its chain head the last row before the period\'s end, not the newest row', async () => {
      expect(Number(report.headSeq)).to.equal(Number(lastBeforeEnd.seq));
      expect(report.headHash).to.equal(lastBeforeEnd.hash);
      expect(report.headHash).to.not.equal(newest.hash);
      const flat = text.replace(/\s/g, '');
      expect(flat).to.contain(lastBeforeEnd.hash).and.not.contain(newest.hash);
      expect(text).to.contain(ja('report.pdf.chainText', { seq: Number(lastBeforeEnd.seq) }).slice(0, 20));
    });
  });

  describe('schedules: each client\'s own frequency and recipients', () => {
    let quarterly: Client;
    let yearly: Client;

    before(async () => {
      quarterly = await makeClient(h, { code: 'RPQ1', name: '株式会社四半期' });
      yearly = await makeClient(h, { code: 'RPY1', name: '株式会社年次' });
      await h.booted.sequelize.query('UPDATE clients SET created_at = ? WHERE id = ?', { replacements: [new Date('2026-08-20T00:00:00Z'), quarterly.id] });
      await h.booted.sequelize.query('UPDATE clients SET created_at = ? WHERE id = ?', { replacements: [new Date('2026-03-01T00:00:00Z'), yearly.id] });
      // Each client has an admin (who would be told by default) and a schedule naming someone else.
      await makeUser(h, { role: 'client_admin', clientId: quarterly.id, totp: false, email: 'hr@quarter.example' });
      await makeUser(h, { role: 'client_admin', clientId: yearly.id, totp: false, email: 'hr@year.example' });
      await h.booted.services.reports.setSchedule(systemContext('test'), quarterly.id, 'quarterly', ['x@quarter.example']);
      await h.booted.services.reports.setSchedule(systemContext('test'), yearly.id, 'yearly', ['y@year.example']);
    });

    const periodsOf = async (c: Client) => (await AccessReport.findAll({ where: { clientId: c.id }, order: [['period', 'ASC']] })).map((r) => [r.period, r.periodStart, r.periodEnd, r.status]);
    const noticesOf = async (c: Client, period: string) => {
      const r = (await AccessReport.findOne({ where: { clientId: c.id, period } }))!;
      return (await OutboxMail.findAll({ where: { dedupeKey: { [Op.like]: `report:${r.id}:%` } } })).map((m) => m.toAddress);
    };

    it('quarterly: the run just after a quarter ends builds that quarter only (no months), and only the schedule\'s recipient is told', async () => {
      // 2026-10-01 09:30 Japan time: the third quarter ended at midnight.
      const built = await h.booted.services.reports.runDue(new Date('2026-10-01T00:30:00Z'));
      expect(built).to.equal(1);
      expect(await periodsOf(quarterly)).to.deep.equal([['2026-Q3', '2026-07-01', '2026-09-30', 'ready']]);
      expect(await AccessReport.count({ where: { clientId: quarterly.id, period: { [Op.in]: ['2026-08', '2026-09'] } } })).to.equal(0);
      expect(await noticesOf(quarterly, '2026-Q3')).to.deep.equal(['x@quarter.example']);
      await h.booted.services.outbox.deliverDue();
      const mail = await h.smtp.lastTo('x@quarter.example');
      expect(mail.subject).to.equal(ja('mail.reportReady.subject', { period: '2026年 第3四半期' }));
      expect(mail.text).to.contain('株式会社四半期').and.contain('http://portal.test/reports');
      expect(mailsTo(h, 'x@quarter.example')).to.have.length(1);
      expect(mailsTo(h, 'hr@quarter.example')).to.have.length(0);
      // A second run the same morning builds and sends nothing more.
      expect(await h.booted.services.reports.runDue(new Date('2026-10-01T01:30:00Z'))).to.equal(0);
      await h.booted.services.outbox.deliverDue();
      expect(mailsTo(h, 'x@quarter.example')).to.have.length(1);
    });

    it('yearly: the run on 1 January builds the year just ended, told to the yearly client\'s recipient only; the quarterly client gets its fourth quarter', async () => {
      await h.booted.services.reports.runDue(new Date('2027-01-01T00:30:00Z'));
      expect(await periodsOf(yearly)).to.deep.equal([['2026', '2026-01-01', '2026-12-31', 'ready']]);
      expect(await noticesOf(yearly, '2026')).to.deep.equal(['y@year.example']);
      expect((await periodsOf(quarterly)).map((p) => p[0])).to.deep.equal(['2026-Q3', '2026-Q4']);
      await h.booted.services.outbox.deliverDue();
      const mail = await h.smtp.lastTo('y@year.example');
      expect(mail.subject).to.equal(ja('mail.reportReady.subject', { period: '2026年' }));
      expect(mailsTo(h, 'y@year.example')).to.have.length(1);
      expect(mailsTo(h, 'hr@year.example')).to.have.length(0);
      expect(mailsTo(h, 'hr@quarter.example')).to.have.length(0);
    });
  });

  describe('report:run, the operator\'s command', () => {
    it('report:run builds one report on demand for a past period that had none: a new ready row, and the PDF at the path it prints', async () => {
      const client = await makeClient(h, { code: 'RPC7', name: '株式会社オンデマンド' });
      const period = previousPeriod(previousPeriod(periodContaining('monthly', new Date())));
      expect(await AccessReport.count({ where: { clientId: client.id } })).to.equal(0);
      const run = await runScript('scripts/cli.ts', ['report:run', '--client', 'RPC7', '--period', period.key], envFor(h));
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stderr).to.contain('built now');
      const printed = run.stdout.trim();
      expect(printed).to.equal(path.join(h.config.dataDir, 'reports', `RPC7-${period.key}.pdf`));
      const rows = await AccessReport.findAll({ where: { clientId: client.id } });
      expect(rows.map((r) => [r.period, r.status])).to.deep.equal([[period.key, 'ready']]);
      const written = fs.readFileSync(printed);
      expect(written.equals(await h.booted.services.reports.read(rows[0]!)), 'the file is the stored report').to.equal(true);
      const text = pdfText(written);
      expect(text).to.contain(ja('report.pdf.title')).and.contain('株式会社オンデマンド').and.contain(periodLabel(period, 'ja'));
      expect(pdfSig(written)).to.contain('Signature is Valid.');
      expect(await AuditEvent.count({ where: { operation: 'report.build', clientId: client.id, channel: 'cli:report:run' } })).to.equal(1);
    });
  });
});
