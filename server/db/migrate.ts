import { Umzug, SequelizeStorage } from 'umzug';
import type { QueryInterface, Sequelize } from 'sequelize';
import { isMysql } from './database';
import * as m0001 from './migrations/0001-foundation';
import * as m0002 from './migrations/0002-files';
import * as m0003 from './migrations/0003-vault';
import * as m0004 from './migrations/0004-reports';
import * as m0005 from './migrations/0005-disposal';
import * as m0006 from './migrations/0006-rate-limits';
import * as m0007 from './migrations/0007-passkeys';
import * as m0008 from './migrations/0008-disposal-rejection';
import * as m0009 from './migrations/0009-email-change';
import * as m0010 from './migrations/0010-card-photos';
import * as m0011 from './migrations/0011-deletion-date-by-hand';
import * as m0012 from './migrations/0012-outbox-bodies-emptied';
import * as m0013 from './migrations/0013-files-sent-through-link';

export interface Migration {
  up(qi: QueryInterface, sequelize: Sequelize): Promise<void>;
  down(qi: QueryInterface, sequelize: Sequelize): Promise<void>;
}

/** Listed by hand rather than globbed, so the set of migrations is part of the code and is type-checked. */
export const MIGRATIONS: [string, Migration][] = [
  ['0001-foundation', m0001],
  ['0002-files', m0002],
  ['0003-vault', m0003],
  ['0004-reports', m0004],
  ['0005-disposal', m0005],
  ['0006-rate-limits', m0006],
  ['0007-passkeys', m0007],
  ['0008-disposal-rejection', m0008],
  ['0009-email-change', m0009],
  ['0010-card-photos', m0010],
  ['0011-deletion-date-by-hand', m0011],
  ['0012-outbox-bodies-emptied', m0012],
  ['0013-files-sent-through-link', m0013],
];

export function migrator(sequelize: Sequelize): Umzug<QueryInterface> {
  return new Umzug({
    migrations: MIGRATIONS.map(([name, m]) => ({
      name,
      up: ({ context }) => m.up(context, sequelize),
      down: ({ context }) => m.down(context, sequelize),
    })),
    context: sequelize.getQueryInterface(),
    storage: new SequelizeStorage({ sequelize, tableName: 'schema_migrations' }),
    logger: undefined,
  });
}

/**
 * Brings the schema up to date. Several instances may start at once (a deploy): on MySQL they take
 * turns under a named lock, held by a transaction's connection while the migrations run on others.
 * SQLite has no such lock across processes; there a collision with another process shows up as a
 * failure, and the migrations are tried again (for up to 30 s) until the other has finished them.
 */
export async function migrate(sequelize: Sequelize): Promise<string[]> {
  const m = migrator(sequelize);
  if (isMysql(sequelize)) {
    return sequelize.transaction(async (transaction) => {
      const [[got]] = await sequelize.query("SELECT GET_LOCK('akatsuki_migrations', 120) AS got", { transaction }) as [{ got: number | null }[], unknown];
      if (Number(got?.got) !== 1) throw new Error('another instance has been migrating the database for 2 minutes; try again');
      try {
        return (await m.up()).map((x) => x.name);
      } finally {
        await sequelize.query("SELECT RELEASE_LOCK('akatsuki_migrations')", { transaction });
      }
    });
  }
  const ran: string[] = [];
  for (let attempt = 0; ; attempt++) {
    try {
      ran.push(...(await m.up()).map((x) => x.name));
      return ran;
    } catch (err) {
      await new Promise((r) => setTimeout(r, 1000));
      if ((await m.pending()).length === 0) return ran;
      if (attempt >= 30) throw err;
    }
  }
}
