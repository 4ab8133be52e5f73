import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import ts from 'typescript';
import { pino } from 'pino';
import { simpleParser } from 'mailparser';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { SecBrowser, proxiedHarness } from '../support/security';
import { downloadFile, pdfBytes, sha256, uploadFiles } from '../support/files';
import { ROOT } from '../support/run-cli';
import { loadConfig } from '../../server/config';
import { createStorage } from '../../storage-adapters';
import { AuditEvent, OutboxMail, StoredFile, type Client } from '../../server/db/models';

/**
 * Foundation (issue 2) and file-exchange (issue 3) promises that had no test of their own:
 * .env.example documents exactly the settings the config reads; the audit rows of a password
 * change and a sign-in; /healthz when storage is down; a file whose stored SHA-256 no longer
 * matches; a notice mail written to the outbox folder when no SMTP server is configured.
 */

/**
 * The environment variables server/config.ts reads, taken from its source: the keys of the zod
 * schema (`const schema = z.object({...})`), the keys of S3_REQUIRED, and any `cleaned.X` read
 * directly in loadConfig. Parsed with the TypeScript compiler, so a new setting is found wherever
 * it sits in the object, whatever its formatting.
 */
function settingsTheConfigReads(): string[] {
  const file = path.join(ROOT, 'server/config.ts');
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const names = new Set<string>();
  const keysOf = (o: ts.ObjectLiteralExpression) => {
    for (const p of o.properties) {
      if (p.name && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) names.add(p.name.text);
    }
  };
  const unwrap = (e: ts.Expression): ts.Expression => (ts.isAsExpression(e) || ts.isParenthesizedExpression(e) || ts.isSatisfiesExpression(e) ? unwrap(e.expression) : e);
  let schemaFound = false;
  const visit = (node: ts.Node) => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
      const init = unwrap(node.initializer);
      if (node.name.text === 'schema' && ts.isCallExpression(init) && init.expression.getText(source) === 'z.object' && init.arguments[0] && ts.isObjectLiteralExpression(init.arguments[0])) {
        schemaFound = true;
        keysOf(init.arguments[0]);
      }
      if (node.name.text === 'S3_REQUIRED' && ts.isObjectLiteralExpression(init)) keysOf(init);
    }
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'cleaned') names.add(node.name.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (!schemaFound) throw new Error('server/config.ts: no `const schema = z.object({...})` found; this test reads the settings from it');
  return [...names].sort();
}

/** Every setting .env.example names, set (`KEY=value`) or shown commented out (`# KEY=value`). */
function settingsTheExampleNames(text: string): string[] {
  return text.split('\n').map((l) => /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(l)?.[1]).filter((k): k is string => Boolean(k));
}

describe('.env.example documents every setting the configuration reads', () => {
  const examplePath = path.join(ROOT, '.env.example');

  it('names exactly the settings of the config schema, each once', () => {
    const read = settingsTheConfigReads();
    // The derivation itself found the schema (not an empty or partial list).
    expect(read).to.include.members(['PORT', 'DATA_DIR', 'DATABASE_URL', 'MASTER_KEY_FILE', 'SMTP_URL', 'S3_BUCKET', 'VAULT_LINK_DAYS', 'LOG_EXPORT_MAX_ROWS']);
    const named = settingsTheExampleNames(fs.readFileSync(examplePath, 'utf8'));
    expect(named.filter((k, i) => named.indexOf(k) !== i), 'named twice').to.deep.equal([]);
    expect([...named].sort()).to.deep.equal(read);
  });

  it('the values it sets are the defaults (LOG_EXPORT_MAX_ROWS among them), each setting under a comment', () => {
    const text = fs.readFileSync(examplePath, 'utf8');
    const example = dotenv.parse(text);
    expect(example.LOG_EXPORT_MAX_ROWS).to.equal(String(loadConfig({}, '/srv/portal').logExportMaxRows));
    // Copied as it is, the file changes nothing: every value it sets is the one the portal uses anyway.
    expect(loadConfig(example, '/srv/portal')).to.deep.equal(loadConfig({}, '/srv/portal'));
    // The file's style: each block of settings follows a comment saying what they do.
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('LOG_EXPORT_MAX_ROWS='));
    let above = at - 1;
    while (above >= 0 && /^[A-Z][A-Z0-9_]*=/.test(lines[above]!)) above--;
    expect(lines[above], 'a comment above LOG_EXPORT_MAX_ROWS').to.match(/^# \S/);
  });
});

