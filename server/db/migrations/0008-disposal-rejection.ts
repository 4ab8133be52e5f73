import { DataTypes, type QueryInterface } from 'sequelize';

export async function up(qi: QueryInterface): Promise<void> {
  // A request the firm admin turned down: who, when and why, shown to the requester on the retention list.
  await qi.addColumn('disposal_requests', 'rejected_by_name', { type: DataTypes.STRING(100), allowNull: true });
  await qi.addColumn('disposal_requests', 'rejected_at', { type: DataTypes.DATE(3), allowNull: true });
  await qi.addColumn('disposal_requests', 'reject_reason', { type: DataTypes.STRING(400), allowNull: true });
}

export async function down(qi: QueryInterface): Promise<void> {
  await qi.removeColumn('disposal_requests', 'reject_reason');
  await qi.removeColumn('disposal_requests', 'rejected_at');
  await qi.removeColumn('disposal_requests', 'rejected_by_name');
}
