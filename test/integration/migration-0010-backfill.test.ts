import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { QueryInterface } from 'sequelize';
import { migratedWithRowsFrom } from '../support/migrations';

/**
 * Migration 0010 marks the card photos sent before the column existed. Its backfill runs once, on
 * databases already in use, so it is checked here on rows written as they were at 0009 (raw rows:
 * the models already know `card_photo`).
 */
describe('Migration 0010: card photos sent before it are marked', function () {
  this.timeout(60_000);

  let close: (() => Promise<void>) | undefined;
  /** card_photo of each file after the migration, by the names given below */
  const marked: Record<string, boolean> = {};

  const clientId = randomUUID();
  const userId = randomUUID();
  const employeeId = randomUUID();
  const payeeId = randomUUID();
  const otherPayeeId = randomUUID();
  const ids = {
    employeeIdentity: randomUUID(),
    payeeFront: randomUUID(),
    payeeBack: randomUUID(),
    unpointedPayeePhoto: randomUUID(),
    employeeOtherCategory: randomUUID(),
    identityToEmployee: randomUUID(),
    identityToClient: randomUUID(),
  };
  type Name = keyof typeof ids;

  before(async () => {
    const migrated = await migratedWithRowsFrom('0009-email-change', async (qi) => {
      expect(await qi.describeTable('files'), 'the column is not there yet at 0009').not.to.have.property('card_photo');
      await insertRows(qi);
    });
    close = migrated.close;
    const sequelize = migrated.sequelize;
    const [rows] = await sequelize.query('SELECT id, card_photo FROM files') as [{ id: string; card_photo: unknown }[], unknown];
    const nameOf = new Map<string, string>(Object.entries(ids).map(([name, id]) => [id, name]));
    for (const r of rows) marked[nameOf.get(r.id) ?? r.id] = Boolean(Number(r.card_photo));
  });

  after(async () => { await close?.(); });

  async function insertRows(qi: QueryInterface): Promise<void> {
    const now = new Date('2026-04-01T09:00:00.000Z');
    const stamps = { created_at: now, updated_at: now };
    await qi.bulkInsert('clients', [{ id: clientId, code: 'MG10', name: '株式会社移行', require_admin_totp: false, ...stamps }]);
    await qi.bulkInsert('users', [{ id: userId, email: 'jinji@mg10.test', name: '人事 太郎', role: 'client_admin', client_id: clientId, ...stamps }]);
    await qi.bulkInsert('employees', [{ id: employeeId, client_id: clientId, employee_code: 'E001', name: '社員 一郎', ...stamps }]);
    await qi.bulkInsert('payees', [
      { id: payeeId, client_id: clientId, code: 'P001', name: '講師 花子', kind: 'lecturer', ...stamps },
      { id: otherPayeeId, client_id: clientId, code: 'P002', name: '家主 次郎', kind: 'landlord', ...stamps },
    ]);

    // One sending per batch; the payee's card (front and back) is one sending of two files.
    const batch = (direction: string, employee: string | null) => ({
      id: randomUUID(), client_id: clientId, direction, employee_id: employee, sender_id: userId, sender_name: '人事 太郎', comment: null, created_at: now,
    });
    const batches = {
      employeeIdentity: batch('to_firm', employeeId),
      payeeCard: batch('to_firm', null),
      unpointedPayeePhoto: batch('to_firm', null),
      employeeOtherCategory: batch('to_firm', employeeId),
      identityToEmployee: batch('to_employee', employeeId),
      identityToClient: batch('to_client', null),
    };
    await qi.bulkInsert('file_batches', Object.values(batches));

    const file = (name: Name, b: { id: string; direction: string; employee_id: string | null }, category: string) => ({
      id: ids[name], batch_id: b.id, client_id: clientId, direction: b.direction, employee_id: b.employee_id, sender_id: userId,
      category, display_name: `${name}.png`, content_type: 'image/png', size: 1000, sha256: '0'.repeat(64), object_id: `obj-${ids[name]}`,
      key_version: 1, wrapped_key: null, contains_my_number: true, retention_date: null, status: 'ready', deleted_at: null, deleted_by: null, created_at: now,
    });
    await qi.bulkInsert('files', [
      file('employeeIdentity', batches.employeeIdentity, 'identity'),
      file('payeeFront', batches.payeeCard, 'identity'),
      file('payeeBack', batches.payeeCard, 'identity'),
      file('unpointedPayeePhoto', batches.unpointedPayeePhoto, 'identity'),
      file('employeeOtherCategory', batches.employeeOtherCategory, 'other'),
      file('identityToEmployee', batches.identityToEmployee, 'identity'),
      file('identityToClient', batches.identityToClient, 'identity'),
    ]);

    const numberRecord = (personKind: string, personId: string, idFileId: string | null) => ({
      id: randomUUID(), client_id: clientId, person_kind: personKind, person_id: personId, key_version: 1, index_version: 1,
      sealed_number: 'sealed', blind_index: randomUUID().replace(/-/g, ''), last_two: '12', source: personKind === 'payee' ? 'link' : 'self',
      status: 'registered', id_file_id: idFileId, ...stamps,
    });
    await qi.bulkInsert('number_records', [
      // The payee's number points at the front only: the back is found through its sending.
      numberRecord('payee', payeeId, ids.payeeFront),
      // A number with no photo must not pull in anything (a NULL must not match some batch).
      numberRecord('payee', otherPayeeId, null),
      numberRecord('employee', employeeId, null),
    ]);
  }

  const expectMarked = (name: Name, expected: boolean) => expect(marked[name], `${name}.card_photo`).to.equal(expected);

  it('an identity file sent to the firm naming an employee is marked (the rule used before the column)', () => {
    expectMarked('employeeIdentity', true);
  });

  it('a payee\'s photo that a number points to is marked, though it names no employee', () => {
    expectMarked('payeeFront', true);
  });

  it('the other file sent with that photo (the card\'s back, which no number points to) is marked too', () => {
    expectMarked('payeeBack', true);
  });

  it('an identity file to the firm naming no employee, which no number points to and sent on its own, is not marked', () => {
    expectMarked('unpointedPayeePhoto', false);
  });

  it('a file sent to the firm naming an employee but of another category is not marked', () => {
    expectMarked('employeeOtherCategory', false);
  });

  it('identity files sent the other way (to an employee, to a client) are not marked', () => {
    expectMarked('identityToEmployee', false);
    expectMarked('identityToClient', false);
  });

  it('every file is accounted for, and only the three card photos are marked', () => {
    // Guards against the UPDATEs reaching rows the cases above do not name.
    expect(marked).to.deep.equal({
      employeeIdentity: true, payeeFront: true, payeeBack: true,
      unpointedPayeePhoto: false, employeeOtherCategory: false, identityToEmployee: false, identityToClient: false,
    });
  });
});
