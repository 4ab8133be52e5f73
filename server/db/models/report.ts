import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export const REPORT_FREQUENCIES = ['monthly', 'quarterly', 'yearly'] as const;
export type ReportFrequency = (typeof REPORT_FREQUENCIES)[number];

export class ReportSchedule extends Model<InferAttributes<ReportSchedule>, InferCreationAttributes<ReportSchedule>> {
  declare clientId: string;
  declare frequency: ReportFrequency;
  /** comma-separated addresses; null: the client's admins */
  declare recipients: string | null;
  declare updatedAt: CreationOptional<Date>;
}

export type ReportStatus = 'building' | 'ready' | 'failed';

export class AccessReport extends Model<InferAttributes<AccessReport>, InferCreationAttributes<AccessReport>> {
  declare id: CreationOptional<string>;
  declare clientId: string;
  /** 2026-10, 2026-Q3 or 2026 */
  declare period: string;
  declare periodStart: string;
  declare periodEnd: string;
  declare status: ReportStatus;
  declare objectId: string | null;
  declare keyVersion: number | null;
  declare wrappedKey: string | null;
  declare sha256: string | null;
  declare size: number | null;
  declare events: number | null;
  declare headSeq: number | null;
  declare headHash: string | null;
  declare claimedBy: string | null;
  declare claimedAt: Date;
  declare finishedAt: Date | null;
  declare error: string | null;
}

export class OutboxMail extends Model<InferAttributes<OutboxMail>, InferCreationAttributes<OutboxMail>> {
  declare id: CreationOptional<string>;
  declare dedupeKey: string;
  declare toAddress: string;
  declare subject: string;
  declare body: string;
  declare attempts: CreationOptional<number>;
  declare nextAt: Date;
  declare lockedUntil: Date | null;
  declare sentAt: Date | null;
  declare lastError: string | null;
  declare createdAt: CreationOptional<Date>;
}

export class SigningIdentity extends Model<InferAttributes<SigningIdentity>, InferCreationAttributes<SigningIdentity>> {
  declare id: CreationOptional<number>;
  /** 'generated' (self-signed at first use) or 'p12' (the firm's certificate from a PKCS#12 file) */
  declare source: string;
  declare certificatePem: string;
  declare privateKeySealed: string;
  declare createdAt: CreationOptional<Date>;
}

export function initReportModels(sequelize: Sequelize): void {
  ReportSchedule.init({
    clientId: { type: DataTypes.UUID, primaryKey: true },
    frequency: { type: DataTypes.STRING(10), allowNull: false },
    recipients: { type: DataTypes.TEXT, allowNull: true },
    updatedAt: DataTypes.DATE(3),
  }, { sequelize, tableName: 'report_schedules', createdAt: false });

  AccessReport.init({
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    clientId: { type: DataTypes.UUID, allowNull: false },
    period: { type: DataTypes.STRING(10), allowNull: false },
    periodStart: { type: DataTypes.DATEONLY, allowNull: false },
    periodEnd: { type: DataTypes.DATEONLY, allowNull: false },
    status: { type: DataTypes.STRING(10), allowNull: false },
    objectId: { type: DataTypes.STRING(100), allowNull: true },
    keyVersion: { type: DataTypes.INTEGER, allowNull: true },
    wrappedKey: { type: DataTypes.STRING(255), allowNull: true },
    sha256: { type: DataTypes.STRING(64), allowNull: true },
    size: { type: DataTypes.INTEGER, allowNull: true },
    events: { type: DataTypes.INTEGER, allowNull: true },
    headSeq: { type: DataTypes.BIGINT, allowNull: true },
    headHash: { type: DataTypes.STRING(64), allowNull: true },
    claimedBy: { type: DataTypes.STRING(64), allowNull: true },
    claimedAt: { type: DataTypes.DATE(3), allowNull: false },
    finishedAt: { type: DataTypes.DATE(3), allowNull: true },
    error: { type: DataTypes.STRING(300), allowNull: true },
  }, { sequelize, tableName: 'access_reports', timestamps: false });

  OutboxMail.init({
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    dedupeKey: { type: DataTypes.STRING(150), allowNull: false },
    toAddress: { type: DataTypes.STRING(190), allowNull: false },
    subject: { type: DataTypes.STRING(300), allowNull: false },
    body: { type: DataTypes.TEXT, allowNull: false },
    attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    nextAt: { type: DataTypes.DATE(3), allowNull: false },
    lockedUntil: { type: DataTypes.DATE(3), allowNull: true },
    sentAt: { type: DataTypes.DATE(3), allowNull: true },
    lastError: { type: DataTypes.STRING(300), allowNull: true },
    createdAt: DataTypes.DATE(3),
  }, { sequelize, tableName: 'mail_outbox', updatedAt: false });

  SigningIdentity.init({
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    source: { type: DataTypes.STRING(20), allowNull: false },
    certificatePem: { type: DataTypes.TEXT, allowNull: false },
    privateKeySealed: { type: DataTypes.TEXT, allowNull: false },
    createdAt: DataTypes.DATE(3),
  }, { sequelize, tableName: 'signing_identities', updatedAt: false });
}
