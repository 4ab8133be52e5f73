import { DataTypes, type QueryInterface } from 'sequelize';

export async function up(qi: QueryInterface): Promise<void> {
  // The sign-in throttle's counters (rate-limiter-flexible's MySQL and SQLite stores use this shape),
  // shared by every instance on the database. Keys are hashes: no address or IP is kept here.
  await qi.createTable('rate_limits', {
    key: { type: DataTypes.STRING(255), allowNull: false, primaryKey: true },
    points: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    expire: { type: DataTypes.BIGINT, allowNull: true },
  });
  await qi.addIndex('rate_limits', ['expire'], { name: 'rate_limits_expire' });
}

export async function down(qi: QueryInterface): Promise<void> {
  await qi.dropTable('rate_limits');
}
