import { DataTypes, type QueryInterface } from 'sequelize';

export async function up(qi: QueryInterface): Promise<void> {
  // A change of sign-in address waits, with its new address, for a link opened from that mailbox.
  await qi.addColumn('one_time_tokens', 'new_email', { type: DataTypes.STRING(190), allowNull: true });
}

export async function down(qi: QueryInterface): Promise<void> {
  await qi.removeColumn('one_time_tokens', 'new_email');
}
