import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ROOT, runScript } from '../support/run-cli';

/**
 * Smoke test of the issue 7 scripts: `npm run bench` (scripts/bench/index.ts with its parts in
 * scripts/bench/*.ts and scripts/load/*.ts) run for real as a child process, every part at the
 * smallest size its flags allow, and `npm run soak` (scripts/soak.ts) on its own. It checks what the
 * issue promises the output holds — the figures, their ceilings of the same run, the counts that must
 * agree — and never a speed: the machine is shared, and the targets are the bench's to judge (a
 * MISSED verdict here is not a failure).
 *
 * Every part runs (not just load and soak): the --no-out check is only meaningful then, since a run
 * of every part is the one that would otherwise rewrite docs/benchmarks.md and the README's quoted
 * blocks. The sizes:
 *   files     --mib 1 --runs 1 (the baselines kept, so the judged rows have their ratios)
 *   reports   --report-events 10; the log page: --log-rows 5000 on MariaDB (fewer rows leave client 8's
 *             October without a reveal row and the log page stops with "no employee row in the
 *             measured month"; the rows are drawn from a fixed seed, so 5000 always has one)
 *   disposal  --disposal-numbers 1
 *   load      --load-duration 2 (1 s page runs can end with no page answered on a busy 2-core machine),
 *             --uploads 1 --upload-mib 1, --reveal-seconds 1 (part c also waits a fixed 7 s for the
 *             burst run's requests in flight; it cannot be shrunk)
 *   soak      --soak-loops 1 (after the bench's 20 warm-up loops, not settable through the bench)
 *
 * Databases. The bench gets a bare environment (PATH, HOME): the portal processes it starts inherit
 * its environment, and a DATABASE_URL there would point them at the suite's shared database while
 * the seeding went to SQLite. On SQLite (no DATABASE_URL) the log page is pointed at a closed port
 * and must be skipped with a message while the rest runs; with DATABASE_URL set, the log page
 * (--mysql) and the load and soak parts (--load-mysql) run on that MariaDB server, each in a
 * throw-away database the scripts create and drop; the suite's own database is not touched.
 */

const MYSQL_URL = process.env.DATABASE_URL || null;
const UNREACHABLE_MYSQL = 'mysql://root@127.0.0.1:1/';

const TSX_ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}) };

interface Row { figure: string; value: string; target: string; ceiling: string; ratio: string; verdict: string }

/** The markdown table lines (`| … |`) that follow `marker` in `text`, up to the first other line. */
function tableAfter(text: string, marker: RegExp): Row[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => marker.test(l));
  if (start < 0) return [];
  let i = start + 1;
  while (i < lines.length && !lines[i]!.startsWith('|')) i++;
  const rows: string[][] = [];
  for (; i < lines.length && lines[i]!.startsWith('|'); i++) {
    // Cells are separated by unescaped pipes ("\|" is a pipe inside a cell).
    rows.push(lines[i]!.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|')));
  }
  const [head, rule, ...body] = rows;
  expect(head, 'table header').to.deep.equal(['figure', 'value', 'target', 'ceiling (same run)', 'ratio to ceiling', 'verdict']);
  expect(rule!.every((c) => /^-+$/.test(c)), 'table rule line').to.equal(true);
  return body.map(([figure, value, target, ceiling, ratio, verdict]) => ({ figure: figure!, value: value!, target: target!, ceiling: ceiling!, ratio: ratio!, verdict: verdict! }));
}

/** Size, mtime and bytes of a file, or null when it is not there. */
function snapshot(file: string): { size: number; mtimeMs: number; bytes: Buffer } | null {
  if (!fs.existsSync(file)) return null;
  const st = fs.statSync(file);
  return { size: st.size, mtimeMs: st.mtimeMs, bytes: fs.readFileSync(file) };
}

