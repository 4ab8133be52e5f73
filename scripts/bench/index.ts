/**
 * `npm run bench [-- --mib N] [--runs N] [--json FILE] [--portal-only] [--profile DIR] [--only files|reports|disposal] [--skip-files]`:
 * speed figures, never asserted in tests.
 *   --runs N       runs of each transfer, the median kept (default 3)
 *   --portal-only  skip the baseline servers (their figures and the ratios read 0)
 *   --profile DIR  write a V8 CPU profile of the portal process (node --cpu-prof) into DIR
 *   --only files   only the file exchange (the 1 GiB transfers)
 *   --only reports only the report and log figures (no file transfer)
 *   --only disposal only the disposal figure (run last by default, after the reports part)
 *   --skip-files   everything but the file exchange
 *   --mysql URL    the MySQL/MariaDB server for the log figure, a fresh database is made on it and
 *                  dropped after (default $BENCH_MYSQL_URL or mysql://root@127.0.0.1:3306/); when it
 *                  is unreachable that figure is skipped with a message, the rest still runs
 *   --log-rows N   rows in audit_events for the log figure (default 1000000)
 *   --report-events N  events in each month of the access report figure (default 10000)
 *   --disposal-numbers N  numbers disposed of in the disposal figure (default 10000)
 * Targets (issue 3): encrypted upload ≥ 0.75 × Express+multer to disk; download ≥ 0.75 × a plain
 * file stream; the portal's memory grows by less than 100 MiB for a 1 GiB file.
 * Reports: one client's access report for a month with 10,000 events is built (services.reports.build:
 * collect → PDF → sign → seal and store) in < 2 s; the /audit page's first page of one client's month
 * (queryLog with its count) answers in < 100 ms with 1,000,000 rows in audit_events on MariaDB.
 * Disposal: 10,000 numbers of one client are disposed of, certificate included (services.disposal:
 * request → approve by another person → execute: erase, delete, verify, signed certificate PDF), in
 * < 60 s on SQLite; afterwards no record of the client holds a ciphertext and exactly one certificate exists.
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { benchFiles } from './files';
import { benchReport } from './reports';
import { benchLogPage } from './log-page';
import { benchDisposal } from './disposal';

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main() {
  const mib = Number(arg('mib') ?? 1024);
  const figures: Record<string, number> = {};
  const runs = Number(arg('runs') ?? 3);
  const only = arg('only');
  if (only !== undefined && only !== 'files' && only !== 'reports' && only !== 'disposal') throw new Error('--only takes files, reports or disposal');
  const runFiles = (only === undefined || only === 'files') && !process.argv.includes('--skip-files');
  const runReports = only === undefined || only === 'reports';
  const runDisposal = only === undefined || only === 'disposal';
  const row = (label: string, value: string, target = '') => console.log(`  ${label.padEnd(44)} ${value.padStart(10)}  ${target}`);
  if (runFiles) {
    console.log(`File exchange, ${mib} MiB over loopback (each server in its own process; median of ${runs} runs):`);
    const f = await benchFiles(mib, { portalOnly: process.argv.includes('--portal-only'), profileDir: arg('profile'), runs });
    Object.assign(figures, f);
    row('portal upload (multer → type check → AES-GCM → storage)', `${f.upload_mb_s} MB/s`);
    row('Express + multer disk storage upload', `${f.upload_multer_disk_mb_s} MB/s`);
    row('bare node:http pipe to disk upload', `${f.upload_plain_mb_s} MB/s`);
    row('upload ratio portal / multer-disk', `${f.upload_ratio_multer_disk}`, `target ≥ 0.75 ${f.upload_ratio_multer_disk >= 0.75 ? 'OK' : 'MISSED'}`);
    row('portal download (storage → verify → decrypt)', `${f.download_mb_s} MB/s`);
    row('plain file stream download', `${f.download_plain_mb_s} MB/s`);
    row('download ratio portal / plain', `${f.download_ratio_plain}`, `target ≥ 0.75 ${f.download_ratio_plain >= 0.75 ? 'OK' : 'MISSED'}`);
    row('server CPU s, upload portal / multer-disk', `${f.upload_cpu_s} / ${f.upload_multer_disk_cpu_s}`);
    row('server CPU s, download portal / plain', `${f.download_cpu_s} / ${f.download_plain_cpu_s}`);
    row('portal RSS at start', `${f.portal_rss_start_mib} MiB`);
    row('portal peak RSS during upload / download', `${f.upload_peak_rss_mib} / ${f.download_peak_rss_mib} MiB`);
    row('portal RSS growth (peak − start)', `${f.rss_growth_mib} MiB`, `target < 100 ${f.rss_growth_mib < 100 ? 'OK' : 'MISSED'}`);
  }
  if (runReports) {
    const started = performance.now();
    const events = Number(arg('report-events') ?? 10_000);
    console.log(`Access report, one client's month with ${events} events (portal in-process on SQLite; median of 3 months):`);
    const r = await benchReport({ events });
    Object.assign(figures, r);
    row('report build (collect → PDF → sign → seal, store)', `${r.report_build_s.toFixed(2)} s`, `target < 2 ${r.report_build_s < 2 ? 'OK' : 'MISSED'}`);
    row('  min / max of the 3 builds', `${r.report_build_min_s.toFixed(2)} / ${r.report_build_max_s.toFixed(2)} s`);
    row('  of which reading the log / PDF + signing', `${r.report_collect_s.toFixed(2)} / ${r.report_render_sign_s.toFixed(2)} s`);
    row('first build of the process (makes the signer)', `${r.report_first_build_s.toFixed(2)} s`);
    row('report PDF pages / size', `${r.report_pdf_pages} / ${r.report_pdf_kib} KiB`);

    const mysqlUrl = arg('mysql') ?? process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/';
    const logRows = Number(arg('log-rows') ?? 1_000_000);
    console.log(`Access log page, one client's month, ${logRows} rows in audit_events (MariaDB; median of 5 after a warm-up):`);
    const l = await benchLogPage({ mysqlUrl, rows: logRows, log: (line) => console.error(line) });
    if ('skipped' in l) {
      console.log(`  skipped: ${l.skipped}`);
    } else {
      const g = l.figures;
      Object.assign(figures, g);
      const ok = (ms: number) => `target < 100 ${ms < 100 ? 'OK' : 'MISSED'}`;
      row(`table filled (${g.log_clients} clients × 12 months)`, `${g.log_fill_s} s`);
      row(`log page 1 + count (${g.log_month_rows} rows in the month)`, `${g.log_page_ms.toFixed(1)} ms`, ok(g.log_page_ms));
      row('  with an operation filter', `${g.log_page_operation_ms.toFixed(1)} ms`, ok(g.log_page_operation_ms));
      row('  with an employee code filter', `${g.log_page_employee_ms.toFixed(1)} ms`, ok(g.log_page_employee_ms));
      console.log('  query plans (EXPLAIN):');
      for (const line of l.explain) console.log(`    ${line}`);
    }
    const took = round((performance.now() - started) / 1000, 1);
    figures.reports_bench_s = took;
    console.log(`  (reports part took ${took} s)`);
  }
  if (runDisposal) {
    const started = performance.now();
    const numbers = Number(arg('disposal-numbers') ?? 10_000);
    console.log(`Disposal of ${numbers} numbers of one client, certificate included (portal in-process on SQLite):`);
    const { figures: d, sql } = await benchDisposal({ numbers });
    Object.assign(figures, d);
    const okIf = (good: boolean) => (good ? 'OK' : 'MISSED');
    row('disposal (request → approve → execute)', `${d.disposal_total_s.toFixed(2)} s`, `target < 60 ${okIf(d.disposal_total_s < 60)}`);
    row('  request / approve / execute', `${d.disposal_request_s.toFixed(2)} / ${d.disposal_approve_s.toFixed(3)} / ${d.disposal_execute_s.toFixed(2)} s`);
    row('  execute: erase/delete/verify/certificate', `${d.disposal_erase_s.toFixed(2)} / ${d.disposal_delete_s.toFixed(2)} / ${d.disposal_verify_s.toFixed(2)} / ${d.disposal_certificate_s.toFixed(2)} s`);
    row('certificate PDF pages / size', `${d.disposal_certificate_pages} / ${d.disposal_certificate_kib} KiB`);
    row('numbers of the client still sealed afterwards', `${d.disposal_numbers_left}`, `must be 0 ${okIf(d.disposal_numbers_left === 0)}`);
    row('disposal certificates in the database', `${d.disposal_certificates}`, `must be 1 ${okIf(d.disposal_certificates === 1)}`);
    row('(not timed) signing identity made / data seeded', `${d.disposal_signer_s.toFixed(2)} / ${d.disposal_seed_s} s`);
    console.log(`  SQL of the timed steps (${d.disposal_sql_statements} statements; the kinds taking ≥ 1% of the total or run ≥ ${numbers} times):`);
    for (const l of [...sql].sort((a, b) => b.ms - a.ms)) {
      if (l.ms < 10 * d.disposal_total_s && l.count < numbers) continue;
      console.log(`    ${l.step.padEnd(8)} ${l.kind.padEnd(34)} ${String(l.count).padStart(6)} × ${(l.ms / l.count).toFixed(3).padStart(7)} ms = ${(l.ms / 1000).toFixed(2).padStart(6)} s`);
    }
    const took = round((performance.now() - started) / 1000, 1);
    figures.disposal_bench_s = took;
    console.log(`  (disposal part took ${took} s)`);
  }
  const json = arg('json');
  if (json) {
    fs.writeFileSync(json, `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`figures written to ${json}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
