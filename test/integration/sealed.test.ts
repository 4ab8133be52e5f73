import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createHarness, sharedDatabase, type Harness } from '../support/harness';
import { makeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { fillPath, tableCounts } from '../support/security';
import { envFor, runScript } from '../support/run-cli';
import { AuditEvent, Client, KeyCheck, User } from '../../server/db/models';

describe('Keys: a wrong or missing master key starts the portal sealed', () => {
  let dataDir: string;
  let db: Awaited<ReturnType<typeof sharedDatabase>>;
  let first: Harness;
  let admin: Awaited<ReturnType<typeof makeUser>>;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-sealed-'));
    db = await sharedDatabase();
    first = await createHarness({}, { dataDir, keepDatabase: db.url ? { url: db.url } : undefined });
    admin = await makeUser(first, { role: 'firm_admin' });
    await first.close();
  });
  after(async () => {
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const reopen = (env: Record<string, string> = {}) => createHarness(env, { dataDir, keepDatabase: db.url ? { url: db.url } : undefined });

  /** Every route the sealed portal does not serve, as a signed-out browser and with a bearer token: 503, and no table changes. */
  async function everyRouteSealed(h: Harness): Promise<number> {
    const before = await tableCounts(h.booted.sequelize);
    const b = new TestBrowser(h.portal.app);
    await b.get('/login');
    let walked = 0;
    for (const r of h.portal.routes.filter((x) => !(x as { whenSealed?: boolean }).whenSealed)) {
      const p = fillPath(r.path, { token: 'a'.repeat(43) });
      const res = r.method === 'get'
        ? await b.agent.get(p).set('Authorization', 'Bearer akt_not_a_real_token')
        : await b.agent.post(p).set('Authorization', 'Bearer akt_not_a_real_token').type('form').send({ _csrf: 'x', number: '123456789018' });
      expect(res.status, `${r.method.toUpperCase()} ${r.path}`).to.equal(503);
      walked += 1;
    }
    expect(await tableCounts(h.booted.sequelize)).to.deep.equal(before);
    return walked;
  }

  it('generated the key at first run (0600) and stored a key-check value', async () => {
    const h = await reopen();
    try {
      expect(fs.statSync(path.join(dataDir, 'master.key')).mode & 0o777).to.equal(0o600);
      expect(await KeyCheck.count()).to.equal(1);
      expect(h.booted.services.keys.sealed).to.equal(false);
    } finally { await h.close(); }
  });

  it('with a wrong key: sealed, 503 with a clear message on key routes, nothing written, health says so', async () => {
    const keyFile = path.join(dataDir, 'wrong.key');
    fs.writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
    const h = await reopen({ MASTER_KEY_FILE: keyFile });
    try {
      expect(h.booted.services.keys.sealed).to.equal(true);
      expect(h.booted.services.keys.sealReason).to.equal('wrong-key');
      const before = { audit: await AuditEvent.count(), users: await User.count(), clients: await Client.count() };
      const b = new TestBrowser(h.portal.app);

      const health = await b.get('/healthz');
      expect(health.status).to.equal(503);
      expect(health.body).to.include({ sealed: true, database: 'ok', sealReason: 'wrong-key' });

      const login = await b.get('/login');
      expect(login.status).to.equal(200);
      expect(login.text).to.contain('封印状態');
      const post = await b.post('/login', { email: admin.email, password: admin.password });
      expect(post.status).to.equal(503);
      expect(post.text).to.contain('暗号鍵を読み込めないため');
      for (const p of ['/home', '/firm/clients', '/account/totp', '/password/forgot']) {
        expect((await b.get(p)).status, p).to.equal(503);
      }
      expect({ audit: await AuditEvent.count(), users: await User.count(), clients: await Client.count() }).to.deep.equal(before);
      // Not just those: every vault, file, report, disposal and API route.
      expect(await everyRouteSealed(h)).to.be.greaterThan(60);
    } finally { await h.close(); }
  });

  it('with the key file gone: sealed as missing, and no new key is generated over existing data', async () => {
    const keyFile = path.join(dataDir, 'master.key');
    const saved = fs.readFileSync(keyFile);
    fs.rmSync(keyFile);
    try {
      const h = await reopen();
      try {
        expect(h.booted.services.keys.sealReason).to.equal('missing');
        expect(fs.existsSync(keyFile)).to.equal(false);
        expect(await everyRouteSealed(h)).to.be.greaterThan(60);
      } finally { await h.close(); }
    } finally {
      fs.writeFileSync(keyFile, saved, { mode: 0o600 });
    }
    const h = await reopen();
    try { expect(h.booted.services.keys.sealed).to.equal(false); } finally { await h.close(); }
  });

  it('with the key-check row gone while encrypted data remains: sealed, no key taken on trust, no check value written', async () => {
    const h0 = await reopen();
    const saved = (await KeyCheck.findByPk(1))!.get({ plain: true });
    await KeyCheck.destroy({ where: { id: 1 } });
    await h0.close();
    const keyFile = path.join(dataDir, 'master.key');
    const keyBefore = fs.readFileSync(keyFile);
    try {
      const h = await reopen();
      try {
        expect(h.booted.services.keys.sealReason).to.equal('check-missing');
        expect(await KeyCheck.count()).to.equal(0);
        expect(fs.readFileSync(keyFile).equals(keyBefore)).to.equal(true);
        expect(await everyRouteSealed(h)).to.be.greaterThan(60);
      } finally { await h.close(); }
    } finally {
      const h = await reopen();
      await KeyCheck.create(saved);
      await h.close();
    }
    const h = await reopen();
    try { expect(h.booted.services.keys.sealed).to.equal(false); } finally { await h.close(); }
  });

  it('the server says SEALED at start, and keys:status exits non-zero', async function () {
    this.timeout(40_000);
    const keyFile = path.join(dataDir, 'wrong.key');
    const env = envFor({ config: { ...first.config, masterKeyIsEmbedded: false, masterKeyFile: keyFile } }, { PORT: '0' });
    const server = await runScript('server/main.ts', [], env, { untilOutput: /listening/ });
    expect(server.stdout).to.match(/SEALED: the master key in .*wrong\.key is not the key this database was encrypted with/);
    const status = await runScript('scripts/cli.ts', ['keys:status'], env);
    expect(status.code).to.equal(1);
    expect(status.stderr).to.contain('SEALED');
  });
});
