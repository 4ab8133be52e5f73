import { DataTypes, type QueryInterface } from 'sequelize';

const uuid = (allowNull = false) => ({ type: DataTypes.UUID, allowNull });
const str = (len: number, allowNull = false) => ({ type: DataTypes.STRING(len), allowNull });
const time = (allowNull = true) => ({ type: DataTypes.DATE(3), allowNull });

export async function up(qi: QueryInterface): Promise<void> {
  // How often each client gets its access report, and who is told. No row: monthly, to its admins.
  await qi.createTable('report_schedules', {
    client_id: { ...uuid(), primaryKey: true, references: { model: 'clients', key: 'id' } },
    frequency: str(10),
    recipients: { type: DataTypes.TEXT, allowNull: true },
    updated_at: time(false),
  });

  // One row per client and period. Inserting it claims the run: the unique key makes a second
  // instance's insert fail, so each report is built once however many instances run the schedule.
  await qi.createTable('access_reports', {
    id: { ...uuid(), primaryKey: true },
    client_id: { ...uuid(), references: { model: 'clients', key: 'id' } },
    period: str(10),
    period_start: { type: DataTypes.DATEONLY, allowNull: false },
    period_end: { type: DataTypes.DATEONLY, allowNull: false },
    status: str(10),
    // The PDF, sealed like a file of the client (its own data key, wrapped under the client's file key).
    object_id: str(100, true),
    key_version: { type: DataTypes.INTEGER, allowNull: true },
    wrapped_key: str(255, true),
    sha256: str(64, true),
    size: { type: DataTypes.INTEGER, allowNull: true },
    events: { type: DataTypes.INTEGER, allowNull: true },
    head_seq: { type: DataTypes.BIGINT, allowNull: true },
    head_hash: str(64, true),
    claimed_by: str(64, true),
    claimed_at: time(false),
    finished_at: time(),
    error: str(300, true),
  });
  await qi.addIndex('access_reports', ['client_id', 'period'], { unique: true, name: 'access_reports_client_period' });

  // Mail that must arrive once even if the mail server is down: kept, retried with back-off.
  await qi.createTable('mail_outbox', {
    id: { ...uuid(), primaryKey: true },
    dedupe_key: str(150),
    to_address: str(190),
    subject: str(300),
    body: { type: DataTypes.TEXT, allowNull: false },
    attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    next_at: time(false),
    locked_until: time(),
    sent_at: time(),
    last_error: str(300, true),
    created_at: time(false),
  });
  await qi.addIndex('mail_outbox', ['dedupe_key'], { unique: true, name: 'mail_outbox_dedupe' });
  await qi.addIndex('mail_outbox', ['sent_at', 'next_at'], { name: 'mail_outbox_due' });

  // The firm's signing identity for PDFs (reports, disposal certificates): a certificate and its
  // private key sealed under the master key, shared by every instance through the database.
  await qi.createTable('signing_identities', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    source: str(20),
    certificate_pem: { type: DataTypes.TEXT, allowNull: false },
    private_key_sealed: { type: DataTypes.TEXT, allowNull: false },
    created_at: time(false),
  });

  // The log view filters one client's rows by period, operation and person.
  await qi.addIndex('audit_events', ['client_id', 'operation', 'at'], { name: 'audit_events_client_op_at' });
  await qi.addIndex('audit_events', ['client_id', 'target_id'], { name: 'audit_events_client_target' });
}

export async function down(qi: QueryInterface): Promise<void> {
  await qi.removeIndex('audit_events', 'audit_events_client_target');
  await qi.removeIndex('audit_events', 'audit_events_client_op_at');
  for (const table of ['signing_identities', 'mail_outbox', 'access_reports', 'report_schedules']) await qi.dropTable(table);
}
