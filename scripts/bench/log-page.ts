/**
 * The access log benchmark on MySQL/MariaDB: audit_events holds 1,000,000 rows of 50 clients over
 * the 12 months of 2026 (seq in time order, as the portal appends them), and a firm admin opens the
 * /audit page for one client's month — queryLog(user, filter, 1), the page's rows and its count —
 * plain, filtered by operation, and filtered by employee code.
 *
 * A fresh database is created on the server and dropped after; the rows are bulk-inserted with
 * multi-row INSERTs through mysql2 (not through the audit log, so they are not chained).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { loadConfig } from '../../server/config';
import { boot } from '../../server/boot';
import { systemContext } from '../../server/audit';
import { Employee, User } from '../../server/db/models';
import { queryLog, type LogFilter } from '../../server/audit/log-query';
import { parsePeriod } from '../../server/reports/periods';
import { OFFICES, PROCEDURES } from '../../server/domain/purposes';
import { employeeCode, fakeHashes, median, personName, pick, prng, REVEAL_CHANNEL, round, USER_AGENT } from './fake-audit';

export interface LogFigures {
  log_rows: number;
  log_clients: number;
  /** time to fill the table (bulk inserts + ANALYZE), not part of any figure */
  log_fill_s: number;
  /** rows of the measured client's month (the page's count) */
  log_month_rows: number;
  /** first page of one client's month, sorted by time, newest first: median of 5 after a warm-up (target < 100 ms) */
  log_page_ms: number;
  log_page_operation_ms: number;
  log_page_employee_ms: number;
  /**
   * The ceilings: the same SQL statements on audit_events the call sends (its page SELECT … ORDER BY
   * … LIMIT and its COUNT, run at once as the app runs them), sent as text straight through mysql2
   * on its own pool — no Sequelize, no app code. Median of 5 after a warm-up.
   */
  log_page_bare_ms: number;
  log_page_operation_bare_ms: number;
  log_page_employee_bare_ms: number;
}

export type LogResult = { figures: LogFigures; explain: string[] } | { skipped: string };

const CLIENTS = 50;
const EMPLOYEES_PER_CLIENT = 200;
const STAFF = 10;
const MONTH = '2026-10';
const COLUMNS = ['seq', 'at', 'actor_id', 'actor_name', 'actor_role', 'client_id', 'target_kind', 'target_id', 'target_label', 'operation',
  'channel', 'ip', 'user_agent', 'purpose', 'office', 'result', 'detail', 'prev_hash', 'hash'] as const;

/** The mix of operations in a busy firm's log (weights), and how each is written. */
const OPERATIONS: { op: string; weight: number; kind: 'employee' | 'file'; purpose?: boolean; channel: string }[] = [
  { op: 'vault.reveal', weight: 40, kind: 'employee', purpose: true, channel: REVEAL_CHANNEL },
  { op: 'vault.print', weight: 5, kind: 'employee', purpose: true, channel: 'web:/firm/clients/:clientId/numbers/print' },
  { op: 'vault.check', weight: 5, kind: 'employee', channel: 'web:/firm/clients/:clientId/numbers/:recordId/check' },
  { op: 'vault.register.proxy', weight: 5, kind: 'employee', channel: 'web:/firm/clients/:clientId/numbers' },
  { op: 'person.create', weight: 3, kind: 'employee', channel: 'web:/firm/clients/:clientId/people' },
  { op: 'file.download', weight: 25, kind: 'file', channel: 'web:/files/:id/download' },
  { op: 'file.upload', weight: 15, kind: 'file', channel: 'web:/files' },
  { op: 'report.download', weight: 2, kind: 'file', channel: 'web:/reports/:id/download' },
];
const WEIGHTED = OPERATIONS.flatMap((o) => Array.from({ length: o.weight }, () => o));

const sqlTime = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 23);

