import { DataTypes, type QueryInterface } from 'sequelize';

const uuid = (allowNull = false) => ({ type: DataTypes.UUID, allowNull });
const str = (len: number, allowNull = false) => ({ type: DataTypes.STRING(len), allowNull });
const time = (allowNull = true) => ({ type: DataTypes.DATE(3), allowNull });

export async function up(qi: QueryInterface): Promise<void> {
  // How long a client keeps what: numbers N years after the person left, payees' numbers N years
  // after registration, files per category N years after upload; and whether due items may be
  // disposed of by the daily job without a request (the client's standing approval).
  await qi.createTable('retention_rules', {
    client_id: { ...uuid(), primaryKey: true, references: { model: 'clients', key: 'id' } },
    number_years: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 7 },
    payee_years: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 7 },
    file_years: { type: DataTypes.TEXT, allowNull: true },
    auto_dispose: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    updated_at: time(false),
  });

  // A request to dispose of items (or of a whole client): requested, approved by someone else, executed.
  await qi.createTable('disposal_requests', {
    id: { ...uuid(), primaryKey: true },
    client_id: { ...uuid(), references: { model: 'clients', key: 'id' } },
    scope: str(10),
    reason: str(500),
    early: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    status: str(12),
    requested_by: uuid(true),
    requested_by_name: str(100),
    requested_at: time(false),
    approved_by: uuid(true),
    approved_by_name: str(100, true),
    approved_at: time(),
    claimed_by: str(64, true),
    claimed_at: time(),
    executed_at: time(),
  });
  await qi.addIndex('disposal_requests', ['client_id', 'status'], { name: 'disposal_requests_client_status' });

  // What a request destroys, and how far each item has gone (erased → objects deleted → verified).
  // It keeps the certificate's facts (code, masked name, kind), never the data itself.
  await qi.createTable('disposal_items', {
    id: { ...uuid(), primaryKey: true },
    request_id: { ...uuid(), references: { model: 'disposal_requests', key: 'id' } },
    client_id: uuid(),
    item_kind: str(10),
    item_id: uuid(),
    object_id: str(100, true),
    employee_code: str(30, true),
    masked_label: str(200),
    data_kind: str(40),
    deletion_date: { type: DataTypes.DATEONLY, allowNull: true },
    state: str(10),
    erased_at: time(),
    verified_at: time(),
  });
  await qi.addIndex('disposal_items', ['request_id'], { name: 'disposal_items_request' });
  await qi.addIndex('disposal_items', ['item_kind', 'item_id'], { name: 'disposal_items_item' });

  // 廃棄・削除証明書: exactly one per executed request (unique request_id), numbered per year.
  await qi.createTable('disposal_certificates', {
    id: { ...uuid(), primaryKey: true },
    number: str(20),
    request_id: { ...uuid(), references: { model: 'disposal_requests', key: 'id' } },
    client_id: uuid(),
    issued_at: time(false),
    sha256: str(64),
    fingerprint: str(64),
    object_id: str(100),
    key_version: { type: DataTypes.INTEGER, allowNull: false },
    wrapped_key: str(255),
    size: { type: DataTypes.INTEGER, allowNull: false },
  });
  await qi.addIndex('disposal_certificates', ['number'], { unique: true, name: 'disposal_certificates_number' });
  await qi.addIndex('disposal_certificates', ['request_id'], { unique: true, name: 'disposal_certificates_request' });
  await qi.addIndex('disposal_certificates', ['sha256'], { name: 'disposal_certificates_sha256' });
}

export async function down(qi: QueryInterface): Promise<void> {
  for (const table of ['disposal_certificates', 'disposal_items', 'disposal_requests', 'retention_rules']) await qi.dropTable(table);
}
