import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export const PAYEE_KINDS = ['expert', 'lecturer', 'landlord', 'other'] as const;
export type PayeeKind = (typeof PAYEE_KINDS)[number];

export const PERSON_KINDS = ['employee', 'dependant', 'payee'] as const;
export type PersonKind = (typeof PERSON_KINDS)[number];

/** how a number came: typed by the person, by the client admin, through a one-time link, or a CSV import */
export const NUMBER_SOURCES = ['self', 'proxy', 'link', 'import'] as const;
export type NumberSource = (typeof NUMBER_SOURCES)[number];

export const NUMBER_STATUSES = ['registered', 'person_confirmed', 'admin_confirmed'] as const;
export type NumberStatus = (typeof NUMBER_STATUSES)[number];

export class Payee extends Model<InferAttributes<Payee>, InferCreationAttributes<Payee>> {
  declare id: CreationOptional<string>;
  declare clientId: string;
  declare code: string;
  declare name: string;
  declare nameKana: string | null;
  declare kind: PayeeKind;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

/** A sealed My Number and what is known about it; never a name (people live in their own tables). */
export class NumberRecord extends Model<InferAttributes<NumberRecord>, InferCreationAttributes<NumberRecord>> {
  declare id: CreationOptional<string>;
  declare clientId: string;
  declare personKind: PersonKind;
  declare personId: string;
  declare keyVersion: number;
  declare indexVersion: number;
  /** null once disposed of */
  declare sealedNumber: string | null;
  declare blindIndex: string | null;
  declare lastTwo: string | null;
  declare issueDate: string | null;
  declare source: NumberSource;
  declare status: NumberStatus;
  declare personConfirmedAt: Date | null;
  declare adminConfirmedAt: Date | null;
  declare idFileId: string | null;
  /** 削除予定日; null while the person is still employed (set from the leave date) */
  declare deletionDate: string | null;
  /** the date was moved or cancelled on the retention screen: a leave date corrected later leaves it alone */
  declare deletionDateByHand: CreationOptional<boolean>;
  declare registeredBy: string | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class VaultInvitation extends Model<InferAttributes<VaultInvitation>, InferCreationAttributes<VaultInvitation>> {
  declare id: CreationOptional<string>;
  declare clientId: string;
  declare personKind: PersonKind;
  declare personId: string;
  declare tokenHash: string;
  declare codeHash: string;
  declare failedAttempts: CreationOptional<number>;
  declare expiresAt: Date;
  declare usedAt: Date | null;
  declare createdBy: string | null;
  declare createdAt: CreationOptional<Date>;
}

export class ApiToken extends Model<InferAttributes<ApiToken>, InferCreationAttributes<ApiToken>> {
  declare id: CreationOptional<string>;
  declare name: string;
  declare tokenHash: string;
  /** the token's first characters, to tell tokens apart in lists */
  declare prefix: string;
  /** comma-separated client ids */
  declare clientIds: string;
  /** comma-separated procedure keys */
  declare purposes: string;
  declare expiresAt: Date;
  declare revokedAt: Date | null;
  declare lastUsedAt: Date | null;
  declare createdBy: string | null;
  declare createdAt: CreationOptional<Date>;
}

const uuidPk = { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 };
const stamps = { createdAt: DataTypes.DATE(3), updatedAt: DataTypes.DATE(3) };
const str = (len: number, allowNull = false) => ({ type: DataTypes.STRING(len), allowNull });

export function initVaultModels(sequelize: Sequelize): void {
  Payee.init({
    id: uuidPk,
    clientId: { type: DataTypes.UUID, allowNull: false },
    code: str(30),
    name: str(100),
    nameKana: str(100, true),
    kind: str(20),
    ...stamps,
  }, { sequelize, tableName: 'payees' });

  NumberRecord.init({
    id: uuidPk,
    clientId: { type: DataTypes.UUID, allowNull: false },
    personKind: str(10),
    personId: { type: DataTypes.UUID, allowNull: false },
    keyVersion: { type: DataTypes.INTEGER, allowNull: false },
    indexVersion: { type: DataTypes.INTEGER, allowNull: false },
    sealedNumber: str(255, true),
    blindIndex: str(64, true),
    lastTwo: str(2, true),
    issueDate: { type: DataTypes.DATEONLY, allowNull: true },
    source: str(10),
    status: str(20),
    personConfirmedAt: { type: DataTypes.DATE(3), allowNull: true },
    adminConfirmedAt: { type: DataTypes.DATE(3), allowNull: true },
    idFileId: { type: DataTypes.UUID, allowNull: true },
    deletionDate: { type: DataTypes.DATEONLY, allowNull: true },
    deletionDateByHand: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    registeredBy: { type: DataTypes.UUID, allowNull: true },
    ...stamps,
  }, { sequelize, tableName: 'number_records' });

  VaultInvitation.init({
    id: uuidPk,
    clientId: { type: DataTypes.UUID, allowNull: false },
    personKind: str(10),
    personId: { type: DataTypes.UUID, allowNull: false },
    tokenHash: str(64),
    codeHash: str(64),
    failedAttempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    expiresAt: { type: DataTypes.DATE(3), allowNull: false },
    usedAt: { type: DataTypes.DATE(3), allowNull: true },
    createdBy: { type: DataTypes.UUID, allowNull: true },
    createdAt: DataTypes.DATE(3),
  }, { sequelize, tableName: 'vault_invitations', updatedAt: false });

  ApiToken.init({
    id: uuidPk,
    name: str(100),
    tokenHash: str(64),
    prefix: str(12),
    clientIds: { type: DataTypes.TEXT, allowNull: false },
    purposes: { type: DataTypes.TEXT, allowNull: false },
    expiresAt: { type: DataTypes.DATE(3), allowNull: false },
    revokedAt: { type: DataTypes.DATE(3), allowNull: true },
    lastUsedAt: { type: DataTypes.DATE(3), allowNull: true },
    createdBy: { type: DataTypes.UUID, allowNull: true },
    createdAt: DataTypes.DATE(3),
  }, { sequelize, tableName: 'api_tokens', updatedAt: false });
}
