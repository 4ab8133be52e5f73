import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { createHarness, sharedDatabase, type Harness } from '../support/harness';
import { makeUser, makeClient, type MadeUser } from '../support/factories';
import { envFor, runScript } from '../support/run-cli';
import { disposalService } from '../support/disposal';
import { pngBytes, uploadFiles } from '../support/files';
import { TestBrowser } from '../support/browser';
import { numberFrom as valid } from '../support/vault';
import { AuditEvent, Employee, Firm, NumberRecord, StoredFile } from '../../server/db/models';
import { findPerson } from '../../server/vault/people';
import { systemContext, type ActorContext } from '../../server/audit';
import { openDatabase } from '../../server/db/database';
import { LEDGER_PREFIX } from '../../server/disposal/erasure-ledger';

const ctxOf = (u: MadeUser): ActorContext => ({ actorId: u.user.id, actorName: u.user.name, actorRole: u.user.role, ip: '127.0.0.1', userAgent: 't', channel: 'test' });

/** Every value of every row of every table, as one string. */
async function everything(h: Harness): Promise<string> {
  const qi = h.booted.sequelize.getQueryInterface();
  let all = '';
  for (const t of (await qi.showAllTables()) as (string | { tableName: string })[]) {
    const [rows] = await h.booted.sequelize.query(`SELECT * FROM ${qi.quoteIdentifier(typeof t === 'string' ? t : t.tableName)}`);
    all += JSON.stringify(rows);
  }
  return all;
}

/** The MySQL command-line tools take the password from the environment, never the command line. */
function mysqlArgs(url: string): { args: string[]; env: NodeJS.ProcessEnv; db: string } {
  const u = new URL(url);
  return { args: ['-h', u.hostname, '-P', u.port || '3306', '-u', decodeURIComponent(u.username)], env: { ...process.env, MYSQL_PWD: decodeURIComponent(u.password) }, db: u.pathname.slice(1) };
}

