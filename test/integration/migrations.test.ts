import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Sequelize } from 'sequelize';
import { openDatabase } from '../../server/db/database';
import { migrate, MIGRATIONS } from '../../server/db/migrate';
import { sharedDatabase } from '../support/harness';

describe('Migrations: several instances deploying at once', function () {
  this.timeout(60_000);

  it('two connections migrating one empty database at the same moment both succeed, and each migration runs once', async () => {
    const db = await sharedDatabase();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-migrate-'));
    const config = { databaseUrl: db.url, dataDir, sqliteFile: path.join(dataDir, 'portal.sqlite') };
    const opened: Sequelize[] = [];
    try {
      // Two pools, as two processes would have: neither waits for the other unless the migrator makes it.
      opened.push(await openDatabase(config), await openDatabase(config));
      const results = await Promise.allSettled(opened.map((s) => migrate(s)));
      expect(results.map((r) => r.status), results.map((r) => (r.status === 'rejected' ? String(r.reason) : '')).join(' ')).to.deep.equal(['fulfilled', 'fulfilled']);
      const ran = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
      // On MySQL they take turns under a lock, so each migration is run by exactly one of them (SQLite
      // retries after a collision, and a migration's report can be lost with the failed attempt).
      if (db.url) expect(ran.sort(), 'between them, every migration was run once').to.deep.equal(MIGRATIONS.map(([n]) => n).sort());
      const [rows] = await opened[0]!.query('SELECT name FROM schema_migrations ORDER BY name') as [{ name: string }[], unknown];
      expect(rows.map((r) => r.name)).to.deep.equal(MIGRATIONS.map(([n]) => n));
      expect(await migrate(opened[1]!), 'nothing left to do').to.deep.equal([]);
    } finally {
      for (const s of opened) await s.close();
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
