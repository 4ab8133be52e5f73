import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import request from 'supertest';
import ts from 'typescript';
import type { Sequelize } from 'sequelize';
import { sharedDatabase } from '../support/harness';
import { csrfIn } from '../support/browser';
import { ROOT, runScript } from '../support/run-cli';
import { openDatabase } from '../../server/db/database';

/**
 * The portal as an operator meets it: `npm start` on an empty DATA_DIR (the first-run setup link),
 * `npm run cli -- setup:link` and `--help`, and what `npm run demo` leaves for every demo client.
 */

/** A database value of a DATE column as a Date (MySQL hands back a Date; SQLite the text Sequelize stored). */
function asDate(v: unknown): Date {
  if (v instanceof Date) return v;
  const d = new Date(String(v).replace(' ', 'T').replace(/ ?\+00:00$/, 'Z'));
  if (Number.isNaN(d.getTime())) throw new Error(`not a date: ${String(v)}`);
  return d;
}

/** The portal's own database of a data folder, opened from the test process (raw SQL only: the models belong to the harnesses). */
function openData(dataDir: string, databaseUrl: string | null): Promise<Sequelize> {
  return openDatabase({ databaseUrl, dataDir, sqliteFile: path.join(dataDir, 'portal.sqlite') });
}

/** The command names scripts/cli.ts registers (`program.command('name …')`), read from its source. */
function cliCommandNames(): string[] {
  const file = path.join(ROOT, 'scripts/cli.ts');
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const names: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'command') {
      const first = node.arguments[0];
      if (first && ts.isStringLiteralLike(first)) names.push(first.text.trim().split(/\s+/)[0]!);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return names;
}

/** `npm start`, as an operator types it, in its own process group (npm → tsx → node) so all of it can be stopped. */
interface Started { child: ChildProcess; url: string; output(): string }

function npmStart(env: NodeJS.ProcessEnv): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let settled = false;
    const timer = setTimeout(() => { if (!settled) { settled = true; stopGroup(child).finally(() => reject(new Error(`npm start: no setup link in 60 s:\n${out}`))); } }, 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const listening = /listening on http:\/\/[^:\s]+:(\d+)/.exec(out);
      // Ready once it listens and has printed its setup link (printed right after listening).
      if (listening && /\/setup\/\S+/.test(out) && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ child, url: `http://127.0.0.1:${listening[1]}`, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!settled) { settled = true; reject(new Error(`npm start exited (${signal ?? code}) before it was ready:\n${out}`)); }
    });
  });
}

/** SIGTERM to the process group this test started (SIGKILL after 8 s); resolves once every pipe is closed. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined) return;
  const closed = new Promise<void>((r) => { if (child.exitCode !== null || child.signalCode !== null) r(); child.once('close', () => r()); });
  const signal = (s: NodeJS.Signals) => { try { process.kill(-child.pid!, s); } catch { /* already gone */ } };
  signal('SIGTERM');
  const t = setTimeout(() => signal('SIGKILL'), 8000);
  await closed;
  clearTimeout(t);
}

