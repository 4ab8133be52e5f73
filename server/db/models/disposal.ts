import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export class RetentionRule extends Model<InferAttributes<RetentionRule>, InferCreationAttributes<RetentionRule>> {
  declare clientId: string;
  declare numberYears: number;
  declare payeeYears: number;
  /** JSON: { category: years } for the categories that have a rule */
  declare fileYears: string | null;
  declare autoDispose: boolean;
  declare updatedAt: CreationOptional<Date>;
}

export type DisposalStatus = 'requested' | 'approved' | 'executing' | 'executed' | 'rejected';
export type DisposalItemState = 'pending' | 'erased' | 'deleted' | 'verified';

export class DisposalRequest extends Model<InferAttributes<DisposalRequest>, InferCreationAttributes<DisposalRequest>> {
  declare id: CreationOptional<string>;
  declare clientId: string;
  /** 'items', or 'client' for offboarding a whole client */
  declare scope: 'items' | 'client';
  declare reason: string;
  /** some item's deletion date has not come (or there is none): the firm admin's approval is the safeguard */
  declare early: boolean;
  declare status: DisposalStatus;
  declare requestedBy: string | null;
  declare requestedByName: string;
  declare requestedAt: Date;
  declare approvedBy: string | null;
  declare approvedByName: string | null;
  declare approvedAt: Date | null;
  declare claimedBy: string | null;
  declare claimedAt: Date | null;
  declare executedAt: Date | null;
  declare rejectedByName: CreationOptional<string | null>;
  declare rejectedAt: CreationOptional<Date | null>;
  declare rejectReason: CreationOptional<string | null>;
}

export class DisposalItem extends Model<InferAttributes<DisposalItem>, InferCreationAttributes<DisposalItem>> {
  declare id: CreationOptional<string>;
  declare requestId: string;
  declare clientId: string;
  declare itemKind: 'number' | 'file';
  declare itemId: string;
  declare objectId: string | null;
  declare employeeCode: string | null;
  declare maskedLabel: string;
  declare dataKind: string;
  declare deletionDate: string | null;
  declare state: DisposalItemState;
  declare erasedAt: Date | null;
  declare verifiedAt: Date | null;
}

export class DisposalCertificate extends Model<InferAttributes<DisposalCertificate>, InferCreationAttributes<DisposalCertificate>> {
  declare id: string;
  declare number: string;
  declare requestId: string;
  declare clientId: string;
  declare issuedAt: Date;
  /** of the signed PDF file */
  declare sha256: string;
  /** of the certificate's facts, printed on it and in its QR link */
  declare fingerprint: string;
  declare objectId: string;
  declare keyVersion: number;
  declare wrappedKey: string;
  declare size: number;
}

const str = (len: number, allowNull = false) => ({ type: DataTypes.STRING(len), allowNull });
const date = (allowNull = true) => ({ type: DataTypes.DATE(3), allowNull });

export function initDisposalModels(sequelize: Sequelize): void {
  RetentionRule.init({
    clientId: { type: DataTypes.UUID, primaryKey: true },
    numberYears: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 7 },
    payeeYears: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 7 },
    fileYears: { type: DataTypes.TEXT, allowNull: true },
    autoDispose: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    updatedAt: DataTypes.DATE(3),
  }, { sequelize, tableName: 'retention_rules', createdAt: false });

  DisposalRequest.init({
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    clientId: { type: DataTypes.UUID, allowNull: false },
    scope: str(10),
    reason: str(500),
    early: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    status: str(12),
    requestedBy: { type: DataTypes.UUID, allowNull: true },
    requestedByName: str(100),
    requestedAt: date(false),
    approvedBy: { type: DataTypes.UUID, allowNull: true },
    approvedByName: str(100, true),
    approvedAt: date(),
    claimedBy: str(64, true),
    claimedAt: date(),
    executedAt: date(),
    rejectedByName: str(100, true),
    rejectedAt: date(),
    rejectReason: str(400, true),
  }, { sequelize, tableName: 'disposal_requests', timestamps: false });

  DisposalItem.init({
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    requestId: { type: DataTypes.UUID, allowNull: false },
    clientId: { type: DataTypes.UUID, allowNull: false },
    itemKind: str(10),
    itemId: { type: DataTypes.UUID, allowNull: false },
    objectId: str(100, true),
    employeeCode: str(30, true),
    maskedLabel: str(200),
    dataKind: str(40),
    deletionDate: { type: DataTypes.DATEONLY, allowNull: true },
    state: str(10),
    erasedAt: date(),
    verifiedAt: date(),
  }, { sequelize, tableName: 'disposal_items', timestamps: false });

  DisposalCertificate.init({
    id: { type: DataTypes.UUID, primaryKey: true },
    number: str(20),
    requestId: { type: DataTypes.UUID, allowNull: false },
    clientId: { type: DataTypes.UUID, allowNull: false },
    issuedAt: date(false),
    sha256: str(64),
    fingerprint: str(64),
    objectId: str(100),
    keyVersion: { type: DataTypes.INTEGER, allowNull: false },
    wrappedKey: str(255),
    size: { type: DataTypes.INTEGER, allowNull: false },
  }, { sequelize, tableName: 'disposal_certificates', timestamps: false });
}