describe('Audit rows of a password change and of a web sign-in', () => {
  let h: Harness;
  before(async () => { h = await proxiedHarness(); });
  after(async () => { await h.close(); });

  it('a password change writes exactly one allowed auth.password.change row for the user', async () => {
    const u = await makeUser(h, { role: 'client_admin', clientId: (await makeClient(h)).id, totp: false, name: '変更 する人' });
    const b = new SecBrowser(h.portal.app);
    await b.login(u);
    expect((await b.reauth(u)).status).to.equal(303);
    const changes = () => AuditEvent.findAll({ where: { operation: 'auth.password.change', targetId: u.user.id } });
    // A refused change (wrong current password) changes nothing and is no change in the log.
    const refused = await b.post('/account/password', { current: 'not my password at all', password: 'violet tramway harbour 8841', confirm: 'violet tramway harbour 8841' });
    expect(refused.status).to.equal(400);
    expect(await changes()).to.have.length(0);

    const res = await b.post('/account/password', { current: u.password, password: 'violet tramway harbour 8841', confirm: 'violet tramway harbour 8841' });
    expect(res.status, res.text).to.equal(303);
    const rows = await changes();
    expect(rows.map((r) => [r.result, r.actorId, r.targetKind, r.clientId])).to.deep.equal([['allowed', u.user.id, 'user', u.user.clientId]]);
    // The change is real: the new password signs in.
    const again = new SecBrowser(h.portal.app);
    expect((await again.post('/login', { email: u.email, password: 'violet tramway harbour 8841' })).status).to.equal(303);
  });

  it("a web sign-in's audit row records that request's User-Agent and IP", async () => {
    const staff = await makeUser(h, { role: 'firm_staff', name: '署名 職員' });
    const loginsOf = () => AuditEvent.findAll({ where: { operation: 'auth.login', result: 'allowed', actorId: staff.user.id }, order: [['seq', 'ASC']] });
    // Two sign-ins of the same user from two browsers: each row holds its own request's values.
    const first = new SecBrowser(h.portal.app, { ip: '198.51.100.23', headers: { 'User-Agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) AkatsukiTest/1' } });
    await first.login(staff);
    const second = new SecBrowser(h.portal.app, { ip: '203.0.113.77', headers: { 'User-Agent': 'Mozilla/5.0 (Windows NT 10.0) AkatsukiTest/2' } });
    await second.login(staff);
    const rows = await loginsOf();
    expect(rows.map((r) => [r.ip, r.userAgent])).to.deep.equal([
      ['198.51.100.23', 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) AkatsukiTest/1'],
      ['203.0.113.77', 'Mozilla/5.0 (Windows NT 10.0) AkatsukiTest/2'],
    ]);
    expect(rows[0]!.channel).to.match(/^web:/);
  });
});

describe('GET /healthz when storage cannot be reached', () => {
  let h: Harness;
  let storageDown = false;
  before(async () => {
    h = await createHarness({}, {
      storage: (config) => {
        const real = createStorage(config);
        return { ...real, kind: real.kind, check: async () => { if (storageDown) throw new Error('storage unreachable (test)'); return real.check(); } };
      },
    });
  });
  after(async () => { await h.close(); });

  it('answers 503 naming storage as unavailable (and 200 once it answers again)', async () => {
    const ok = await new TestBrowser(h.portal.app).get('/healthz');
    expect([ok.status, ok.body]).to.deep.equal([200, { status: 'ok', database: 'ok', storage: 'ok', sealed: false }]);
    storageDown = true;
    try {
      const down = await new TestBrowser(h.portal.app).get('/healthz');
      expect(down.status).to.equal(503);
      expect(down.body).to.deep.equal({ status: 'unavailable', database: 'ok', storage: 'unavailable', sealed: false });
    } finally { storageDown = false; }
    expect((await new TestBrowser(h.portal.app).get('/healthz')).status).to.equal(200);
  });
});