describe('Backups: a restore of a backup taken before a disposal leaves the disposed items unreadable', function () {
  this.timeout(120_000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-backup-'));
  const backupDir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-backup-copy-'));
  let db: Awaited<ReturnType<typeof sharedDatabase>>;
  let h: Harness | undefined;
  const open = () => createHarness({}, { dataDir, keepDatabase: db.url ? { url: db.url } : undefined });

  before(async () => { db = await sharedDatabase(); });
  after(async () => {
    await h?.close();
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(backupDir, { recursive: true, force: true });
  });

  it('backs up (database command, storage copy, key file), disposes, restores the backup: the portal erases the items again at start', async () => {
    h = await open();
    await Firm.create({ id: 1, name: '暁社会保険労務士事務所' });
    const client = await makeClient(h, { code: 'BK01', name: '株式会社バックアップ' });
    const hr = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    const firmAdmin = await makeUser(h, { role: 'firm_admin', name: '所長' });
    const b = new TestBrowser(h.portal.app);
    await b.login(hr);
    expect((await uploadFiles(b, { direction: 'to_firm', category: 'identity' }, [{ name: 'card.png', data: pngBytes(4000) }])).status).to.equal(200);
    const photo = (await StoredFile.findOne({ where: { clientId: client.id, category: 'identity' } }))!;
    const people = [];
    for (const [code, name] of [['B1', '山田 去る'], ['B2', '佐藤 残る']] as const) {
      const e = await Employee.create({ clientId: client.id, employeeCode: code, name, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
      people.push(await findPerson(client.id, 'employee', e.id));
    }
    const [goneNumber, keptNumber] = [valid(73_001), valid(73_002)];
    const gone = await h.booted.services.vault.register(systemContext('test'), people[0]!, { number: goneNumber, issueDate: null }, { source: 'proxy', registeredBy: null, idFileId: photo.id });
    const kept = await h.booted.services.vault.register(systemContext('test'), people[1]!, { number: keptNumber, issueDate: null }, { source: 'proxy', registeredBy: null });
    const secrets = [gone.sealedNumber!, gone.blindIndex!, photo.wrappedKey!];

    // The backup, as the README says: the database command, a copy of the storage folder, the key file (kept apart).
    const dbCopy = path.join(backupDir, 'portal.db');
    const cli = await runScript('scripts/cli.ts', ['backup:database', dbCopy], envFor(h));
    expect(cli.code, cli.stderr).to.equal(0);
    fs.cpSync(h.config.storageDir, path.join(backupDir, 'storage'), { recursive: true });
    fs.copyFileSync(h.config.masterKeyFile, path.join(backupDir, 'master.key'));

    // The disposal of one person's number; the photographed card goes with it.
    const svc = disposalService(h.booted);
    const req = await svc.request(ctxOf(hr), hr.user, client.id, [{ kind: 'number', id: gone.id }], '退職者の番号の廃棄');
    await svc.approve(ctxOf(firmAdmin), firmAdmin.user, req.id);
    expect(await svc.execute(req.id)).to.not.equal(null);
    expect((await StoredFile.findByPk(photo.id))!.wrappedKey, 'the ID photo went with the number').to.equal(null);
    expect(await h.booted.services.storage.stat(photo.objectId)).to.equal(null);
    await h.close();
    h = undefined;

    // The restore: database replaced by the copy; storage objects copied back (none deleted, so the ledger stays).
    if (db.url) {
      const { args, env, db: name } = mysqlArgs(db.url);
      execFileSync('mariadb', [...args, '-e', `DROP DATABASE \`${name}\`; CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`], { env });
      execFileSync('mariadb', [...args, name], { env, input: fs.readFileSync(dbCopy) });
    } else {
      const live = path.join(dataDir, 'portal.sqlite');
      for (const f of [live, `${live}-wal`, `${live}-shm`]) fs.rmSync(f, { force: true });
      fs.copyFileSync(dbCopy, live);
    }
    fs.cpSync(path.join(backupDir, 'storage'), path.join(dataDir, 'storage'), { recursive: true, force: false });

    // What the restore brought back, before the portal starts: the ciphertext, the photo's key and its object.
    const raw = await openDatabase({ databaseUrl: db.url, dataDir, sqliteFile: path.join(dataDir, 'portal.sqlite') });
    const [[row]] = await raw.query('SELECT sealed_number FROM number_records WHERE id = ?', { replacements: [gone.id] }) as [{ sealed_number: string | null }[], unknown];
    await raw.close();
    expect(row!.sealed_number, 'the backup holds the disposed number').to.equal(gone.sealedNumber);
    const ledgerFiles = fs.readdirSync(path.join(dataDir, 'storage'), { recursive: true }).map(String).filter((f) => path.basename(f).startsWith(LEDGER_PREFIX));
    expect(ledgerFiles, 'the ledger entry survived the restore').to.have.length(1);

    h = await open();
    const after = (await NumberRecord.findByPk(gone.id))!;
    expect([after.sealedNumber, after.blindIndex, after.lastTwo]).to.deep.equal([null, null, null]);
    expect((await StoredFile.findByPk(photo.id))!.wrappedKey).to.equal(null);
    expect(await h.booted.services.storage.stat(photo.objectId), 'the photo object deleted again').to.equal(null);
    const dumped = await everything(h);
    for (const s of secrets) expect(dumped.includes(s), 'key material of a disposed item is in the database').to.equal(false);
    const reapplied = await AuditEvent.findAll({ where: { operation: 'disposal.reapply' } });
    expect(reapplied.map((e) => [e.targetId, e.clientId])).to.deep.equal([[req.id, client.id]]);
    expect(reapplied[0]!.detail).to.contain('1 numbers, 1 files, 1 objects');

    // The rest of the client's data is as it was; the disposed number no longer opens.
    expect(await h.booted.services.vault.check(systemContext('test'), client.id, kept.id, keptNumber)).to.equal(true);
    const refused = await h.booted.services.vault.check(systemContext('test'), client.id, gone.id, goneNumber).catch((e: unknown) => e);
    expect(refused === false || refused instanceof Error, 'the disposed number cannot be matched').to.equal(true);
    expect(await h.booted.services.erasureLedger.reapply(), 'a second start has nothing to redo').to.equal(0);
    expect((await h.booted.services.audit.verify()).ok, 'the audit chain goes on from the restored head').to.equal(true);
  });

  it('a ledger entry not made with this master key is ignored, never obeyed', async () => {
    if (!h) h = await open();
    const forged = JSON.stringify({ body: JSON.stringify({ v: 1, requestId: 'x', clientId: 'x', scope: 'client', numbers: [], files: [], at: '' }), mac: '00'.repeat(32) });
    await h.booted.services.storage.write(`${LEDGER_PREFIX}forged-entry`, Readable.from([Buffer.from(forged)]));
    const entries = await h.booted.services.erasureLedger.entries();
    expect(entries.map((e) => e.requestId)).to.not.include('x');
    expect(entries).to.have.length(1);
  });
});
