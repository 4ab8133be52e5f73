import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { QueryInterface, Sequelize } from 'sequelize';
import { openDatabase } from '../../server/db/database';
import { migrator } from '../../server/db/migrate';
import { sharedDatabase } from './harness';

/**
 * A database of its own, migrated up to `before`, given rows as they were written then (raw rows: the
 * models already know the later columns), then migrated to the end: for testing a migration's backfill.
 */
export async function migratedWithRowsFrom(before: string, insertRows: (qi: QueryInterface) => Promise<void>): Promise<{ sequelize: Sequelize; close(): Promise<void> }> {
  const db = await sharedDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-migrate-'));
  const sequelize = await openDatabase({ databaseUrl: db.url, dataDir, sqliteFile: path.join(dataDir, 'portal.sqlite') });
  const close = async () => {
    await sequelize.close();
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const m = migrator(sequelize);
    await m.up({ to: before });
    await insertRows(sequelize.getQueryInterface());
    await m.up();
  } catch (err) {
    await close();
    throw err;
  }
  return { sequelize, close };
}
