import { DataTypes, type QueryInterface } from 'sequelize';

const uuid = (allowNull = false) => ({ type: DataTypes.UUID, allowNull });
const str = (len: number, allowNull = false) => ({ type: DataTypes.STRING(len), allowNull });
const time = (allowNull = true) => ({ type: DataTypes.DATE(3), allowNull });

export async function up(qi: QueryInterface): Promise<void> {
  await qi.createTable('file_batches', {
    id: { ...uuid(), primaryKey: true },
    client_id: { ...uuid(true), references: { model: 'clients', key: 'id' } },
    direction: str(20),
    employee_id: { ...uuid(true), references: { model: 'employees', key: 'id' } },
    sender_id: { ...uuid(), references: { model: 'users', key: 'id' } },
    sender_name: str(100),
    comment: str(1000, true),
    created_at: time(false),
  });

  await qi.createTable('files', {
    id: { ...uuid(), primaryKey: true },
    batch_id: { ...uuid(), references: { model: 'file_batches', key: 'id' } },
    client_id: { ...uuid(true), references: { model: 'clients', key: 'id' } },
    direction: str(20),
    employee_id: { ...uuid(true), references: { model: 'employees', key: 'id' } },
    sender_id: { ...uuid(), references: { model: 'users', key: 'id' } },
    category: str(20),
    display_name: str(255),
    content_type: str(100),
    size: { type: DataTypes.BIGINT, allowNull: false },
    sha256: str(64),
    object_id: str(100),
    key_version: { type: DataTypes.INTEGER, allowNull: false },
    wrapped_key: str(255, true),
    contains_my_number: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    retention_date: { type: DataTypes.DATEONLY, allowNull: true },
    status: str(10),
    deleted_at: time(),
    deleted_by: uuid(true),
    created_at: time(false),
  });
  await qi.addIndex('files', ['client_id', 'status', 'created_at'], { name: 'files_client_status_created' });
  await qi.addIndex('files', ['employee_id', 'status'], { name: 'files_employee_status' });
  await qi.addIndex('files', ['direction', 'status', 'created_at'], { name: 'files_direction_status_created' });
  await qi.addIndex('files', ['object_id'], { unique: true, name: 'files_object_unique' });
  await qi.addIndex('files', ['batch_id'], { name: 'files_batch' });

  await qi.createTable('file_reads', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    file_id: { ...uuid(), references: { model: 'files', key: 'id' } },
    user_id: { ...uuid(), references: { model: 'users', key: 'id' } },
    user_name: str(100),
    first_at: time(false),
    last_at: time(false),
    count: { type: DataTypes.INTEGER, allowNull: false },
  });
  await qi.addIndex('file_reads', ['file_id', 'user_id'], { unique: true, name: 'file_reads_unique' });

  await qi.createTable('pending_object_deletions', {
    object_id: { type: DataTypes.STRING(100), primaryKey: true },
    attempts: { type: DataTypes.INTEGER, allowNull: false },
    last_error: str(300, true),
    next_at: time(false),
  });

  await qi.createTable('firm_keys', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    purpose: str(20),
    version: { type: DataTypes.INTEGER, allowNull: false },
    wrapped_key: str(255),
    created_at: time(false),
  });
  await qi.addIndex('firm_keys', ['purpose', 'version'], { unique: true, name: 'firm_keys_unique' });
}

export async function down(qi: QueryInterface): Promise<void> {
  for (const t of ['firm_keys', 'pending_object_deletions', 'file_reads', 'files', 'file_batches']) await qi.dropTable(t);
}