export async function benchLogPage(opts: { mysqlUrl: string; rows?: number; log?: (line: string) => void }): Promise<LogResult> {
  const total = opts.rows ?? 1_000_000;
  const log = opts.log ?? (() => {});
  const base = new URL(opts.mysqlUrl);
  const server = { host: base.hostname, port: Number(base.port || 3306), user: decodeURIComponent(base.username), password: decodeURIComponent(base.password) };
  let admin: mysql.Connection;
  try {
    admin = await mysql.createConnection({ ...server, connectTimeout: 3000 });
  } catch (err) {
    return { skipped: `MariaDB/MySQL at ${base.host} is unreachable (${(err as Error).message || (err as { code?: string }).code})` };
  }
  const name = `akatsuki_bench_${randomBytes(4).toString('hex')}`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-bench-log-'));
  let booted: Awaited<ReturnType<typeof boot>> | null = null;
  let pool: mysql.Pool | null = null;
  try {
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    const url = new URL(base.toString());
    url.pathname = `/${name}`;
    booted = await boot(loadConfig({ DATA_DIR: work, DATABASE_URL: url.toString(), LOG_LEVEL: 'silent' }), { logger: pino({ level: 'silent' }) });
    const svc = booted.services;
    const fillStart = performance.now();

    const user = (role: 'firm_admin' | 'firm_staff', i: number, nameOf: string) => ({
      email: `${role}${i}@bench-log.example`, name: nameOf, role, clientId: null, passwordHash: 'x', passwordChangedAt: new Date(),
      totpSecretSealed: null, totpEnabledAt: null, totpLastStep: null, disabledAt: null, lang: null,
    });
    const firmAdmin = await User.create(user('firm_admin', 0, '所長 管理者'));
    const rand = prng(1_000_000);
    const staff = await User.bulkCreate(Array.from({ length: STAFF }, (_, i) => user('firm_staff', i, personName(rand))));
    const clients: { id: string; people: { id: string; label: string }[] }[] = [];
    for (let c = 0; c < CLIENTS; c++) {
      const client = await svc.clients.create(systemContext('bench'), { code: `L${String(c + 1).padStart(3, '0')}`, name: `株式会社ログ${c + 1}`, nameKana: null, requireAdminTotp: false });
      const people = await Employee.bulkCreate(Array.from({ length: EMPLOYEES_PER_CLIENT }, (_, i) => ({
        clientId: client.id, employeeCode: employeeCode(i + 1), name: personName(rand), nameKana: null,
        departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null,
      })));
      clients.push({ id: client.id, people: people.map((p) => ({ id: p.id, label: `${p.employeeCode} ${p.name}` })) });
    }

    // The rows: in time order over the year (JST), each of a random client, seq above the head.
    pool = mysql.createPool({ ...server, database: name, connectionLimit: 2, charset: 'utf8mb4' });
    const [[head]] = await pool.query('SELECT seq, hash FROM audit_head WHERE id = 1') as unknown as [[{ seq: number | string; hash: string }]];
    const year = { start: parsePeriod('2026-01')!.start, end: parsePeriod('2026-12')!.end };
    const step = (year.end.getTime() - year.start.getTime()) / total;
    const firstSeq = Number(head.seq) + 1;
    const BATCH = 2000;
    const sql = `INSERT INTO audit_events (${COLUMNS.join(', ')}) VALUES ?`;
    const inFlight = new Set<Promise<unknown>>();
    let lastHash = head.hash;
    let nextReport = 100_000;
    for (let i = 0; i < total; i += BATCH) {
      const n = Math.min(BATCH, total - i);
      const hashes = fakeHashes(n);
      const values = Array.from({ length: n }, (_, j) => {
        const k = i + j;
        const client = clients[Math.floor(rand() * CLIENTS)]!;
        const o = pick(rand, WEIGHTED);
        const actor = staff[Math.floor(rand() * STAFF)]!;
        const person = o.kind === 'employee' ? pick(rand, client.people) : null;
        const denied = o.purpose && rand() < 0.02;
        return [
          firstSeq + k, sqlTime(new Date(Math.floor(year.start.getTime() + (k + rand()) * step))), actor.id, actor.name, 'firm_staff', client.id,
          o.kind, person ? person.id : randomUUID(), person ? person.label : `給与明細_${String(k % 10_000).padStart(4, '0')}.pdf`, o.op,
          o.channel, `192.0.2.${1 + Math.floor(rand() * 20)}`, USER_AGENT,
          o.purpose ? pick(rand, PROCEDURES) : null, o.purpose ? pick(rand, OFFICES) : null, denied ? 'denied' : 'allowed', denied ? 'reauth required' : null,
          j === 0 ? lastHash : hashes[j - 1]!, hashes[j]!,
        ];
      });
      lastHash = hashes[n - 1]!;
      const p = pool.query(sql, [values]).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= 2) await Promise.race(inFlight);
      if (i + n >= nextReport) { log(`    … ${i + n} rows (${((performance.now() - fillStart) / 1000).toFixed(0)} s)`); nextReport += 100_000; }
    }
    await Promise.all(inFlight);
    await pool.query('UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1', [firstSeq + total - 1, lastHash]);
    await pool.query('ANALYZE TABLE audit_events');
    const fillS = (performance.now() - fillStart) / 1000;

    // One client's month, as the /audit page asks for it.
    const client = clients[7]!;
    const month = parsePeriod(MONTH)!;
    const plain: LogFilter = { clientId: client.id, from: month.startDate, to: month.endDate, sort: 'at', desc: true };
    // The employee: the person of the newest employee row in that month (so the filter finds some).
    const newest = await queryLog(firmAdmin, { ...plain, operation: 'vault.reveal' }, 1);
    const code = newest.rows.find((r) => r.targetKind === 'employee')?.targetLabel?.split(' ')[0];
    if (!code) throw new Error('no employee row in the measured month');
    const cases: [string, LogFilter][] = [
      ['plain', plain],
      ['operation', { ...plain, operation: 'vault.reveal' }],
      ['employee', { ...plain, employeeCode: code }],
    ];
    const timings: Record<string, number> = {};
    const bareTimings: Record<string, number> = {};
    let monthRows = 0;
    const explain: string[] = [];
    for (const [label, f] of cases) {
      const first = await queryLog(firmAdmin, f, 1); // warm-up
      if (first.total === 0 || first.rows.length === 0) throw new Error(`the ${label} log page found no rows`);
      if (label === 'plain') monthRows = first.total;
      const ms: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now();
        await queryLog(firmAdmin, f, 1);
        ms.push(performance.now() - t0);
      }
      timings[label] = median(ms);
      // The SQL the call sends, and how the server runs it.
      const sent: string[] = [];
      // (Sequelize reads options.logging on every query; its type does not list the field.)
      const options = (booted.sequelize as unknown as { options: { logging: unknown } }).options;
      const before = options.logging;
      options.logging = (s: string) => { sent.push(s.replace(/^Executing \([^)]*\):\s*/, '')); };
      try { await queryLog(firmAdmin, f, 1); } finally { options.logging = before; }
      const statements = sent.filter((q) => /FROM `audit_events`/.test(q));
      if (statements.length === 0) throw new Error(`the ${label} log page sent no statement on audit_events`);
      const bare = () => Promise.all(statements.map((q) => pool!.query(q)));
      await bare(); // warm-up
      const bareMs: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now();
        await bare();
        bareMs.push(performance.now() - t0);
      }
      bareTimings[label] = median(bareMs);
      for (const s of statements) {
        const [plan] = await pool.query(`EXPLAIN ${s}`) as unknown as [{ key: string | null; rows: number; Extra: string | null; type: string }[]];
        const what = /COUNT\(/i.test(s) ? 'count' : 'page ';
        explain.push(`${label.padEnd(9)} ${what}: ${plan.map((p) => `${p.type} on ${p.key ?? '(no index)'}, ~${p.rows} rows${p.Extra ? `, ${p.Extra}` : ''}`).join(' | ')}`);
      }
    }
    return {
      figures: {
        log_rows: total,
        log_clients: CLIENTS,
        log_fill_s: round(fillS, 1),
        log_month_rows: monthRows,
        log_page_ms: round(timings.plain!, 1),
        log_page_operation_ms: round(timings.operation!, 1),
        log_page_employee_ms: round(timings.employee!, 1),
        log_page_bare_ms: round(bareTimings.plain!, 2),
        log_page_operation_bare_ms: round(bareTimings.operation!, 2),
        log_page_employee_bare_ms: round(bareTimings.employee!, 2),
      },
      explain,
    };
  } finally {
    await pool?.end().catch(() => {});
    await booted?.close().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => {});
    await admin.end().catch(() => {});
    fs.rmSync(work, { recursive: true, force: true });
  }
}
