/**
 * The disposal benchmark: 廃棄 of 10,000 My Numbers of one client, certificate included, timed end to
 * end exactly as the portal runs it — services.disposal.request (a client admin names every record
 * and why) → services.disposal.approve (the firm admin, another person) → services.disposal.execute
 * (crypto-erase in batches, object deletion, verification against the database, then the one signed
 * 廃棄・削除証明書 listing the 10,000 items over many pages, sealed under the firm's key and stored).
 * The portal is booted in-process on a fresh SQLite data folder, which is removed after.
 *
 * The numbers are bulk-inserted, not registered one by one through the vault, but they are real:
 * valid check digits, sealed with sealNumber under the client's number key (bound to the person) and
 * blind-indexed under the client's index key, exactly the columns vault.register writes; deletion
 * date in the past. One row is opened again before the run to prove it.
 *
 * For orientation every SQL statement of the timed steps is counted and timed (sequelize.query is
 * wrapped: the statement plus building its result), grouped by step and by statement kind and table,
 * and execute() is split at its own audit rows (disposal.erase … disposal.certificate).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Op } from 'sequelize';
import { PDFDocument } from 'pdf-lib';
import { pino } from 'pino';
import sqlite3 from 'sqlite3';
import { loadConfig } from '../../server/config';
import { boot } from '../../server/boot';
import { systemContext, type ActorContext } from '../../server/audit';
import { AuditEvent, DisposalCertificate, DisposalItem, Employee, Firm, NumberRecord, User } from '../../server/db/models';
import { blindIndex, openNumber, sealNumber } from '../../server/crypto/number-cipher';
import { checkDigit } from '../../server/vault/my-number';
import { personName, prng, round } from './fake-audit';

export interface DisposalFigures {
  disposal_numbers: number;
  /** request + approve + execute, wall time (target < 60 s) */
  disposal_total_s: number;
  disposal_request_s: number;
  disposal_approve_s: number;
  disposal_execute_s: number;
  /** execute() split at its audit rows: erase batches / object deletion / verification / certificate (data, PDF, sign, seal, store, commit) */
  disposal_erase_s: number;
  disposal_delete_s: number;
  disposal_verify_s: number;
  disposal_certificate_s: number;
  disposal_certificate_pages: number;
  disposal_certificate_kib: number;
  /** records of the client still holding a ciphertext afterwards (must be 0) */
  disposal_numbers_left: number;
  /** certificates in the database afterwards (must be 1) */
  disposal_certificates: number;
  /** SQL statements run by the timed steps */
  disposal_sql_statements: number;
  /**
   * The ceiling: the same rows' ciphertexts and blind indexes erased by one bare SQL statement,
   * `UPDATE number_records SET sealed_number = NULL, blind_index = NULL WHERE client_id = ?`, on a
   * copy of the same database (VACUUM INTO, taken just before the timed steps; WAL as the portal
   * runs it) through sqlite3 directly — no app code, no certificate, no audit rows.
   */
  disposal_bare_erase_s: number;
  /** the same copy: merely reading the rows (SELECT id, sealed_number … WHERE client_id = ?), for orientation */
  disposal_bare_read_s: number;
  /** making the firm's signing identity, once per database (not part of any figure) */
  disposal_signer_s: number;
  /** time to bulk-create the employees and sealed numbers (not part of any figure) */
  disposal_seed_s: number;
}

/** One line of the SQL census: a step, a statement kind on a table, how many and how long in all. */
export interface SqlLine { step: string; kind: string; count: number; ms: number }

const CHUNK = 1000;
const REASON = '保存期間満了';
const LEAVE_DATE = '2018-03-31';
const DELETION_DATE = '2025-04-01';

