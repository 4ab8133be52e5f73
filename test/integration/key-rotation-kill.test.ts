/**
 * Key rotation killed for real (issue 7, point 6): the rotation runs in a child process
 * (test/support/rotation-child.ts) that SIGKILLs itself right after writing a chosen row — no
 * clean-up, no finally, no rollback of what it had written. Then, from this process: everything
 * reads, the CLI finishes the interrupted rotation, and nothing is left behind.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Op } from 'sequelize';
import { createHarness, sharedDatabase, type Harness } from '../support/harness';
import { assign, makeClient, makeUser, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { downloadFile, pdfBytes, pngBytes, sha256, uploadFiles } from '../support/files';
import { actorOf, keyOf, makeEmployee, PURPOSE, rejects, validNumber } from '../support/vault';
import { envFor, runScript } from '../support/run-cli';
import { AccessReport, ClientKey, Firm, FirmKey, KeyCheck, NumberRecord, SigningIdentity, StoredFile, User } from '../../server/db/models';
import { systemContext } from '../../server/audit';
import { KeyRing, type ClientKeyPurpose } from '../../server/crypto/key-ring';
import { openNumber } from '../../server/crypto/number-cipher';
import { currentTotp } from '../../server/auth/totp';
import { FileSweeper } from '../../server/files/sweeper';
import { LEDGER_PREFIX } from '../../server/disposal/erasure-ledger';
import { periodContaining, previousPeriod } from '../../server/reports/periods';

const CLI = 'scripts/cli.ts';
const CHILD = 'test/support/rotation-child.ts';
const sys = systemContext('test:rotation-kill');

/** A client with `count` numbers, four files sent by its admin and one access-report PDF; what to compare against later. */
async function seed(h: Harness, code: string, count: number) {
  const client = await makeClient(h, { code });
  const admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
  const staff = await makeUser(h, { role: 'firm_staff' });
  await assign(h, client.id, staff.user.id);
  const numbers = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const { person } = await makeEmployee(client.id);
    const number = validNumber(7000 + i + count * 31 + code.charCodeAt(code.length - 1) * 100);
    const record = await h.booted.services.vault.register(sys, person, { number, issueDate: null }, { source: 'proxy', confirmedByPerson: false, registeredBy: null });
    numbers.set(record.id, number);
  }
  const b = new TestBrowser(h.portal.app);
  await b.login(admin);
  const sent = [
    { name: 'a.pdf', data: pdfBytes(200_000) }, { name: 'b.png', data: pngBytes(3000) },
    { name: 'c.pdf', data: pdfBytes(90_000) }, { name: 'd.pdf', data: pdfBytes(70_000) },
  ];
  for (const pair of [sent.slice(0, 2), sent.slice(2)]) {
    const res = await uploadFiles(b, { direction: 'to_firm', category: 'procedure' }, pair);
    expect(res.status, res.text).to.equal(200);
  }
  const files = new Map<string, string>();
  for (const f of await StoredFile.findAll({ where: { clientId: client.id } })) files.set(f.id, f.sha256);
  expect(files.size).to.equal(4);
  const period = previousPeriod(periodContaining('monthly', new Date()));
  expect(await h.booted.services.reports.build(client.id, period)).to.equal(true);
  const report = (await AccessReport.findOne({ where: { clientId: client.id, status: 'ready' } }))!;
  const reportSha = sha256(await h.booted.services.reports.read(report));
  const objects = [...(await StoredFile.findAll({ where: { clientId: client.id } })).map((f) => f.objectId), report.objectId!];
  return { client, admin, staff, numbers, files, reportId: report.id, reportSha, objects };
}
type Seeded = Awaited<ReturnType<typeof seed>>;

/** Every number opens through the vault, with the number registered. */
async function numbersOpen(h: Harness, s: Seeded): Promise<void> {
  const opened = await h.booted.services.vault.open(actorOf(s.staff.user), s.client.id, [...s.numbers.keys()], PURPOSE, 'vault.print');
  expect(opened).to.have.length(s.numbers.size);
  for (const o of opened) expect(o.number, o.record.id).to.equal(s.numbers.get(o.record.id));
}

