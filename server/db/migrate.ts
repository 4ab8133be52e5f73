import { Umzug, SequelizeStorage } from 'umzug';
import type { QueryInterface, Sequelize } from 'sequelize';
import * as m0001 from './migrations/0001-foundation';
import * as m0002 from './migrations/0002-files';
import * as m0003 from './migrations/0003-vault';
import * as m0004 from './migrations/0004-reports';
import * as m0005 from './migrations/0005-disposal';

export interface Migration {
  up(qi: QueryInterface, sequelize: Sequelize): Promise<void>;
  down(qi: QueryInterface, sequelize: Sequelize): Promise<void>;
}

/** Listed by hand rather than globbed, so the set of migrations is part of the code and is type-checked. */
const MIGRATIONS: [string, Migration][] = [
  ['0001-foundation', m0001],
  ['0002-files', m0002],
  ['0003-vault', m0003],
  ['0004-reports', m0004],
  ['0005-disposal', m0005],
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

export async function migrate(sequelize: Sequelize): Promise<string[]> {
  const done = await migrator(sequelize).up();
  return done.map((m) => m.name);
}
