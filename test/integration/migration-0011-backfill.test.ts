import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { QueryInterface } from 'sequelize';
import { migratedWithRowsFrom } from '../support/migrations';

/**
 * Migration 0011 marks the deletion dates changed by hand before the column existed, from the log's
 * retention.change / retention.cancel rows about the same person of the same client.
 */
describe('Migration 0011: deletion dates changed by hand before it are marked', function () {
  this.timeout(60_000);

  let close: (() => Promise<void>) | undefined;
  const byHand: Record<string, boolean> = {};

  const clientId = randomUUID();
  const otherClientId = randomUUID();
  const people = { moved: randomUUID(), cancelled: randomUUID(), untouched: randomUUID(), otherClientsLog: randomUUID(), rehired: randomUUID() };
  type Name = keyof typeof people;

  before(async () => {
    const migrated = await migratedWithRowsFrom('0010-card-photos', async (qi) => {
      expect(await qi.describeTable('number_records'), 'the column is not there yet at 0010').not.to.have.property('deletion_date_by_hand');
      await insertRows(qi);
    });
    close = migrated.close;
    const sequelize = migrated.sequelize;
    const [rows] = await sequelize.query('SELECT person_id, deletion_date_by_hand FROM number_records') as [{ person_id: string; deletion_date_by_hand: unknown }[], unknown];
    const nameOf = new Map<string, string>(Object.entries(people).map(([name, id]) => [id, name]));
    for (const r of rows) byHand[nameOf.get(r.person_id) ?? r.person_id] = Boolean(Number(r.deletion_date_by_hand));
  });

  after(async () => { await close?.(); });

  async function insertRows(qi: QueryInterface): Promise<void> {
    const now = new Date('2026-04-01T09:00:00.000Z');
    const stamps = { created_at: now, updated_at: now };
    await qi.bulkInsert('clients', [
      { id: clientId, code: 'MG11', name: '株式会社移行', require_admin_totp: false, ...stamps },
      { id: otherClientId, code: 'MG12', name: '株式会社よそ', require_admin_totp: false, ...stamps },
    ]);
    await qi.bulkInsert('employees', Object.entries(people).map(([name, id], i) => ({
      id, client_id: clientId, employee_code: `E00${i}`, name: `社員 ${name}`, leave_date: '2016-03-31', ...stamps,
    })));
    const recordIds = Object.fromEntries(Object.keys(people).map((name) => [name, randomUUID()])) as Record<Name, string>;
    await qi.bulkInsert('number_records', Object.entries(people).map(([name, id]) => ({
      id: recordIds[name as Name], client_id: clientId, person_kind: 'employee', person_id: id, key_version: 1, index_version: 1,
      sealed_number: 'sealed', blind_index: randomUUID().replace(/-/g, ''), last_two: '12', source: 'proxy', status: 'registered',
      deletion_date: name === 'cancelled' ? null : name === 'moved' ? '2040-01-31' : '2023-03-31', ...stamps,
    })));
    const row = (seq: number, operation: string, client: string, personId: string, at = now) => ({
      seq, at, actor_name: '所長', actor_role: 'firm_admin', client_id: client, target_kind: 'employee', target_id: personId,
      operation, channel: 'web', result: 'allowed', prev_hash: '0'.repeat(64), hash: String(seq).padStart(64, '0'),
    });
    await qi.bulkInsert('audit_events', [
      row(1, 'retention.change', clientId, people.moved),
      row(2, 'retention.cancel', clientId, people.cancelled),
      // Something else about the untouched person, and a change logged under another client with the same person id.
      row(3, 'person.leave', clientId, people.untouched),
      row(4, 'retention.change', otherClientId, people.otherClientsLog),
      // Held, then disposed of a month later, then registered anew (a rehire): the old hold is not this record's.
      row(5, 'retention.cancel', clientId, people.rehired, new Date('2026-02-01T09:00:00.000Z')),
    ]);
    const requestId = randomUUID();
    await qi.bulkInsert('disposal_requests', [{
      id: requestId, client_id: clientId, scope: 'items', reason: '保存期間満了', early: false, status: 'verified',
      requested_by_name: '人事', requested_at: now, approved_by_name: '所長', approved_at: now, executed_at: now,
    }]);
    await qi.bulkInsert('disposal_items', [{
      id: randomUUID(), request_id: requestId, client_id: clientId, item_kind: 'number', item_id: recordIds.rehired, masked_label: '社＊',
      data_kind: 'number.employee', state: 'verified', erased_at: new Date('2026-03-01T09:00:00.000Z'), verified_at: now,
    }]);
  }

  const expectByHand = (name: Name, expected: boolean) => expect(byHand[name], `${name}.deletion_date_by_hand`).to.equal(expected);

  it('a date moved or cancelled (logged as retention.change / retention.cancel) is marked as set by hand', () => {
    expectByHand('moved', true);
    expectByHand('cancelled', true);
  });

  it('a date only ever given by the rules is not, nor one whose change the log holds under another client', () => {
    expectByHand('untouched', false);
    expectByHand('otherClientsLog', false);
  });

  it('nor the record of a number disposed of after its date was changed and registered anew since', () => {
    expectByHand('rehired', false);
  });
});