/** `SELECT number_records`, `UPDATE disposal_items`, `BEGIN`, …: what a statement does to which table. */
function statementKind(sql: string): string {
  const s = sql.trimStart();
  const m = /^(SELECT)\b[\s\S]*?\bFROM\s+[`"]?(\w+)/i.exec(s)
    ?? /^(INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+[`"]?(\w+)/i.exec(s);
  if (m) return `${m[1]!.split(/\s+/)[0]!.toUpperCase()} ${m[2]}`;
  return s.split(/\s+/, 1)[0]!.toUpperCase();
}

export async function benchDisposal(opts: { numbers?: number } = {}): Promise<{ figures: DisposalFigures; sql: SqlLine[] }> {
  const count = opts.numbers ?? 10_000;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-bench-disposal-'));
  const booted = await boot(loadConfig({ DATA_DIR: work, LOG_LEVEL: 'silent', PUBLIC_URL: 'http://portal.bench' }), { logger: pino({ level: 'silent' }) });
  try {
    const svc = booted.services;
    if (!(await Firm.findByPk(1))) await Firm.create({ id: 1, name: '暁社会保険労務士事務所' });
    const client = await svc.clients.create(systemContext('bench'), { code: 'DSP1', name: '株式会社ベンチ廃棄', nameKana: null, requireAdminTotp: false });
    const person = { passwordHash: 'x', passwordChangedAt: new Date(), totpSecretSealed: null, totpEnabledAt: null, totpLastStep: null, disabledAt: null, lang: null };
    const requester = await User.create({ ...person, email: 'admin@bench-disposal.example', name: '人事 担当', role: 'client_admin', clientId: client.id });
    const approver = await User.create({ ...person, email: 'boss@bench-disposal.example', name: '暁 所長', role: 'firm_admin', clientId: null });
    const ctxOf = (u: User): ActorContext => ({ actorId: u.id, actorName: u.name, actorRole: u.role, ip: '127.0.0.1', userAgent: 'bench', channel: 'bench:disposal' });

    // 10,000 former employees, each with a genuinely sealed number due for deletion.
    const seedStart = performance.now();
    const numberKey = await svc.clientKeys.current(client.id, 'numbers');
    const indexKey = await svc.clientKeys.current(client.id, 'index');
    const rand = prng(20261201);
    const refs: { kind: 'number'; id: string }[] = [];
    for (let i = 0; i < count; i += CHUNK) {
      const n = Math.min(CHUNK, count - i);
      const employees = await Employee.bulkCreate(Array.from({ length: n }, (_, j) => ({
        clientId: client.id, employeeCode: `E${String(i + j + 1).padStart(5, '0')}`, name: personName(rand), nameKana: null,
        departmentId: null, establishmentId: null, hireDate: null, leaveDate: LEAVE_DATE, userId: null,
      })));
      const records = await NumberRecord.bulkCreate(employees.map((e, j) => {
        const first11 = String(30_000_000_000 + (i + j) * 7_919);
        const number = `${first11}${checkDigit(first11)}`;
        return {
          clientId: client.id, personKind: 'employee' as const, personId: e.id, keyVersion: numberKey.version, indexVersion: indexKey.version,
          sealedNumber: sealNumber(numberKey.key, { clientId: client.id, personKind: 'employee', personId: e.id, keyVersion: numberKey.version }, number),
          blindIndex: blindIndex(indexKey.key, number), lastTwo: number.slice(-2), issueDate: null, source: 'import' as const, status: 'registered' as const,
          personConfirmedAt: null, adminConfirmedAt: null, idFileId: null, deletionDate: DELETION_DATE, registeredBy: null,
        };
      }));
      for (const r of records) refs.push({ kind: 'number', id: r.id });
    }
    const seedS = (performance.now() - seedStart) / 1000;
    // One row read back and opened: the seed is what the vault would have written.
    const probe = (await NumberRecord.findOne({ where: { clientId: client.id }, order: [['createdAt', 'DESC']] }))!;
    const opened = openNumber(numberKey.key, { clientId: client.id, personKind: probe.personKind, personId: probe.personId, keyVersion: probe.keyVersion }, probe.sealedNumber!);
    if (blindIndex(indexKey.key, opened) !== probe.blindIndex || checkDigit(opened.slice(0, 11)) !== Number(opened[11])) throw new Error('a seeded number does not open to itself');
    if ((await NumberRecord.count({ where: { clientId: client.id, sealedNumber: { [Op.ne]: null } } })) !== count) throw new Error('not every number was seeded');

    // A running portal has made its signing identity long ago (first report or certificate): not timed.
    const signerStart = performance.now();
    await svc.pdf.trustedCertificatePem();
    const signerS = (performance.now() - signerStart) / 1000;

    // The ceiling, on a copy of the database as it stands now (the copy is removed with the folder).
    const copy = path.join(work, 'bare-copy.sqlite');
    await booted.sequelize.query(`VACUUM INTO '${copy.replace(/'/g, "''")}'`);
    const bareDb = await new Promise<sqlite3.Database>((resolve, reject) => { const d = new sqlite3.Database(copy, (err) => (err ? reject(err) : resolve(d))); });
    const run = (sql: string, params: unknown[] = []) => new Promise<number>((resolve, reject) => {
      bareDb.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) { if (err) reject(err); else resolve(this.changes); });
    });
    const all = (sql: string, params: unknown[] = []) => new Promise<unknown[]>((resolve, reject) => { bareDb.all(sql, params, (err, rows) => (err ? reject(err) : resolve(rows))); });
    let bareEraseS: number;
    let bareReadS: number;
    try {
      await run('PRAGMA journal_mode = WAL');
      const r0 = performance.now();
      const read = await all('SELECT id, sealed_number, blind_index FROM number_records WHERE client_id = ?', [client.id]);
      bareReadS = (performance.now() - r0) / 1000;
      const e0 = performance.now();
      const erased = await run('UPDATE number_records SET sealed_number = NULL, blind_index = NULL WHERE client_id = ?', [client.id]);
      bareEraseS = (performance.now() - e0) / 1000;
      if (read.length !== count || erased !== count) throw new Error(`the bare ceiling read ${read.length} and erased ${erased} rows, ${count} expected`);
    } finally {
      await new Promise<void>((resolve) => bareDb.close(() => resolve()));
    }

    // The SQL census: sequelize.query wrapped for the timed steps only.
    const census = new Map<string, SqlLine>();
    let step = '';
    const seq = booted.sequelize as unknown as { query: (...args: unknown[]) => Promise<unknown> };
    const query = seq.query;
    seq.query = async function (this: unknown, ...args: unknown[]) {
      const sql = typeof args[0] === 'string' ? args[0] : String((args[0] as { query?: unknown } | undefined)?.query ?? '');
      const key = `${step}\u0000${statementKind(sql)}`;
      const t0 = performance.now();
      try {
        return await query.apply(this, args);
      } finally {
        const line = census.get(key) ?? { step, kind: statementKind(sql), count: 0, ms: 0 };
        line.count++;
        line.ms += performance.now() - t0;
        census.set(key, line);
      }
    };

    const t0 = performance.now();
    let t1 = t0;
    let t2 = t0;
    let req;
    try {
      step = 'request';
      req = await svc.disposal.request(ctxOf(requester), requester, client.id, refs, REASON);
      step = 'approve';
      t1 = performance.now();
      await svc.disposal.approve(ctxOf(approver), approver, req.id);
      step = 'execute';
      t2 = performance.now();
      const cert = await svc.disposal.execute(req.id);
      if (!cert) throw new Error('execute() issued no certificate');
    } finally {
      seq.query = query;
    }
    const t3 = performance.now();

    // execute() split at its audit rows (each written as its step ends).
    const rows = await AuditEvent.findAll({ where: { targetId: req.id, operation: { [Op.like]: 'disposal.%' } }, order: [['seq', 'ASC']] });
    const atOf = (op: string) => {
      const hits = rows.filter((r) => r.operation === op);
      if (!hits.length) throw new Error(`no ${op} audit row`);
      return hits[hits.length - 1]!.at.getTime();
    };
    // Audit rows carry wall-clock milliseconds; the step starts are taken on the same clock.
    const execStartWall = Date.now() - (performance.now() - t2);
    const erasedAt = atOf('disposal.erase');
    const deletedAt = atOf('disposal.delete');
    const verifiedAt = atOf('disposal.verify');
    const execEndWall = Date.now() - (performance.now() - t3);

    // What is left: no ciphertext, no index; exactly one certificate; every item verified.
    const left = await NumberRecord.count({ where: { clientId: client.id, [Op.or]: [{ sealedNumber: { [Op.ne]: null } }, { blindIndex: { [Op.ne]: null } }] } });
    const certificates = await DisposalCertificate.count();
    const verified = await DisposalItem.count({ where: { requestId: req.id, state: 'verified' } });
    if (verified !== count) throw new Error(`${verified} of ${count} items verified`);
    const cert = (await DisposalCertificate.findOne({ where: { requestId: req.id } }))!;
    const pdf = await svc.disposal.certificatePdf(cert);
    const pages = (await PDFDocument.load(pdf, { updateMetadata: false })).getPageCount();

    const sql = [...census.values()];
    return {
      figures: {
        disposal_numbers: count,
        disposal_total_s: round((t3 - t0) / 1000),
        disposal_request_s: round((t1 - t0) / 1000),
        disposal_approve_s: round((t2 - t1) / 1000, 3),
        disposal_execute_s: round((t3 - t2) / 1000),
        disposal_erase_s: round((erasedAt - execStartWall) / 1000),
        disposal_delete_s: round((deletedAt - erasedAt) / 1000),
        disposal_verify_s: round((verifiedAt - deletedAt) / 1000),
        disposal_certificate_s: round((execEndWall - verifiedAt) / 1000),
        disposal_certificate_pages: pages,
        disposal_certificate_kib: round(pdf.length / 1024, 1),
        disposal_numbers_left: left,
        disposal_certificates: certificates,
        disposal_sql_statements: sql.reduce((n, l) => n + l.count, 0),
        disposal_bare_erase_s: round(bareEraseS, 3),
        disposal_bare_read_s: round(bareReadS, 3),
        disposal_signer_s: round(signerS),
        disposal_seed_s: round(seedS, 1),
      },
      sql,
    };
  } finally {
    await booted.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
