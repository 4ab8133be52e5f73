import { DataTypes, type QueryInterface } from 'sequelize';

const uuid = (allowNull = false) => ({ type: DataTypes.UUID, allowNull });
const str = (len: number, allowNull = false) => ({ type: DataTypes.STRING(len), allowNull });
const time = (allowNull = true) => ({ type: DataTypes.DATE(3), allowNull });
const date = (allowNull = true) => ({ type: DataTypes.DATEONLY, allowNull });
const stamps = { created_at: time(false), updated_at: time(false) };

export async function up(qi: QueryInterface): Promise<void> {
  // 支払先: people paid by a client who are not its employees (experts, lecturers, landlords).
  await qi.createTable('payees', {
    id: { ...uuid(), primaryKey: true },
    client_id: { ...uuid(), references: { model: 'clients', key: 'id' } },
    code: str(30),
    name: str(100),
    name_kana: str(100, true),
    kind: str(20),
    ...stamps,
  });
  await qi.addIndex('payees', ['client_id', 'code'], { unique: true, name: 'payees_client_code' });

  // Numbers are kept apart from names: a row holds the sealed number and a person's id, no name.
  await qi.createTable('number_records', {
    id: { ...uuid(), primaryKey: true },
    client_id: { ...uuid(), references: { model: 'clients', key: 'id' } },
    person_kind: str(10),
    person_id: uuid(),
    key_version: { type: DataTypes.INTEGER, allowNull: false },
    index_version: { type: DataTypes.INTEGER, allowNull: false },
    sealed_number: str(255, true),
    blind_index: str(64, true),
    last_two: str(2, true),
    issue_date: date(),
    source: str(10),
    status: str(20),
    person_confirmed_at: time(),
    admin_confirmed_at: time(),
    id_file_id: { ...uuid(true), references: { model: 'files', key: 'id' } },
    deletion_date: date(),
    registered_by: uuid(true),
    ...stamps,
  });
  await qi.addIndex('number_records', ['client_id', 'person_kind', 'person_id'], { unique: true, name: 'number_records_person' });
  await qi.addIndex('number_records', ['client_id', 'blind_index'], { name: 'number_records_blind_index' });

  // One-time links for payees and for employees without a portal account (じぶんで登録 by sheet).
  await qi.createTable('vault_invitations', {
    id: { ...uuid(), primaryKey: true },
    client_id: { ...uuid(), references: { model: 'clients', key: 'id' } },
    person_kind: str(10),
    person_id: uuid(),
    token_hash: str(64),
    code_hash: str(64),
    failed_attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    expires_at: time(false),
    used_at: time(),
    created_by: uuid(true),
    created_at: time(false),
  });
  await qi.addIndex('vault_invitations', ['token_hash'], { unique: true, name: 'vault_invitations_token' });

  // Tokens of the firm's own applications (payroll, labour software): hashed, scoped, expiring.
  await qi.createTable('api_tokens', {
    id: { ...uuid(), primaryKey: true },
    name: str(100),
    token_hash: str(64),
    prefix: str(12),
    client_ids: { type: DataTypes.TEXT, allowNull: false },
    purposes: { type: DataTypes.TEXT, allowNull: false },
    expires_at: time(false),
    revoked_at: time(),
    last_used_at: time(),
    created_by: uuid(true),
    created_at: time(false),
  });
  await qi.addIndex('api_tokens', ['token_hash'], { unique: true, name: 'api_tokens_hash' });

  // Route paths of the vault are longer than the 40 characters first allowed for the channel.
  // SQLite does not enforce a VARCHAR length (and Sequelize would rebuild the table, dropping its indexes).
  if (qi.sequelize.getDialect() !== 'sqlite') await qi.changeColumn('audit_events', 'channel', str(100));

  // The reveal-burst check counts a user's recent reveals in the log itself (no per-process counter).
  await qi.addIndex('audit_events', ['actor_id', 'operation', 'at'], { name: 'audit_events_actor_op_at' });
}

export async function down(qi: QueryInterface): Promise<void> {
  // The channel column stays at 100: rows written since hold longer channels, and cutting them would break the chain.
  await qi.removeIndex('audit_events', 'audit_events_actor_op_at');
  for (const table of ['api_tokens', 'vault_invitations', 'number_records', 'payees']) await qi.dropTable(table);
}
