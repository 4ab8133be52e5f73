import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Op } from 'sequelize';
import { createHarness, type Harness } from '../support/harness';
import { makeClient, makeUser, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { disposalService } from '../support/disposal';
import { envFor, ROOT, runScript, TSX_NODE } from '../support/run-cli';
import { pngBytes, uploadFiles } from '../support/files';
import { makeEmployee, makePayee, numberFrom as valid, scanDatabase, twelveDigitRunsOutsideIds } from '../support/vault';
import { pdfText } from '../support/pdf';
import {
  AuditEvent, DisposalCertificate, DisposalItem, DisposalRequest, Firm, NumberRecord, OutboxMail, StoredFile, User, type Client,
} from '../../server/db/models';
import { systemContext, type ActorContext } from '../../server/audit';
import { addYears, DEFAULT_RULES, saveRules } from '../../server/disposal/retention-rules';
import type { DisposalService } from '../../server/disposal/disposal-service';
import { japanDay } from '../../server/domain/dates';
import { createApp } from '../../server/app';
import { translate } from '../../server/i18n';

/**
 * Retention and disposal (issue 6): payee years, the reason an early disposal needs, storage that
 * fails or lies during execution, the verification before a certificate, the certificate's notice,
 * the public check's rate limit, what is left anywhere after a file's disposal, and a killed
 * disposal finished by the portal's own start-up.
 */

const ja = (key: string, p: Record<string, unknown> = {}) => translate('ja', key, p);
const ctxOf = (u: MadeUser): ActorContext => ({ actorId: u.user.id, actorName: u.user.name, actorRole: u.user.role, ip: '127.0.0.1', userAgent: 't', channel: 'test' });
const sys = systemContext('test');

/** Every file under a folder, hidden ones (the storage's .tmp) included. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** The portal's server (server/main.ts, as `npm start` runs it) on the harness's data, until stopped. */
function startPortal(env: NodeJS.ProcessEnv) {
  const child = spawn(TSX_NODE[0], [...TSX_NODE.slice(1), 'server/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    output: () => output,
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs: number, diagnostics = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${diagnostics().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('廃棄: payee years, reasons, storage that errs or lies, the notice, the public check\'s limit, nothing left, and a restart', function () {
  this.timeout(60_000);
  let h: Harness;
  let svc: DisposalService;
  let firmAdmin: MadeUser;
  let seed = 0;

  async function numberOf(c: Client, o: { code?: string; name?: string; leaveDate?: string | null } = {}): Promise<NumberRecord> {
    const { person } = await makeEmployee(c.id, { employeeCode: o.code, name: o.name, leaveDate: o.leaveDate ?? null });
    return h.booted.services.vault.register(sys, person, { number: valid(60_600_000_000 + ++seed * 37), issueDate: null }, { source: 'proxy', registeredBy: null });
  }

  /** A client, its signed-in admin, and one file the admin sent the firm. */
  async function clientWithFile(code: string, fileName = 'scan.png'): Promise<{ client: Client; admin: MadeUser; file: StoredFile }> {
    const client = await makeClient(h, { code, name: `株式会社${code}` });
    const admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, email: `hr@${code.toLowerCase()}.example` });
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const res = await uploadFiles(b, { direction: 'to_firm', category: 'identity' }, [{ name: fileName, data: pngBytes(6000) }]);
    expect(res.status, res.text).to.equal(200);
    const file = (await StoredFile.findOne({ where: { clientId: client.id, displayName: fileName } }))!;
    return { client, admin, file };
  }

  async function approved(client: Client, by: MadeUser, items: { kind: 'number' | 'file'; id: string }[], reason = '保存期間満了'): Promise<DisposalRequest> {
    const req = await svc.request(ctxOf(by), by.user, client.id, items, reason);
    await svc.approve(ctxOf(firmAdmin), firmAdmin.user, req.id);
    return req;
  }

  before(async () => {
    // TRUST_PROXY: the rate-limit test speaks from a second address through X-Forwarded-For.
    h = await createHarness({ TRUST_PROXY: 'true' });
    await Firm.create({ id: 1, name: '暁社会保険労務士事務所' });
    svc = disposalService(h.booted);
    firmAdmin = await makeUser(h, { role: 'firm_admin', name: '所長' });
  });
  after(async () => { await h.close(); });

  it('payee retention follows the client\'s rule (3 years after registration), the default (7) where there is none; the nightly run keeps to it', async () => {
    const three = await makeClient(h, { code: 'DR08A', name: '株式会社三年' });
    const plain = await makeClient(h, { code: 'DR08B', name: '株式会社既定' });
    await saveRules(h.booted.services, sys, three.id, { ...DEFAULT_RULES, payeeYears: 3, autoDispose: true });
    const today = japanDay();
    const register = async (c: Client) => {
      const { person } = await makePayee(c.id);
      return h.booted.services.vault.register(sys, person, { number: valid(60_800_000_000 + ++seed * 37), issueDate: null }, { source: 'proxy', registeredBy: null });
    };
    const payee3 = await register(three);
    const payeeDefault = await register(plain);
    expect(payee3.deletionDate).to.equal(addYears(today, 3));
    expect(DEFAULT_RULES.payeeYears).to.equal(7);
    expect(payeeDefault.deletionDate).to.equal(addYears(today, 7));
    // The payee rule is the payees' alone: a leaver's number in the same client keeps the number years (7).
    const leaver = await numberOf(three, { leaveDate: '2020-03-31' });
    expect(leaver.deletionDate).to.equal('2027-03-31');

    // The nightly run reads the same rule: a payee registered four years ago is due (3 < 4), one registered two years
    // ago is not, even with its date brought forward by hand (standing approval covers only what the rules make due).
    const fourYearsAgo = addYears(today, -4);
    const twoYearsAgo = addYears(today, -2);
    const old = await register(three);
    const recent = await register(three);
    for (const [r, day] of [[old, fourYearsAgo], [recent, twoYearsAgo]] as const) {
      await h.booted.sequelize.query('UPDATE number_records SET created_at = ? WHERE id = ?', { replacements: [new Date(`${day}T03:00:00Z`), r.id] });
    }
    await NumberRecord.update({ deletionDate: addYears(fourYearsAgo, 3) }, { where: { id: old.id } });
    await NumberRecord.update({ deletionDate: addYears(today, -1), deletionDateByHand: true }, { where: { id: recent.id } });
    expect(await svc.runAutomatic()).to.equal(1);
    expect((await NumberRecord.findByPk(old.id))!.sealedNumber).to.equal(null);
    expect((await NumberRecord.findByPk(recent.id))!.sealedNumber).to.not.equal(null);
    expect((await NumberRecord.findByPk(payee3.id))!.sealedNumber).to.not.equal(null);
  });

  it('an early disposal without a reason is refused (400, the reason asked for) and writes no request; with a reason it is taken', async () => {
    const client = await makeClient(h, { code: 'DR09', name: '株式会社理由' });
    const admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    // Still employed: no deletion date, so any disposal of it is early.
    const rec = await numberOf(client, { code: 'R09', name: '在籍 太郎' });
    expect(rec.deletionDate).to.equal(null);
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const ask = async (reason: string) => {
      const token = await b.csrf('/disposal');
      return b.agent.post('/disposal/requests').type('form').send(`_csrf=${encodeURIComponent(token)}&reason=${encodeURIComponent(reason)}&items=number:${rec.id}`);
    };
    for (const reason of ['', '   ']) {
      const refused = await ask(reason);
      expect(refused.status, JSON.stringify(reason)).to.equal(400);
      expect(refused.text).to.contain(ja('disposal.reasonRequired'));
      // Beside the request form, with the number still ticked.
      expect(refused.text).to.contain(`value="number:${rec.id}" checked`);
    }
    expect(await DisposalRequest.count({ where: { clientId: client.id } })).to.equal(0);
    expect(await DisposalItem.count({ where: { itemId: rec.id } })).to.equal(0);
    expect(await AuditEvent.count({ where: { clientId: client.id, operation: 'disposal.request' } })).to.equal(0);

    const taken = await ask('誤って登録したため');
    expect(taken.status, taken.text).to.equal(303);
    const req = (await DisposalRequest.findOne({ where: { clientId: client.id } }))!;
    expect([req.early, req.status, req.reason]).to.deep.equal([true, 'requested', '誤って登録したため']);
    expect(await DisposalItem.count({ where: { requestId: req.id, itemId: rec.id } })).to.equal(1);
    // Nothing is erased before a firm admin approves.
    expect((await NumberRecord.findByPk(rec.id))!.sealedNumber).to.not.equal(null);
    await svc.reject(ctxOf(firmAdmin), firmAdmin.user, req.id, 'テストの後片付け');
  });

  it('a storage delete that fails stops the execution without a certificate; the retry (resumeAll, as the scheduler runs it) finishes it with one', async () => {
    const { client, admin, file } = await clientWithFile('DR10');
    const storage = h.booted.services.storage;
    const req = await approved(client, admin, [{ kind: 'file', id: file.id }]);
    const del = storage.delete;
    let refused = 0;
    storage.delete = async (id: string) => {
      if (id === file.objectId) { refused++; throw new Error('storage unavailable'); }
      return del.call(storage, id);
    };
    const certificateMails = () => OutboxMail.count({ where: { dedupeKey: { [Op.like]: 'certificate:%' }, toAddress: admin.email } });
    try {
      const failed = await svc.execute(req.id).then(() => null, (err: unknown) => err as Error);
      expect(failed, 'the execution stopped').to.be.instanceOf(Error);
      expect(failed!.message).to.equal('storage unavailable');
      expect(refused).to.equal(1);
      expect(await DisposalCertificate.count({ where: { requestId: req.id } })).to.equal(0);
      expect(await certificateMails()).to.equal(0);
      expect((await DisposalRequest.findByPk(req.id))!.status).to.equal('executing');
      // The key is already gone (erasure comes first); the object is still stored.
      expect((await StoredFile.findByPk(file.id))!.wrappedKey).to.equal(null);
      expect(await storage.stat(file.objectId)).to.not.equal(null);
      expect((await DisposalItem.findAll({ where: { requestId: req.id } })).map((i) => i.state)).to.deep.equal(['erased']);
      // Still failing: the retry finishes nothing.
      expect(await svc.resumeAll()).to.equal(0);
      expect(await DisposalCertificate.count({ where: { requestId: req.id } })).to.equal(0);
    } finally {
      storage.delete = del;
    }
    expect(await svc.resumeAll()).to.equal(1);
    expect(await storage.stat(file.objectId)).to.equal(null);
    expect(await DisposalCertificate.count({ where: { requestId: req.id } })).to.equal(1);
    expect((await DisposalRequest.findByPk(req.id))!.status).to.equal('executed');
    expect((await DisposalItem.findAll({ where: { requestId: req.id } })).map((i) => i.state)).to.deep.equal(['verified']);
    // Later rounds change nothing.
    expect(await svc.resumeAll()).to.equal(0);
    expect(await DisposalCertificate.count({ where: { requestId: req.id } })).to.equal(1);
    expect(await certificateMails()).to.equal(1);
    expect(await AuditEvent.count({ where: { operation: 'disposal.certificate', clientId: client.id } })).to.equal(1);
  });

  it('verification comes before the certificate: an object still readable after the delete gives no certificate and a disposal.verify error row; once really gone, one certificate', async () => {
    const { client, admin, file } = await clientWithFile('DR11');
    const storage = h.booted.services.storage;
    const req = await approved(client, admin, [{ kind: 'file', id: file.id }]);
    const del = storage.delete;
    // A storage that answers "deleted" and keeps the object (a silent no-op).
    storage.delete = async (id: string) => { if (id !== file.objectId) await del.call(storage, id); };
    try {
      const failed = await svc.execute(req.id).then(() => null, (err: unknown) => err as Error);
      expect(failed, 'the execution stopped').to.be.instanceOf(Error);
      expect(failed!.message).to.contain('not gone');
    } finally {
      storage.delete = del;
    }
    expect(await storage.stat(file.objectId)).to.not.equal(null);
    expect(await DisposalCertificate.count({ where: { requestId: req.id } })).to.equal(0);
    const verifyRows = () => AuditEvent.findAll({ where: { operation: 'disposal.verify', targetId: req.id }, order: [['seq', 'ASC']] });
    expect((await verifyRows()).map((r) => [r.result, r.detail])).to.deep.equal([['error', '1 items not gone']]);
    expect((await DisposalItem.findAll({ where: { requestId: req.id } })).map((i) => i.state)).to.not.include('verified');
    expect((await DisposalRequest.findByPk(req.id))!.status).to.equal('executing');
    // The scheduler's retry checks again and still finds it: no certificate, another error row.
    expect(await svc.resumeAll()).to.equal(0);
    expect(await DisposalCertificate.count({ where: { requestId: req.id } })).to.equal(0);
    expect((await verifyRows()).map((r) => r.result)).to.deep.equal(['error', 'error']);
    // The storage sweeper removes the object no live file points to; the next retry verifies and issues one certificate.
    const sweep = await h.booted.services.sweeper.run(Date.now() + (h.config.sweepAfterMinutes + 1) * 60_000);
    expect(sweep.orphans).to.be.at.least(1);
    expect(await storage.stat(file.objectId)).to.equal(null);
    expect(await svc.resumeAll()).to.equal(1);
    expect(await DisposalCertificate.count({ where: { requestId: req.id } })).to.equal(1);
    expect((await verifyRows()).map((r) => r.result)).to.deep.equal(['error', 'error', 'allowed']);
  });

  it('the certificate is announced by mail to each of the client\'s admins: its number and a link, no name, employee code or number', async () => {
    const client = await makeClient(h, { code: 'DR12', name: '株式会社通知' });
    const first = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, email: 'hr1@dr12.example', name: '人事 一子' });
    const second = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, email: 'hr2@dr12.example', name: '人事 二郎' });
    const disabled = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, email: 'gone@dr12.example' });
    await User.update({ disabledAt: new Date() }, { where: { id: disabled.user.id } });
    const other = await makeClient(h, { code: 'DR12X', name: '株式会社他社' });
    await makeUser(h, { role: 'client_admin', clientId: other.id, totp: false, email: 'hr@dr12x.example' });
    const rec = await numberOf(client, { code: 'M1207', name: '通知 太郎', leaveDate: '2015-03-31' });
    const number = (await h.booted.services.vault.open(sys, client.id, [rec.id], { purpose: 'withholding_slip', office: 'tax_office' }, 'vault.print'))[0]!.number;
    const req = await approved(client, first, [{ kind: 'number', id: rec.id }]);
    const cert = (await svc.execute(req.id))!;
    expect(cert).to.not.equal(null);
    await h.booted.services.outbox.deliverDue();
    for (const u of [first, second]) await h.smtp.lastTo(u.email);
    const aboutCert = h.smtp.messages.filter((m) => `${m.subject}`.includes(cert.number));
    const to = (m: (typeof aboutCert)[number]) => (m.to && !Array.isArray(m.to) ? m.to.text : '');
    expect(aboutCert.map(to).sort()).to.deep.equal(['hr1@dr12.example', 'hr2@dr12.example']);
    const item = (await DisposalItem.findOne({ where: { requestId: req.id } }))!;
    for (const m of aboutCert) {
      const text = `${m.subject}\n${m.text}\n${m.html || ''}`;
      expect(m.subject).to.equal(ja('mail.certificate.subject', { number: cert.number }));
      expect(m.text).to.contain(cert.number).and.contain('http://portal.test/certificates');
      for (const secret of ['通知 太郎', '通知', '太郎', item.maskedLabel, 'M1207', number, '人事']) expect(text, secret).to.not.contain(secret);
      expect(twelveDigitRunsOutsideIds(text)).to.deep.equal([]);
      expect(m.attachments).to.have.length(0);
    }
    // Queued once per admin: later rounds send nothing more.
    await h.booted.services.outbox.deliverDue(new Date(Date.now() + 3600_000));
    expect(h.smtp.messages.filter((m) => `${m.subject}`.includes(cert.number))).to.have.length(2);
    expect(await OutboxMail.count({ where: { dedupeKey: { [Op.like]: `certificate:${cert.id}:%` } } })).to.equal(2);
  });

  it('the public /verify page is rate-limited per address: past the limit the page states, a POST gets 429 with Retry-After; another address still gets answers', async () => {
    // A portal of its own (its own in-memory counters), on the same services and database.
    const portal = createApp(h.booted.services, { sessionSecret: h.booted.sessionSecret });
    try {
      const v = new TestBrowser(portal.app);
      const page = await v.get('/verify');
      expect(page.status).to.equal(200);
      const token = csrfIn(page.text);
      // The limits as the server states them (IETF RateLimit headers): every page's, and the stricter one of the public forms.
      const policies = [...String(page.headers['ratelimit-policy'] ?? '').matchAll(/"([^"]+)"; q=(\d+); w=(\d+)/g)].map((m) => ({ name: m[1]!, limit: Number(m[2]), window: Number(m[3]) }));
      const states = new Map([...String(page.headers.ratelimit ?? '').matchAll(/"([^"]+)"; r=(\d+); t=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
      expect(policies.length, `policies: ${page.headers['ratelimit-policy']}`).to.equal(2);
      const strict = policies.reduce((a, b) => (b.limit < a.limit ? b : a));
      const general = policies.find((p) => p !== strict)!;
      expect(strict.limit, 'the verification page has a limit of its own, below every page\'s').to.be.lessThan(general.limit);
      const remaining = states.get(strict.name)!;
      expect(remaining).to.equal(strict.limit - 1);
      const post = (from?: string) => {
        let r = v.agent.post('/verify');
        if (from) r = r.set('X-Forwarded-For', from);
        return r.field('_csrf', token).field('number', 'DC-1999-000001').field('sha256', 'c'.repeat(64));
      };
      const answered = [];
      for (let i = 0; i < remaining; i++) answered.push((await post()).status);
      expect(answered.every((s) => s === 200), answered.join(' ')).to.equal(true);
      const limited = await post();
      expect(limited.status).to.equal(429);
      const seconds = Number(limited.headers['retry-after']);
      expect(Number.isInteger(seconds)).to.equal(true);
      expect(seconds).to.be.greaterThan(0).and.at.most(strict.window);
      expect(limited.text).to.contain(ja('error.tooManyRequests', { seconds })).and.not.contain('data-testid="verify-answer"');
      // The page too, from that address; another address is answered.
      expect((await v.get('/verify')).status).to.equal(429);
      const elsewhere = await post('203.0.113.7');
      expect(elsewhere.status).to.equal(200);
      expect(/data-testid="verify-answer">([^<]+)</.exec(elsewhere.text)?.[1]).to.equal(ja('verify.answer.unknown'));
    } finally {
      portal.close();
    }
  });

  it('after a file\'s disposal its wrapped data key and ciphertext are nowhere: not in any stored object, any file under storage (temp files too), nor any database row', async () => {
    const { client, admin, file } = await clientWithFile('DR14', 'マイナンバーカード.png');
    const storage = h.booted.services.storage;
    const wrapped = file.wrappedKey!;
    const chunks: Buffer[] = [];
    for await (const c of await storage.read(file.objectId)) chunks.push(Buffer.from(c as Buffer));
    const ciphertext = Buffer.concat(chunks);
    expect(ciphertext.length).to.be.greaterThan(6000);
    // Pieces of the ciphertext from its start, middle and end, as bytes and as a database would print them.
    const pieces = [64, Math.floor(ciphertext.length / 2), ciphertext.length - 64].map((at) => ciphertext.subarray(at, at + 48));
    const needles = [Buffer.from(wrapped), ...pieces];
    const dbNeedles = [wrapped, ...pieces.flatMap((p) => [p.toString('hex'), p.toString('base64')])];
    const inObjects = async () => {
      const found: string[] = [];
      for await (const o of storage.list()) {
        const bytes: Buffer[] = [];
        for await (const c of await storage.read(o.id)) bytes.push(Buffer.from(c as Buffer));
        const all = Buffer.concat(bytes);
        if (needles.some((n) => all.includes(n))) found.push(o.id);
      }
      return found;
    };
    const inFiles = () => filesUnder(h.config.storageDir).filter((f) => { const all = fs.readFileSync(f); return needles.some((n) => all.includes(n)); });
    // The searches find them while the file is held (so an empty answer later means something).
    expect(await inObjects()).to.deep.equal([file.objectId]);
    expect(inFiles()).to.have.length(1);
    expect((await scanDatabase(h.booted.sequelize, dbNeedles)).hits).to.deep.equal([`files.wrapped_key holds ${wrapped}`]);

    const req = await approved(client, admin, [{ kind: 'file', id: file.id }], '本人確認書類の廃棄');
    expect(await svc.execute(req.id)).to.not.equal(null);
    expect(await inObjects()).to.deep.equal([]);
    expect(inFiles()).to.deep.equal([]);
    const scan = await scanDatabase(h.booted.sequelize, dbNeedles);
    expect(scan.tables).to.include("files").and.include("disposal_items");
    expect(scan.rows).to.be.greaterThan(20);
    expect(scan.hits).to.deep.equal([]);
    // Its tombstone is there: what it was and whose, no data.
    const tomb = (await DisposalItem.findOne({ where: { requestId: req.id } }))!;
    expect([tomb.itemKind, tomb.dataKind, tomb.state]).to.deep.equal(['file', 'file.identity', 'verified']);
    expect((await StoredFile.findByPk(file.id))!.status).to.equal('deleted');
  });

  it('on SQLite, a disposed number\'s ciphertext and blind index are in no byte of the database\'s files (secure_delete zeroes them; the WAL is checkpointed)', async function () {
    if (h.booted.sequelize.getDialect() !== 'sqlite') this.skip(); // MariaDB's files are the server's: README, "Backups and restore"
    const client = await makeClient(h, { code: 'DR20', name: '株式会社DR20' });
    const admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, email: 'hr@dr20.example' });
    // Among others on the same database pages (a lone row's page is freed whole, which hides a page rewritten in place).
    for (let i = 0; i < 6; i++) await numberOf(client, { code: `K${i}` });
    const rec = await numberOf(client, { code: 'Z1', leaveDate: '2015-03-31' });
    for (let i = 6; i < 12; i++) await numberOf(client, { code: `K${i}` });
    const needles = [rec.sealedNumber!, rec.blindIndex!].map((v) => Buffer.from(v));
    const dbFiles = () => fs.readdirSync(h.config.dataDir).filter((f) => f.startsWith(path.basename(h.config.sqliteFile))).map((f) => path.join(h.config.dataDir, f));
    const holding = () => dbFiles().filter((f) => { const all = fs.readFileSync(f); return needles.some((n) => all.includes(n)); }).map((f) => path.basename(f));
    expect(holding(), 'the search finds them while the number is held').to.not.deep.equal([]);
    const req = await approved(client, admin, [{ kind: 'number', id: rec.id }]);
    expect(await svc.execute(req.id)).to.not.equal(null);
    expect(holding()).to.deep.equal([]);
  });

  it('a disposal whose process was killed is finished by the portal\'s own start-up (server/main.ts), with one certificate', async function () {
    this.timeout(90_000);
    const { client, admin, file } = await clientWithFile('DR15');
    const rec = await numberOf(client, { code: 'K15', leaveDate: '2015-03-31' });
    const req = await approved(client, admin, [{ kind: 'number', id: rec.id }, { kind: 'file', id: file.id }]);
    const killed = await runScript('test/support/disposal-child.ts', [req.id, 'erased-batch'], envFor(h), { timeoutMs: 40_000 });
    expect(killed.stdout, killed.stderr).to.contain('step erased-batch');
    expect([null, 137], killed.stderr).to.include(killed.code);
    expect(await DisposalCertificate.count({ where: { requestId: req.id } })).to.equal(0);
    expect((await DisposalRequest.findByPk(req.id))!.status).to.equal('executing');
    expect(await h.booted.services.storage.stat(file.objectId), 'killed before the objects were deleted').to.not.equal(null);
    // The dead process's claim is left to go stale (five minutes) before anyone takes it over: as if that time had passed.
    await DisposalRequest.update({ claimedAt: new Date(Date.now() - 10 * 60_000) }, { where: { id: req.id } });
    const portal = startPortal(envFor(h, { PORT: '0', SMTP_URL: `smtp://127.0.0.1:${h.smtp.port}`, LOG_LEVEL: 'info' }));
    let cert: DisposalCertificate;
    try {
      cert = await until('the certificate', () => DisposalCertificate.findOne({ where: { requestId: req.id } }), 50_000, portal.output);
      await until('the request marked executed', async () => (await DisposalRequest.findByPk(req.id))!.status === 'executed', 10_000, portal.output);
    } finally {
      await portal.stop();
    }
    expect(await DisposalCertificate.count({ where: { requestId: req.id } })).to.equal(1);
    expect((await DisposalItem.findAll({ where: { requestId: req.id } })).map((i) => i.state)).to.deep.equal(['verified', 'verified']);
    expect(await h.booted.services.storage.stat(file.objectId)).to.equal(null);
    expect((await NumberRecord.findByPk(rec.id))!.sealedNumber).to.equal(null);
    // Issued by the portal itself (its signed PDF, not the test's stand-in text).
    const pdf = await h.booted.services.disposal.certificatePdf(cert!);
    expect(pdf.subarray(0, 5).toString('latin1')).to.equal('%PDF-');
    expect(pdfText(pdf)).to.contain(cert!.number);
    expect(await AuditEvent.count({ where: { operation: 'disposal.certificate', targetId: cert!.id } })).to.equal(1);
  });
});
