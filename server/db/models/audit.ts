import { DataTypes, Model, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export type AuditResult = 'allowed' | 'denied' | 'error';

export class AuditEvent extends Model<InferAttributes<AuditEvent>, InferCreationAttributes<AuditEvent>> {
  declare seq: number;
  declare at: Date;
  declare actorId: string | null;
  declare actorName: string | null;
  declare actorRole: string | null;
  declare clientId: string | null;
  declare targetKind: string | null;
  declare targetId: string | null;
  declare targetLabel: string | null;
  declare operation: string;
  declare channel: string;
  declare ip: string | null;
  declare userAgent: string | null;
  declare purpose: string | null;
  declare office: string | null;
  declare result: AuditResult;
  declare detail: string | null;
  declare prevHash: string;
  declare hash: string;
}

export class AuditHead extends Model<InferAttributes<AuditHead>, InferCreationAttributes<AuditHead>> {
  declare id: number;
  declare seq: number;
  declare hash: string;
}

export class KeyCheck extends Model<InferAttributes<KeyCheck>, InferCreationAttributes<KeyCheck>> {
  declare id: number;
  declare kcv: string;
  declare createdAt: Date;
}

const asNumber = (field: string) => ({
  get(this: Model) { const v = this.getDataValue(field); return v === null || v === undefined ? v : Number(v); },
});

export function initAuditModels(sequelize: Sequelize): void {
  AuditEvent.init({
    seq: { type: DataTypes.BIGINT, primaryKey: true, ...asNumber('seq') },
    at: { type: DataTypes.DATE(3), allowNull: false },
    actorId: { type: DataTypes.UUID, allowNull: true },
    actorName: { type: DataTypes.STRING(100), allowNull: true },
    actorRole: { type: DataTypes.STRING(20), allowNull: true },
    clientId: { type: DataTypes.UUID, allowNull: true },
    targetKind: { type: DataTypes.STRING(30), allowNull: true },
    targetId: { type: DataTypes.STRING(64), allowNull: true },
    targetLabel: { type: DataTypes.STRING(200), allowNull: true },
    operation: { type: DataTypes.STRING(40), allowNull: false },
    channel: { type: DataTypes.STRING(100), allowNull: false },
    ip: { type: DataTypes.STRING(64), allowNull: true },
    userAgent: { type: DataTypes.STRING(255), allowNull: true },
    purpose: { type: DataTypes.STRING(100), allowNull: true },
    office: { type: DataTypes.STRING(100), allowNull: true },
    result: { type: DataTypes.STRING(10), allowNull: false },
    detail: { type: DataTypes.STRING(500), allowNull: true },
    prevHash: { type: DataTypes.STRING(64), allowNull: false },
    hash: { type: DataTypes.STRING(64), allowNull: false },
  }, { sequelize, tableName: 'audit_events', timestamps: false });

  AuditHead.init({
    id: { type: DataTypes.INTEGER, primaryKey: true },
    seq: { type: DataTypes.BIGINT, allowNull: false, ...asNumber('seq') },
    hash: { type: DataTypes.STRING(64), allowNull: false },
  }, { sequelize, tableName: 'audit_head', timestamps: false });

  KeyCheck.init({
    id: { type: DataTypes.INTEGER, primaryKey: true },
    kcv: { type: DataTypes.STRING(255), allowNull: false },
    createdAt: { type: DataTypes.DATE(3), allowNull: false },
  }, { sequelize, tableName: 'key_check', timestamps: false });
}
