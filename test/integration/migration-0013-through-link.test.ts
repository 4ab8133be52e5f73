import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { QueryInterface } from 'sequelize';
import { migratedWithRowsFrom } from '../support/migrations';

/**
 * Migration 0013 marks the card photos sent through a one-time link before it (filed under the admin
 * who issued the link): every file of a batch that a number registered through a link points to.
 */
describe('Migration 0013: card photos sent through a link before it are marked', function () {
  this.timeout(60_000);

  let close: (() => Promise<void>) | undefined;
  const marked: Record<string, boolean> = {};
  const clientId = randomUUID();
  const adminId = randomUUID();
  const batches = { link: randomUUID(), proxy: randomUUID(), ledger: randomUUID() };
  const files = { linkFront: randomUUID(), linkBack: randomUUID(), proxyFront: randomUUID(), ledger: randomUUID() };

  before(async () => {
    const migrated = await migratedWithRowsFrom('0012-outbox-bodies-emptied', async (qi) => {
      expect(await qi.describeTable('files'), 'the column is not there yet at 0012').not.to.have.property('through_link');
      await insertRows(qi);
    });
    close = migrated.close;
    const [rows] = await migrated.sequelize.query('SELECT id, through_link FROM files') as [{ id: string; through_link: unknown }[], unknown];
    const nameOf = new Map<string, string>(Object.entries(files).map(([name, id]) => [id, name]));
    for (const r of rows) marked[nameOf.get(r.id) ?? r.id] = Boolean(Number(r.through_link));
  });

  after(async () => { await close?.(); });

  async function insertRows(qi: QueryInterface): Promise<void> {
    const now = new Date('2026-10-01T09:00:00.000Z');
    const stamps = { created_at: now, updated_at: now };
    await qi.bulkInsert('clients', [{ id: clientId, code: 'MG13', name: '株式会社リンク移行', require_admin_totp: false, ...stamps }]);
    await qi.bulkInsert('users', [{ id: adminId, email: 'hr@mg13.example', name: '人事 一郎', role: 'client_admin', client_id: clientId, ...stamps }]);
    await qi.bulkInsert('file_batches', Object.entries(batches).map(([name, id]) => ({
      id, client_id: clientId, direction: 'to_firm', sender_id: adminId, sender_name: name === 'link' ? '講師 二郎' : '人事 一郎', created_at: now,
    })));
    const file = (id: string, batch: string, name: string, cardPhoto: boolean) => ({
      id, batch_id: batch, client_id: clientId, direction: 'to_firm', sender_id: adminId, category: cardPhoto ? 'identity' : 'payroll',
      display_name: name, content_type: 'image/png', size: 10, sha256: '0'.repeat(64), object_id: randomUUID(), key_version: 1,
      contains_my_number: cardPhoto, card_photo: cardPhoto, status: 'ready', created_at: now,
    });
    await qi.bulkInsert('files', [
      file(files.linkFront, batches.link, 'front.png', true), file(files.linkBack, batches.link, 'back.png', true),
      file(files.proxyFront, batches.proxy, 'proxy.png', true), file(files.ledger, batches.ledger, 'ledger.csv', false),
    ]);
    const record = (source: string, idFileId: string) => ({
      id: randomUUID(), client_id: clientId, person_kind: 'payee', person_id: randomUUID(), key_version: 1, index_version: 1,
      sealed_number: 'sealed', blind_index: randomUUID().replace(/-/g, ''), last_two: '12', source, status: 'registered', id_file_id: idFileId, ...stamps,
    });
    await qi.bulkInsert('number_records', [record('link', files.linkFront), record('proxy', files.proxyFront)]);
  }

  it('marks both sides of the batch a link-registered number points to, and nothing else', () => {
    expect(marked).to.deep.equal({ linkFront: true, linkBack: true, proxyFront: false, ledger: false });
  });
});
