import { DataTypes, type QueryInterface } from 'sequelize';

export async function up(qi: QueryInterface): Promise<void> {
  // The authenticator key being enrolled is kept with the user, not the sign-in: a key scanned before
  // the session ended still works after signing in again.
  await qi.addColumn('users', 'totp_pending_sealed', { type: DataTypes.STRING(255), allowNull: true });
}

export async function down(qi: QueryInterface): Promise<void> {
  await qi.removeColumn('users', 'totp_pending_sealed');
}
