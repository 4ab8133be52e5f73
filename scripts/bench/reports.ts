/**
 * The access report benchmark: one client's 取扱状況報告書 for a month with 10,000 events, built
 * exactly as the portal builds it — services.reports.build(clientId, period): the audit rows are
 * collected, the PDF laid out (Japanese subset font), signed, sealed under the client's key and
 * stored. The portal is booted in-process on a fresh SQLite data folder, which is removed after.
 *
 * The events are bulk-inserted (not recorded one by one through the vault): 10,000 vault.reveal
 * rows per month by 3 staff about 300 employees, for 3 months, so build() is timed on 3 periods.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PDFDocument } from 'pdf-lib';
import { pino } from 'pino';
import { loadConfig } from '../../server/config';
import { boot } from '../../server/boot';
import { systemContext } from '../../server/audit';
import { AccessReport, AuditEvent, AuditHead, Employee, Firm, User } from '../../server/db/models';
import { parsePeriod, type Period } from '../../server/reports/periods';
import { collectReportData } from '../../server/reports/report-data';
import { translate } from '../../server/i18n';
import { formatDateTime } from '../../server/presenters/format';
import { barePdf, loadBareFonts } from './bare-pdf';
import { employeeCode, fakeHashes, median, personName, prng, revealFields, round, spreadTimes, type Actor, type Person } from './fake-audit';

export interface ReportFigures {
  /** events in each measured period */
  report_events: number;
  /** median wall time of services.reports.build() over the measured periods (target < 2 s) */
  report_build_s: number;
  report_build_min_s: number;
  report_build_max_s: number;
  /** the first build of the process (an empty month): creates the firm's signing identity */
  report_first_build_s: number;
  /** one extra run of the build's parts, for orientation: reading the log, laying out + signing */
  report_collect_s: number;
  report_render_sign_s: number;
  report_pdf_pages: number;
  report_pdf_kib: number;
  /**
   * The ceiling: the same rows (the listing's 7 columns, as the report words them) laid out by
   * pdf-lib alone, same font, unsigned (bare-pdf.ts): median of 3 after a warm-up, same process.
   */
  report_bare_pdf_s: number;
  report_bare_pdf_pages: number;
  report_bare_pdf_kib: number;
  /** time to bulk-insert the events (not part of any figure) */
  report_seed_s: number;
}

const PERIODS = ['2026-08', '2026-09', '2026-10'] as const;
const WARM_UP_PERIOD = '2026-07';
const STAFF = ['佐藤 一郎', '鈴木 花子', '高橋 健太'] as const;

