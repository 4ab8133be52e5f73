import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { envFor, runScript } from '../support/run-cli';
import { AuditEvent, AuditHead, Client } from '../../server/db/models';
import { rowHash } from '../../server/audit/chain';
import { systemContext } from '../../server/audit';

describe('Audit log: one hash-chained, append-only table', () => {
  let h: Harness;
  before(async () => { h = await createHarness(); });
  after(async () => { await h.close(); });

  it('records who, what, when, where and how for authentication events and changes', async () => {
    const admin = await makeUser(h, { role: 'firm_admin', name: '暁 管理者' });
    const b = new TestBrowser(h.portal.app);
    expect((await b.post('/login', { email: admin.email, password: 'wrong password!!' })).status).to.equal(401);
    await b.login(admin);
    const res = await b.post('/firm/clients', { code: 'AUD1', name: '監査株式会社' }, '/firm/clients');
    expect(res.status).to.equal(303);
    await b.post('/logout', {}, '/home');

    const rows = await AuditEvent.findAll({ order: [['seq', 'ASC']] });
    const byOp = (op: string, result: string) => rows.filter((r) => r.operation === op && r.result === result);
    expect(byOp('auth.login', 'denied')).to.have.length(1);
    expect(byOp('auth.login', 'allowed')).to.have.length(1);
    expect(byOp('auth.logout', 'allowed')).to.have.length(1);
    const created = byOp('client.create', 'allowed')[0]!;
    expect(created.actorId).to.equal(admin.user.id);
    expect(created.actorName).to.equal('暁 管理者');
    expect(created.actorRole).to.equal('firm_admin');
    expect(created.channel).to.equal('web:/firm/clients');
    expect(created.ip).to.match(/127\.0\.0\.1/);
    expect(created.targetLabel).to.equal('AUD1 監査株式会社');
    expect(created.clientId).to.equal((await Client.findOne({ where: { code: 'AUD1' } }))!.id);
    expect(byOp('auth.login', 'allowed')[0]!.detail).to.equal('password+totp');
    // Passwords never reach the log.
    expect(JSON.stringify(rows.map((r) => r.get({ plain: true })))).to.not.contain('wrong password');
    expect((await h.booted.services.audit.verify()).ok).to.equal(true);
  });

  it('fails closed: when the audit row cannot be written, the action does not happen', async () => {
    const admin = await makeUser(h, { role: 'firm_admin' });
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const token = await b.csrf('/firm/clients');
    const before = await Client.count();
    const head = await AuditHead.findByPk(1);
    await AuditHead.destroy({ where: { id: 1 } });
    try {
      const res = await b.agent.post('/firm/clients').type('form').send({ _csrf: token, code: 'FAIL1', name: '記録不能株式会社' });
      expect(res.status).to.equal(500);
      expect(res.text).to.contain('サーバーで問題が発生しました');
      expect(res.text).to.not.match(/at .*\.ts:\d+/);
      expect(await Client.count()).to.equal(before);
    } finally {
      await AuditHead.create({ id: 1, seq: head!.seq, hash: head!.hash });
    }
    expect((await h.booted.services.audit.verify()).ok).to.equal(true);
  });

  it('every audited transaction takes the log\'s head first (one lock order on MySQL); the tests refuse any that does not', async () => {
    const { audit, sequelize } = h.booted.services;
    const ctx = systemContext('test');
    const entry = { operation: 'test.lockOrder', result: 'allowed' as const };
    const rows = await AuditEvent.count();
    // Recording in a transaction that never took the head first.
    const late = await sequelize.transaction((tx) => audit.record(tx, ctx, entry)).then(() => null, (err: Error) => err);
    expect(late?.message).to.match(/^lock order: the transaction recording test\.lockOrder did not take the log's head first/);
    // Taking the head after other rows of the transaction: the order that deadlocks against one that took the head first.
    const after = await sequelize.transaction(async (tx) => {
      await Client.findAll({ transaction: tx, lock: tx.LOCK.UPDATE });
      await audit.serialise(tx);
    }).then(() => null, (err: Error) => err);
    expect(after?.message).to.match(/^lock order: the log's head was taken after other rows/);
    expect(await AuditEvent.count()).to.equal(rows);
    // The way every service writes: the head, then the rows, then the log's row.
    await audit.transaction(async (tx) => {
      await Client.findAll({ transaction: tx });
      await audit.record(tx, ctx, entry);
    });
    expect(await AuditEvent.count()).to.equal(rows + 1);
    expect((await audit.verify()).ok).to.equal(true);
  });

  it('never stores a number written into a label (a file named after its number): masked; the code\'s own details (a fingerprint) stay whole; the chain verifies', async () => {
    const { audit } = h.booted.services;
    const fingerprint = '0123456789012345678901234567890123456789012345678901234567890123';
    const row = await audit.transaction((tx) => audit.record(tx, systemContext('test'), {
      operation: 'test.mask', result: 'allowed', targetLabel: 'カード_1234 5678 9018.png', detail: `fingerprint ${fingerprint}, request 3f2b1c00-1d2e-4a5b-8c7d-123456789012`,
    }));
    const stored = (await AuditEvent.findOne({ where: { seq: row.seq } }))!;
    expect([stored.targetLabel, stored.detail]).to.deep.equal(['カード_************.png', `fingerprint ${fingerprint}, request 3f2b1c00-1d2e-4a5b-8c7d-123456789012`]);
    expect((await audit.verify()).ok).to.equal(true);
  });

  it('never stores a number quoted in a detail either: a name typed as a number, then corrected, is logged as it was (masked)', async () => {
    const client = await makeClient(h, { code: 'AUDN', name: '番号誤入力株式会社' });
    const admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const typed = '1234 5678 9018';
    const e = await h.booted.services.people.addEmployee(systemContext('test'), client.id, { employeeCode: 'N1', name: `山田 ${typed}`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null });
    const page = `/client/people/employees/${e.id}`;
    const res = await b.post(`${page}/details`, { employeeCode: 'N1', name: '山田 太郎', nameKana: '', departmentId: '', establishmentId: '', hireDate: '' }, page);
    expect(res.status).to.equal(303);
    const row = (await AuditEvent.findOne({ where: { operation: 'person.update', targetId: e.id } }))!;
    expect(row.detail).to.equal('changed: name (was N1 山田 ************)');
    expect((await h.booted.services.audit.verify()).ok).to.equal(true);
  });
});

describe('Audit log: tampering is detected and named (npm run cli -- audit:verify)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
    for (let i = 1; i <= 5; i++) await makeClient(h, { code: `T${i}`, name: `会社${i}` });
  });
  afterEach(async () => { await h.close(); });

  it('passes on an intact chain and exits 0', async () => {
    expect(await AuditEvent.count()).to.equal(5);
    const out = await runScript('scripts/cli.ts', ['audit:verify'], envFor(h));
    expect(out.code, out.stderr).to.equal(0);
    expect(out.stdout).to.contain('OK: audit chain intact, 5 rows');
  });

  it('names the row whose content was edited in the database, and exits non-zero', async () => {
    await h.booted.sequelize.query("UPDATE audit_events SET target_label = 'T3 改ざん' WHERE seq = 3");
    const verdict = await h.booted.services.audit.verify();
    expect(verdict.ok).to.equal(false);
    expect(verdict.firstBroken).to.deep.equal({ seq: 3, reason: 'its content does not match its hash' });
    const out = await runScript('scripts/cli.ts', ['audit:verify'], envFor(h));
    expect(out.code).to.equal(1);
    expect(out.stderr).to.contain('audit row #3');
  });

  it('names a row whose hash was recomputed to hide an edit (its successor no longer links)', async () => {
    const row = (await AuditEvent.findByPk(2))!;
    const edited = { ...row.get({ plain: true }), result: 'denied' as const };
    await h.booted.sequelize.query('UPDATE audit_events SET result = ?, hash = ? WHERE seq = 2', { replacements: ['denied', rowHash(edited)] });
    expect((await h.booted.services.audit.verify()).firstBroken?.seq).to.equal(3);
  });

  it('names a deleted row, and a deleted last row', async () => {
    await h.booted.sequelize.query('DELETE FROM audit_events WHERE seq = 4');
    expect((await h.booted.services.audit.verify()).firstBroken).to.deep.equal({ seq: 4, reason: 'row 4 is missing' });
    await h.booted.sequelize.query('DELETE FROM audit_events WHERE seq >= 4');
    const v = await h.booted.services.audit.verify();
    expect(v.ok).to.equal(false);
    expect(v.firstBroken?.seq).to.equal(4);
  });
});
