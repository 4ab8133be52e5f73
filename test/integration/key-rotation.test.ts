import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createHarness, sharedDatabase, type Harness } from '../support/harness';
import { assign, makeClient, makeUser, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { downloadFile, pdfBytes, pngBytes, sha256, uploadFiles } from '../support/files';
import { actorOf, makeEmployee, PURPOSE, rejects, validNumber } from '../support/vault';
import { envFor, runScript } from '../support/run-cli';
import { Readable } from 'node:stream';
import { AccessReport, AuditEvent, ClientKey, DisposalItem, Firm, KeyCheck, NumberRecord, OutboxMail, SigningIdentity, StoredFile, User } from '../../server/db/models';
import { systemContext } from '../../server/audit';
import { KeyRing } from '../../server/crypto/key-ring';
import { rotateClientKey, rotateMasterKey } from '../../server/crypto/rotation';
import { currentTotp } from '../../server/auth/totp';
import type { Person } from '../../server/vault/people';
import { openDatabase } from '../../server/db/database';
import { FileSweeper } from '../../server/files/sweeper';
import { storeSealed } from '../../server/files/sealed-object';
import { periodContaining, previousPeriod } from '../../server/reports/periods';

const CLI = 'scripts/cli.ts';
const sys = systemContext('test:rotation');

/** A client with numbers for `count` employees and two files sent by its admin; what to compare against later. */
async function seed(h: Harness, code: string, count: number) {
  const client = await makeClient(h, { code });
  const admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
  const staff = await makeUser(h, { role: 'firm_staff' });
  await assign(h, client.id, staff.user.id);
  const numbers = new Map<string, string>();
  const people: Person[] = [];
  for (let i = 0; i < count; i++) {
    const { person } = await makeEmployee(client.id);
    const number = validNumber(1000 + i + count * code.length);
    const record = await h.booted.services.vault.register(sys, person, { number, issueDate: null }, { source: 'proxy', confirmedByPerson: false, registeredBy: null });
    numbers.set(record.id, number);
    people.push(person);
  }
  const b = new TestBrowser(h.portal.app);
  await b.login(admin);
  const sent = [{ name: 'a.pdf', data: pdfBytes(200_000) }, { name: 'b.png', data: pngBytes(3000) }];
  const res = await uploadFiles(b, { direction: 'to_firm', category: 'procedure' }, sent);
  expect(res.status, res.text).to.equal(200);
  const files = new Map<string, string>();
  for (const f of await StoredFile.findAll({ where: { clientId: client.id } })) files.set(f.id, f.sha256);
  expect(files.size).to.equal(2);
  return { client, admin, staff, numbers, people, files };
}

async function numbersOpen(h: Harness, clientId: string, numbers: Map<string, string>, as: MadeUser): Promise<void> {
  const opened = await h.booted.services.vault.open(actorOf(as.user), clientId, [...numbers.keys()], PURPOSE, 'vault.print');
  expect(opened).to.have.length(numbers.size);
  for (const o of opened) expect(o.number, o.record.id).to.equal(numbers.get(o.record.id));
}

async function filesOpen(h: Harness, admin: MadeUser, files: Map<string, string>): Promise<void> {
  const b = new TestBrowser(h.portal.app);
  await b.login(admin);
  for (const [id, digest] of files) {
    const res = await downloadFile(b, id);
    expect(res.status, id).to.equal(200);
    expect(sha256(res.body as Buffer), id).to.equal(digest);
  }
}

const versionsOf = async (clientId: string, purpose: string) =>
  (await ClientKey.findAll({ where: { clientId, purpose }, order: [['version', 'ASC']] })).map((k) => k.version);

describe('Key rotation: a client\'s keys', () => {
  let h: Harness;
  before(async () => { h = await createHarness(); });
  after(async () => { await h.close(); });

  it('keys:rotate-client makes new versions, re-seals numbers and indexes, re-encrypts files and report PDFs under new data keys; every number, file and report opens; the old objects are gone', async () => {
    const s = await seed(h, 'R001', 4);
    await numbersOpen(h, s.client.id, s.numbers, s.staff);
    await Firm.create({ id: 1, name: '暁事務所' });
    const period = previousPeriod(periodContaining('monthly', new Date()));
    expect(await h.booted.services.reports.build(s.client.id, period)).to.equal(true);
    const report = (await AccessReport.findOne({ where: { clientId: s.client.id, status: 'ready' } }))!;
    const reportBytes = await h.booted.services.reports.read(report);
    const before = new Map((await StoredFile.findAll({ where: { clientId: s.client.id } })).map((f) => [f.id, { objectId: f.objectId, wrappedKey: f.wrappedKey }]));
    const oldObjects = [...[...before.values()].map((f) => f.objectId), report.objectId!];

    const run = await runScript(CLI, ['keys:rotate-client', '--client', 'R001'], envFor(h), { timeoutMs: 60_000 });
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.contain('numbers\tnew version 2: 4 numbers re-sealed');
    expect(run.stdout).to.contain('index\tnew version 2: 4 blind indexes recomputed');
    expect(run.stdout).to.contain('files\tnew version 2: 3 files and report PDFs re-encrypted');
    for (const n of s.numbers.values()) expect(run.stdout + run.stderr).not.to.contain(n);
    // Every number re-sealed was opened to do it: the client's log says so, one row a purpose, by the operator's command.
    const logged = await AuditEvent.findAll({ where: { operation: 'keys.rotate', clientId: s.client.id }, order: [['seq', 'ASC']] });
    expect(logged.map((r) => [r.targetLabel, r.detail, r.channel])).to.deep.equal([
      ['files,numbers,index', 'started', 'cli:keys:rotate-client'],
      ['files', 'version 2 new, 3 rewritten', 'cli:keys:rotate-client'], ['numbers', 'version 2 new, 4 rewritten', 'cli:keys:rotate-client'], ['index', 'version 2 new, 4 rewritten', 'cli:keys:rotate-client'],
    ]);

    for (const p of ['files', 'numbers', 'index']) expect(await versionsOf(s.client.id, p), p).to.deep.equal([1, 2]);
    const records = await NumberRecord.findAll({ where: { clientId: s.client.id } });
    expect(records.map((r) => [r.keyVersion, r.indexVersion])).to.deep.equal(records.map(() => [2, 2]));
    await numbersOpen(h, s.client.id, s.numbers, s.staff);
    await filesOpen(h, s.admin, s.files);
    // Each file and the report now sit in a new object under a new data key wrapped by version 2; the old objects are deleted.
    for (const f of await StoredFile.findAll({ where: { clientId: s.client.id } })) {
      expect([f.keyVersion, f.objectId === before.get(f.id)!.objectId, f.wrappedKey === before.get(f.id)!.wrappedKey], f.displayName).to.deep.equal([2, false, false]);
    }
    const rotatedReport = (await AccessReport.findByPk(report.id))!;
    expect([rotatedReport.keyVersion, rotatedReport.objectId === report.objectId]).to.deep.equal([2, false]);
    expect((await h.booted.services.reports.read(rotatedReport)).equals(reportBytes)).to.equal(true);
    for (const id of oldObjects) expect(await h.booted.services.storage.stat(id), id).to.equal(null);

    // Duplicates are still found through the recomputed index.
    const { person } = await makeEmployee(s.client.id);
    await rejects(() => h.booted.services.vault.register(sys, person, { number: [...s.numbers.values()][0]!, issueDate: null }, { source: 'proxy', confirmedByPerson: false, registeredBy: null }), Error);

    // A new file is encrypted under version 2 and downloads.
    const b = new TestBrowser(h.portal.app);
    await b.login(s.admin);
    const data = pdfBytes(5000);
    expect((await uploadFiles(b, { direction: 'to_firm', category: 'other' }, [{ name: 'new.pdf', data }])).status).to.equal(200);
    const fresh = await StoredFile.findOne({ where: { clientId: s.client.id, displayName: 'new.pdf' } });
    expect(fresh!.keyVersion).to.equal(2);
    expect(sha256((await downloadFile(b, fresh!.id)).body as Buffer)).to.equal(sha256(data));
  });

  it('a run killed between files leaves every file readable; downloads during the run read each file wherever it is; the next run finishes the same version and the sweeper removes what the killed run left', async () => {
    const s = await seed(h, 'R005', 1);
    const b = new TestBrowser(h.portal.app);
    await b.login(s.admin);
    const more = [{ name: 'c.pdf', data: pdfBytes(90_000) }, { name: 'd.pdf', data: pdfBytes(70_000) }];
    expect((await uploadFiles(b, { direction: 'to_firm', category: 'procedure' }, more)).status).to.equal(200);
    for (const f of await StoredFile.findAll({ where: { clientId: s.client.id } })) s.files.set(f.id, f.sha256);
    const d = { sequelize: h.booted.sequelize, clientKeys: h.booted.services.clientKeys, storage: h.booted.services.storage };
    // Between objects the run downloads every file (a reader in the middle of the rotation), then dies after the second.
    const hooks = { afterRow: async (_step: string, written: number) => {
      await filesOpen(h, s.admin, s.files);
      if (written >= 2) throw new Error('killed');
    } };
    await rejects(() => rotateClientKey(d, s.client.id, ['files'], hooks), Error);
    const half = await StoredFile.findAll({ where: { clientId: s.client.id } });
    expect(half.map((f) => f.keyVersion).sort()).to.deep.equal([1, 1, 2, 2]);
    await filesOpen(h, s.admin, s.files);

    const done = await rotateClientKey(d, s.client.id, ['files']);
    expect(done.map((r) => [r.purpose, r.version, r.state, r.rewritten])).to.deep.equal([['files', 2, 'resumed', half.length - 2]]);
    expect((await StoredFile.findAll({ where: { clientId: s.client.id } })).every((f) => f.keyVersion === 2)).to.equal(true);
    await filesOpen(h, s.admin, s.files);
    // Killed right after switching a row: the old object it left is no row's, and the sweeper takes it.
    const live = new Set((await StoredFile.findAll()).map((f) => f.objectId));
    const leftover = 'f' + 'a'.repeat(32);
    await h.booted.services.storage.write(leftover, Readable.from([Buffer.from('an old object a killed run left')]));
    const sweeper = new FileSweeper({ storage: h.booted.services.storage, logger: h.booted.services.logger, ageMs: 0 });
    await sweeper.run(Date.now() + 1000);
    expect(await h.booted.services.storage.stat(leftover)).to.equal(null);
    for (const id of live) expect(await h.booted.services.storage.stat(id), id).to.not.equal(null);
    await filesOpen(h, s.admin, s.files);
  });

  it('a download whose row was read before a rotation moved its file reads it from the new object', async () => {
    const s = await seed(h, 'R006', 1);
    const [id, digest] = [...s.files][0]!;
    const staleRow = (await StoredFile.findByPk(id))!;
    const d = { sequelize: h.booted.sequelize, clientKeys: h.booted.services.clientKeys, storage: h.booted.services.storage };
    await rotateClientKey(d, s.client.id, ['files']);
    expect(await h.booted.services.storage.stat(staleRow.objectId), 'the old object is gone').to.equal(null);
    const stream = await h.booted.services.files.open(actorOf(s.admin.user), s.admin.user, staleRow, null);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(sha256(Buffer.concat(chunks))).to.equal(digest);
  });

  it('a disposal requested before a rotation moved its file deletes the object the file is in now, and its certificate says so only then', async () => {
    await Firm.findOrCreate({ where: { id: 1 }, defaults: { id: 1, name: '暁事務所' } });
    const s = await seed(h, 'R007', 1);
    const firmAdmin = await makeUser(h, { role: 'firm_admin' });
    const [fileId] = [...s.files.keys()];
    const before = (await StoredFile.findByPk(fileId))!;
    const svc = h.booted.services.disposal;
    const req = await svc.request(actorOf(s.admin.user), s.admin.user, s.client.id, [{ kind: 'file', id: fileId! }], '保存期間満了');
    await svc.approve(actorOf(firmAdmin.user), firmAdmin.user, req.id);
    await rotateClientKey({ sequelize: h.booted.sequelize, clientKeys: h.booted.services.clientKeys, storage: h.booted.services.storage }, s.client.id, ['files']);
    const moved = (await StoredFile.findByPk(fileId))!;
    expect(moved.objectId).to.not.equal(before.objectId);
    expect(await svc.execute(req.id)).to.not.equal(null);
    for (const id of [before.objectId, moved.objectId]) expect(await h.booted.services.storage.stat(id), id).to.equal(null);
    expect((await DisposalItem.findOne({ where: { requestId: req.id } }))!.objectId).to.equal(moved.objectId);
  });

  it('a file deleted while a rotation runs is passed over, and the rotation finishes', async () => {
    const s = await seed(h, 'R008', 1);
    const b = new TestBrowser(h.portal.app);
    await b.login(s.admin);
    expect((await uploadFiles(b, { direction: 'to_firm', category: 'other' }, [{ name: 'z.pdf', data: pdfBytes(4000) }])).status).to.equal(200);
    // The last file in the run's order goes after the first is done, while the run holds its page of rows.
    const files = await StoredFile.findAll({ where: { clientId: s.client.id }, order: [['id', 'ASC']] });
    const last = files.at(-1)!;
    let deleted = false;
    const hooks = { afterRow: async () => {
      if (deleted) return;
      deleted = true;
      await h.booted.services.files.delete(actorOf(s.admin.user), s.admin.user, last);
    } };
    const done = await rotateClientKey({ sequelize: h.booted.sequelize, clientKeys: h.booted.services.clientKeys, storage: h.booted.services.storage }, s.client.id, ['files'], hooks);
    expect(done.map((r) => [r.purpose, r.rewritten])).to.deep.equal([['files', files.length - 1]]);
    const after = await StoredFile.findAll({ where: { clientId: s.client.id, status: 'ready' } });
    expect(after.map((f) => f.keyVersion)).to.deep.equal(after.map(() => 2));
    expect(after).to.have.length(files.length - 1);
  });

  it('a file stored under the old version after the first pass went past it (an upload begun before the rotation) is taken by a later pass', async () => {
    const s = await seed(h, 'R009', 1);
    const { clientKeys, storage } = h.booted.services;
    const files = await StoredFile.findAll({ where: { clientId: s.client.id }, order: [['id', 'ASC']] });
    const late = { id: '00000000-0000-4000-8000-000000000000', bytes: pdfBytes(30_000) };
    // The upload's key was taken before the rotation made version 2, so its object is sealed under version 1.
    const underVersion1 = {
      currentFileKey: async (owner: string | null) => ({ version: 1, key: await clientKeys.fileKeyVersion(owner, 1) }),
      fileKeyVersion: (owner: string | null, v: number) => clientKeys.fileKeyVersion(owner, v),
    } as unknown as typeof clientKeys;
    let stored = false;
    // After the first file is re-encrypted the first pass has gone past the smallest id, where the late file lands.
    const hooks = { afterRow: async () => {
      if (stored) return;
      stored = true;
      const sealed = await storeSealed({ storage, clientKeys: underVersion1 }, s.client.id, 'file', late.id, late.bytes);
      const { id: _id, createdAt: _c, ...rest } = files[0]!.get({ plain: true });
      await StoredFile.create({ ...rest, id: late.id, displayName: 'late.pdf', ...sealed });
    } };
    const done = await rotateClientKey({ sequelize: h.booted.sequelize, clientKeys, storage }, s.client.id, ['files'], hooks);
    expect(stored).to.equal(true);
    expect(done.map((r) => [r.purpose, r.rewritten])).to.deep.equal([['files', files.length + 1]]);
    const row = (await StoredFile.findByPk(late.id))!;
    expect(row.keyVersion).to.equal(2);
    await filesOpen(h, s.admin, new Map([...files.map((f) => [f.id, f.sha256] as [string, string]), [late.id, sha256(late.bytes)]]));
  });

  it('a run killed halfway leaves everything readable, and running it again finishes the same version', async () => {
    const s = await seed(h, 'R002', 6);
    const d = { sequelize: h.booted.sequelize, clientKeys: h.booted.services.clientKeys, storage: h.booted.services.storage };
    const killAfter = (n: number) => ({ afterRow: (_step: string, written: number) => { if (written >= n) throw new Error('killed'); } });

    await rejects(() => rotateClientKey(d, s.client.id, ['numbers', 'index'], killAfter(3)), Error);
    const half = await NumberRecord.findAll({ where: { clientId: s.client.id } });
    expect(half.filter((r) => r.keyVersion === 2)).to.have.length(3);
    expect(half.filter((r) => r.keyVersion === 1)).to.have.length(3);
    await numbersOpen(h, s.client.id, s.numbers, s.staff);
    await filesOpen(h, s.admin, s.files);

    // Second attempt dies inside the index step.
    await rejects(() => rotateClientKey(d, s.client.id, ['numbers', 'index'], killAfter(5)), Error);
    const mid = await NumberRecord.findAll({ where: { clientId: s.client.id } });
    expect(mid.every((r) => r.keyVersion === 2)).to.equal(true);
    expect(mid.filter((r) => r.indexVersion === 2).length).to.be.within(1, 5);
    await numbersOpen(h, s.client.id, s.numbers, s.staff);

    const done = await rotateClientKey(d, s.client.id, ['numbers', 'index']);
    expect(done.map((r) => [r.purpose, r.version, r.state])).to.deep.equal([['numbers', 2, 'unchanged'], ['index', 2, 'resumed']]);
    expect(await versionsOf(s.client.id, 'numbers')).to.deep.equal([1, 2]);
    expect(await versionsOf(s.client.id, 'index')).to.deep.equal([1, 2]);
    const after = await NumberRecord.findAll({ where: { clientId: s.client.id } });
    expect(after.map((r) => [r.keyVersion, r.indexVersion])).to.deep.equal(after.map(() => [2, 2]));
    await numbersOpen(h, s.client.id, s.numbers, s.staff);
    await filesOpen(h, s.admin, s.files);

    // Nothing lags any more: the next run makes version 3.
    const again = await rotateClientKey(d, s.client.id, ['numbers']);
    expect(again[0]).to.include({ version: 3, state: 'new', rewritten: 6 });
    await numbersOpen(h, s.client.id, s.numbers, s.staff);
  });

  it('a print, and a typed confirmation, that a rotation overtakes between their reading and their writing still open and confirm the same numbers', async () => {
    const s = await seed(h, 'R003', 3);
    const d = { sequelize: h.booted.sequelize, clientKeys: h.booted.services.clientKeys, storage: h.booted.services.storage };
    const vault = h.booted.services.vault;
    // The rotation runs to its end after the rows were read and before the log's head is taken.
    const guard = vault.guard as unknown as { within: (...a: unknown[]) => Promise<unknown> };
    const within = guard.within;
    guard.within = async (...a: unknown[]) => {
      guard.within = within;
      await rotateClientKey(d, s.client.id, ['numbers', 'index']);
      return within.apply(guard, a);
    };
    try {
      await numbersOpen(h, s.client.id, s.numbers, s.staff);
    } finally { guard.within = within; }
    expect((await NumberRecord.findAll({ where: { clientId: s.client.id } })).map((r) => [r.keyVersion, r.indexVersion])).to.deep.equal([[2, 2], [2, 2], [2, 2]]);
    // 管理者確認: checked under one index version, written under the next.
    const [recordId, number] = [...s.numbers][0]!;
    const inner = vault as unknown as { checkIndex: (...a: unknown[]) => Promise<unknown> };
    const checkIndex = inner.checkIndex;
    inner.checkIndex = async (...a: unknown[]) => {
      const out = await checkIndex.apply(vault, a);
      inner.checkIndex = checkIndex;
      await rotateClientKey(d, s.client.id, ['index']);
      return out;
    };
    try {
      expect(await vault.confirmTyped(actorOf(s.admin.user), s.client.id, recordId, number, 'admin')).to.be.a('string');
    } finally { inner.checkIndex = checkIndex; }
    expect((await NumberRecord.findByPk(recordId))!).to.include({ indexVersion: 3, status: 'admin_confirmed' });
  });

  it('refuses an unknown client or purpose', async () => {
    const unknown = await runScript(CLI, ['keys:rotate-client', '--client', 'NOPE'], envFor(h), { timeoutMs: 60_000 });
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain('no client with code NOPE');
    const purpose = await runScript(CLI, ['keys:rotate-client', '--client', 'R001', '--purpose', 'nope'], envFor(h), { timeoutMs: 60_000 });
    expect(purpose.code).to.equal(2);
    expect(purpose.stderr).to.contain('not a purpose');
  });
});

describe('Key rotation: the master key', () => {
  let dataDir: string;
  let db: Awaited<ReturnType<typeof sharedDatabase>>;
  let s: Awaited<ReturnType<typeof seed>>;
  let firmAdmin: MadeUser;
  let template: { id: string; sha256: string };
  let signingSecret: Buffer;
  const reopen = (env: Record<string, string> = {}) => createHarness(env, { dataDir, keepDatabase: db.url ? { url: db.url } : undefined });

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-rotate-'));
    db = await sharedDatabase();
    const h = await reopen();
    try {
      s = await seed(h, 'M001', 3);
      firmAdmin = await makeUser(h, { role: 'firm_admin' });
      // A file for all clients: its data key is wrapped under the firm's key.
      const b = new TestBrowser(h.portal.app);
      await b.login(firmAdmin);
      const res = await uploadFiles(b, { direction: 'to_all', category: 'templates' }, [{ name: 'ひな形.pdf', data: pdfBytes(4000) }]);
      expect(res.status, res.text).to.equal(200);
      const row = await StoredFile.findOne({ where: { clientId: null } });
      template = { id: row!.id, sha256: row!.sha256 };
      // A sealed PDF signing key (any bytes: the rotation only rewraps it).
      signingSecret = randomBytes(64);
      await SigningIdentity.create({ id: 1, source: 'generated', certificatePem: '-', privateKeySealed: h.booted.services.keys.ring().sealSecret('pdf-signing', '1', signingSecret) });
      // An invitation still queued (the mail server was down): its text is sealed under the master key.
      await h.booted.services.outbox.enqueue({ dedupeKey: 'invite:queued-over-rotation', to: 'later@example.jp', subject: 'queued over the rotation', text: 'https://portal.test/password/set/queued-token' });
      // One queued by an older version, its text as written: the next start seals it.
      await OutboxMail.create({ dedupeKey: 'invite:plain-before', toAddress: 'older@example.jp', subject: 'queued by an older version', body: 'https://portal.test/password/set/plain-token', nextAt: new Date(), lockedUntil: null, sentAt: null, lastError: null });
    } finally { await h.close(); }
  });
  after(async () => {
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const writeKey = (name: string) => {
    const file = path.join(dataDir, name);
    const hex = randomBytes(32).toString('hex');
    fs.writeFileSync(file, `${hex}\n`, { mode: 0o600 });
    return { file, hex, ring: new KeyRing(Buffer.from(hex, 'hex')) };
  };
  const oldHex = () => fs.readFileSync(path.join(dataDir, 'master.key'), 'utf8').trim();
  const env = (h: Pick<Harness, 'config'>) => envFor(h);

  it('a run killed halfway resumes; then keys:rotate-master finishes; the old key is never printed and the next steps are', async () => {
    const next = writeKey('new.key');
    const oldRing = new KeyRing(Buffer.from(oldHex(), 'hex'));
    // Killed after 4 rows, in-process (the portal is stopped): the old key still matches the key check.
    const h0 = await reopen();
    try {
      const older = (await OutboxMail.findOne({ where: { dedupeKey: 'invite:plain-before' } }))!;
      expect(older.body, 'sealed at start').to.match(/^sealed:/).and.not.contain('plain-token');
      await rejects(() => rotateMasterKey(oldRing, next.ring, { afterRow: (_s, n) => { if (n >= 2) throw new Error('killed'); } }), Error);
      expect(oldRing.matchesKeyCheckValue((await KeyCheck.findByPk(1))!.kcv)).to.equal(true);
      const keys = await ClientKey.findAll();
      const underNew = keys.filter((k) => { try { next.ring.unwrapClientKey(k.clientId, k.purpose as 'files', k.version, k.wrappedKey!); return true; } catch { return false; } });
      expect(underNew).to.have.length(2);
    } finally { await h0.close(); }

    const config = { config: { dataDir, databaseUrl: db.url, masterKeyIsEmbedded: true, masterKeyFile: path.join(dataDir, 'master.key') } } as unknown as Harness;
    const run = await runScript(CLI, ['keys:rotate-master', '--new-key-file', next.file], env(config), { timeoutMs: 60_000 });
    expect(run.code, run.stdout + run.stderr).to.equal(0);
    expect(run.stdout).to.contain('OK: master key rotated');
    expect(run.stdout).to.contain('client keys rewrapped 1 (already done 2), firm keys 1 (0), TOTP seeds 2 (0), PDF signing key 1 (0)');
    expect(Number(/queued mails (\d+) \(0\)/.exec(run.stdout)?.[1])).to.be.at.least(1);
    expect(run.stdout).to.contain(`Point MASTER_KEY_FILE at ${next.file}`);
    expect(run.stdout).to.contain('every session ends');
    const sequelize = await openDatabase({ databaseUrl: db.url, dataDir, sqliteFile: path.join(dataDir, 'portal.sqlite') });
    try {
      const [logged] = await sequelize.query(`SELECT detail FROM audit_events WHERE operation = 'keys.rotate' AND channel = 'cli:keys:rotate-master' ORDER BY seq`) as [{ detail: string }[], unknown];
      expect(logged.map((r) => r.detail.split(',')[0])).to.deep.equal(['started', 'client keys 1']);
    } finally { await sequelize.close(); }
    const out = (run.stdout + run.stderr).toLowerCase();
    expect(out).not.to.contain(oldHex().toLowerCase());
    expect(out).not.to.contain(next.hex);

    // Run again: nothing left to do, still OK.
    const again = await runScript(CLI, ['keys:rotate-master', '--new-key-file', next.file], env(config), { timeoutMs: 60_000 });
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.contain('an earlier run had finished');
    expect(again.stdout).to.match(/client keys rewrapped 0 \(already done 3\)/);

    // Booted with the new key: unsealed; numbers, files (client's and firm's), TOTP sign-in, the signing key.
    const h = await reopen({ MASTER_KEY_FILE: next.file });
    try {
      expect(h.booted.services.keys.sealed).to.equal(false);
      await numbersOpen(h, s.client.id, s.numbers, s.staff);
      await filesOpen(h, s.admin, s.files);
      const b = new TestBrowser(h.portal.app);
      await b.login(firmAdmin); // password + TOTP with the seed the test kept
      const res = await downloadFile(b, template.id);
      expect(res.status).to.equal(200);
      expect(sha256(res.body as Buffer)).to.equal(template.sha256);
      await User.update({ totpLastStep: null }, { where: { id: s.staff.user.id } });
      const staffUser = (await User.findByPk(s.staff.user.id))!;
      expect(await h.booted.services.accounts.verifySecondFactor(staffUser, await currentTotp(s.staff.totpSecret!))).to.equal('totp');
      const identity = await SigningIdentity.findByPk(1);
      expect(h.booted.services.keys.ring().openSecret('pdf-signing', '1', identity!.privateKeySealed).equals(signingSecret)).to.equal(true);
      await h.booted.services.outbox.deliverNow();
      expect(h.smtp.messages.find((m) => m.subject === 'queued over the rotation')?.text).to.contain('https://portal.test/password/set/queued-token');
      expect(h.smtp.messages.find((m) => m.subject === 'queued by an older version')?.text).to.contain('https://portal.test/password/set/plain-token');
    } finally { await h.close(); }

    // Booted with the old key: sealed, the wrong key detected.
    const old = await reopen();
    try {
      expect(old.booted.services.keys.sealed).to.equal(true);
      expect(old.booted.services.keys.sealReason).to.equal('wrong-key');
    } finally { await old.close(); }
  });

  it('refuses a new key file that is missing, malformed or the current key', async () => {
    const h = { config: { dataDir, databaseUrl: db.url, masterKeyIsEmbedded: false, masterKeyFile: path.join(dataDir, 'new.key') } } as unknown as Harness;
    const same = await runScript(CLI, ['keys:rotate-master', '--new-key-file', path.join(dataDir, 'new.key')], env(h), { timeoutMs: 60_000 });
    expect(same.code).to.equal(2);
    expect(same.stderr).to.contain('is the current MASTER_KEY_FILE');
    fs.writeFileSync(path.join(dataDir, 'bad.key'), 'not hex');
    const bad = await runScript(CLI, ['keys:rotate-master', '--new-key-file', path.join(dataDir, 'bad.key')], env(h), { timeoutMs: 60_000 });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('not 64 hex digits');
    // A key that matches nothing: the current key no longer matches either (it was rotated away from).
    const other = writeKey('other.key');
    const wrongCurrent = { config: { ...h.config, masterKeyFile: path.join(dataDir, 'master.key') } } as unknown as Harness;
    const refused = await runScript(CLI, ['keys:rotate-master', '--new-key-file', other.file], env(wrongCurrent), { timeoutMs: 60_000 });
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('is not the key this database was encrypted with');
  });
});