describe('A downloaded file whose stored SHA-256 no longer matches', () => {
  let h: Harness;
  let client: Client;
  let clientAdmin: MadeUser;
  let staff: MadeUser;
  const logLines: string[] = [];
  const integrityErrors = (fileId: string) => logLines.map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.level === 50 && l.fileId === fileId && l.msg === 'stored file failed its integrity check');

  before(async () => {
    h = await createHarness({}, { logger: pino({ level: 'info' }, { write: (line: string) => { logLines.push(line); } }) });
    client = await makeClient(h, { code: 'SHA1', name: '株式会社ハッシュ' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
  });
  after(async () => { await h.close(); });

  async function sendAndTamper(name: string, data: Buffer): Promise<{ file: StoredFile; b: TestBrowser }> {
    const sender = new TestBrowser(h.portal.app);
    await sender.login(clientAdmin);
    expect((await uploadFiles(sender, { direction: 'to_firm', category: 'other' }, [{ name, data }])).status).to.equal(200);
    const file = (await StoredFile.findOne({ where: { clientId: client.id, displayName: name } }))!;
    expect(file.sha256).to.equal(sha256(data));
    const b = new TestBrowser(h.portal.app);
    await b.login(staff);
    return { file, b };
  }

  it('a one-segment file is refused with the corrupt-file page (nothing of it sent), in the audit log and the server log', async () => {
    const data = pdfBytes(20_000);
    const { file, b } = await sendAndTamper('契約書.pdf', data);
    // As stored, it downloads intact: the refusal below is the mismatch's doing.
    const fine = await downloadFile(b, file.id);
    expect([fine.status, sha256(fine.body as Buffer)]).to.deep.equal([200, sha256(data)]);

    await StoredFile.update({ sha256: sha256(Buffer.from('some other content')) }, { where: { id: file.id } });
    const res = await downloadFile(b, file.id);
    expect(res.status).to.equal(500);
    expect(res.headers['content-disposition']).to.equal(undefined);
    const body = res.body as Buffer;
    expect(body.includes(data.subarray(0, 64))).to.equal(false);
    expect(body.toString('utf8')).to.contain('ファイルが破損しているため開けません');
    const errors = await AuditEvent.findAll({ where: { operation: 'file.download', targetId: file.id, result: 'error' } });
    expect(errors.map((r) => [r.detail, r.actorId, r.clientId])).to.deep.equal([['corrupt: sha256-mismatch', staff.user.id, client.id]]);
    expect(integrityErrors(file.id).map((l) => l.reason)).to.deep.equal(['sha256-mismatch']);
  });

  it('a file of several segments: the connection is cut before the last segment (never a complete-looking file), and the refusal is logged', async () => {
    const data = pdfBytes(3 * (1 << 20) + 17);
    const { file, b } = await sendAndTamper('大きな資料.pdf', data);
    await StoredFile.update({ sha256: sha256(Buffer.from('not this file')) }, { where: { id: file.id } });
    const outcome = await downloadFile(b, file.id).then(
      (res) => ({ status: res.status, bytes: (res.body as Buffer).length, same: sha256(res.body as Buffer) === sha256(data) }),
      (err: { code?: string; message?: string }) => ({ cut: true, why: err.code ?? err.message }));
    expect(outcome).to.not.have.property('same', true);
    expect(outcome, JSON.stringify(outcome)).to.have.property('cut', true);
    // The audit row is written as the connection is cut: wait for it (at most a few seconds).
    const logged = () => AuditEvent.count({ where: { operation: 'file.download', targetId: file.id, result: 'error' } });
    for (let i = 0; i < 100 && (await logged()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const errors = await AuditEvent.findAll({ where: { operation: 'file.download', targetId: file.id, result: 'error' } });
    expect(errors.map((r) => r.detail)).to.deep.equal(['corrupt: sha256-mismatch']);
    expect(integrityErrors(file.id).map((l) => l.reason)).to.deep.equal(['sha256-mismatch']);
  });
});

describe('Mail without SMTP_URL: each mail is an .eml file in DATA_DIR/outbox', () => {
  let h: Harness;
  before(async () => { h = await createHarness({ SMTP_URL: '' }); });
  after(async () => { await h.close(); });

  it('a new-files notice lands as one .eml file (mode 0600) holding no file names', async () => {
    expect(h.config.smtpUrl).to.equal(null);
    const outbox = h.config.outboxDir;
    expect(outbox).to.equal(path.join(h.dataDir, 'outbox'));
    const client = await makeClient(h, { code: 'OUT1', name: '株式会社アウトボックス' });
    const admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: '送信 担当者' });
    const staff = await makeUser(h, { role: 'firm_staff', name: '受信 職員' });
    await assign(h, client.id, staff.user.id);
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const res = await uploadFiles(b, { direction: 'to_firm', category: 'procedure', comment: '扶養異動の届出書です' }, [
      { name: '扶養異動届_田中.pdf', data: pdfBytes(3000) }, { name: '給与明細_2026.pdf', data: pdfBytes(3000) },
    ]);
    expect(res.status, res.text).to.equal(200);
    // The sending hands the notice to the outbox at once (in the background); deliver what is due and
    // wait until the notice is marked sent (a send the background round had claimed finishes there).
    await h.booted.services.outbox.deliverNow();
    const sent = async () => (await OutboxMail.findOne({ where: { toAddress: staff.email } }))?.sentAt ?? null;
    for (let i = 0; i < 400 && !(await sent()); i++) await new Promise((r) => setTimeout(r, 25));
    expect(await sent(), 'the notice was sent').to.be.instanceOf(Date);

    const names = fs.readdirSync(outbox);
    expect(names.filter((n) => !n.endsWith('.eml')), 'nothing but .eml files (no temp left)').to.deep.equal([]);
    expect(names).to.have.length(1);
    const file = path.join(outbox, names[0]!);
    expect(fs.statSync(file).mode & 0o777).to.equal(0o600);

    const raw = fs.readFileSync(file);
    const mail = await simpleParser(raw);
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value.map((a) => a.address) : null).to.deep.equal([staff.email]);
    expect(mail.subject).to.contain('新しいファイル');
    expect(mail.text).to.contain('2件').and.contain('http://portal.test/files');
    expect(mail.attachments).to.have.length(0);
    const decoded = `${mail.subject}\n${mail.text}\n${mail.html || ''}\n${raw.toString('utf8')}`;
    for (const secret of ['扶養異動届', '田中', '給与明細', '.pdf', '扶養異動の届出書', '株式会社アウトボックス', '送信 担当者']) {
      expect(decoded, secret).to.not.contain(secret);
    }
  });
});