describe(`bench, load and soak scripts (issue 7), smallest sizes, on ${MYSQL_URL ? 'MariaDB' : 'SQLite'}`, function () {
  this.timeout(240_000);

  let work = '';
  let jsonFile = '';
  const watched = [path.join(ROOT, 'docs/benchmarks.md'), path.join(ROOT, 'README.md')];
  const args = () => [
    '--mib', '1', '--runs', '1',
    '--report-events', '10', '--log-rows', '5000', '--mysql', MYSQL_URL ?? UNREACHABLE_MYSQL,
    '--disposal-numbers', '1',
    '--load-duration', '2', '--uploads', '1', '--upload-mib', '1', '--reveal-seconds', '1', '--load-parts', 'a,b,c',
    '--soak-loops', '1',
    ...(MYSQL_URL ? ['--load-mysql', MYSQL_URL] : []),
    '--json', jsonFile, '--no-out',
  ];
  let run: { code: number | null; stdout: string; stderr: string };
  let figures: Record<string, number>;
  let table: Row[];
  let filesBefore: ReturnType<typeof snapshot>[];
  let filesAfter: ReturnType<typeof snapshot>[];
  const row = (figure: RegExp) => {
    const found = table.filter((r) => figure.test(r.figure));
    expect(found, `one row of the table matching ${figure}`).to.have.length(1);
    return found[0]!;
  };

  before(async function () {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-bench-smoke-'));
    jsonFile = path.join(work, 'figures.json');
    filesBefore = watched.map(snapshot);
    run = await runScript('scripts/bench/index.ts', args(), TSX_ENV, { timeoutMs: 220_000 });
    filesAfter = watched.map(snapshot);
    figures = fs.existsSync(jsonFile) ? JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as Record<string, number> : {};
    table = run.code === 0 ? tableAfter(run.stdout, /^== One table /) : [];
  });
  after(() => { if (work) fs.rmSync(work, { recursive: true, force: true }); });

  const failure = () => `exit ${run.code}\n--- stdout (tail)\n${run.stdout.slice(-4000)}\n--- stderr (tail)\n${run.stderr.slice(-4000)}`;

  it('npm run bench runs every part to the end and writes its figures as JSON', () => {
    expect(run.code, failure()).to.equal(0);
    expect(run.stdout).to.include(`figures written to ${jsonFile}`);
    for (const key of ['upload_mb_s', 'report_build_s', 'disposal_total_s', 'load_pages_rps', 'soak_rss_start_mib']) {
      expect(figures, `JSON figure ${key}`).to.have.property(key).that.is.a('number');
    }
    if (MYSQL_URL) {
      expect(figures.log_rows).to.equal(5000);
      expect(figures.log_page_ms).to.be.a('number');
    } else {
      // The log page needs MariaDB: unreachable, it is skipped with a message and the rest still runs.
      expect(run.stdout).to.match(/skipped: MariaDB\/MySQL at 127\.0\.0\.1:1 is unreachable/);
      expect(figures).not.to.have.property('log_rows');
    }
    expect(run.stdout).to.match(new RegExp(`Load: the portal in its own process on loopback \\(${MYSQL_URL ? 'MariaDB/MySQL' : 'SQLite'}\\)`));
  });

  it('load a: the page rate, the hello-world ceiling of the same run and their ratio are in the JSON and the table', () => {
    expect(run.code, failure()).to.equal(0);
    const { load_pages_rps: pages, load_hello_rps: hello, load_pages_ratio_hello: ratio } = figures;
    expect(pages, 'load_pages_rps').to.be.a('number').above(0);
    expect(hello, 'load_hello_rps').to.be.a('number').above(0);
    expect(ratio, 'load_pages_ratio_hello').to.be.a('number').above(0);
    // The ratio is of the unrounded rates; the two rates in the JSON are rounded to 0.1.
    expect(ratio).to.be.closeTo(pages! / hello!, 1e-4 + 0.05 * (pages! / hello!));
    // The table's row names the same hello-world figure as its ceiling: the same run.
    const r = row(/^load a\. pages req\/s, 50 sessions, 2 s/);
    expect(r.value).to.equal(pages!.toFixed(1));
    expect(r.ceiling).to.equal(`hello world ${hello!.toFixed(1)} req/s`);
    expect(r.target).to.equal('≥ 0.2 × hello');
    expect(Number(r.ratio)).to.be.closeTo(ratio!, 1e-4 + 0.05 * ratio!);
  });

  it('load a: every page answered 200', () => {
    expect(run.code, failure()).to.equal(0);
    expect(figures.load_pages_responses, 'load_pages_responses').to.be.a('number').above(0);
    expect(figures.load_pages_ok, 'load_pages_ok (2xx)').to.equal(figures.load_pages_responses);
    const r = row(/^load a\. pages answered 200$/);
    expect(r.value).to.equal(`200×${figures.load_pages_responses}`); // only 200s, no errors or timeouts
    expect(r.verdict).to.equal('OK');
  });

  it('load b: the uploads\' peak RSS is present and positive, and every upload answered 200', () => {
    expect(run.code, failure()).to.equal(0);
    expect(figures.load_uploads).to.equal(1);
    expect(figures.load_upload_mib).to.equal(1);
    expect(figures.load_upload_peak_rss_mib, 'load_upload_peak_rss_mib').to.be.a('number').above(0);
    expect(figures.load_idle_rss_mib, 'load_idle_rss_mib (its ceiling)').to.be.a('number').above(0);
    expect(figures.load_uploads_ok).to.equal(1);
    const r = row(/^load b\. 1 × 1 MiB uploads at once: peak RSS$/);
    expect(r.value).to.equal(`${figures.load_upload_peak_rss_mib!.toFixed(1)} MiB`);
    expect(r.target).to.equal('< 512 MiB');
  });

  it('load c: the audit rows of allowed reveals equal the reveals answered 200', () => {
    expect(run.code, failure()).to.equal(0);
    const audited = figures.load_reveal_audit_rows;
    expect(audited, 'load_reveal_audit_rows').to.be.a('number').above(0);
    // load_reveals_ok = the paced reveals answered 200 + the probe; every paced reveal answered 200.
    expect(figures.load_reveals_ok, 'load_reveals_ok').to.equal(50 + 1);
    expect(row(/^load c\. reveals answered 200$/).value).to.equal('200×50');
    // The audit row's ceiling names every reveal answered 200 (paced + probe + the autocannon burst run);
    // the target allows for the burst run's last requests, done by the portal but cut off in flight
    // on the client side when autocannon stopped (at most one per connection).
    const r = row(/^load c\. audit rows 'vault\.reveal' 'allowed'$/);
    expect(Number(r.value)).to.equal(audited);
    const answered = /^(\d+) answered 200 \(paced (\d+) \+ probe \+ burst run (\d+)\)$/.exec(r.ceiling);
    expect(answered, `ceiling: ${r.ceiling}`).to.not.equal(null);
    const [total, paced, burst] = answered!.slice(1).map(Number) as [number, number, number];
    expect(paced + 1).to.equal(figures.load_reveals_ok);
    expect(total).to.equal(paced + 1 + burst);
    const cut = Number(/\+ ≤ (\d+) of the burst run cut off in flight/.exec(r.target)?.[1]);
    expect(cut).to.be.within(0, 10);
    expect(audited, `audit rows ${audited} vs ${total} reveals answered 200 (+ ≤ ${cut} cut off)`).to.be.within(total, total + cut);
    expect(r.verdict).to.equal('OK');
    // The JSON says the same on its own.
    expect([figures.load_reveal_burst_ok, figures.load_reveal_burst_cut]).to.deep.equal([burst, cut]);
    expect(figures.load_reveal_rows_match).to.equal(1);
  });

  it('soak: the start and end RSS and open file descriptors are printed and in the JSON', () => {
    expect(run.code, failure()).to.equal(0);
    for (const key of ['soak_rss_start_mib', 'soak_rss_end_mib', 'soak_fds_start', 'soak_fds_end']) {
      expect(figures[key], key).to.be.a('number').above(0);
    }
    expect(figures.soak_loops).to.equal(1);
    const printed = (label: string) => new RegExp(`^  ${label} +RSS +([\\d.]+) MiB .* fds +(\\d+) `, 'm').exec(run.stdout);
    const start = printed('start');
    const end = printed('end 1');
    expect(start, 'the soak\'s start line').to.not.equal(null);
    expect(end, 'the soak\'s end line').to.not.equal(null);
    expect(Number(start![2])).to.equal(figures.soak_fds_start);
    expect(Number(end![2])).to.equal(figures.soak_fds_end);
    expect(row(/^soak: open file descriptors end − start$/).value).to.include(`(${figures.soak_fds_start} → ${figures.soak_fds_end})`);
    expect(row(/^soak: 1 × \(256 KiB up \+ down\), RSS growth end − start$/).value)
      .to.include(`(${figures.soak_rss_start_mib!.toFixed(1)} → ${figures.soak_rss_end_mib!.toFixed(1)})`);
  });

  it('prints one table holding every part, with a target and a ratio to its ceiling on each judged row', () => {
    expect(run.code, failure()).to.equal(0);
    const heading = /^== One table \((\d+) figures with a target: (\d+) OK, (\d+) missed\) ==$/m.exec(run.stdout);
    expect(heading, 'the one table\'s heading').to.not.equal(null);
    const judgedRows = table.filter((r) => r.verdict !== 'info');
    expect(judgedRows.length).to.equal(Number(heading![1]));
    expect(judgedRows.filter((r) => r.verdict === 'OK').length).to.equal(Number(heading![2]));
    expect(judgedRows.filter((r) => r.verdict === '**MISSED**').length).to.equal(Number(heading![3]));
    for (const r of judgedRows) {
      expect(r.verdict, r.figure).to.be.oneOf(['OK', '**MISSED**']);
      expect(r.target, `target of "${r.figure}"`).to.not.equal('');
      expect(r.ceiling, `ceiling of "${r.figure}"`).to.not.equal('');
      expect(r.ratio, `ratio of "${r.figure}"`).to.match(/^-?\d+(\.\d+)?(e-?\d+)?$/);
    }
    const parts = ['files: portal upload', 'files: portal download', 'reports: access report build', 'disposal: 1 numbers',
      'load a. pages req/s', 'load a. pages p99 latency', 'load b. 1 × 1 MiB uploads at once', 'load c. reveals at 50/s',
      "load c. audit rows 'vault.reveal' 'allowed'", 'soak: 1 × (256 KiB up + down)', 'soak: open file descriptors',
      ...(MYSQL_URL ? ['log: page 1 + count'] : [])];
    for (const p of parts) expect(judgedRows.some((r) => r.figure.startsWith(p)), `a judged row "${p}…" in the one table`).to.equal(true);
  });

  it('with --no-out it writes neither docs/benchmarks.md nor README.md', () => {
    expect(run.code, failure()).to.equal(0);
    expect(run.stdout).not.to.include('table written to');
    expect(run.stdout).not.to.match(/README\.md: \d+ quoted block/);
    watched.forEach((file, i) => {
      const [b, a] = [filesBefore[i], filesAfter[i]];
      expect(a === null, `${file} there after the run as before`).to.equal(b === null);
      if (!a || !b) return;
      if (file.endsWith('README.md') && !a.bytes.equals(b.bytes)) {
        // Someone edited the README while the bench ran (a shared working tree). The bench only ever
        // rewrites its two quoted blocks, each with this run's date: those must be as they were.
        const blocks = (t: Buffer) => ['bench:summary', 'bench:load'].map((tag) => new RegExp(`<!-- ${tag} -->\n[\\s\\S]*?<!-- /${tag} -->`).exec(t.toString('utf8'))?.[0] ?? null);
        expect(blocks(a.bytes), 'the README\'s bench blocks (the README was changed by someone else during the run)').to.deep.equal(blocks(b.bytes));
        return;
      }
      expect(a.bytes.equals(b.bytes), `${file} bytes`).to.equal(true);
      expect(a.mtimeMs, `${file} mtime`).to.equal(b.mtimeMs);
    });
  });
});