describe('npm start on an empty DATA_DIR: the first-run setup link; the CLI', function () {
  this.timeout(120_000);
  const PUBLIC_URL = 'http://portal.example.test';
  let dataDir: string;
  let db: { url: string | null; drop: () => Promise<void> };
  let server: Started;
  let env: NodeJS.ProcessEnv;
  let printedToken: string;
  let help: { code: number | null; stdout: string; stderr: string };

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-start-'));
    db = await sharedDatabase();
    env = {
      PATH: process.env.PATH, HOME: process.env.HOME, npm_config_update_notifier: 'false',
      DATA_DIR: dataDir, PUBLIC_URL, LOG_LEVEL: 'info', HOST: '127.0.0.1',
      ...(db.url ? { DATABASE_URL: db.url } : {}),
    };
    // `--help` needs no database: asked while the portal starts, to keep the suite short.
    [server, help] = await Promise.all([npmStart({ ...env, PORT: '0' }), runScript('scripts/cli.ts', ['--help'], env)]);
    process.on('exit', killLeftOver);
  });
  // Should mocha end without running `after`, the portal this suite started must not outlive it.
  const killLeftOver = () => { try { if (server?.child.pid) process.kill(-server.child.pid, 'SIGKILL'); } catch { /* gone */ } };
  after(async () => {
    process.off('exit', killLeftOver);
    if (server) await stopGroup(server.child);
    await db?.drop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints a one-time setup URL under PUBLIC_URL, and opening it answers 200 with the setup form', async () => {
    const out = server.output();
    const printed = [...out.matchAll(/(\S+)\/setup\/([A-Za-z0-9_-]{20,})/g)];
    expect(printed, out).to.have.length(1);
    expect(printed[0]![1]).to.equal(PUBLIC_URL);
    printedToken = printed[0]![2]!;
    // The embedded defaults filled the empty folder: its database (SQLite unless DATABASE_URL) and its master key.
    expect(fs.existsSync(path.join(dataDir, 'master.key'))).to.equal(true);
    expect(fs.existsSync(path.join(dataDir, 'portal.sqlite'))).to.equal(!db.url);
    const page = await request(server.url).get(`/setup/${printedToken}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('初期設定').and.contain('name="firmName"');
    expect((await request(server.url).get('/setup/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status, 'a made-up link').to.equal(404);
  });

  it('the link lives one hour: with its expiry moved 55 minutes back it still opens, moved more than an hour back it answers 404', async () => {
    const sequelize = await openData(dataDir, db.url);
    try {
      const [rows] = await sequelize.query(`SELECT id, expires_at, created_at FROM one_time_tokens WHERE purpose = 'setup' AND used_at IS NULL`) as [{ id: number; expires_at: unknown; created_at: unknown }[], unknown];
      expect(rows).to.have.length(1);
      const token = rows[0]!;
      const expires = asDate(token.expires_at);
      const lifetime = expires.getTime() - asDate(token.created_at).getTime();
      expect(lifetime).to.be.within(3600_000 - 2000, 3600_000 + 2000);
      const moveBack = (minutes: number) => sequelize.query('UPDATE one_time_tokens SET expires_at = :at WHERE id = :id', { replacements: { id: token.id, at: new Date(expires.getTime() - minutes * 60_000) } });
      await moveBack(55);
      expect((await request(server.url).get(`/setup/${printedToken}`)).status).to.equal(200);
      await moveBack(61);
      expect((await request(server.url).get(`/setup/${printedToken}`)).status).to.equal(404);
    } finally { await sequelize.close(); }
  });

  it('`npm run cli -- setup:link` prints a fresh link while no firm admin exists, and refuses once one does', async () => {
    const run = await runScript('scripts/cli.ts', ['setup:link'], env);
    expect(run.code, run.stderr).to.equal(0);
    const m = new RegExp(`^${PUBLIC_URL.replace(/\./g, '\\.')}/setup/([A-Za-z0-9_-]{20,})\\s`).exec(run.stdout);
    expect(m, run.stdout).to.not.equal(null);
    const fresh = m![1]!;
    expect(fresh).to.not.equal(printedToken);
    const agent = request.agent(server.url);
    const form = await agent.get(`/setup/${fresh}`);
    expect(form.status).to.equal(200);
    // The link is the real thing: it creates the firm and its first admin.
    const done = await agent.post(`/setup/${fresh}`).type('form').send({
      _csrf: csrfIn(form.text), firmName: '暁社会保険労務士事務所', adminName: '暁 太郎', email: 'admin@example.jp', password: 'a long enough password for setup',
    });
    expect(done.status, done.text).to.equal(303);
    const after = await runScript('scripts/cli.ts', ['setup:link'], env);
    expect(after.code).to.equal(1);
    expect(after.stderr).to.contain('A firm admin exists already');
    expect(after.stdout).to.not.match(/\/setup\//);
  });

  it('`npm run cli -- --help` names every command scripts/cli.ts registers', async () => {
    const names = cliCommandNames();
    // The reading of the source found the commands (not an empty or partial list).
    expect(names).to.include.members(['audit:verify', 'setup:link', 'keys:status']);
    expect(names.length).to.be.greaterThan(5);
    expect(new Set(names).size, 'each command registered once').to.equal(names.length);
    expect(help.code, help.stderr).to.equal(0);
    const listed = help.stdout.slice(help.stdout.indexOf('Commands:'));
    expect(help.stdout).to.contain('Commands:');
    const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const missing = names.filter((n) => !new RegExp(`^\\s+${escape(n)}(\\s|$)`, 'm').test(listed));
    expect(missing, help.stdout).to.deep.equal([]);
  });
});

/** Last month in Japan time, as the reports name it (2026-10). */
function lastMonth(): string {
  const jst = new Date(Date.now() + 9 * 3600_000);
  return new Date(Date.UTC(jst.getUTCFullYear(), jst.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
}

describe('npm run demo: every demo client is ready to try', function () {
  this.timeout(90_000);
  let dataDir: string;
  let db: { url: string | null; drop: () => Promise<void> };
  let sequelize: Sequelize;
  type Row = Record<string, unknown>;
  const q = async (sql: string, replacements: Record<string, unknown> = {}) => (await sequelize.query(sql, { replacements }))[0] as Row[];

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-demo-'));
    db = await sharedDatabase();
    const out = await runScript('scripts/demo.ts', [], { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, ...(db.url ? { DATABASE_URL: db.url } : {}) }, { timeoutMs: 80_000 });
    if (out.code !== 0) throw new Error(`demo failed (${out.code}):\n${out.stderr}`);
    sequelize = await openData(dataDir, db.url);
  });
  after(async () => {
    await sequelize?.close();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('gives every demo client at least one establishment, one department and one assigned staff member', async () => {
    const clients = await q('SELECT id, code FROM clients ORDER BY code');
    expect(clients.map((c) => c.code)).to.deep.equal(['MINATO', 'SAKURA']);
    for (const c of clients) {
      const count = async (table: string) => Number((await q(`SELECT COUNT(*) AS n FROM ${table} WHERE client_id = :id`, { id: c.id }))[0]!.n);
      expect(await count('establishments'), `${String(c.code)} establishments`).to.be.at.least(1);
      expect(await count('departments'), `${String(c.code)} departments`).to.be.at.least(1);
      const staff = await q(`SELECT u.role FROM staff_assignments s JOIN users u ON u.id = s.user_id WHERE s.client_id = :id`, { id: c.id });
      expect(staff.map((s) => s.role), `${String(c.code)} staff assignments`).to.include('firm_staff');
    }
  });

  it('leaves past accesses for every demo client: allowed vault.reveal and vault.print rows by its assigned staff, with purpose and office', async () => {
    for (const c of await q('SELECT id, code FROM clients')) {
      const assigned = (await q('SELECT user_id FROM staff_assignments WHERE client_id = :id', { id: c.id })).map((r) => r.user_id);
      for (const operation of ['vault.reveal', 'vault.print']) {
        const rows = await q(`SELECT actor_id, purpose, office FROM audit_events WHERE client_id = :id AND operation = :operation AND result = 'allowed'`, { id: c.id, operation });
        expect(rows.length, `${String(c.code)} ${operation}`).to.be.at.least(1);
        for (const r of rows) {
          expect(assigned, `${String(c.code)} ${operation} by an assigned member`).to.include(r.actor_id);
          expect([r.purpose, r.office].every((v) => typeof v === 'string' && v.length > 0), `${String(c.code)} ${operation} purpose and office`).to.equal(true);
        }
      }
    }
  });

  it("leaves a finished access report for last month for EVERY demo client", async () => {
    const period = lastMonth();
    const clients = await q('SELECT id, code FROM clients ORDER BY code');
    expect(clients).to.have.length(2);
    for (const c of clients) {
      const reports = await q('SELECT status, finished_at, sha256, object_id FROM access_reports WHERE client_id = :id AND period = :period', { id: c.id, period });
      expect(reports.map((r) => r.status), `${String(c.code)} report for ${period}`).to.deep.equal(['ready']);
      const r = reports[0]!;
      expect(r.finished_at, `${String(c.code)} finished`).to.not.equal(null);
      expect(String(r.sha256)).to.match(/^[0-9a-f]{64}$/);
      expect(r.object_id, `${String(c.code)} PDF stored`).to.be.a('string');
    }
  });
});
