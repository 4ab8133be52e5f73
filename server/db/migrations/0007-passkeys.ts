import { DataTypes, type QueryInterface } from 'sequelize';

export async function up(qi: QueryInterface): Promise<void> {
  // Passkeys (WebAuthn credentials) a user registered for re-authentication: the public key only.
  await qi.createTable('passkeys', {
    id: { type: DataTypes.UUID, allowNull: false, primaryKey: true },
    user_id: { type: DataTypes.UUID, allowNull: false, references: { model: 'users', key: 'id' }, onDelete: 'CASCADE' },
    credential_id: { type: DataTypes.STRING(512), allowNull: false },
    public_key: { type: DataTypes.TEXT, allowNull: false },
    counter: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
    transports: { type: DataTypes.STRING(200), allowNull: true },
    name: { type: DataTypes.STRING(100), allowNull: false },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
    last_used_at: { type: DataTypes.DATE(3), allowNull: true },
  });
  await qi.addIndex('passkeys', ['credential_id'], { name: 'passkeys_credential_unique', unique: true });
  await qi.addIndex('passkeys', ['user_id'], { name: 'passkeys_user' });
}

export async function down(qi: QueryInterface): Promise<void> {
  await qi.dropTable('passkeys');
}
