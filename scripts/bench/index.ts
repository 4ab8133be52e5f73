/**
 * `npm run bench [-- flags]`: every speed figure of the issues, each with its target, a ceiling
 * measured in the same run and the ratio to it, printed at the end as ONE markdown table and written
 * to docs/benchmarks.md with the date, the machine and the exact command. Figures, never asserted in tests.
 *
 * Parts, in this order (all by default):
 *   files     a large file up and down through the portal (its own process) vs Express + multer
 *             disk storage (upload ceiling) and a plain file stream (download ceiling); RSS growth
 *             vs the portal's idle RSS
 *   reports   one client's access report built (services.reports.build) vs the same rows laid out
 *             by pdf-lib alone, same font, unsigned (bare-pdf.ts); and the /audit log page on
 *             MariaDB (queryLog) vs the same SQL sent bare through mysql2
 *   disposal  disposing of N numbers of one client, certificate included, vs one bare SQL UPDATE
 *             erasing the same rows on a copy of the database
 *   load      the portal under load (scripts/bench/load.ts): a. pages vs a bare Express hello world,
 *             b. uploads at once: peak RSS vs idle RSS, c. reveals p95 vs the list page at the same rate
 *   soak      N upload + download loops (scripts/bench/soak.ts): RSS and fds vs their start values
 *
 * Flags:
 *   --only files|reports|disposal|load|soak   one part only
 *   --skip-files  --skip-load  --skip-soak   leave a part out
 *   --mib N              file size of the file exchange (default 1024)
 *   --runs N             runs of each transfer, the median kept (default 3)
 *   --portal-only        skip the file baseline servers (their figures and the ratios read 0 / —)
 *   --profile DIR        a V8 CPU profile of the portal process of the file part (node --cpu-prof)
 *   --report-events N    events in each month of the access report (default 10000)
 *   --mysql URL          the MySQL/MariaDB server for the log page; a fresh database is made on it and
 *                        dropped after (default $BENCH_MYSQL_URL or mysql://root@127.0.0.1:3306/); when
 *                        it is unreachable that figure is skipped with a message, the rest still runs
 *   --log-rows N         rows in audit_events for the log page (default 1000000, at least 5000)
 *   --disposal-numbers N numbers disposed of (default 10000)
 *   --load-duration S    seconds of each measured page run of the load part (default 15)
 *   --uploads N          uploads at once in load part b (default 20)
 *   --upload-mib N       MiB of each of them (default 100)
 *   --reveal-seconds S   seconds of load part c (default 10)
 *   --load-parts a,b,c   which load parts (default all; a always runs)
 *   --load-mysql URL     run the load and soak parts on MariaDB/MySQL (a fresh database each); SQLite otherwise
 *   --soak-loops N       loops of the soak (default 1000)
 *   --json FILE          also write the flat figures as a JSON object
 *   --out FILE           where the markdown goes (default docs/benchmarks.md, written only when every
 *                        part ran; with --out it is written whatever ran)
 *   --no-out             write no markdown file
 * Targets: issue 3 (files), the reports/log/disposal issues, issue 7 (load, soak); each row names its own.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchFiles } from './files';
import { benchReport } from './reports';
import { benchLogPage } from './log-page';
import { benchDisposal } from './disposal';
import { benchLoad } from './load';
import { benchSoak } from './soak';
import { f1, info, judged, markdownTable, ratioOf, type TableRow } from './table';

const ROOT = path.resolve(import.meta.dirname, '../..');
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const PARTS = ['files', 'reports', 'disposal', 'load', 'soak'] as const;
type Part = (typeof PARTS)[number];

/** The size flags and their defaults: a run with any of them smaller is labelled a smoke run. */
const SIZES = {
  mib: 1024, runs: 3, 'report-events': 10_000, 'log-rows': 1_000_000, 'disposal-numbers': 10_000,
  'load-duration': 15, uploads: 20, 'upload-mib': 100, 'reveal-seconds': 10, 'soak-loops': 1000,
} as const;
const size = (name: keyof typeof SIZES) => Number(arg(name) ?? SIZES[name]);
const MIN_LOG_ROWS = 5000;