/** Every file downloads (as its client's admin) with the SHA-256 it was uploaded with, and the report PDF reads as it was issued. */
async function filesOpen(h: Harness, s: Seeded): Promise<void> {
  const b = new TestBrowser(h.portal.app);
  await b.login(s.admin);
  for (const [id, digest] of s.files) {
    const res = await downloadFile(b, id);
    expect(res.status, id).to.equal(200);
    expect(sha256(res.body as Buffer), id).to.equal(digest);
  }
  const report = (await AccessReport.findByPk(s.reportId))!;
  expect(sha256(await h.booted.services.reports.read(report)), 'report PDF').to.equal(s.reportSha);
}

/** The blind indexes still find every number, whatever version each row is at: registering one again is refused as a duplicate. */
async function duplicatesFound(h: Harness, s: Seeded): Promise<void> {
  const rows = await NumberRecord.count({ where: { clientId: s.client.id } });
  for (const number of s.numbers.values()) {
    const { person } = await makeEmployee(s.client.id);
    const err = await rejects(() => h.booted.services.vault.register(sys, person, { number, issueDate: null }, { source: 'proxy', confirmedByPerson: false, registeredBy: null }), Error);
    expect(keyOf(err), err.message).to.equal('vault.number.duplicate');
  }
  expect(await NumberRecord.count({ where: { clientId: s.client.id } })).to.equal(rows);
}

async function everythingReads(h: Harness, s: Seeded): Promise<void> {
  await numbersOpen(h, s);
  await filesOpen(h, s);
  await duplicatesFound(h, s);
}

/** Where each row of the client is: versions of files (stored files, then the report), numbers and indexes. */
async function where(clientId: string) {
  const files = (await StoredFile.findAll({ where: { clientId }, order: [['id', 'ASC']] })).map((f) => f.keyVersion);
  const report = (await AccessReport.findAll({ where: { clientId } })).map((r) => r.keyVersion);
  const records = await NumberRecord.findAll({ where: { clientId } });
  const count = (vs: (number | null)[]) => vs.reduce<Record<string, number>>((m, v) => ({ ...m, [String(v)]: (m[String(v)] ?? 0) + 1 }), {});
  return { files: count(files), report: count(report), numbers: count(records.map((r) => r.keyVersion)), index: count(records.map((r) => r.indexVersion)) };
}

const versionsOf = async (clientId: string, purpose: string) =>
  (await ClientKey.findAll({ where: { clientId, purpose }, order: [['version', 'ASC']] })).map((k) => k.version);

/** Runs the child and checks it died by its own SIGKILL, right after the row or object it was told to die at; returns its last line. */
async function killedChild(env: NodeJS.ProcessEnv, args: string[], lastLine: RegExp): Promise<string> {
  const run = await runScript(CHILD, args, env, { timeoutMs: 40_000 });
  // Died by the signal (tsx reports its child's SIGKILL as 137).
  expect([null, 137], run.stdout + run.stderr).to.include(run.code);
  expect(run.stdout).not.to.contain('done');
  const last = run.stdout.trim().split('\n').at(-1)!;
  expect(last, run.stdout).to.match(lastLine);
  return last;
}

