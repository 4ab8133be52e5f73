import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, type MadeUser } from '../support/factories';
import { envFor, runScript } from '../support/run-cli';
import { disposalService } from '../support/disposal';
import { pngBytes, uploadFiles } from '../support/files';
import { TestBrowser } from '../support/browser';
import { Op } from 'sequelize';
import { AuditEvent, ClientKey, DisposalCertificate, DisposalItem, DisposalRequest, Employee, NumberRecord, StoredFile, type Client } from '../../server/db/models';
import { findPerson } from '../../server/vault/people';
import { systemContext, type ActorContext } from '../../server/audit';
import { numberFrom as valid, PURPOSE } from '../support/vault';
import type { DisposalService } from '../../server/disposal/disposal-service';
import { DEFAULT_RULES, saveRules } from '../../server/disposal/retention-rules';
import { changeDeletionDate } from '../../server/disposal/disposal-service';
import { Conflict, NotFound } from '../../server/errors';
import { ErasureLedger } from '../../server/disposal/erasure-ledger';
import { pino } from 'pino';

const ctxOf = (u: MadeUser): ActorContext => ({ actorId: u.user.id, actorName: u.user.name, actorRole: u.user.role, ip: '127.0.0.1', userAgent: 't', channel: 'test' });

/** Every value of every row of every table, as one string per table. */
async function dump(h: Harness): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const qi = h.booted.sequelize.getQueryInterface();
  for (const t of (await qi.showAllTables()) as (string | { tableName: string })[]) {
    const name = typeof t === 'string' ? t : t.tableName;
    const [rows] = await h.booted.sequelize.query(`SELECT * FROM ${h.booted.sequelize.getQueryInterface().quoteIdentifier(name)}`);
    out.set(name, JSON.stringify(rows));
  }
  return out;
}