export async function benchReport(opts: { events?: number } = {}): Promise<ReportFigures> {
  const events = opts.events ?? 10_000;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-bench-report-'));
  const booted = await boot(loadConfig({ DATA_DIR: work, LOG_LEVEL: 'silent', PUBLIC_URL: 'http://portal.bench' }), { logger: pino({ level: 'silent' }) });
  try {
    const svc = booted.services;
    if (!(await Firm.findByPk(1))) await Firm.create({ id: 1, name: '暁社会保険労務士事務所' });
    const client = await svc.clients.create(systemContext('bench'), { code: 'RPT1', name: '株式会社ベンチ商事', nameKana: null, requireAdminTotp: false });
    // A client admin (the report's notice goes to them, as in the portal) and 3 assigned staff.
    await User.create({
      email: 'admin@bench-report.example', name: '人事 担当', role: 'client_admin', clientId: client.id, passwordHash: 'x', passwordChangedAt: new Date(),
      totpSecretSealed: null, totpEnabledAt: null, totpLastStep: null, disabledAt: null, lang: null,
    });
    const actors: Actor[] = [];
    for (const [i, name] of STAFF.entries()) {
      const u = await User.create({
        email: `staff${i}@bench-report.example`, name, role: 'firm_staff', clientId: null, passwordHash: 'x', passwordChangedAt: new Date(),
        totpSecretSealed: null, totpEnabledAt: null, totpLastStep: null, disabledAt: null, lang: null,
      });
      await svc.clients.assignStaff(systemContext('bench'), client, u.id);
      actors.push({ id: u.id, name });
    }
    const rand = prng(20261123);
    const employees = await Employee.bulkCreate(Array.from({ length: 300 }, (_, i) => ({
      clientId: client.id, employeeCode: employeeCode(i + 1), name: personName(rand), nameKana: null,
      departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null,
    })));
    const people: Person[] = employees.map((e) => ({ id: e.id, code: e.employeeCode, name: e.name }));

    // The events: seq above the current head, in time order, in chunks of 1000; then the head moves
    // past them so the rows the portal appends itself (report.build) do not collide.
    const seedStart = performance.now();
    const head = (await AuditHead.findByPk(1))!;
    let seq = head.seq;
    let last = { seq: head.seq, hash: head.hash };
    for (const key of PERIODS) {
      const period = parsePeriod(key)!;
      const times = spreadTimes(rand, period.start, period.end, events);
      for (let i = 0; i < events; i += 1000) {
        const n = Math.min(1000, events - i);
        const hashes = fakeHashes(n + 1);
        const rows = Array.from({ length: n }, (_, j) => ({
          seq: ++seq, at: times[i + j]!, clientId: client.id,
          ...revealFields(rand, actors[Math.floor(rand() * actors.length)]!, people[Math.floor(rand() * people.length)]!),
          prevHash: hashes[j]!, hash: hashes[j + 1]!,
        }));
        await AuditEvent.bulkCreate(rows);
        last = { seq, hash: rows[rows.length - 1]!.hash };
      }
    }
    await AuditHead.update(last, { where: { id: 1 } });
    const seedS = (performance.now() - seedStart) / 1000;

    const build = async (period: Period) => {
      const t0 = performance.now();
      if (!(await svc.reports.build(client.id, period))) throw new Error(`report ${period.key} was not built`);
      return (performance.now() - t0) / 1000;
    };
    // The first build of a process creates the firm's signing identity (a key pair, once per database).
    const firstS = await build(parsePeriod(WARM_UP_PERIOD)!);
    const times: number[] = [];
    for (const key of PERIODS) times.push(await build(parsePeriod(key)!));

    const report = (await AccessReport.findOne({ where: { clientId: client.id, period: PERIODS[PERIODS.length - 1] } }))!;
    if (report.events !== events) throw new Error(`the report lists ${report.events} events, ${events} expected`);
    const pdf = await svc.reports.read(report);
    const pages = (await PDFDocument.load(pdf, { updateMetadata: false })).getPageCount();

    // The parts, once more outside build(): reading the log, then laying out and signing the PDF.
    const period = parsePeriod(PERIODS[PERIODS.length - 1]!)!;
    const c0 = performance.now();
    const data = await collectReportData(client.id, period);
    const c1 = performance.now();
    await svc.pdf.accessReport(data);
    const c2 = performance.now();

    // The ceiling: the listing's rows, worded as the report words them (not timed), by pdf-lib alone.
    const t = (key: string) => translate('ja', key);
    const header = ['log.col.at', 'log.col.operator', 'log.col.person', 'log.col.operation', 'log.col.purpose', 'log.col.office', 'log.col.result'].map(t);
    const cells = data.rows.map((r) => [formatDateTime(r.at, 'ja'), r.operator, r.person, t(`op.${r.operation}`), r.purpose ? t(`purpose.${r.purpose}`) : '', r.office ? t(`office.${r.office}`) : '', t(`log.result.${r.result}`)]);
    if (cells.length !== events) throw new Error(`the bare PDF would list ${cells.length} rows, ${events} expected`);
    loadBareFonts();
    await barePdf(header, cells); // warm-up
    const bare: number[] = [];
    let bareOut: { bytes: Uint8Array; pages: number } = { bytes: new Uint8Array(), pages: 0 };
    for (let i = 0; i < 3; i++) {
      const b0 = performance.now();
      bareOut = await barePdf(header, cells);
      bare.push((performance.now() - b0) / 1000);
    }

    return {
      report_events: events,
      report_build_s: round(median(times)),
      report_build_min_s: round(Math.min(...times)),
      report_build_max_s: round(Math.max(...times)),
      report_first_build_s: round(firstS),
      report_collect_s: round((c1 - c0) / 1000),
      report_render_sign_s: round((c2 - c1) / 1000),
      report_pdf_pages: pages,
      report_pdf_kib: round(pdf.length / 1024, 1),
      report_bare_pdf_s: round(median(bare)),
      report_bare_pdf_pages: bareOut.pages,
      report_bare_pdf_kib: round(bareOut.bytes.length / 1024, 1),
      report_seed_s: round(seedS, 1),
    };
  } finally {
    await booted.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