const loadavg = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

async function main() {
  const startedAt = new Date();
  const loadStart = loadavg();
  const only = arg('only');
  if (only !== undefined && !(PARTS as readonly string[]).includes(only)) throw new Error(`--only takes ${PARTS.join(', ')}`);
  const runs = new Set<Part>(PARTS.filter((p) => (only === undefined || only === p) && !flag(`skip-${p}`)));
  // The rows come from a fixed seed; fewer than this leave the measured month without a row about an employee to filter by.
  if (size('log-rows') < MIN_LOG_ROWS) throw new Error(`--log-rows takes ${MIN_LOG_ROWS} or more`);
  const figures: Record<string, number> = {};
  const table: TableRow[] = [];
  const databases: string[] = [];
  const notes: string[] = [];
  const skipped: string[] = [];
  const add = (rows: TableRow[]) => {
    table.push(...rows);
    console.log(markdownTable(rows));
  };

  if (runs.has('files')) {
    const mib = size('mib');
    const nRuns = size('runs');
    console.log(`\nFile exchange, ${mib} MiB over loopback (each server in its own process; median of ${nRuns} runs):`);
    const f = await benchFiles(mib, { portalOnly: flag('portal-only'), profileDir: arg('profile'), runs: nRuns });
    Object.assign(figures, f);
    add([
      judged(`files: portal upload, ${mib} MiB (multer → type check → AES-GCM → storage)`, `${f.upload_mb_s} MB/s`, '≥ 0.75 × multer disk', `Express + multer disk ${f.upload_multer_disk_mb_s} MB/s`, ratioOf(f.upload_mb_s, f.upload_multer_disk_mb_s), f.upload_ratio_multer_disk >= 0.75),
      info('files: bare node:http pipe to disk upload', `${f.upload_plain_mb_s} MB/s`, '', ratioOf(f.upload_mb_s, f.upload_plain_mb_s)),
      judged(`files: portal download, ${mib} MiB (storage → verify → decrypt)`, `${f.download_mb_s} MB/s`, '≥ 0.75 × plain stream', `plain file stream ${f.download_plain_mb_s} MB/s`, ratioOf(f.download_mb_s, f.download_plain_mb_s), f.download_ratio_plain >= 0.75),
      info('files: server CPU s, upload portal / multer disk', `${f.upload_cpu_s} / ${f.upload_multer_disk_cpu_s} s`, '', ratioOf(f.upload_cpu_s, f.upload_multer_disk_cpu_s)),
      info('files: server CPU s, download portal / plain', `${f.download_cpu_s} / ${f.download_plain_cpu_s} s`, '', ratioOf(f.download_cpu_s, f.download_plain_cpu_s)),
      judged('files: portal RSS growth (peak − start)', `${f.rss_growth_mib} MiB`, '< 100 MiB', `portal idle RSS ${f.portal_rss_start_mib} MiB`, ratioOf(f.rss_growth_mib, f.portal_rss_start_mib), f.rss_growth_mib < 100),
      info('files: portal peak RSS during upload / download', `${f.upload_peak_rss_mib} / ${f.download_peak_rss_mib} MiB`, `idle ${f.portal_rss_start_mib} MiB`, ratioOf(Math.max(f.upload_peak_rss_mib, f.download_peak_rss_mib), f.portal_rss_start_mib)),
    ]);
    databases.push('files: the portal in its own process on SQLite (fresh DATA_DIR)');
  }

  if (runs.has('reports')) {
    const started = performance.now();
    const events = size('report-events');
    console.log(`\nAccess report, one client's month with ${events} events (portal in-process on SQLite; median of 3 months):`);
    const r = await benchReport({ events });
    Object.assign(figures, r);
    add([
      judged(`reports: access report build, ${events} events (collect → PDF → sign → seal, store)`, `${r.report_build_s.toFixed(2)} s`, '< 2 s', `bare pdf-lib PDF of the ${events} rows ${r.report_bare_pdf_s.toFixed(2)} s`, ratioOf(r.report_build_s, r.report_bare_pdf_s), r.report_build_s < 2),
      info('reports: min / max of the 3 builds', `${r.report_build_min_s.toFixed(2)} / ${r.report_build_max_s.toFixed(2)} s`),
      info('reports: of which reading the log / PDF + signing', `${r.report_collect_s.toFixed(2)} / ${r.report_render_sign_s.toFixed(2)} s`, `bare PDF ${r.report_bare_pdf_s.toFixed(2)} s`, ratioOf(r.report_render_sign_s, r.report_bare_pdf_s)),
      info('reports: first build of the process (makes the signer)', `${r.report_first_build_s.toFixed(2)} s`),
      info('reports: report PDF pages / size', `${r.report_pdf_pages} / ${r.report_pdf_kib} KiB`, `bare PDF ${r.report_bare_pdf_pages} / ${r.report_bare_pdf_kib} KiB`),
    ]);
    databases.push('reports: the portal in-process on SQLite (fresh DATA_DIR)');

    const mysqlUrl = arg('mysql') ?? process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/';
    const logRows = size('log-rows');
    console.log(`\nAccess log page, one client's month, ${logRows} rows in audit_events (MariaDB; median of 5 after a warm-up):`);
    const l = await benchLogPage({ mysqlUrl, rows: logRows, log: (line) => console.error(line) });
    if ('skipped' in l) {
      console.log(`  skipped: ${l.skipped}`);
      skipped.push(`log page: ${l.skipped}`);
    } else {
      const g = l.figures;
      Object.assign(figures, g);
      const bare = (ms: number) => `same SQL bare via mysql2 ${ms.toFixed(2)} ms`;
      add([
        info(`log: table filled (${g.log_rows} rows, ${g.log_clients} clients × 12 months)`, `${g.log_fill_s} s`),
        judged(`log: page 1 + count, one client's month (${g.log_month_rows} rows)`, `${g.log_page_ms.toFixed(1)} ms`, '< 100 ms', bare(g.log_page_bare_ms), ratioOf(g.log_page_ms, g.log_page_bare_ms), g.log_page_ms < 100),
        judged('log: the same with an operation filter', `${g.log_page_operation_ms.toFixed(1)} ms`, '< 100 ms', bare(g.log_page_operation_bare_ms), ratioOf(g.log_page_operation_ms, g.log_page_operation_bare_ms), g.log_page_operation_ms < 100),
        judged('log: the same with an employee code filter', `${g.log_page_employee_ms.toFixed(1)} ms`, '< 100 ms', bare(g.log_page_employee_bare_ms), ratioOf(g.log_page_employee_ms, g.log_page_employee_bare_ms), g.log_page_employee_ms < 100),
      ]);
      console.log('  query plans (EXPLAIN):');
      for (const line of l.explain) console.log(`    ${line}`);
      notes.push('Query plans of the log page (EXPLAIN):', '', ...l.explain.map((e) => `    ${e}`), '');
      databases.push(`log page: MariaDB/MySQL at ${new URL(mysqlUrl).host} (a throw-away database, dropped after)`);
    }
    const took = round((performance.now() - started) / 1000, 1);
    figures.reports_bench_s = took;
    console.log(`  (reports part took ${took} s)`);
  }

  if (runs.has('disposal')) {
    const started = performance.now();
    const numbers = size('disposal-numbers');
    console.log(`\nDisposal of ${numbers} numbers of one client, certificate included (portal in-process on SQLite):`);
    const { figures: d, sql } = await benchDisposal({ numbers });
    Object.assign(figures, d);
    add([
      judged(`disposal: ${numbers} numbers (request → approve → execute, certificate incl.)`, `${d.disposal_total_s.toFixed(2)} s`, '< 60 s', `bare SQL UPDATE erasing the ${numbers} rows ${d.disposal_bare_erase_s.toFixed(3)} s`, ratioOf(d.disposal_total_s, d.disposal_bare_erase_s, 0), d.disposal_total_s < 60),
      info('disposal: request / approve / execute', `${d.disposal_request_s.toFixed(2)} / ${d.disposal_approve_s.toFixed(3)} / ${d.disposal_execute_s.toFixed(2)} s`),
      info('disposal: execute = erase / delete / verify / certificate', `${d.disposal_erase_s.toFixed(2)} / ${d.disposal_delete_s.toFixed(2)} / ${d.disposal_verify_s.toFixed(2)} / ${d.disposal_certificate_s.toFixed(2)} s`, `bare UPDATE ${d.disposal_bare_erase_s.toFixed(3)} s, bare SELECT ${d.disposal_bare_read_s.toFixed(3)} s`, ratioOf(d.disposal_erase_s, d.disposal_bare_erase_s, 0)),
      info('disposal: certificate PDF pages / size', `${d.disposal_certificate_pages} / ${d.disposal_certificate_kib} KiB`),
      judged('disposal: numbers of the client still sealed afterwards', `${d.disposal_numbers_left}`, '0', `${numbers} sealed before`, ratioOf(d.disposal_numbers_left, numbers), d.disposal_numbers_left === 0),
      judged('disposal: certificates in the database', `${d.disposal_certificates}`, '1', '1 request executed', ratioOf(d.disposal_certificates, 1), d.disposal_certificates === 1),
    ]);
    console.log(`  SQL of the timed steps (${d.disposal_sql_statements} statements; the kinds taking ≥ 1% of the total or run ≥ ${numbers} times):`);
    for (const s of [...sql].sort((a, b) => b.ms - a.ms)) {
      if (s.ms < 10 * d.disposal_total_s && s.count < numbers) continue;
      console.log(`    ${s.step.padEnd(8)} ${s.kind.padEnd(34)} ${String(s.count).padStart(6)} × ${(s.ms / s.count).toFixed(3).padStart(7)} ms = ${(s.ms / 1000).toFixed(2).padStart(6)} s`);
    }
    const took = round((performance.now() - started) / 1000, 1);
    figures.disposal_bench_s = took;
    databases.push('disposal: the portal in-process on SQLite (fresh DATA_DIR); its ceiling on a VACUUM INTO copy through sqlite3');
    console.log(`  (disposal part took ${took} s)`);
  }

  const loadMysql = arg('load-mysql');
  if (runs.has('load')) {
    const duration = size('load-duration');
    console.log(`\nLoad: the portal in its own process on loopback (${loadMysql ? 'MariaDB/MySQL' : 'SQLite'}), ${duration} s page runs:`);
    const r = await benchLoad({
      duration, uploads: size('uploads'), uploadMib: size('upload-mib'), revealSeconds: size('reveal-seconds'),
      parts: new Set((arg('load-parts') ?? 'a,b,c').split(',')), mysqlUrl: loadMysql, log: (line) => console.error(line),
    });
    Object.assign(figures, r.figures);
    add(r.rows);
    databases.push(`load: the portal in its own process on ${r.database === 'SQLite' ? 'SQLite (fresh DATA_DIR)' : `${r.database} (a throw-away database)`}`);
  }

  if (runs.has('soak')) {
    console.log('\nSoak:');
    const r = await benchSoak({ loops: size('soak-loops'), mysqlUrl: loadMysql, log: (line) => console.log(line) });
    Object.assign(figures, r.figures);
    add(r.rows);
    databases.push(`soak: the portal in its own process on ${r.database === 'SQLite' ? 'SQLite (fresh DATA_DIR)' : `${r.database} (a throw-away database)`}`);
  }

  const loadEnd = loadavg();
  const missed = table.filter((r) => r.verdict === 'MISSED').length;
  const judgedRows = table.filter((r) => r.verdict !== 'info').length;
  console.log(`\n== One table (${judgedRows} figures with a target: ${judgedRows - missed} OK, ${missed} missed) ==\n`);
  console.log(markdownTable(table));
  console.log(`\n(load average ${loadStart} at the start, ${loadEnd} at the end)`);

  const json = arg('json');
  if (json) {
    fs.writeFileSync(json, `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`figures written to ${json}`);
  }

  const everything = runs.size === PARTS.length;
  const out = flag('no-out') ? undefined : arg('out') ?? (everything ? path.join(ROOT, 'docs/benchmarks.md') : undefined);
  if (out) {
    const smaller: string[] = (Object.keys(SIZES) as (keyof typeof SIZES)[]).filter((k) => arg(k) !== undefined && size(k) < SIZES[k]);
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    fs.writeFileSync(out, documentText({ startedAt, loadStart, loadEnd, table, databases, notes, skipped, smaller, partsRun: [...runs], missed, judgedRows }));
    console.log(`table written to ${path.resolve(out)}`);
    // The README quotes the latest run of record: only when the default file was written (every part ran).
    if (!arg('out')) updateReadme({ startedAt, table, smaller, missed, judgedRows });
  } else if (!flag('no-out')) {
    console.log('(not every part ran: docs/benchmarks.md left as it is; --out FILE writes this table elsewhere)');
  }
}

/** The machine in one line: CPU model × count, memory, Node. */
function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${[...new Set(cpus.map((c) => c.model.trim()))].join(', ')}, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB memory, Node ${process.version}`;
}

/**
 * Rewrites the README's two quoted blocks (between <!-- bench:summary --> … <!-- /bench:summary -->
 * and <!-- bench:load --> … <!-- /bench:load -->) from this run: date, machine, the verdicts, and the
 * load and soak rows. Nothing else of the README is touched; without the markers nothing is.
 */
function updateReadme(o: { startedAt: Date; table: TableRow[]; smaller: string[]; missed: number; judgedRows: number }) {
  const file = path.join(ROOT, 'README.md');
  let text = fs.readFileSync(file, 'utf8');
  const when = `${o.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine()}`;
  const smoke = o.smaller.length ? ' — **a smoke run at reduced sizes, not the figures of record**' : '';
  const missed = o.table.filter((r) => r.verdict === 'MISSED');
  const summary = [
    `Latest run: ${when}${smoke}. ${o.judgedRows} figures with a target: ${o.judgedRows - o.missed} OK, ${o.missed} missed${missed.length ? ':' : '.'}`,
    ...missed.map((r) => `- ${r.figure}: ${r.value} (target ${r.target}; ceiling ${r.ceiling}, ratio ${r.ratio}) — **missed**`),
  ];
  const loadRows = o.table.filter((r) => r.verdict !== 'info' && /^(load|soak)/.test(r.figure));
  const load = loadRows.length
    ? [`From the same run (${when}${smoke}):`, '', markdownTable(loadRows)]
    : ['(the latest bench run did not include the load and soak parts)'];
  let found = 0;
  for (const [tag, body] of [['bench:summary', summary], ['bench:load', load]] as const) {
    const re = new RegExp(`(<!-- ${tag} -->\n)[\\s\\S]*?(<!-- /${tag} -->)`);
    if (re.test(text)) {
      found++;
      text = text.replace(re, (_m, a: string, b: string) => `${a}${body.join('\n')}\n${b}`);
    }
  }
  if (found) {
    fs.writeFileSync(file, text);
    console.log(`README.md: ${found} quoted block(s) updated`);
  }
}

/** The shell-quoted command line this run was started with. */
function commandLine(): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  const args = process.argv.slice(2).map(quote).join(' ');
  return `npm run bench${args ? ` -- ${args}` : ''}`;
}

function documentText(o: {
  startedAt: Date; loadStart: string; loadEnd: string; table: TableRow[]; databases: string[]; notes: string[]; skipped: string[];
  smaller: string[]; partsRun: string[]; missed: number; judgedRows: number;
}): string {
  const cpus = os.cpus();
  const models = [...new Set(cpus.map((c) => c.model.trim()))].join(', ');
  const lines = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (scripts/bench/index.ts) — regenerate it rather than editing it. The README\'s',
    '"Benchmark" section says what each part measures.',
    '',
  ];
  if (o.smaller.length) {
    lines.push(
      `> **Smoke run, not the figures of record.** Reduced sizes (${o.smaller.map((k) => `\`--${k} ${arg(k)}\``).join(', ')}): the run`,
      '> only shows that every part works end to end. Several targets are defined at the full sizes; regenerate with the',
      '> full-size command in the README before quoting any figure.',
      '',
    );
  }
  lines.push(
    `- **Date (UTC):** ${o.startedAt.toISOString().replace('T', ' ').slice(0, 19)}`,
    `- **Machine:** ${cpus.length} × ${models}, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB memory, ${os.type()} ${os.release()} (${os.arch()}), Node ${process.version}`,
    `- **Load average (1, 5, 15 min):** ${o.loadStart} at the start, ${o.loadEnd} at the end`,
    `- **Parts run:** ${o.partsRun.join(', ')}`,
    '- **Databases:**',
    ...o.databases.map((d) => `  - ${d}`),
    ...o.skipped.map((s) => `  - skipped — ${s}`),
    `- **Command:** \`${commandLine()}\``,
    `- **Result:** ${o.judgedRows} figures with a target, ${o.judgedRows - o.missed} OK, ${o.missed} missed.`,
    '',
    markdownTable(o.table),
    '',
    '**Reading the table.** "ratio to ceiling" is always value ÷ ceiling. For a rate (MB/s, req/s) higher is better and 1',
    'means as fast as the bare ceiling; for a time or memory figure it is how many times the ceiling the portal needs.',
    'The verdict compares the value with the target only; "info" rows have no target. Figures vary from run to run',
    '(±15 % is usual on this machine, more when other work runs); they are never asserted in tests.',
    '',
    '**The ceilings**, each measured in the same run:',
    '',
    '- *upload*: Express 5 + multer disk storage in its own process, the same file over loopback.',
    '- *download*: a bare `node:http` server streaming the same file (`fs.createReadStream`).',
    '- *RSS growth*: the portal\'s own RSS at start (idle) in the same run.',
    '- *report build*: the same rows (the listing\'s 7 columns, worded as the report words them) laid out as an A4 table',
    '  by pdf-lib alone, Noto Sans JP regular + bold embedded as subsets, one `drawText` per cell, unsigned, not stored',
    '  (scripts/bench/bare-pdf.ts), median of 3 after a warm-up in the same process. It lacks the report\'s summary',
    '  tables, the signature and the sealing; pdf-lib\'s own text path shapes each string through fontkit, which the',
    '  portal avoids (glyph cache), so the portal can beat this ceiling (ratio < 1).',
    '- *log page*: the very statements the page sends to `audit_events` (its `SELECT … ORDER BY … LIMIT` and its',
    '  `COUNT`, together as the app runs them), taken from Sequelize\'s log and sent as text through mysql2 on a pool of',
    '  its own — the database\'s share of the page without Sequelize, the model layer or the app\'s code.',
    '- *disposal*: one bare `UPDATE number_records SET sealed_number = NULL, blind_index = NULL WHERE client_id = ?`',
    '  through sqlite3 on a `VACUUM INTO` copy of the same database, taken just before the timed steps — the one',
    '  write a disposal cannot do without (the ciphertexts gone). A bare `DELETE` would not be the same work (the',
    '  portal keeps the rows, emptied, for the certificate and the log), and merely reading the rows (also shown) is',
    '  no floor for a write. It leaves out everything the disposal owes besides: the request and approval, object',
    '  deletion, verification, audit rows and the signed certificate, hence the large ratio.',
    '- *load a. pages*: a bare Express 5 hello world in its own process under the same autocannon load.',
    '- *load b. uploads*: the portal\'s idle RSS (after start, before any request).',
    '- *load c. reveals*: the same staff session\'s GET of the (masked) numbers list at the same rate.',
    '- *soak*: the RSS and open file descriptors at the start of the counted loops (after the warm-up loops).',
    '- correctness rows (answered 200, audit rows, numbers left, certificates): what was sent or expected.',
    '',
  );
  if (o.notes.length) lines.push(...o.notes);
  return `${lines.join('\n').replace(/\n+$/, '')}\n`;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
