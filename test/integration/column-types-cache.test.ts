import { expect } from 'chai';
import { DataTypes, type Sequelize } from 'sequelize';
import { createHarness, type Harness } from '../support/harness';

/** server/db/database.ts keeps SQLite's per-table column types between queries; a schema change must reach the next query. */
describe('Column types kept between queries (SQLite) follow a schema change', () => {
  let h: Harness;
  let sequelize: Sequelize;
  before(async () => {
    h = await createHarness();
    sequelize = h.booted.services.sequelize;
  });
  after(async () => {
    await sequelize.getQueryInterface().dropTable('probe_types').catch(() => undefined);
    await h.close();
  });

  it('a column added by ALTER TABLE is read with its type (a date as a Date, a flag as a boolean) by the very next query', async () => {
    const qi = sequelize.getQueryInterface();
    await qi.createTable('probe_types', { id: { type: DataTypes.INTEGER, primaryKey: true }, at: { type: DataTypes.DATE(3), allowNull: true } });
    const Before = sequelize.define('ProbeBefore', { id: { type: DataTypes.INTEGER, primaryKey: true }, at: DataTypes.DATE(3) }, { tableName: 'probe_types', timestamps: false });
    await Before.create({ id: 1, at: new Date('2026-12-06T01:02:03.456Z') });
    const first = await Before.findByPk(1);
    expect(first!.get('at')).to.be.instanceOf(Date);
    expect((first!.get('at') as Date).toISOString()).to.equal('2026-12-06T01:02:03.456Z');

    await qi.addColumn('probe_types', 'done', { type: DataTypes.BOOLEAN, allowNull: true });
    await qi.addColumn('probe_types', 'seen_at', { type: DataTypes.DATE(3), allowNull: true });
    const After = sequelize.define('ProbeAfter', {
      id: { type: DataTypes.INTEGER, primaryKey: true }, at: DataTypes.DATE(3), done: DataTypes.BOOLEAN, seenAt: { type: DataTypes.DATE(3), field: 'seen_at' },
    }, { tableName: 'probe_types', timestamps: false });
    await After.update({ done: true, seenAt: new Date('2026-12-07T00:00:00.000Z') }, { where: { id: 1 } });
    const second = await After.findByPk(1);
    expect(second!.get('done')).to.equal(true);
    expect(second!.get('seenAt')).to.be.instanceOf(Date);
    expect((second!.get('seenAt') as Date).toISOString()).to.equal('2026-12-07T00:00:00.000Z');
  });

  // patches/sequelize+*.patch: the SQLite dialect now formats the caller's stack only for a query that fails.
  it('a query that fails still carries the stack of the code that made it', async function failingQuery() {
    const Missing = sequelize.define('ProbeMissing', { id: { type: DataTypes.INTEGER, primaryKey: true } }, { tableName: 'probe_no_such_table', timestamps: false });
    const err = await Missing.findAll().then(() => null, (e: Error) => e);
    expect(err, 'the query on a missing table must fail').to.be.instanceOf(Error);
    expect(err!.name).to.equal('SequelizeDatabaseError');
    expect(err!.stack).to.include('column-types-cache.test');
  });
});
