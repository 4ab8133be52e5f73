import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { migratedWithRowsFrom } from '../support/migrations';

/** Migration 0012 empties the texts of mails already sent (an invitation's held a working link); those still queued stay. */
describe('Migration 0012: texts of mails already sent are emptied', function () {
  this.timeout(60_000);

  it('a sent invitation loses its text; a queued one keeps it until it is sent', async () => {
    const sent = randomUUID();
    const queued = randomUUID();
    const now = new Date();
    const row = (id: string, key: string, sentAt: Date | null) => ({
      id, dedupe_key: key, to_address: 'new@example.jp', subject: 'invitation', body: `https://portal.test/password/set/${key}-token`,
      attempts: sentAt ? 1 : 0, next_at: now, locked_until: null, sent_at: sentAt, last_error: null, created_at: now,
    });
    const migrated = await migratedWithRowsFrom('0011-deletion-date-by-hand', async (qi) => {
      await qi.bulkInsert('mail_outbox', [row(sent, 'invite:sent', now), row(queued, 'invite:queued', null)]);
    });
    try {
      const rows = await migrated.sequelize.query<{ id: string; body: string }>('SELECT id, body FROM mail_outbox', { type: QueryTypes.SELECT });
      const bodyOf = new Map(rows.map((r) => [r.id, r.body]));
      expect(bodyOf.get(sent)).to.equal('');
      expect(bodyOf.get(queued)).to.equal('https://portal.test/password/set/invite:queued-token');
    } finally {
      await migrated.close();
    }
  });
});
