import { DataTypes, type QueryInterface } from 'sequelize';

const uuid = (allowNull = false) => ({ type: DataTypes.UUID, allowNull });
const str = (len: number, allowNull = false) => ({ type: DataTypes.STRING(len), allowNull });
const time = (allowNull = true) => ({ type: DataTypes.DATE(3), allowNull });
const stamps = { created_at: time(false), updated_at: time(false) };

export async function up(qi: QueryInterface): Promise<void> {
  await qi.createTable('firm', {
    id: { type: DataTypes.INTEGER, primaryKey: true },
    name: str(200),
    ...stamps,
  });

  await qi.createTable('clients', {
    id: { ...uuid(), primaryKey: true },
    code: str(20),
    name: str(200),
    name_kana: str(200, true),
    require_admin_totp: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    ...stamps,
  });
  await qi.addIndex('clients', ['code'], { unique: true, name: 'clients_code_unique' });

  await qi.createTable('users', {
    id: { ...uuid(), primaryKey: true },
    email: str(190),
    name: str(100),
    role: str(20),
    client_id: { ...uuid(true), references: { model: 'clients', key: 'id' } },
    password_hash: str(255, true),
    totp_secret_sealed: str(255, true),
    totp_enabled_at: time(),
    totp_last_step: { type: DataTypes.BIGINT, allowNull: true },
    disabled_at: time(),
    password_changed_at: time(),
    lang: str(5, true),
    ...stamps,
  });
  await qi.addIndex('users', ['email'], { unique: true, name: 'users_email_unique' });
  await qi.addIndex('users', ['client_id', 'role'], { name: 'users_client_role' });

  await qi.createTable('recovery_codes', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    user_id: { ...uuid(), references: { model: 'users', key: 'id' }, onDelete: 'CASCADE' },
    code_hash: str(64),
    used_at: time(),
  });
  await qi.addIndex('recovery_codes', ['user_id', 'code_hash'], { unique: true, name: 'recovery_codes_user_code' });

  await qi.createTable('one_time_tokens', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    purpose: str(20),
    token_hash: str(64),
    user_id: { ...uuid(true), references: { model: 'users', key: 'id' }, onDelete: 'CASCADE' },
    expires_at: time(false),
    used_at: time(),
    created_at: time(false),
  });
  await qi.addIndex('one_time_tokens', ['token_hash'], { unique: true, name: 'one_time_tokens_hash_unique' });

  await qi.createTable('sessions', {
    sid: { type: DataTypes.STRING(64), primaryKey: true },
    user_id: uuid(true),
    expires: { type: DataTypes.DATE, allowNull: true },
    data: { type: DataTypes.TEXT, allowNull: false },
  });
  await qi.addIndex('sessions', ['user_id'], { name: 'sessions_user' });
  await qi.addIndex('sessions', ['expires'], { name: 'sessions_expires' });

  await qi.createTable('establishments', {
    id: { ...uuid(), primaryKey: true },
    client_id: { ...uuid(), references: { model: 'clients', key: 'id' } },
    name: str(200),
    address: str(300, true),
    ...stamps,
  });
  await qi.addIndex('establishments', ['client_id'], { name: 'establishments_client' });

  await qi.createTable('departments', {
    id: { ...uuid(), primaryKey: true },
    client_id: { ...uuid(), references: { model: 'clients', key: 'id' } },
    code: str(20),
    name: str(200),
    ...stamps,
  });
  await qi.addIndex('departments', ['client_id', 'code'], { unique: true, name: 'departments_client_code' });

  await qi.createTable('staff_assignments', {
    id: { ...uuid(), primaryKey: true },
    client_id: { ...uuid(), references: { model: 'clients', key: 'id' } },
    user_id: { ...uuid(), references: { model: 'users', key: 'id' } },
    created_at: time(false),
  });
  await qi.addIndex('staff_assignments', ['client_id', 'user_id'], { unique: true, name: 'staff_assignments_unique' });
  await qi.addIndex('staff_assignments', ['user_id'], { name: 'staff_assignments_user' });

  await qi.createTable('employees', {
    id: { ...uuid(), primaryKey: true },
    client_id: { ...uuid(), references: { model: 'clients', key: 'id' } },
    employee_code: str(30),
    name: str(100),
    name_kana: str(100, true),
    department_id: { ...uuid(true), references: { model: 'departments', key: 'id' } },
    establishment_id: { ...uuid(true), references: { model: 'establishments', key: 'id' } },
    hire_date: { type: DataTypes.DATEONLY, allowNull: true },
    leave_date: { type: DataTypes.DATEONLY, allowNull: true },
    user_id: { ...uuid(true), references: { model: 'users', key: 'id' } },
    ...stamps,
  });
  await qi.addIndex('employees', ['client_id', 'employee_code'], { unique: true, name: 'employees_client_code' });

  await qi.createTable('dependants', {
    id: { ...uuid(), primaryKey: true },
    client_id: { ...uuid(), references: { model: 'clients', key: 'id' } },
    employee_id: { ...uuid(), references: { model: 'employees', key: 'id' } },
    name: str(100),
    name_kana: str(100, true),
    relationship: str(20),
    ...stamps,
  });
  await qi.addIndex('dependants', ['employee_id'], { name: 'dependants_employee' });

  await qi.createTable('client_keys', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    client_id: { ...uuid(), references: { model: 'clients', key: 'id' } },
    purpose: str(20),
    version: { type: DataTypes.INTEGER, allowNull: false },
    wrapped_key: str(255, true),
    destroyed_at: time(),
    created_at: time(false),
  });
  await qi.addIndex('client_keys', ['client_id', 'purpose', 'version'], { unique: true, name: 'client_keys_unique' });

  await qi.createTable('audit_events', {
    seq: { type: DataTypes.BIGINT, primaryKey: true },
    at: time(false),
    actor_id: uuid(true),
    actor_name: str(100, true),
    actor_role: str(20, true),
    client_id: uuid(true),
    target_kind: str(30, true),
    target_id: str(64, true),
    target_label: str(200, true),
    operation: str(40),
    channel: str(40),
    ip: str(64, true),
    user_agent: str(255, true),
    purpose: str(100, true),
    office: str(100, true),
    result: str(10),
    detail: str(500, true),
    prev_hash: str(64),
    hash: str(64),
  });
  await qi.addIndex('audit_events', ['client_id', 'at'], { name: 'audit_events_client_at' });
  await qi.addIndex('audit_events', ['at'], { name: 'audit_events_at' });
  await qi.addIndex('audit_events', ['actor_id', 'at'], { name: 'audit_events_actor_at' });

  // One row: the chain's head. Appending locks it, which orders appends across instances.
  await qi.createTable('audit_head', {
    id: { type: DataTypes.INTEGER, primaryKey: true },
    seq: { type: DataTypes.BIGINT, allowNull: false },
    hash: str(64),
  });
  await qi.bulkInsert('audit_head', [{ id: 1, seq: 0, hash: '0'.repeat(64) }]);

  await qi.createTable('key_check', {
    id: { type: DataTypes.INTEGER, primaryKey: true },
    kcv: str(255),
    created_at: time(false),
  });
}

export async function down(qi: QueryInterface): Promise<void> {
  for (const table of ['key_check', 'audit_head', 'audit_events', 'client_keys', 'dependants', 'employees',
    'staff_assignments', 'departments', 'establishments', 'sessions', 'one_time_tokens', 'recovery_codes', 'users',
    'clients', 'firm']) {
    await qi.dropTable(table);
  }
}