/**
 * The two scripts of issue 7 that also run on their own, outside `npm run bench`: `npm run soak`
 * (scripts/soak.ts, its own flags --loops/--warmup/--mysql) and `npm run load:cost`
 * (scripts/load/page-cost.ts, the CPU cost of a page). Both at their smallest sizes, side by side
 * (nothing timed is asserted). `npm run load` (scripts/load.ts) is left out: it is a thin wrapper
 * around the same benchLoad the bench above runs, and a second load run would cost some 30 s more.
 */
describe(`npm run soak and npm run load:cost on their own, smallest sizes, on ${MYSQL_URL ? 'MariaDB' : 'SQLite'}`, function () {
  this.timeout(120_000);

  const mysqlArgs = MYSQL_URL ? ['--mysql', MYSQL_URL] : [];
  let soak: { code: number | null; stdout: string; stderr: string };
  let cost: { code: number | null; stdout: string; stderr: string };

  before(async function () {
    [soak, cost] = await Promise.all([
      // On SQLite, as from a shell that exported a DATABASE_URL (here a closed port): the portal the
      // script starts must use the script's database, not the shell's.
      runScript('scripts/soak.ts', ['--loops', '1', '--warmup', '0', ...mysqlArgs], MYSQL_URL ? TSX_ENV : { ...TSX_ENV, DATABASE_URL: UNREACHABLE_MYSQL }, { timeoutMs: 110_000 }),
      runScript('scripts/load/page-cost.ts', ['--requests', '4', '--pages', '/home', ...mysqlArgs], TSX_ENV, { timeoutMs: 110_000 }),
    ]);
  });

  const failure = (r: { code: number | null; stdout: string; stderr: string }) => `exit ${r.code}\n--- stdout (tail)\n${r.stdout.slice(-3000)}\n--- stderr (tail)\n${r.stderr.slice(-3000)}`;

  it('npm run soak prints the start and end RSS and open file descriptors, then its table', () => {
    expect(soak.code, failure(soak)).to.equal(0);
    expect(soak.stdout).to.match(new RegExp(`Soak: 1 loops of a 256 KiB upload then its download, portal pid \\d+ \\(${MYSQL_URL ? 'MariaDB/MySQL' : 'SQLite'}`));
    const line = (label: string) => new RegExp(`^  ${label} +RSS +([\\d.]+) MiB .* fds +(\\d+) `, 'm').exec(soak.stdout);
    const start = line('start');
    const end = line('end 1');
    expect(start, 'the start line').to.not.equal(null);
    expect(end, 'the end line').to.not.equal(null);
    for (const m of [start!, end!]) {
      expect(Number(m[1]), 'RSS MiB').to.be.above(0);
      expect(Number(m[2]), 'open fds').to.be.above(0);
    }
    const table = tableAfter(soak.stdout, /^Soak \((SQLite|MariaDB\/MySQL at [^)]+)\), \d+ CPUs:$/);
    const fds = table.find((r) => r.figure === 'soak: open file descriptors end − start');
    const rss = table.find((r) => r.figure === 'soak: 1 × (256 KiB up + down), RSS growth end − start');
    expect(fds?.value).to.include(`(${start![2]} → ${end![2]})`);
    expect(rss?.value).to.include(`(${Number(start![1]).toFixed(1)} → ${Number(end![1]).toFixed(1)})`);
    for (const r of [fds!, rss!]) {
      expect(r.target, r.figure).to.not.equal('');
      expect(r.ratio, r.figure).to.match(/^-?\d+(\.\d+)?(e-?\d+)?$/);
      expect(r.verdict, r.figure).to.be.oneOf(['OK', '**MISSED**']);
    }
  });

  it('npm run load:cost prints the CPU milliseconds of a page', () => {
    expect(cost.code, failure(cost)).to.equal(0);
    const m = /^\/home +([\d.]+) ms CPU a page \(4 requests\)$/m.exec(cost.stdout);
    expect(m, cost.stdout).to.not.equal(null);
    expect(Number(m![1])).to.be.at.least(0);
  });
});
