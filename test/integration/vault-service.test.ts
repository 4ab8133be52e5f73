import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { createHarness, dialectName, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import {
  actorOf, auditRows, fullWidth, keyOf, makeDependant, makeEmployee, makePayee, PURPOSE, rejects, restoreAuditHead, wholeList,
  scanDatabase, twelveDigitRunsOutsideIds, validNumber, wrongCheckDigit,
} from '../support/vault';
import { systemContext } from '../../server/audit';
import { AuditEvent, AuditHead, Department, Dependant, Employee, NumberRecord, OutboxMail, Payee, StaffAssignment, type Client, type User } from '../../server/db/models';
import { blindIndex, openNumber } from '../../server/crypto/number-cipher';
import { BadRequest, FieldConflict, Forbidden, NotFound, TooManyRequests } from '../../server/errors';
import { VAULT_PAGE_SIZE } from '../../server/vault/vault-service';
import { findPerson } from '../../server/vault/people';
import type { Services } from '../../server/services';
import { rowsReadDuring } from '../support/rows-read';

const sys = systemContext('test');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('VaultService: registering, sealing, listing, checking and opening My Numbers', () => {
  let h: Harness;
  let s: Services;
  let clientA: Client;
  let clientB: Client;
  let staff: MadeUser;
  /** every number this suite stored, for the final scan of the database */
  const stored = new Set<string>();
  let seed = 100;
  const fresh = () => validNumber(seed++);

  before(async () => {
    h = await createHarness();
    s = h.booted.services;
    clientA = await makeClient(h, { name: '株式会社あかつき' });
    clientB = await makeClient(h, { name: '株式会社よいやみ' });
    staff = await makeUser(h, { role: 'firm_staff', name: '担当 一号' });
    await assign(h, clientA.id, staff.user.id);
  });
  after(async () => { await h.close(); });

  describe('register', () => {
    it('registers from each source (proxy, self, import, link), recording the source and its own audit operation', async () => {
      for (const source of ['proxy', 'self', 'import', 'link'] as const) {
        const { person, employee } = await makeEmployee(clientA.id, { name: `登録 ${source}` });
        const number = fresh();
        const record = await s.vault.register(sys, person, { number, issueDate: '2021-04-01' }, { source, registeredBy: null });
        stored.add(number);
        expect(record.source).to.equal(source);
        expect(record.status).to.equal('registered');
        expect(record.personConfirmedAt).to.equal(null);
        expect(record.issueDate).to.equal('2021-04-01');
        expect(record.personKind).to.equal('employee');
        expect(record.personId).to.equal(employee.id);
        const rows = await auditRows({ targetId: employee.id });
        expect(rows.map((r) => r.operation)).to.deep.equal([`vault.register.${source}`]);
        expect(rows[0]!.detail).to.equal(source);
        expect(rows[0]!.clientId).to.equal(clientA.id);
        expect(rows[0]!.targetLabel).to.equal(`${employee.employeeCode} 登録 ${source}`);
        expect(JSON.stringify(rows[0]!.get({ plain: true }))).to.not.contain(number);
      }
    });

    it('registers numbers for a dependant and a payee as well, each under its own kind', async () => {
      const { employee } = await makeEmployee(clientA.id, { name: '親 太郎' });
      const dep = await makeDependant(clientA.id, employee.id, '子 花子');
      const payee = await makePayee(clientA.id, { name: '講師 次郎' });
      const nd = fresh();
      const np = fresh();
      const rd = await s.vault.register(sys, dep.person, { number: nd, issueDate: null }, { source: 'proxy', registeredBy: null });
      const rp = await s.vault.register(sys, payee.person, { number: np, issueDate: null }, { source: 'link', confirmedByPerson: true, registeredBy: null });
      stored.add(nd).add(np);
      expect([rd.personKind, rd.personId]).to.deep.equal(['dependant', dep.dependant.id]);
      expect([rp.personKind, rp.personId, rp.status]).to.deep.equal(['payee', payee.payee.id, 'person_confirmed']);
      expect(rp.personConfirmedAt).to.be.instanceOf(Date);
      const opened = await s.vault.open(sys, clientA.id, [rd.id], PURPOSE, 'vault.print');
      expect(opened.map((o) => o.number)).to.deep.equal([nd]);
      const forPayment = await s.vault.open(sys, clientA.id, [rp.id], { purpose: 'payment_record', office: 'tax_office' }, 'vault.print');
      expect(forPayment.map((o) => o.number)).to.deep.equal([np]);
      // A payee's number is for the 支払調書 only; an office a procedure is never filed at is refused; both logged as refusals.
      expect(keyOf(await rejects(() => s.vault.open(sys, clientA.id, [rd.id, rp.id], PURPOSE, 'vault.print'), BadRequest))).to.equal('vault.payeePurpose');
      expect(keyOf(await rejects(() => s.vault.open(sys, clientA.id, [rd.id], { purpose: 'withholding_slip', office: 'hello_work' }, 'vault.print'), BadRequest))).to.equal('vault.officeMismatch');
      const refusals = await AuditEvent.findAll({ where: { operation: 'vault.print', result: 'denied' }, order: [['seq', 'DESC']], limit: 2 });
      expect(refusals.map((r) => r.detail)).to.deep.equal(['office does not fit the purpose', 'purpose not for a payee']);
      expect(refusals[1]!.targetId).to.equal(payee.payee.id);
      // A dependant's number is not on the employee's own insurance forms (雇用保険・社会保険の資格取得届); it is on the 被扶養者異動届.
      for (const purpose of [{ purpose: 'employment_insurance_acquire', office: 'hello_work' }, { purpose: 'social_insurance_acquire', office: 'pension_office' }] as const) {
        expect(keyOf(await rejects(() => s.vault.open(sys, clientA.id, [rd.id], purpose, 'vault.print'), BadRequest)), purpose.purpose).to.equal('vault.dependantPurpose');
        const refused = (await AuditEvent.findOne({ where: { operation: 'vault.print', result: 'denied' }, order: [['seq', 'DESC']] }))!;
        expect([refused.detail, refused.targetId, refused.purpose]).to.deep.equal(['purpose not for a dependant', dep.dependant.id, purpose.purpose]);
      }
      expect((await s.vault.open(sys, clientA.id, [rd.id], { purpose: 'dependant_change', office: 'health_insurance' }, 'vault.print')).map((o) => o.number)).to.deep.equal([nd]);
    });

    it('accepts full-width digits and stores the number normalised', async () => {
      const { person } = await makeEmployee(clientA.id, { name: '全角 入力' });
      const record = await s.vault.register(sys, person, { number: '１２３４５６７８９０１８', issueDate: null }, { source: 'self', registeredBy: null });
      stored.add('123456789018');
      expect(record.lastTwo).to.equal('18');
      const [opened] = await s.vault.open(actorOf(staff.user), clientA.id, [record.id], PURPOSE, 'vault.print');
      expect(opened!.number).to.equal('123456789018');
      const indexKey = await s.clientKeys.version(clientA.id, 'index', record.indexVersion);
      expect(record.blindIndex).to.equal(blindIndex(indexKey, '123456789018'));
    });

    it('refuses an invalid check digit, naming the field, and stores nothing (no record, no audit row)', async () => {
      const { person } = await makeEmployee(clientA.id);
      const records = await NumberRecord.count();
      const events = await AuditEvent.count();
      const err = await rejects(() => s.vault.register(sys, person, { number: '123456789019', issueDate: null }, { source: 'proxy', registeredBy: null }), BadRequest);
      expect(err.messageKey).to.equal('vault.number.checkDigit');
      expect(err.fieldErrors).to.deep.equal({ number: 'vault.number.checkDigit' });
      expect(await NumberRecord.count()).to.equal(records);
      expect(await AuditEvent.count()).to.equal(events);
      expect(await s.vault.recordOf(person)).to.equal(null);
    });

    it('a refused replacement leaves the stored number as it was', async () => {
      const { person } = await makeEmployee(clientA.id);
      const number = fresh();
      const first = await s.vault.register(sys, person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(number);
      const events = await AuditEvent.count();
      await rejects(() => s.vault.register(sys, person, { number: wrongCheckDigit(fresh()), issueDate: null }, { source: 'proxy', registeredBy: null }), BadRequest);
      const after = (await s.vault.recordOf(person))!;
      expect(after.sealedNumber).to.equal(first.sealedNumber);
      expect(after.blindIndex).to.equal(first.blindIndex);
      expect(await AuditEvent.count()).to.equal(events);
    });
  });

  describe('what is stored', () => {
    it('holds no plaintext: the sealed value hides the digits, only the last two are kept, the blind index is a keyed HMAC', async () => {
      const { person } = await makeEmployee(clientA.id);
      const number = fresh();
      const record = await s.vault.register(sys, person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(number);
      const [raw] = await h.booted.sequelize.query('SELECT * FROM number_records WHERE id = :id', { replacements: { id: record.id } });
      const row = (raw as Record<string, unknown>[])[0]!;
      expect(row, 'the raw row').to.be.an('object');
      for (const [column, value] of Object.entries(row)) {
        expect(String(value), column).to.not.contain(number);
        expect(String(value), column).to.not.contain(fullWidth(number));
      }
      const sealed = String(row.sealed_number);
      expect(sealed).to.match(/^[A-Za-z0-9+/]+=*$/);
      expect(Buffer.from(sealed, 'base64').includes(Buffer.from(number, 'ascii'))).to.equal(false);
      expect(row.last_two).to.equal(number.slice(-2));
      expect(String(row.last_two)).to.have.length(2);
      const index = String(row.blind_index);
      expect(index).to.match(/^[0-9a-f]{64}$/);
      expect(index).to.not.equal(sha256(number));
      expect(index).to.not.equal(sha256(`akatsuki/my-number-index/v1/${number}`));
      const indexKey = await s.clientKeys.version(clientA.id, 'index', record.indexVersion);
      expect(index).to.equal(blindIndex(indexKey, number));
    });

    it('a ciphertext copied to another person\'s row does not open (AAD binds client, person and key version)', async () => {
      const p1 = await makeEmployee(clientA.id);
      const p2 = await makeEmployee(clientA.id);
      const n1 = fresh();
      const n2 = fresh();
      const r1 = await s.vault.register(sys, p1.person, { number: n1, issueDate: null }, { source: 'proxy', registeredBy: null });
      const r2 = await s.vault.register(sys, p2.person, { number: n2, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(n1).add(n2);
      const key = await s.clientKeys.version(clientA.id, 'numbers', r1.keyVersion);
      const owner1 = { clientId: clientA.id, personKind: 'employee' as const, personId: p1.employee.id, keyVersion: r1.keyVersion };
      // The right owner opens it: the failures below come from the binding, not a broken key.
      expect(openNumber(key, owner1, r1.sealedNumber!)).to.equal(n1);
      expect(() => openNumber(key, { ...owner1, personId: p2.employee.id }, r1.sealedNumber!)).to.throw();
      expect(() => openNumber(key, { ...owner1, personKind: 'dependant' }, r1.sealedNumber!)).to.throw();
      expect(() => openNumber(key, { ...owner1, clientId: clientB.id }, r1.sealedNumber!)).to.throw();
      expect(() => openNumber(key, { ...owner1, keyVersion: r1.keyVersion + 1 }, r1.sealedNumber!)).to.throw();

      // Copied in the database, it does not open through the service either, and nothing is logged as revealed.
      const original = r2.sealedNumber;
      await NumberRecord.update({ sealedNumber: r1.sealedNumber }, { where: { id: r2.id } });
      try {
        await rejects(() => s.vault.open(actorOf(staff.user), clientA.id, [r2.id], PURPOSE, 'vault.print'), Error);
        expect(await AuditEvent.count({ where: { operation: 'vault.print', targetId: p2.employee.id } })).to.equal(0);
      } finally {
        await NumberRecord.update({ sealedNumber: original }, { where: { id: r2.id } });
      }
      const [back] = await s.vault.open(actorOf(staff.user), clientA.id, [r2.id], PURPOSE, 'vault.print');
      expect(back!.number).to.equal(n2);
    });
  });

  describe('duplicates and replacement', () => {
    it('a number is held by one person per client: a second person gets FieldConflict, nothing stored; another client may hold it', async () => {
      const first = await makeEmployee(clientA.id);
      const number = fresh();
      const r1 = await s.vault.register(sys, first.person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(number);
      const other = await makeEmployee(clientA.id);
      const records = await NumberRecord.count();
      const events = await AuditEvent.count();
      for (const typed of [number, fullWidth(number)]) {
        const err = await rejects(() => s.vault.register(sys, other.person, { number: typed, issueDate: null }, { source: 'proxy', registeredBy: null }), FieldConflict);
        expect(err.messageKey).to.equal('vault.number.duplicate');
        expect(err.fieldErrors).to.deep.equal({ number: 'vault.number.duplicate' });
      }
      expect(await NumberRecord.count()).to.equal(records);
      expect(await AuditEvent.count()).to.equal(events);
      expect(await s.vault.recordOf(other.person)).to.equal(null);

      // The same person registering the same number again is not a clash with themselves.
      const again = await s.vault.register(sys, first.person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
      expect(again.id).to.equal(r1.id);

      const elsewhere = await makeEmployee(clientB.id);
      const rb = await s.vault.register(sys, elsewhere.person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
      expect(rb.clientId).to.equal(clientB.id);
      // Each client has its own index key: the same number does not even look the same across clients.
      expect(rb.blindIndex).to.not.equal(r1.blindIndex);
      const [opened] = await s.vault.open(sys, clientB.id, [rb.id], PURPOSE, 'vault.print');
      expect(opened!.number).to.equal(number);
    });

    it('re-registering a person\'s number replaces it, clears both confirmations and logs vault.update', async () => {
      const { person, employee } = await makeEmployee(clientA.id);
      const oldNumber = fresh();
      const newNumber = fresh();
      const r1 = await s.vault.register(sys, person, { number: oldNumber, issueDate: '2020-01-01' }, { source: 'self', registeredBy: null });
      await s.vault.confirm(sys, clientA.id, r1.id, 'person');
      await s.vault.confirm(sys, clientA.id, r1.id, 'admin');
      expect((await NumberRecord.findByPk(r1.id))!.status).to.equal('admin_confirmed');

      const r2 = await s.vault.register(sys, person, { number: newNumber, issueDate: null }, { source: 'proxy', registeredBy: staff.user.id });
      stored.add(newNumber);
      expect(r2.id).to.equal(r1.id);
      expect(await NumberRecord.count({ where: { clientId: clientA.id, personKind: 'employee', personId: employee.id } })).to.equal(1);
      const row = (await NumberRecord.findByPk(r1.id))!;
      expect(row.status).to.equal('registered');
      expect(row.personConfirmedAt).to.equal(null);
      expect(row.adminConfirmedAt).to.equal(null);
      expect(row.source).to.equal('proxy');
      expect(row.registeredBy).to.equal(staff.user.id);
      expect(row.lastTwo).to.equal(newNumber.slice(-2));
      const ops = (await auditRows({ targetId: employee.id })).map((r) => r.operation);
      expect(ops).to.deep.equal(['vault.register.self', 'vault.confirm.person', 'vault.confirm.admin', 'vault.update']);
      const [opened] = await s.vault.open(sys, clientA.id, [r1.id], PURPOSE, 'vault.print');
      expect(opened!.number).to.equal(newNumber);
      // The replaced number is no longer held: someone else may now register it.
      const other = await makeEmployee(clientA.id);
      await s.vault.register(sys, other.person, { number: oldNumber, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(oldNumber);
    });
  });

  describe('confirm', () => {
    it('the person, then the admin, confirm: status and timestamps follow, each logged', async () => {
      const { person, employee } = await makeEmployee(clientA.id);
      const number = fresh();
      const r = await s.vault.register(sys, person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(number);
      await s.vault.confirm(sys, clientA.id, r.id, 'person');
      let row = (await NumberRecord.findByPk(r.id))!;
      expect(row.status).to.equal('person_confirmed');
      expect(row.personConfirmedAt).to.be.instanceOf(Date);
      expect(row.adminConfirmedAt).to.equal(null);
      await s.vault.confirm(sys, clientA.id, r.id, 'admin');
      row = (await NumberRecord.findByPk(r.id))!;
      expect(row.status).to.equal('admin_confirmed');
      expect(row.personConfirmedAt).to.be.instanceOf(Date);
      expect(row.adminConfirmedAt).to.be.instanceOf(Date);
      const rows = await auditRows({ targetId: employee.id });
      expect(rows.map((x) => [x.operation, x.result, x.clientId])).to.deep.equal([
        ['vault.register.proxy', 'allowed', clientA.id], ['vault.confirm.person', 'allowed', clientA.id], ['vault.confirm.admin', 'allowed', clientA.id],
      ]);
    });

    it('an admin confirmation alone sets admin_confirmed; another client\'s record is not found', async () => {
      const { person } = await makeEmployee(clientA.id);
      const number = fresh();
      const r = await s.vault.register(sys, person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(number);
      await rejects(() => s.vault.confirm(sys, clientB.id, r.id, 'admin'), NotFound);
      expect((await NumberRecord.findByPk(r.id))!.status).to.equal('registered');
      await s.vault.confirm(sys, clientA.id, r.id, 'admin');
      const row = (await NumberRecord.findByPk(r.id))!;
      expect(row.status).to.equal('admin_confirmed');
      expect(row.personConfirmedAt).to.equal(null);
    });

    it('a typed confirmation confirms only the number that was checked: one replaced between the check and the write is a mismatch', async () => {
      const { person, employee } = await makeEmployee(clientA.id);
      const [typed, replacement] = [fresh(), fresh()];
      const r = await s.vault.register(sys, person, { number: typed, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(typed).add(replacement);
      expect(await s.vault.confirmTyped(sys, clientA.id, r.id, fresh(), 'admin')).to.equal(null);
      expect((await NumberRecord.findByPk(r.id))!.status).to.equal('registered');
      // Another request replaces the number once the typed one has been checked, before the confirmation is written.
      const inner = s.vault as unknown as { checkIndex: (...a: unknown[]) => Promise<unknown> };
      const original = inner.checkIndex;
      inner.checkIndex = async (...a: unknown[]) => {
        const out = await original.apply(s.vault, a);
        await s.vault.register(sys, person, { number: replacement, issueDate: null }, { source: 'proxy', registeredBy: null });
        return out;
      };
      try {
        expect(await s.vault.confirmTyped(sys, clientA.id, r.id, typed, 'admin')).to.equal(null);
      } finally {
        inner.checkIndex = original;
      }
      expect((await NumberRecord.findByPk(r.id))!.status).to.equal('registered');
      // The replacement, typed, confirms.
      expect(await s.vault.confirmTyped(sys, clientA.id, r.id, replacement, 'admin')).to.equal(employee.id);
      expect((await NumberRecord.findByPk(r.id))!.status).to.equal('admin_confirmed');
      expect((await auditRows({ targetId: employee.id })).map((x) => [x.operation, x.detail])).to.deep.equal([
        ['vault.register.proxy', 'proxy'], ['vault.check', 'mismatch'], ['vault.check', 'match'], ['vault.update', 'proxy'], ['vault.check', 'match'], ['vault.confirm.admin', null],
      ]);
    });
  });

  describe('list', () => {
    let client: Client;
    let dept: Department;
    const people = 52;
    before(async () => {
      client = await makeClient(h, { name: '株式会社一覧' });
      dept = await Department.create({ clientId: client.id, code: 'D1', name: '総務部' });
      await Employee.bulkCreate(Array.from({ length: people }, (_, i) => ({
        clientId: client.id, employeeCode: `L${String(i + 1).padStart(3, '0')}`,
        name: i === 0 ? '佐藤 花子' : i === 1 ? '佐藤 一郎' : `社員 ${i + 1}`, nameKana: null,
        departmentId: i < 2 ? dept.id : null, establishmentId: null, hireDate: null, leaveDate: null, userId: null,
      })));
      const l003 = (await Employee.findOne({ where: { clientId: client.id, employeeCode: 'L003' } }))!;
      await makeDependant(client.id, l003.id, '七子');
      const l001 = await findPerson(client.id, 'employee', (await Employee.findOne({ where: { clientId: client.id, employeeCode: 'L001' } }))!.id);
      const l002 = await findPerson(client.id, 'employee', (await Employee.findOne({ where: { clientId: client.id, employeeCode: 'L002' } }))!.id);
      const n1 = fresh();
      const n2 = fresh();
      const r1 = await s.vault.register(sys, l001, { number: n1, issueDate: null }, { source: 'proxy', registeredBy: null });
      await s.vault.register(sys, l002, { number: n2, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(n1).add(n2);
      await s.vault.confirm(sys, client.id, r1.id, 'person');
    });

    const codes = (rows: { person: { employeeCode: string | null; label: string } }[]) => rows.map((r) => r.person.label);

    it('pages by VAULT_PAGE_SIZE, employees each followed by their dependants, every person once', async () => {
      expect(VAULT_PAGE_SIZE).to.equal(50);
      const p1 = await s.vault.list(client.id, {}, 1);
      const p2 = await s.vault.list(client.id, {}, 2);
      expect(p1.total).to.equal(people + 1);
      expect(p2.total).to.equal(people + 1);
      expect(p1.rows).to.have.length(VAULT_PAGE_SIZE);
      expect(p2.rows).to.have.length(people + 1 - VAULT_PAGE_SIZE);
      const all = [...p1.rows, ...p2.rows].map((r) => `${r.person.kind}:${r.person.id}`);
      expect(new Set(all).size).to.equal(people + 1);
      expect(codes(p1.rows).slice(0, 5)).to.deep.equal(['佐藤 花子', '佐藤 一郎', '社員 3', '社員 3 > 七子', '社員 4']);
      expect(p1.rows[0]!.record?.lastTwo).to.have.length(2);
      expect((await s.vault.list(client.id, {}, 3)).rows).to.have.length(0);
    });

    it('filters by status: missing, registered, person_confirmed', async () => {
      const missing = await s.vault.list(client.id, { status: 'missing' }, 1);
      expect(missing.total).to.equal(people + 1 - 2);
      expect(missing.rows.every((r) => r.record === null)).to.equal(true);
      expect(codes(missing.rows)).to.not.include('佐藤 花子');
      expect(codes((await s.vault.list(client.id, { status: 'registered' }, 1)).rows)).to.deep.equal(['佐藤 一郎']);
      expect(codes((await s.vault.list(client.id, { status: 'person_confirmed' }, 1)).rows)).to.deep.equal(['佐藤 花子']);
      expect((await s.vault.list(client.id, { status: 'admin_confirmed' }, 1)).total).to.equal(0);
    });

    it('filters by a part of the name, the exact employee code and the department', async () => {
      expect(codes((await s.vault.list(client.id, { name: '佐藤' }, 1)).rows)).to.deep.equal(['佐藤 花子', '佐藤 一郎']);
      expect(codes((await s.vault.list(client.id, { name: '花子' }, 1)).rows)).to.deep.equal(['佐藤 花子']);
      expect(codes((await s.vault.list(client.id, { name: '七子' }, 1)).rows)).to.deep.equal(['社員 3 > 七子']);
      expect(codes((await s.vault.list(client.id, { employeeCode: 'L002' }, 1)).rows)).to.deep.equal(['佐藤 一郎']);
      expect((await s.vault.list(client.id, { employeeCode: 'L00' }, 1)).total).to.equal(0);
      expect(codes((await s.vault.list(client.id, { departmentId: dept.id }, 1)).rows)).to.deep.equal(['佐藤 花子', '佐藤 一郎']);
      expect(codes((await s.vault.list(client.id, { departmentId: dept.id, status: 'registered' }, 1)).rows)).to.deep.equal(['佐藤 一郎']);
    });
  });

  describe('list pages chosen in SQL', () => {
    let client: Client;
    let dept: Department;
    before(async () => {
      client = await makeClient(h, { name: '株式会社頁' });
      dept = await Department.create({ clientId: client.id, code: 'D9', name: '営業部' });
      // Codes out of creation order, dependants on some employees, payees whose names hold LIKE's wildcards.
      for (let i = 0; i < 70; i++) {
        const code = `K${String((i * 37) % 70).padStart(3, '0')}`;
        const { employee, person } = await makeEmployee(client.id, { employeeCode: code, name: i % 9 === 0 ? `田中 ${i}` : `社員 ${i}`, departmentId: i % 4 === 0 ? dept.id : null });
        const register = async (who: typeof person, deletionDate: string | null) => {
          const n = fresh();
          stored.add(n);
          const r = await s.vault.register(sys, who, { number: n, issueDate: null }, { source: 'proxy', registeredBy: null });
          if (deletionDate) await r.update({ deletionDate });
          return r;
        };
        if (i % 5 === 0) {
          const child = await makeDependant(client.id, employee.id, `子 ${i}`);
          await makeDependant(client.id, employee.id, `田中 ${i} の子`);
          if (i % 10 === 0) await register(child.person, i % 20 === 0 ? '2024-03-31' : null);
        }
        // More than a page of numbers, deletion dates past, future (one on the day the tests ask about) and none.
        if (i % 3 !== 1) {
          const r = await register(person, i % 9 === 0 ? '2020-04-01' : i % 9 === 2 ? '2031-04-01' : i % 9 === 5 ? '2025-12-31' : null);
          if (i % 6 === 0) await s.vault.confirm(sys, client.id, r.id, 'person');
        }
      }
      for (const [code, name] of [['P02', '100%講師'], ['P01', '山_田'], ['P03', '講師!様'], ['P04', '田中 税理士']]) {
        const { person } = await makePayee(client.id, { code, name });
        if (code === 'P01') { const n = fresh(); stored.add(n); await s.vault.register(sys, person, { number: n, issueDate: null }, { source: 'proxy', registeredBy: null }); }
      }
    });

    const keys = (rows: { person: { kind: string; id: string }; record: { id: string } | null }[]) => rows.map((r) => `${r.person.kind}:${r.person.id}:${r.record?.id ?? '-'}`);

    it('every page, under every filter, is the matching slice of the whole list, and the total its length', async () => {
      const filters = [
        {}, { status: 'missing' as const }, { status: 'registered' as const }, { status: 'person_confirmed' as const }, { status: 'admin_confirmed' as const },
        { departmentId: dept.id }, { departmentId: dept.id, status: 'missing' as const }, { name: '田中' }, { name: ' 田中 ' }, { name: '子' },
        { name: '%' }, { name: '_' }, { name: '!' }, { name: '山_田' }, { name: '田中', status: 'registered' as const }, { employeeCode: 'K007' }, { employeeCode: 'P03' },
        // the retention list's filters
        { withNumber: true }, { withNumber: true, departmentId: dept.id }, { withNumber: true, name: '子' }, { dueBy: '2025-12-31' }, { dueBy: '2025-12-30' },
        { dueBy: '2025-12-31', name: '田中' }, { noDeletionDate: true }, { noDeletionDate: true, status: 'person_confirmed' as const },
        { dueBy: '2025-12-31', noDeletionDate: true }, { status: 'missing' as const, dueBy: '2099-01-01' }, { status: 'missing' as const, withNumber: true },
      ];
      let checked = 0;
      for (const filter of filters) {
        const whole = await wholeList(client.id, filter);
        const pages = Math.max(1, Math.ceil(whole.length / VAULT_PAGE_SIZE));
        for (let page = 1; page <= pages + 1; page++) {
          const got = await s.vault.list(client.id, filter, page);
          expect(got.total, JSON.stringify(filter)).to.equal(whole.length);
          expect(keys(got.rows), `${JSON.stringify(filter)} page ${page}`).to.deep.equal(keys(whole.slice((page - 1) * VAULT_PAGE_SIZE, page * VAULT_PAGE_SIZE)));
          checked += got.rows.length;
        }
      }
      expect(checked).to.be.greaterThan(400);
      // The oracle itself sees what the filters are about: numbers over more than a page, each kind of deletion date.
      expect((await wholeList(client.id, { withNumber: true })).length).to.be.greaterThan(VAULT_PAGE_SIZE);
      for (const f of [{ dueBy: '2025-12-31' }, { dueBy: '2025-12-30' }, { noDeletionDate: true }]) expect((await wholeList(client.id, f)).length, JSON.stringify(f)).to.be.greaterThan(5);
      expect((await wholeList(client.id, { dueBy: '2025-12-31' })).length).to.be.greaterThan((await wholeList(client.id, { dueBy: '2025-12-30' })).length);
      expect((await s.vault.list(client.id, {}, 1)).total).to.equal(70 + 28 + 4);
    });

    it('names the numbers of every person a filter matches, on every page (the retention list\'s "all of these")', async () => {
      for (const filter of [{}, { dueBy: '2025-12-31' }, { noDeletionDate: true, name: '田中' }, { departmentId: dept.id }, { status: 'missing' as const }]) {
        const expected = (await wholeList(client.id, filter)).flatMap((r) => (r.record ? [r.record.id] : []));
        expect((await s.vault.matchingRecordIds(client.id, filter)).sort(), JSON.stringify(filter)).to.deep.equal(expected.sort());
      }
      expect(await s.vault.matchingRecordIds(client.id, { status: 'missing' })).to.deep.equal([]);
      expect((await s.vault.matchingRecordIds(client.id, {})).length).to.be.greaterThan(VAULT_PAGE_SIZE);
    });

    it('counts the people in each number status in one query, as the whole list has them', async () => {
      const counts = await s.vault.countByStatus(client.id);
      for (const status of ['missing', 'registered', 'person_confirmed', 'admin_confirmed'] as const) {
        expect(counts[status] ?? 0, status).to.equal((await wholeList(client.id, { status })).length);
      }
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).to.equal((await wholeList(client.id, {})).length);
    });

    it('loads only the people and numbers of the page asked for', async () => {
      const { result: last, rows: built } = await rowsReadDuring([Employee, Dependant, Payee, NumberRecord], () => s.vault.list(client.id, {}, 3)); // 102 people: the last page holds two payees
      expect(last.rows.map((r) => r.person.label)).to.deep.equal(['講師!様', '田中 税理士']);
      // each person on the page, at most one number each, an employee for each dependant — not the 102 people and their numbers
      expect(built).to.be.within(last.rows.length, 3 * last.rows.length);
    });

    it('a wildcard typed in the name filter matches only itself', async () => {
      const labels = async (name: string) => (await s.vault.list(client.id, { name }, 1)).rows.map((r) => r.person.label);
      expect(await labels('%')).to.deep.equal(['100%講師']);
      expect(await labels('_')).to.deep.equal(['山_田']);
      expect(await labels('!')).to.deep.equal(['講師!様']);
    });
  });

  describe('check (照合)', () => {
    it('answers true or false through the blind index, never opening the number, and logs match / mismatch', async () => {
      const checker = await makeUser(h, { role: 'firm_staff', name: '照合 担当' });
      await assign(h, clientA.id, checker.user.id);
      const { person, employee } = await makeEmployee(clientA.id);
      const number = fresh();
      const r = await s.vault.register(sys, person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(number);
      const ctx = actorOf(checker.user);

      // Watch which keys are unwrapped: a check may use the index key, never the number key.
      const purposes: string[] = [];
      const keys = s.clientKeys;
      const version = keys.version.bind(keys);
      const current = keys.current.bind(keys);
      keys.version = async (c, purpose, v, tx) => { purposes.push(purpose); return version(c, purpose, v, tx); };
      keys.current = async (c, purpose, tx) => { purposes.push(purpose); return current(c, purpose, tx); };
      let results: boolean[];
      try {
        results = [
          await s.vault.check(ctx, clientA.id, r.id, number),
          await s.vault.check(ctx, clientA.id, r.id, fresh()),
          await s.vault.check(ctx, clientA.id, r.id, fullWidth(number)),
        ];
      } finally {
        keys.version = version;
        keys.current = current;
      }
      expect(results).to.deep.equal([true, false, true]);
      expect(purposes).to.include('index');
      expect(purposes).to.not.include('numbers');

      const rows = await auditRows({ operation: 'vault.check', targetId: employee.id });
      expect(rows.map((x) => [x.result, x.detail, x.actorId, x.clientId])).to.deep.equal([
        ['allowed', 'match', checker.user.id, clientA.id], ['allowed', 'mismatch', checker.user.id, clientA.id], ['allowed', 'match', checker.user.id, clientA.id],
      ]);
      for (const row of rows) expect(JSON.stringify(row.get({ plain: true }))).to.not.contain(number);
    });

    it('refuses a typed number that is not a My Number, naming the field, without logging a check', async () => {
      const { person } = await makeEmployee(clientA.id);
      const number = fresh();
      const r = await s.vault.register(sys, person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(number);
      const before = await AuditEvent.count({ where: { operation: 'vault.check' } });
      const err = await rejects(() => s.vault.check(actorOf(staff.user), clientA.id, r.id, wrongCheckDigit(number)), BadRequest);
      expect(err.fieldErrors).to.deep.equal({ typed: 'vault.number.checkDigit' });
      expect(await AuditEvent.count({ where: { operation: 'vault.check' } })).to.equal(before);
    });
  });

  describe('assertMayReveal: only assigned firm members', () => {
    it('lets assigned staff through without a refusal row', async () => {
      const before = await AuditEvent.count({ where: { result: 'denied' } });
      await s.vault.assertMayReveal(actorOf(staff.user), staff.user, clientA.id, 'vault.reveal', PURPOSE);
      expect(await AuditEvent.count({ where: { result: 'denied' } })).to.equal(before);
    });

    it('refuses unassigned staff with Forbidden and a denied audit row carrying purpose and office', async () => {
      const other = await makeUser(h, { role: 'firm_staff', name: '未担当 職員' });
      await assign(h, clientB.id, other.user.id); // assigned elsewhere: that does not count here
      const err = await rejects(() => s.vault.assertMayReveal(actorOf(other.user), other.user, clientA.id, 'vault.reveal', PURPOSE), Forbidden);
      expect(err.messageKey).to.equal('vault.notAssigned');
      const rows = await auditRows({ actorId: other.user.id, result: 'denied' });
      expect(rows.map((r) => [r.operation, r.clientId, r.purpose, r.office, r.detail])).to.deep.equal([
        ['vault.reveal', clientA.id, 'withholding_slip', 'tax_office', 'not assigned'],
      ]);
    });

    it('refuses the firm admin when not assigned (the assignment list is who may reveal), allows once assigned', async () => {
      const admin = await makeUser(h, { role: 'firm_admin' });
      await rejects(() => s.vault.assertMayReveal(actorOf(admin.user), admin.user, clientA.id, 'vault.print', PURPOSE), Forbidden);
      expect(await AuditEvent.count({ where: { actorId: admin.user.id, operation: 'vault.print', result: 'denied' } })).to.equal(1);
      await assign(h, clientA.id, admin.user.id);
      await s.vault.assertMayReveal(actorOf(admin.user), admin.user, clientA.id, 'vault.print', PURPOSE);
    });

    it('refuses the client\'s own admin and employees, even with an assignment row', async () => {
      const clientAdmin = await makeUser(h, { role: 'client_admin', clientId: clientA.id });
      const employeeUser = await makeUser(h, { role: 'employee', clientId: clientA.id, totp: false });
      for (const u of [clientAdmin, employeeUser]) {
        await StaffAssignment.create({ clientId: clientA.id, userId: u.user.id });
        await rejects(() => s.vault.assertMayReveal(actorOf(u.user), u.user, clientA.id, 'vault.reveal', PURPOSE), Forbidden);
        expect(await AuditEvent.count({ where: { actorId: u.user.id, result: 'denied' } })).to.equal(1);
      }
    });

    it('refuses at once when the assignment is removed', async () => {
      const temp = await makeUser(h, { role: 'firm_staff' });
      await assign(h, clientA.id, temp.user.id);
      await s.vault.assertMayReveal(actorOf(temp.user), temp.user, clientA.id, 'vault.reveal', PURPOSE);
      const client = await s.clients.getFor({ role: 'firm_admin' } as User, clientA.id);
      await s.clients.unassignStaff(sys, client, temp.user.id);
      await rejects(() => s.vault.assertMayReveal(actorOf(temp.user), temp.user, clientA.id, 'vault.reveal', PURPOSE), Forbidden);
    });
  });

  describe('open', () => {
    it('returns the numbers only with one committed audit row per person, carrying purpose and office', async () => {
      const revealer = await makeUser(h, { role: 'firm_staff', name: '開示 担当' });
      await assign(h, clientA.id, revealer.user.id);
      const a = await makeEmployee(clientA.id);
      const b = await makeEmployee(clientA.id);
      const na = fresh();
      const nb = fresh();
      const ra = await s.vault.register(sys, a.person, { number: na, issueDate: null }, { source: 'proxy', registeredBy: null });
      const rb = await s.vault.register(sys, b.person, { number: nb, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(na).add(nb);
      const purpose = { purpose: 'social_insurance_acquire', office: 'pension_office' } as const;
      const opened = await s.vault.open(actorOf(revealer.user), clientA.id, [ra.id, rb.id], purpose, 'vault.reveal');
      expect(opened.map((o) => [o.person.id, o.number])).to.deep.equal([[a.employee.id, na], [b.employee.id, nb]]);
      // Read outside any transaction: the rows are there (committed) once the numbers are handed back.
      const rows = await auditRows({ actorId: revealer.user.id, operation: 'vault.reveal' });
      expect(rows.map((r) => [r.targetKind, r.targetId, r.purpose, r.office, r.result, r.clientId])).to.deep.equal([
        ['employee', a.employee.id, 'social_insurance_acquire', 'pension_office', 'allowed', clientA.id],
        ['employee', b.employee.id, 'social_insurance_acquire', 'pension_office', 'allowed', clientA.id],
      ]);
      for (const r of rows) expect(JSON.stringify(r.get({ plain: true }))).to.not.contain(na).and.not.contain(nb);
      expect((await s.audit.verify()).ok).to.equal(true);
    });

    it('refuses an empty selection and another client\'s record, logging no reveal', async () => {
      const { person } = await makeEmployee(clientA.id);
      const number = fresh();
      const r = await s.vault.register(sys, person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(number);
      const before = await AuditEvent.count({ where: { operation: 'vault.print' } });
      expect(keyOf(await rejects(() => s.vault.open(sys, clientA.id, [], PURPOSE, 'vault.print'), BadRequest))).to.equal('vault.noneSelected');
      await rejects(() => s.vault.open(sys, clientB.id, [r.id], PURPOSE, 'vault.print'), NotFound);
      expect(await AuditEvent.count({ where: { operation: 'vault.print' } })).to.equal(before);
    });

    it('fails closed: when the audit row cannot be written, open() rejects and hands back nothing', async () => {
      const { person } = await makeEmployee(clientA.id);
      const number = fresh();
      const r = await s.vault.register(sys, person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(number);
      const events = await AuditEvent.count();
      let result: unknown = 'not set';
      let failure: unknown = null;
      await AuditHead.destroy({ where: { id: 1 } });
      try {
        result = await s.vault.open(actorOf(staff.user), clientA.id, [r.id], PURPOSE, 'vault.reveal');
      } catch (err) {
        failure = err;
      } finally {
        await restoreAuditHead();
      }
      expect(failure).to.be.instanceOf(Error);
      expect(result).to.equal('not set');
      expect(await AuditEvent.count()).to.equal(events);
      expect((await s.audit.verify()).ok).to.equal(true);
      // With the log writable again, the same call works: the failure above came from the log.
      const [opened] = await s.vault.open(actorOf(staff.user), clientA.id, [r.id], PURPOSE, 'vault.reveal');
      expect(opened!.number).to.equal(number);
    });
  });

  describe('PeopleService', () => {
    it('adds an employee (logged) and refuses a code already taken in the same client', async () => {
      const input = { employeeCode: 'PS-001', name: '人事 一郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: '2019-04-01', leaveDate: null };
      const e = await s.people.addEmployee(sys, clientA.id, input);
      expect((await auditRows({ targetId: e.id })).map((r) => [r.operation, r.targetLabel])).to.deep.equal([['person.create', 'PS-001 人事 一郎']]);
      const count = await Employee.count({ where: { clientId: clientA.id } });
      const err = await rejects(() => s.people.addEmployee(sys, clientA.id, { ...input, name: '別人' }), BadRequest);
      expect(err.messageKey).to.equal('people.codeTaken');
      expect(err.fieldErrors).to.deep.equal({ employeeCode: 'people.codeTaken' });
      expect(await Employee.count({ where: { clientId: clientA.id } })).to.equal(count);
      // The code is per client.
      const elsewhere = await s.people.addEmployee(sys, clientB.id, input);
      expect(elsewhere.clientId).to.equal(clientB.id);
    });

    it('a leave date sets the deletion date of the employee\'s and dependants\' numbers to 7 years later (29 Feb → 1 Mar) and is logged', async () => {
      const e = await s.people.addEmployee(sys, clientA.id, { employeeCode: 'PS-002', name: '退職 予定', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null });
      const d = await s.people.addDependant(sys, clientA.id, e.id, { name: '家族 一', nameKana: null, relationship: 'spouse' });
      const bystander = await makeEmployee(clientA.id);
      const ne = fresh();
      const nd = fresh();
      const nx = fresh();
      const re = await s.vault.register(sys, await findPerson(clientA.id, 'employee', e.id), { number: ne, issueDate: null }, { source: 'proxy', registeredBy: null });
      const rd = await s.vault.register(sys, await findPerson(clientA.id, 'dependant', d.id), { number: nd, issueDate: null }, { source: 'proxy', registeredBy: null });
      const rx = await s.vault.register(sys, bystander.person, { number: nx, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(ne).add(nd).add(nx);
      expect(re.deletionDate).to.equal(null);

      await s.people.setLeaveDate(sys, clientA.id, e.id, '2028-02-29');
      expect((await Employee.findByPk(e.id))!.leaveDate).to.equal('2028-02-29');
      expect((await NumberRecord.findByPk(re.id))!.deletionDate).to.equal('2035-03-01');
      expect((await NumberRecord.findByPk(rd.id))!.deletionDate).to.equal('2035-03-01');
      expect((await NumberRecord.findByPk(rx.id))!.deletionDate).to.equal(null);
      const rows = await auditRows({ operation: 'person.leave', targetId: e.id });
      expect(rows.map((r) => [r.detail, r.clientId, r.targetLabel])).to.deep.equal([['2028-02-29', clientA.id, 'PS-002 退職 予定']]);

      // A dependant added once the leave date is set gets the same deletion date (leaving later: one who has left gets no new dependant).
      const d2 = await s.people.addDependant(sys, clientA.id, e.id, { name: '家族 二', nameKana: null, relationship: 'child' });
      const n2 = fresh();
      const r2 = await s.vault.register(sys, await findPerson(clientA.id, 'dependant', d2.id), { number: n2, issueDate: null }, { source: 'proxy', registeredBy: null });
      stored.add(n2);
      expect(r2.deletionDate).to.equal('2035-03-01');
    });
  });

  describe('the database alone yields no number', () => {
    it('no table, row or column holds any registered number, in ASCII or full-width digits', async () => {
      const needles = [...stored].flatMap((n) => [n, fullWidth(n)]);
      expect(stored.size).to.be.greaterThan(20);
      const scan = await scanDatabase(h.booted.sequelize, needles);
      expect(scan.tables).to.include.members(['number_records', 'audit_events', 'employees']);
      expect(scan.rows).to.be.greaterThan(100);
      expect(scan.hits).to.deep.equal([]);
      // The scan does find what is there: a name stored in clear is found the same way.
      expect((await scanDatabase(h.booted.sequelize, ['佐藤 花子'])).hits).to.include('employees.name holds 佐藤 花子');
      if (dialectName === 'sqlite') {
        // And the SQLite files themselves, byte by byte (the main file and its write-ahead log).
        for (const file of [h.config.sqliteFile, `${h.config.sqliteFile}-wal`].filter((f) => fs.existsSync(f))) {
          const bytes = fs.readFileSync(file);
          for (const n of needles) expect(bytes.includes(Buffer.from(n, 'utf8')), `${file} holds ${n}`).to.equal(false);
        }
      }
    });
  });
});

describe('VaultService: a burst of reveals by one user is refused and alerted', () => {
  let h: Harness;
  let s: Services;
  let client: Client;
  let firmAdmin: MadeUser;
  let clientAdmin: MadeUser;
  let otherClientAdmin: MadeUser;
  let staff: MadeUser;
  let colleague: MadeUser;
  const number = validNumber(9001);
  let firstRecordId = '';

  before(async () => {
    h = await createHarness({ REVEAL_BURST_MAX: '3', REVEAL_BURST_WINDOW_SECONDS: '60' });
    s = h.booted.services;
    client = await makeClient(h, { name: '株式会社連続' });
    const other = await makeClient(h, { name: '株式会社無関係' });
    firmAdmin = await makeUser(h, { role: 'firm_admin', name: '所長 太郎' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, name: '総務 花子' });
    otherClientAdmin = await makeUser(h, { role: 'client_admin', clientId: other.id });
    staff = await makeUser(h, { role: 'firm_staff', name: '連続 閲覧者' });
    colleague = await makeUser(h, { role: 'firm_staff', name: '同僚 職員' });
    await assign(h, client.id, staff.user.id);
    await assign(h, client.id, colleague.user.id);
  });
  after(async () => { await h.close(); });

  it('the 4th reveal within the window → TooManyRequests, one vault.burst row, an alert to the firm admin and the client admin with no personal data', async () => {
    const { person, employee } = await makeEmployee(client.id, { employeeCode: 'B-777', name: '秘密 太郎' });
    const r = await s.vault.register(sys, person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
    firstRecordId = r.id;
    const ctx = actorOf(staff.user);
    for (let i = 0; i < 3; i++) {
      const [opened] = await s.vault.open(ctx, client.id, [r.id], PURPOSE, 'vault.reveal');
      expect(opened!.number).to.equal(number);
    }
    expect(h.smtp.messages).to.have.length(0);
    const err = await rejects(() => s.vault.open(ctx, client.id, [r.id], PURPOSE, 'vault.reveal'), TooManyRequests);
    expect(err.status).to.equal(429);
    expect(err.retryAfterSeconds).to.equal(60);

    expect(await AuditEvent.count({ where: { actorId: staff.user.id, operation: 'vault.reveal', result: 'allowed' } })).to.equal(3);
    const burst = await auditRows({ operation: 'vault.burst' });
    expect(burst.map((b) => [b.actorId, b.result, b.clientId])).to.deep.equal([[staff.user.id, 'denied', client.id]]);

    // The alert was queued with the row and goes out at once: to the firm admin and this client's admin only.
    await h.smtp.lastTo(firmAdmin.email);
    await h.smtp.lastTo(clientAdmin.email);
    const recipients = h.smtp.messages.map((m) => (m.to && !Array.isArray(m.to) ? m.to.text : '')).sort();
    expect(recipients).to.deep.equal([clientAdmin.email, firmAdmin.email].sort());
    expect(recipients).to.not.include(otherClientAdmin.email);
    for (const mail of h.smtp.messages) {
      const text = `${mail.subject ?? ''}\n${mail.text ?? ''}\n${mail.html || ''}`;
      for (const secret of [number, fullWidth(number), '秘密 太郎', '秘密', 'B-777', employee.id, r.id]) expect(text).to.not.contain(secret);
      expect(twelveDigitRunsOutsideIds(text)).to.deep.equal([]);
    }
  });

  // The notice names who and when (reveal-guard.ts), from the mail.revealBurst.* locale keys: a
  // missing key would send the key itself ("mail.revealBurst.body"), naming no one.
  it('the alert says who revealed, for which client, with a link to the portal (and is a real sentence, not a message key)', async () => {
    expect(h.smtp.messages).to.have.length(2);
    for (const mail of h.smtp.messages) {
      expect(mail.subject).to.not.match(/^mail\./);
      expect(mail.text).to.contain('連続 閲覧者');
      expect(mail.text).to.contain('株式会社連続');
      expect(mail.text).to.contain('http://portal.test/home');
    }
  });

  it('further refusals in the window are logged under the operation itself, with no second alert; checks count too', async () => {
    const r = (await NumberRecord.findByPk(firstRecordId))!;
    const mails = h.smtp.messages.length;
    const ctx = actorOf(staff.user);
    await rejects(() => s.vault.open(ctx, client.id, [r.id], PURPOSE, 'vault.reveal'), TooManyRequests);
    await rejects(() => s.vault.check(ctx, client.id, r.id, number), TooManyRequests);
    expect(await AuditEvent.count({ where: { operation: 'vault.burst' } })).to.equal(1);
    const denied = await auditRows({ actorId: staff.user.id, result: 'denied' });
    expect(denied.map((d) => d.operation)).to.deep.equal(['vault.burst', 'vault.reveal', 'vault.check']);
    expect(await AuditEvent.count({ where: { actorId: staff.user.id, result: 'allowed', operation: ['vault.reveal', 'vault.check'] } })).to.equal(3);
    expect(h.smtp.messages).to.have.length(mails);
  });

  it('a mail server down when the burst is refused: the alert waits in the outbox and goes once the server takes it', async () => {
    const late = await makeUser(h, { role: 'firm_staff', name: '夜間 閲覧者' });
    await assign(h, client.id, late.user.id);
    const ctx = actorOf(late.user);
    for (let i = 0; i < 3; i++) await s.vault.open(ctx, client.id, [firstRecordId], PURPOSE, 'vault.reveal');
    const before = h.smtp.messages.length;
    h.smtp.refusing = true;
    try {
      await rejects(() => s.vault.open(ctx, client.id, [firstRecordId], PURPOSE, 'vault.reveal'), TooManyRequests);
      let queued: OutboxMail[] = [];
      for (let i = 0; i < 400 && !(queued.length === 2 && queued.every((m) => m.lastError)); i++) { // up to 8 s on a busy machine
        await new Promise((r) => setTimeout(r, 20));
        queued = await OutboxMail.findAll({ where: { sentAt: null, toAddress: [firmAdmin.email, clientAdmin.email] } });
      }
      expect(queued.map((m) => m.toAddress).sort()).to.deep.equal([clientAdmin.email, firmAdmin.email].sort());
      expect(queued.every((m) => m.lastError), 'each refused by the server').to.equal(true);
    } finally { h.smtp.refusing = false; }
    expect(h.smtp.messages).to.have.length(before);
    await OutboxMail.update({ nextAt: new Date() }, { where: { sentAt: null } });
    await h.booted.services.outbox.deliverNow();
    const alerts = h.smtp.messages.slice(before);
    expect(alerts.map((m) => (m.to && !Array.isArray(m.to) ? m.to.text : '')).sort()).to.deep.equal([clientAdmin.email, firmAdmin.email].sort());
    for (const m of alerts) expect(m.text).to.contain('夜間 閲覧者');
    expect(await AuditEvent.count({ where: { actorId: late.user.id, operation: 'vault.burst' } })).to.equal(1);
  });

  it('counts per user: a colleague may still reveal', async () => {
    const [opened] = await s.vault.open(actorOf(colleague.user), client.id, [firstRecordId], PURPOSE, 'vault.reveal');
    expect(opened!.number).to.equal(number);
  });

  it('one call opening more numbers than are left in the window is refused as a whole', async () => {
    const a = await makeEmployee(client.id);
    const b = await makeEmployee(client.id);
    const ra = await s.vault.register(sys, a.person, { number: validNumber(9002), issueDate: null }, { source: 'proxy', registeredBy: null });
    const rb = await s.vault.register(sys, b.person, { number: validNumber(9003), issueDate: null }, { source: 'proxy', registeredBy: null });
    const ctx = actorOf(colleague.user); // 1 reveal so far: 2 left, asking for 3
    await rejects(() => s.vault.open(ctx, client.id, [firstRecordId, ra.id, rb.id], PURPOSE, 'vault.reveal'), TooManyRequests);
    expect(await AuditEvent.count({ where: { actorId: colleague.user.id, operation: 'vault.reveal', result: 'allowed' } })).to.equal(1);
    const opened = await s.vault.open(ctx, client.id, [ra.id, rb.id], PURPOSE, 'vault.reveal');
    expect(opened.map((o) => o.number)).to.deep.equal([validNumber(9002), validNumber(9003)]);
  });
});