describe('Key rotation killed for real (SIGKILL of the rotating process)', function () {
  this.timeout(120_000);

  describe('a client\'s keys (files, numbers, index)', () => {
    let h: Harness;
    before(async () => {
      h = await createHarness();
      await Firm.create({ id: 1, name: '暁事務所' });
    });
    after(async () => { await h.close(); });

    type Versions = Record<'files' | 'report' | 'numbers' | 'index', Record<number, number>>;
    interface Kill { step: string; n: number; last: RegExp; half: Versions }
    const cases: Array<{ title: string; code: string; kills: Kill[]; lines: string[] }> = [
      {
        title: 'killed during the numbers step (after 2 of 5 numbers re-sealed)', code: 'KN01',
        // Files are all done (they come first); numbers half; the index not begun.
        kills: [{ step: 'numbers', n: 2, last: /^row numbers 2 7$/, half: { files: { 2: 4 }, report: { 2: 1 }, numbers: { 1: 3, 2: 2 }, index: { 1: 5 } } }],
        lines: ['files\tunchanged (version 2)', 'numbers\tfinished the interrupted rotation to version 2: 3 numbers re-sealed.', 'index\tfinished the interrupted rotation to version 2: 5 blind indexes recomputed.'],
      },
      {
        title: 'killed during the files step (after 2 of 5 objects re-encrypted)', code: 'KF01',
        // Two stored files moved; the other two, the report PDF, the numbers and the index not yet.
        kills: [{ step: 'files', n: 2, last: /^row files 2 2$/, half: { files: { 1: 2, 2: 2 }, report: { 1: 1 }, numbers: { 1: 5 }, index: { 1: 5 } } }],
        lines: ['files\tfinished the interrupted rotation to version 2: 3 files and report PDFs re-encrypted.', 'numbers\tfinished the interrupted rotation to version 2: 5 numbers re-sealed.', 'index\tfinished the interrupted rotation to version 2: 5 blind indexes recomputed.'],
      },
      {
        title: 'killed inside the files step twice: once with a new object stored but its row not switched, then (resumed) with a row switched but its old object not deleted', code: 'KS01',
        kills: [
          { step: 'object-written', n: 2, last: /^object-written \S+ 2$/, half: { files: { 1: 3, 2: 1 }, report: { 1: 1 }, numbers: { 1: 5 }, index: { 1: 5 } } },
          { step: 'object-deleting', n: 1, last: /^object-deleting \S+ 1$/, half: { files: { 1: 2, 2: 2 }, report: { 1: 1 }, numbers: { 1: 5 }, index: { 1: 5 } } },
        ],
        lines: ['files\tfinished the interrupted rotation to version 2: 3 files and report PDFs re-encrypted.', 'numbers\tfinished the interrupted rotation to version 2: 5 numbers re-sealed.', 'index\tfinished the interrupted rotation to version 2: 5 blind indexes recomputed.'],
      },
    ];

    for (const c of cases) {
      it(`${c.title}: every number and file reads after the kill; keys:rotate-client finishes it; all under the new version; the sweeper leaves no object without a row`, async () => {
        const s = await seed(h, c.code, 5);
        expect(await where(s.client.id)).to.deep.equal({ files: { 1: 4 }, report: { 1: 1 }, numbers: { 1: 5 }, index: { 1: 5 } });
        await everythingReads(h, s);

        // Objects a killed run left in storage with no row pointing to them (named by the child's last line).
        const leftovers: string[] = [];
        for (const kill of c.kills) {
          const last = await killedChild(envFor(h), ['client', s.client.id, kill.step, String(kill.n)], kill.last);
          if (last.startsWith('object-')) leftovers.push(last.split(' ')[1]!);
          // The new versions were all made before any row was written, once, and the old ones stay.
          for (const p of ['files', 'numbers', 'index']) expect(await versionsOf(s.client.id, p), p).to.deep.equal([1, 2]);
          expect(await where(s.client.id)).to.deep.equal(kill.half);
          await everythingReads(h, s);
        }

        const run = await runScript(CLI, ['keys:rotate-client', '--client', c.code], envFor(h), { timeoutMs: 60_000 });
        expect(run.code, run.stdout + run.stderr).to.equal(0);
        for (const line of c.lines) expect(run.stdout, run.stdout).to.contain(`${c.code}\t${line}`);
        for (const n of s.numbers.values()) expect(run.stdout + run.stderr).not.to.contain(n);

        // No new version was made by the resuming run: everything is under version 2.
        for (const p of ['files', 'numbers', 'index']) expect(await versionsOf(s.client.id, p), p).to.deep.equal([1, 2]);
        expect(await where(s.client.id)).to.deep.equal({ files: { 2: 4 }, report: { 2: 1 }, numbers: { 2: 5 }, index: { 2: 5 } });
        await everythingReads(h, s);

        const liveObjects = async () => new Set([
          ...(await StoredFile.findAll({ where: { status: 'ready' } })).map((f) => f.objectId),
          ...(await AccessReport.findAll({ where: { objectId: { [Op.ne]: null } } })).map((r) => r.objectId!),
        ]);
        for (const id of leftovers) {
          expect(await h.booted.services.storage.stat(id), `leftover ${id} is in storage`).to.not.equal(null);
          expect((await liveObjects()).has(id), `leftover ${id} is no row's`).to.equal(false);
        }
        // The sweeper (every age) takes whatever the killed runs left; afterwards every object in storage is one a row points to.
        const sweeper = new FileSweeper({ storage: h.booted.services.storage, logger: h.booted.services.logger, ageMs: 0 });
        await sweeper.run(Date.now() + 1000);
        const live = await liveObjects();
        const stored: string[] = [];
        for await (const o of h.booted.services.storage.list()) if (!o.id.startsWith(LEDGER_PREFIX)) stored.push(o.id);
        expect(stored.filter((id) => !live.has(id)), 'objects no row points to').to.deep.equal([]);
        expect([...live].filter((id) => !stored.includes(id)), 'rows whose object is missing').to.deep.equal([]);
        for (const id of [...s.objects, ...leftovers]) expect(stored, `old or leftover object ${id}`).not.to.include(id);
        await everythingReads(h, s);
      });
    }
  });

  describe('the master key', () => {
    let dataDir: string;
    let db: Awaited<ReturnType<typeof sharedDatabase>>;
    let s: Seeded;
    let firmAdmin: MadeUser;
    let template: { id: string; sha256: string };
    let signingSecret: Buffer;
    const reopen = (env: Record<string, string> = {}) => createHarness(env, { dataDir, keepDatabase: db.url ? { url: db.url } : undefined });
    // The child and the CLI see the data folder and database; the current key is DATA_DIR/master.key.
    const env = () => envFor({ config: { dataDir, databaseUrl: db.url, masterKeyIsEmbedded: true, masterKeyFile: path.join(dataDir, 'master.key') } } as unknown as Harness);

    before(async () => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-rotate-kill-'));
      db = await sharedDatabase();
      const h = await reopen();
      try {
        await Firm.create({ id: 1, name: '暁事務所' });
        s = await seed(h, 'KM01', 3);
        firmAdmin = await makeUser(h, { role: 'firm_admin' });
        const b = new TestBrowser(h.portal.app);
        await b.login(firmAdmin);
        const res = await uploadFiles(b, { direction: 'to_all', category: 'templates' }, [{ name: 'ひな形.pdf', data: pdfBytes(4000) }]);
        expect(res.status, res.text).to.equal(200);
        const row = (await StoredFile.findOne({ where: { clientId: null } }))!;
        template = { id: row.id, sha256: row.sha256 };
        // The report PDF was signed: the portal made its PDF signing key, sealed under the master key.
        const identity = (await SigningIdentity.findByPk(1))!;
        signingSecret = h.booted.services.keys.ring().openSecret('pdf-signing', '1', identity.privateKeySealed);
      } finally { await h.close(); }
    });
    after(async () => {
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('killed after the first TOTP seed (client and firm keys done): every wrapped value opens under the old or the new key, every number decrypts; keys:rotate-master finishes; the portal opens everything with the new key', async () => {
      const oldRing = new KeyRing(Buffer.from(fs.readFileSync(path.join(dataDir, 'master.key'), 'utf8').trim(), 'hex'));
      const hex = randomBytes(32).toString('hex');
      const newFile = path.join(dataDir, 'new.key');
      fs.writeFileSync(newFile, `${hex}\n`, { mode: 0o600 });
      const newRing = new KeyRing(Buffer.from(hex, 'hex'));

      await killedChild(env(), ['master', newFile, 'totpSeeds', '1'], /^row totpSeeds 1 5$/);

      // Read with the portal stopped, as the rotation is meant to run: which key opens each value.
      const h0 = await reopen();
      try {
        expect(oldRing.matchesKeyCheckValue((await KeyCheck.findByPk(1))!.kcv), 'the key check is still the old key').to.equal(true);
        const opener = (open: (ring: KeyRing) => Buffer): 'old' | 'new' | 'none' => {
          for (const [name, ring] of [['new', newRing], ['old', oldRing]] as const) {
            try { open(ring); return name; } catch { /* next */ }
          }
          return 'none';
        };
        const clientKeys = await ClientKey.findAll({ where: { wrappedKey: { [Op.ne]: null } } });
        const firmKeys = await FirmKey.findAll();
        const seeds = await User.findAll({ where: { totpSecretSealed: { [Op.ne]: null } } });
        const signing = (await SigningIdentity.findAll());
        const under = {
          clientKeys: clientKeys.map((k) => opener((r) => r.unwrapClientKey(k.clientId, k.purpose as ClientKeyPurpose, k.version, k.wrappedKey!))).sort(),
          firmKeys: firmKeys.map((k) => opener((r) => r.unwrapClientKey('firm', k.purpose as ClientKeyPurpose, k.version, k.wrappedKey))).sort(),
          totpSeeds: seeds.map((u) => opener((r) => r.openSecret('totp', u.id, u.totpSecretSealed!))).sort(),
          signingKeys: signing.map((i) => opener((r) => r.openSecret('pdf-signing', String(i.id), i.privateKeySealed))).sort(),
        };
        expect(under).to.deep.equal({ clientKeys: ['new', 'new', 'new'], firmKeys: ['new'], totpSeeds: ['new', 'old'], signingKeys: ['old'] });
        // Every number decrypts with the client's key, unwrapped by whichever master key holds it now.
        const numbersKey = clientKeys.find((k) => k.clientId === s.client.id && k.purpose === 'numbers')!;
        const key = newRing.unwrapClientKey(s.client.id, 'numbers', numbersKey.version, numbersKey.wrappedKey!);
        for (const r of await NumberRecord.findAll({ where: { clientId: s.client.id } })) {
          const number = openNumber(key, { clientId: s.client.id, personKind: r.personKind, personId: r.personId, keyVersion: r.keyVersion }, r.sealedNumber!);
          expect(number, r.id).to.equal(s.numbers.get(r.id));
        }
      } finally { await h0.close(); }

      const run = await runScript(CLI, ['keys:rotate-master', '--new-key-file', newFile], env(), { timeoutMs: 60_000 });
      expect(run.code, run.stdout + run.stderr).to.equal(0);
      expect(run.stdout).to.contain('OK: master key rotated.');
      expect(run.stdout).to.contain('client keys rewrapped 0 (already done 3), firm keys 0 (1), TOTP seeds 1 (1), PDF signing key 1 (0)');
      expect((run.stdout + run.stderr).toLowerCase()).not.to.contain(hex);

      // With the new key: unsealed, and every number, file, report PDF, TOTP seed and the signing key opens.
      const h = await reopen({ MASTER_KEY_FILE: newFile });
      try {
        expect(h.booted.services.keys.sealed).to.equal(false);
        expect(newRing.matchesKeyCheckValue((await KeyCheck.findByPk(1))!.kcv)).to.equal(true);
        await everythingReads(h, s);
        const b = new TestBrowser(h.portal.app);
        await b.login(firmAdmin); // password + TOTP: the seed rewrapped before the kill
        const res = await downloadFile(b, template.id);
        expect(res.status).to.equal(200);
        expect(sha256(res.body as Buffer)).to.equal(template.sha256);
        await User.update({ totpLastStep: null }, { where: { id: s.staff.user.id } });
        const staffUser = (await User.findByPk(s.staff.user.id))!;
        expect(await h.booted.services.accounts.verifySecondFactor(staffUser, await currentTotp(s.staff.totpSecret!))).to.equal('totp');
        const identity = (await SigningIdentity.findByPk(1))!;
        expect(h.booted.services.keys.ring().openSecret('pdf-signing', '1', identity.privateKeySealed).equals(signingSecret)).to.equal(true);
      } finally { await h.close(); }

      // With the old key: sealed, the wrong key detected.
      const old = await reopen();
      try {
        expect(old.booted.services.keys.sealed).to.equal(true);
        expect(old.booted.services.keys.sealReason).to.equal('wrong-key');
      } finally { await old.close(); }
    });
  });
});