describe('廃棄: requests, approval by someone else, crypto-erasure, verification, one certificate', function () {
  this.timeout(90_000);
  let h: Harness;
  let client: Client;
  let clientAdmin: MadeUser;
  let firmAdmin: MadeUser;
  let otherAdmin: MadeUser;
  let staff: MadeUser;
  let svc: DisposalService;

  async function numbersFor(c: Client, n: number, leaveDate: string | null, seed: number): Promise<NumberRecord[]> {
    const out: NumberRecord[] = [];
    for (let i = 0; i < n; i++) {
      const e = await Employee.create({ clientId: c.id, employeeCode: `D${seed}${i}`, name: `廃棄 対象${i}`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate, userId: null });
      out.push(await h.booted.services.vault.register(systemContext('test'), await findPerson(c.id, 'employee', e.id), { number: valid(seed * 1000 + i * 7 + 12345678), issueDate: null }, { source: 'proxy', registeredBy: null }));
    }
    return out;
  }

  /** A client admin of that client (one per client): a client admin asks only for their own company's items. */
  const admins = new Map<string, MadeUser>();
  const adminOf = async (c: Client): Promise<MadeUser> => {
    if (!admins.has(c.id)) admins.set(c.id, await makeUser(h, { role: 'client_admin', clientId: c.id, totp: false }));
    return admins.get(c.id)!;
  };

  before(async () => {
    h = await createHarness();
    svc = disposalService(h.booted);
    client = await makeClient(h, { code: 'DS01', name: '株式会社廃棄' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    firmAdmin = await makeUser(h, { role: 'firm_admin', name: '所長' });
    otherAdmin = await makeUser(h, { role: 'firm_admin', name: '副所長' });
    staff = await makeUser(h, { role: 'firm_staff' });
  });
  after(async () => { await h.close(); });

  it('only the firm admin approves, never the requester; early disposal is marked; nothing happens before approval', async () => {
    const records = await numbersFor(client, 2, null, 11);
    const req = await svc.request(ctxOf(clientAdmin), clientAdmin.user, client.id, records.map((r) => ({ kind: 'number' as const, id: r.id })), '退職者の番号の廃棄');
    expect(req.early).to.equal(true);
    expect(await svc.execute(req.id)).to.equal(null);
    expect((await NumberRecord.findByPk(records[0]!.id))!.sealedNumber).to.not.equal(null);
    let err = await svc.approve(ctxOf(staff), staff.user, req.id).catch((e: unknown) => e);
    expect((err as { messageKey?: string }).messageKey).to.equal('disposal.approverRole');
    const own = await svc.request(ctxOf(firmAdmin), firmAdmin.user, client.id, [{ kind: 'number', id: (await numbersFor(client, 1, null, 12))[0]!.id }], '誤登録');
    err = await svc.approve(ctxOf(firmAdmin), firmAdmin.user, own.id).catch((e: unknown) => e);
    expect((err as { messageKey?: string }).messageKey).to.equal('disposal.ownRequest');
    expect(await AuditEvent.count({ where: { operation: 'disposal.approve', result: 'denied' } })).to.equal(2);
    const dup = await svc.request(ctxOf(clientAdmin), clientAdmin.user, client.id, [{ kind: 'number', id: records[0]!.id }], 'again').catch((e: unknown) => e);
    expect((dup as { messageKey?: string }).messageKey).to.equal('disposal.alreadyRequested');
    await svc.approve(ctxOf(firmAdmin), firmAdmin.user, req.id);
    expect((await DisposalRequest.findByPk(req.id))!.status).to.equal('approved');
  });

  it('execution leaves no ciphertext, index or key of the disposed items anywhere, keeps the tombstones and issues exactly one certificate', async () => {
    const req = (await DisposalRequest.findOne({ where: { status: 'approved' } }))!;
    const items = await DisposalItem.findAll({ where: { requestId: req.id } });
    const before = await NumberRecord.findAll({ where: { id: items.map((i) => i.itemId) } });
    const secrets = before.flatMap((r) => [r.sealedNumber!, r.blindIndex!]);
    const cert = await svc.execute(req.id);
    expect(cert!.number).to.match(/^DC-\d{4}-000001$/);
    for (const [table, rows] of await dump(h)) for (const s of secrets) expect(rows.includes(s), `${table} still holds key material`).to.equal(false);
    const after = await NumberRecord.findAll({ where: { id: items.map((i) => i.itemId) } });
    for (const r of after) expect([r.sealedNumber, r.blindIndex, r.lastTwo]).to.deep.equal([null, null, null]);
    expect((await DisposalItem.findAll({ where: { requestId: req.id } })).map((i) => i.state)).to.deep.equal(['verified', 'verified']);
    const tomb = (await DisposalItem.findOne({ where: { requestId: req.id } }))!;
    expect([tomb.maskedLabel, tomb.dataKind]).to.deep.equal(['廃＊ 対＊＊', 'number.employee']);
    expect(tomb.employeeCode).to.match(/^D11\d$/);
    const ops = (await AuditEvent.findAll({ where: { targetId: req.id }, order: [['seq', 'ASC']] })).map((e) => e.operation);
    expect(ops).to.include.members(['disposal.request', 'disposal.approve', 'disposal.erase', 'disposal.verify']);
    expect(await svc.execute(req.id)).to.deep.include({ number: cert!.number });
    expect(await DisposalCertificate.count({ where: { requestId: req.id } })).to.equal(1);
    expect((await svc.certificatePdf(cert!)).toString()).to.contain(cert!.number);
  });

  it('a file\'s data key and object go, and the check is against storage itself', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(clientAdmin);
    const res = await uploadFiles(b, { direction: 'to_firm', category: 'identity' }, [{ name: 'card.png', data: pngBytes(3000) }]);
    expect(res.status).to.equal(200);
    const file = (await StoredFile.findOne({ where: { clientId: client.id, category: 'identity' } }))!;
    const wrapped = file.wrappedKey!;
    expect(await h.booted.services.storage.stat(file.objectId)).to.not.equal(null);
    const req = await svc.request(ctxOf(clientAdmin), clientAdmin.user, client.id, [{ kind: 'file', id: file.id }], '本人確認書類の廃棄');
    await svc.approve(ctxOf(firmAdmin), firmAdmin.user, req.id);
    expect(await svc.execute(req.id)).to.not.equal(null);
    expect(await h.booted.services.storage.stat(file.objectId)).to.equal(null);
    for (const [table, rows] of await dump(h)) expect(rows.includes(wrapped), `${table} still holds the data key`).to.equal(false);
  });

  for (const step of ['ledger-written', 'erased-batch', 'objects-deleted', 'verified', 'certificate-stored']) {
    it(`a process killed at "${step}" finishes on the next run with exactly one certificate`, async () => {
      const records = await numbersFor(client, 3, '2015-03-31', 20 + step.length);
      const req = await svc.request(ctxOf(clientAdmin), clientAdmin.user, client.id, records.map((r) => ({ kind: 'number' as const, id: r.id })), '保存期間満了');
      await svc.approve(ctxOf(firmAdmin), firmAdmin.user, req.id);
      const env = envFor(h);
      const killed = await runScript('test/support/disposal-child.ts', [req.id, step], env, { timeoutMs: 40_000 });
      // Died by the signal (tsx reports its child's SIGKILL as 137).
      expect([null, 137], killed.stderr).to.include(killed.code);
      expect(killed.stdout).to.contain(`step ${step}`);
      expect(await DisposalCertificate.count({ where: { requestId: req.id } })).to.equal(0);
      const firstWritten = (await h.booted.services.erasureLedger.entryOf(req.id))!.at;
      // The claim of the dead process goes stale; the next run (at start-up) takes it over.
      await DisposalRequest.update({ claimedAt: new Date(Date.now() - 10 * 60_000) }, { where: { id: req.id } });
      const resumed = await runScript('test/support/disposal-child.ts', [req.id], env, { timeoutMs: 40_000 });
      expect(resumed.code, resumed.stderr).to.equal(0);
      expect(resumed.stdout).to.match(/certificate DC-\d{4}-\d{6}/);
      expect(await DisposalCertificate.count({ where: { requestId: req.id } })).to.equal(1);
      expect((await DisposalItem.findAll({ where: { requestId: req.id } })).every((i) => i.state === 'verified')).to.equal(true);
      expect((await DisposalRequest.findByPk(req.id))!.status).to.equal('executed');
      // The erasure ledger left it to the resumption (it re-applies only finished or unknown disposals).
      expect(await AuditEvent.count({ where: { operation: 'disposal.reapply', targetId: req.id } })).to.equal(0);
      // Its entry kept the time it was first written, and says when the erasure was done.
      const entry = (await h.booted.services.erasureLedger.entryOf(req.id))!;
      expect(entry.at).to.equal(firstWritten);
      expect(entry.erasedAt! > firstWritten).to.equal(true);
    });
  }

  it('offboarding a whole client destroys its keys too, with one certificate for everything', async () => {
    const gone = await makeClient(h, { code: 'DS02', name: '株式会社解約' });
    await numbersFor(gone, 3, null, 31);
    const req = await svc.request(ctxOf(otherAdmin), otherAdmin.user, gone.id, 'client', '顧問契約の終了');
    expect(req.scope).to.equal('client');
    await svc.approve(ctxOf(firmAdmin), firmAdmin.user, req.id);
    const cert = await svc.execute(req.id);
    expect(cert).to.not.equal(null);
    expect(await ClientKey.count({ where: { clientId: gone.id, wrappedKey: { [Op.ne]: null } } })).to.equal(0);
    expect(await NumberRecord.count({ where: { clientId: gone.id, sealedNumber: { [Op.ne]: null } } })).to.equal(0);
    // The certificate stays readable: it is sealed under the firm's key, not the destroyed client keys.
    expect((await svc.certificatePdf(cert!)).toString()).to.contain(cert!.number);
  });

  it('two requests for the same items at once (two people, or two instances): one is taken, the other told they are already requested', async () => {
    const c = await makeClient(h, { code: 'DS21', name: '株式会社同時依頼' });
    const refs = (await numbersFor(c, 3, null, 21)).map((r) => ({ kind: 'number' as const, id: r.id }));
    const outcomes = await Promise.allSettled([[svc, firmAdmin], [disposalService(h.booted), otherAdmin]].map(([s, u]) => (s as DisposalService).request(ctxOf(u as MadeUser), (u as MadeUser).user, c.id, refs, '同時')));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).to.have.length(1);
    const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')!;
    expect((refused.reason as { messageKey?: string }).messageKey).to.equal('disposal.alreadyRequested');
    expect(await DisposalRequest.count({ where: { clientId: c.id } })).to.equal(1);
    expect(await DisposalItem.count({ where: { itemId: { [Op.in]: refs.map((r) => r.id) } } })).to.equal(3);
  });

  it('a disposal request, a number registered and the client\'s settings saved for the same client meanwhile all go through (no deadlock between their locks)', async () => {
    const c = await makeClient(h, { code: 'DS23', name: '株式会社同時登録' });
    const [rec] = await numbersFor(c, 1, null, 23);
    const e2 = await Employee.create({ clientId: c.id, employeeCode: 'D23-2', name: '後から 登録', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
    // Widen the window between the request's first lock and its audit row, as a request of thousands of items does.
    const count = DisposalItem.count.bind(DisposalItem);
    (DisposalItem as unknown as { count: typeof count }).count = (async (...a: Parameters<typeof count>) => {
      const n = await count(...a);
      await new Promise((r) => setTimeout(r, 300));
      return n;
    }) as typeof count;
    try {
      const requested = svc.request(ctxOf(firmAdmin), firmAdmin.user, c.id, [{ kind: 'number', id: rec!.id }], '同時');
      await new Promise((r) => setTimeout(r, 100));
      const registered = h.booted.services.vault.register(systemContext('test'), await findPerson(c.id, 'employee', e2.id), { number: valid(23230000123), issueDate: null }, { source: 'proxy', registeredBy: null });
      // And the client's settings saved meanwhile (it writes the client row, which the request's rows refer to).
      const renamed = h.booted.services.clients.update(systemContext('test'), c, { name: '株式会社同時登録（改）', nameKana: null, requireAdminTotp: false });
      const outcomes = await Promise.allSettled([requested, registered, renamed]);
      expect(outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : `${(o.reason as Error).name}: ${(o.reason as Error).message}`))).to.deep.equal(['ok', 'ok', 'ok']);
    } finally {
      (DisposalItem as unknown as { count: typeof count }).count = count;
    }
  });

  it('two instances\' nightly runs at once dispose of a client\'s due numbers once: one request, one certificate', async () => {
    const c = await makeClient(h, { code: 'DS22', name: '株式会社夜間' });
    const records = await numbersFor(c, 2, null, 22);
    for (const r of records) await h.booted.services.people.setLeaveDate(systemContext('test'), c.id, r.personId, '2016-03-31');
    await saveRules(h.booted.services, systemContext('test'), c.id, { ...DEFAULT_RULES, autoDispose: true });
    await Promise.all([svc.runAutomatic(), disposalService(h.booted).runAutomatic()]);
    expect(await DisposalRequest.count({ where: { clientId: c.id } })).to.equal(1);
    expect(await DisposalCertificate.count({ where: { clientId: c.id } })).to.equal(1);
    for (const r of records) expect((await NumberRecord.findByPk(r.id))!.sealedNumber).to.equal(null);
  });

  it('a number registered again after its disposal (a rehire) is new: a later start\'s ledger leaves it, and its deletion date starts again from the rules', async () => {
    const c = await makeClient(h, { code: 'DS31', name: '株式会社再雇用' });
    const sys = systemContext('test');
    const [first] = await numbersFor(c, 1, '2015-03-31', 23);
    const req = await svc.request(ctxOf(await adminOf(c)), (await adminOf(c)).user, c.id, [{ kind: 'number', id: first!.id }], '保存期間満了');
    await svc.approve(ctxOf(firmAdmin), firmAdmin.user, req.id);
    expect(await svc.execute(req.id)).to.not.equal(null);
    // Rehired: no leave date, and the number given again (the same person's record is filled again).
    await h.booted.services.people.setLeaveDate(sys, c.id, first!.personId, null);
    const again = await h.booted.services.vault.register(sys, await findPerson(c.id, 'employee', first!.personId), { number: valid(23_000 + 12345678), issueDate: null }, { source: 'proxy', registeredBy: null });
    expect(again.id).to.equal(first!.id);
    expect(again.deletionDate, 'employed again: no date, not the past one').to.equal(null);
    // A later start (or another instance) reads the ledger afresh: the new number is not restored data.
    const s = h.booted.services;
    const restarted = new ErasureLedger({ storage: s.storage, keys: s.keys, audit: s.audit, logger: pino({ level: 'silent' }) });
    expect(await restarted.reapply()).to.equal(0);
    const row = (await NumberRecord.findByPk(first!.id))!;
    expect(row.sealedNumber).to.not.equal(null);
    expect((await h.booted.services.vault.open(sys, c.id, [row.id], PURPOSE, 'vault.print'))[0]!.number).to.equal(valid(23_000 + 12345678));
    expect(await AuditEvent.count({ where: { operation: 'disposal.reapply', clientId: c.id } })).to.equal(0);
  });

  it('a deletion date cancelled (予定解除) or moved by hand stays when the leave date is corrected or the number corrected; one that follows the rules moves', async () => {
    const c = await makeClient(h, { code: 'DS32', name: '株式会社保留' });
    const sys = systemContext('test');
    await saveRules(h.booted.services, sys, c.id, { ...DEFAULT_RULES, autoDispose: true });
    const [held, moved, plain] = await numbersFor(c, 3, '2015-03-31', 24);
    for (const r of [held, moved, plain]) expect(r!.deletionDate).to.equal('2022-03-31');
    await changeDeletionDate(h.booted.services, sys, c.id, held!.id, null, '係争中のため保存');
    await changeDeletionDate(h.booted.services, sys, c.id, moved!.id, '2040-01-31', '税務調査に備えて保存');
    // The leave dates were a day off; the held number's own number is corrected too.
    for (const r of [held, moved, plain]) await h.booted.services.people.setLeaveDate(sys, c.id, r!.personId, '2015-03-30');
    await h.booted.services.vault.register(sys, await findPerson(c.id, 'employee', held!.personId), { number: valid(24_999 + 12345678), issueDate: null }, { source: 'proxy', registeredBy: null });
    const dateOf = async (r: NumberRecord | undefined) => (await NumberRecord.findByPk(r!.id))!.deletionDate;
    expect([await dateOf(held), await dateOf(moved), await dateOf(plain)]).to.deep.equal([null, '2040-01-31', '2022-03-30']);
    // Cleared (rehired) and set again: a hold stays a hold.
    await h.booted.services.people.setLeaveDate(sys, c.id, held!.personId, null);
    await h.booted.services.people.setLeaveDate(sys, c.id, held!.personId, '2015-06-30');
    expect(await dateOf(held)).to.equal(null);
    // The nightly run takes only the number that follows the rules.
    await svc.runAutomatic();
    const sealed = async (r: NumberRecord | undefined) => (await NumberRecord.findByPk(r!.id))!.sealedNumber !== null;
    expect([await sealed(held), await sealed(moved), await sealed(plain)]).to.deep.equal([true, true, false]);
  });

  it('a date the rules gave before the rules changed still follows a corrected leave date (it was not set by hand)', async () => {
    const c = await makeClient(h, { code: 'DS35', name: '株式会社規程変更' });
    const sys = systemContext('test');
    const [r] = await numbersFor(c, 1, '2016-03-31', 35);
    expect(r!.deletionDate).to.equal('2023-03-31');
    await saveRules(h.booted.services, sys, c.id, { ...DEFAULT_RULES, numberYears: 10, autoDispose: true });
    // Dates already given are not moved by the rules; a corrected leave date gives one under the rules of now.
    expect((await NumberRecord.findByPk(r!.id))!.deletionDate).to.equal('2023-03-31');
    await h.booted.services.people.setLeaveDate(sys, c.id, r!.personId, '2018-03-31');
    expect((await NumberRecord.findByPk(r!.id))!.deletionDate).to.equal('2028-03-31');
    await svc.runAutomatic();
    expect((await NumberRecord.findByPk(r!.id))!.sealedNumber).to.not.equal(null);
  });

  it('a request whose items another disposal destroyed while it was being prepared is refused (409): one item, one certificate', async () => {
    const c = await makeClient(h, { code: 'DS33', name: '株式会社二重' });
    const [rec] = await numbersFor(c, 1, '2015-03-31', 33);
    const first = await svc.request(ctxOf(await adminOf(c)), (await adminOf(c)).user, c.id, [{ kind: 'number', id: rec!.id }], '保存期間満了');
    await svc.approve(ctxOf(firmAdmin), firmAdmin.user, first.id);
    // The second request has described its items when the first runs to its certificate.
    const inner = svc as unknown as { describeMany: (...a: unknown[]) => Promise<unknown> };
    const original = inner.describeMany;
    inner.describeMany = async (...a: unknown[]) => {
      const out = await original.apply(svc, a);
      inner.describeMany = original;
      expect(await svc.execute(first.id)).to.not.equal(null);
      return out;
    };
    const refused = await svc.request(ctxOf(otherAdmin), otherAdmin.user, c.id, [{ kind: 'number', id: rec!.id }], '重複').then(() => null, (err: unknown) => err);
    inner.describeMany = original;
    expect(refused).to.be.instanceOf(Conflict).and.include({ messageKey: 'disposal.alreadyDisposed' });
    expect(await DisposalRequest.count({ where: { clientId: c.id } })).to.equal(1);
    expect(await DisposalCertificate.count({ where: { clientId: c.id } })).to.equal(1);
  });

  it('a download or a reveal that read its item before a disposal committed is refused after it: nothing opened, no read logged', async () => {
    const c = await makeClient(h, { code: 'DS34', name: '株式会社読取中' });
    const admin = await makeUser(h, { role: 'client_admin', clientId: c.id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    expect((await uploadFiles(b, { direction: 'to_firm', category: 'other' }, [{ name: '在籍証明.png', data: pngBytes(3000) }])).status).to.equal(200);
    const file = (await StoredFile.findOne({ where: { clientId: c.id, displayName: '在籍証明.png' } }))!;
    const [rec] = await numbersFor(c, 1, '2015-03-31', 34);
    // Both have read their rows when the disposal runs to its certificate.
    const stale = await h.booted.services.files.getFor(admin.user, file.id);
    const req = await svc.request(ctxOf(clientAdmin), admin.user, c.id, [{ kind: 'file', id: file.id }, { kind: 'number', id: rec!.id }], '誤送信');
    await svc.approve(ctxOf(firmAdmin), firmAdmin.user, req.id);
    const guard = h.booted.services.vault.guard as unknown as { within: (...a: unknown[]) => Promise<unknown> };
    const within = guard.within;
    guard.within = async (...a: unknown[]) => {
      guard.within = within;
      expect(await svc.execute(req.id)).to.not.equal(null);
      return within.apply(guard, a);
    };
    try {
      const revealed = await h.booted.services.vault.open(ctxOf(firmAdmin), c.id, [rec!.id], PURPOSE, 'vault.reveal').then(() => 'revealed', (err: unknown) => err);
      expect(revealed).to.be.instanceOf(NotFound);
    } finally { guard.within = within; }
    const downloaded = await h.booted.services.files.open(ctxOf(admin), admin.user, stale, null).then(() => 'opened', (err: unknown) => err);
    expect(downloaded).to.be.instanceOf(NotFound);
    expect(await AuditEvent.count({ where: { clientId: c.id, operation: { [Op.in]: ['vault.reveal', 'file.download'] } } })).to.equal(0);
  });

  it('a row written while an erasure ran, caught by a backup and restored, is erased again: the ledger counts from when the erasure was done', async () => {
    const c = await makeClient(h, { code: 'DS36', name: '株式会社途中' });
    const [rec] = await numbersFor(c, 1, '2015-03-31', 36);
    const s = h.booted.services;
    const entry = { requestId: randomUUID(), clientId: c.id, scope: 'items' as const, numbers: [rec!.id], files: [] };
    const at = await s.erasureLedger.record(entry);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // While the disposal runs, the person confirms the number; a backup is taken.
    await s.vault.confirm(systemContext('test'), c.id, rec!.id, 'person');
    const backup = (await NumberRecord.findByPk(rec!.id))!.get({ plain: true });
    await NumberRecord.update({ sealedNumber: null, blindIndex: null, lastTwo: null }, { where: { id: rec!.id } });
    await s.erasureLedger.record({ ...entry, at, erasedAt: new Date().toISOString() });
    // The backup restored; a start reads the ledger afresh.
    await NumberRecord.update({ sealedNumber: backup.sealedNumber, blindIndex: backup.blindIndex, lastTwo: backup.lastTwo, updatedAt: backup.updatedAt }, { where: { id: rec!.id }, silent: true });
    expect((await NumberRecord.findByPk(rec!.id))!.sealedNumber).to.not.equal(null);
    const restarted = new ErasureLedger({ storage: s.storage, keys: s.keys, audit: s.audit, logger: pino({ level: 'silent' }) });
    expect(await restarted.reapply()).to.equal(1);
    expect((await NumberRecord.findByPk(rec!.id))!.sealedNumber).to.equal(null);
  });

  it('an executed disposal leaves its ledger entry with the time its erasure was done', async () => {
    const c = await makeClient(h, { code: 'DS37', name: '株式会社記録' });
    const [rec] = await numbersFor(c, 1, '2015-03-31', 37);
    const req = await svc.request(ctxOf(await adminOf(c)), (await adminOf(c)).user, c.id, [{ kind: 'number', id: rec!.id }], '保存期間満了');
    await svc.approve(ctxOf(firmAdmin), firmAdmin.user, req.id);
    await svc.execute(req.id);
    const entry = (await h.booted.services.erasureLedger.entries()).find((e) => e.requestId === req.id)!;
    expect(entry.erasedAt).to.be.a('string');
    expect(new Date(entry.erasedAt!).getTime()).to.be.at.least(new Date(entry.at).getTime());
    // Its first time is kept: the entry was written before anything was erased.
    expect(entry.at < (await AuditEvent.findOne({ where: { operation: 'disposal.erase', targetId: req.id } }))!.at.toISOString()).to.equal(true);
  });
});
