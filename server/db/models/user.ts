import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export const ROLES = ['firm_admin', 'firm_staff', 'client_admin', 'employee'] as const;
export type Role = (typeof ROLES)[number];
export const FIRM_ROLES: readonly Role[] = ['firm_admin', 'firm_staff'];

export class User extends Model<InferAttributes<User>, InferCreationAttributes<User>> {
  declare id: CreationOptional<string>;
  declare email: string;
  declare name: string;
  declare role: Role;
  declare clientId: string | null;
  declare passwordHash: string | null;
  /** TOTP seed sealed under a key derived from the master key, bound to the user id */
  declare totpSecretSealed: string | null;
  declare totpEnabledAt: Date | null;
  /** the last TOTP time step accepted, so a code works only once */
  declare totpLastStep: number | null;
  declare disabledAt: Date | null;
  declare passwordChangedAt: Date | null;
  declare lang: string | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

}

/** A WebAuthn credential for re-authentication: its id and public key, never anything secret. */
export class Passkey extends Model<InferAttributes<Passkey>, InferCreationAttributes<Passkey>> {
  declare id: CreationOptional<string>;
  declare userId: string;
  declare credentialId: string;
  declare publicKey: string;
  declare counter: number;
  declare transports: string | null;
  declare name: string;
  declare createdAt: CreationOptional<Date>;
  declare lastUsedAt: Date | null;
}

export class RecoveryCode extends Model<InferAttributes<RecoveryCode>, InferCreationAttributes<RecoveryCode>> {
  declare id: CreationOptional<number>;
  declare userId: string;
  declare codeHash: string;
  declare usedAt: Date | null;
}

export type TokenPurpose = 'setup' | 'password_reset' | 'invite' | 'email_change';

export class OneTimeToken extends Model<InferAttributes<OneTimeToken>, InferCreationAttributes<OneTimeToken>> {
  declare id: CreationOptional<number>;
  declare purpose: TokenPurpose;
  declare tokenHash: string;
  declare userId: string | null;
  declare expiresAt: Date;
  declare usedAt: Date | null;
  /** The address an 'email_change' link confirms. */
  declare newEmail: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
}

export class Firm extends Model<InferAttributes<Firm>, InferCreationAttributes<Firm>> {
  declare id: number;
  declare name: string;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class SessionRow extends Model<InferAttributes<SessionRow>, InferCreationAttributes<SessionRow>> {
  declare sid: string;
  declare userId: string | null;
  declare expires: Date | null;
  declare data: string;
}

export function initUserModels(sequelize: Sequelize): void {
  User.init({
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    email: { type: DataTypes.STRING(190), allowNull: false, unique: true },
    name: { type: DataTypes.STRING(100), allowNull: false },
    role: { type: DataTypes.STRING(20), allowNull: false },
    clientId: { type: DataTypes.UUID, allowNull: true },
    passwordHash: { type: DataTypes.STRING(255), allowNull: true },
    totpSecretSealed: { type: DataTypes.STRING(255), allowNull: true },
    totpEnabledAt: { type: DataTypes.DATE(3), allowNull: true },
    totpLastStep: { type: DataTypes.BIGINT, allowNull: true, get() { const v = this.getDataValue('totpLastStep'); return v === null ? null : Number(v); } },
    disabledAt: { type: DataTypes.DATE(3), allowNull: true },
    passwordChangedAt: { type: DataTypes.DATE(3), allowNull: true },
    lang: { type: DataTypes.STRING(5), allowNull: true },
    createdAt: DataTypes.DATE(3),
    updatedAt: DataTypes.DATE(3),
  }, { sequelize, tableName: 'users' });

  Passkey.init({
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    userId: { type: DataTypes.UUID, allowNull: false },
    credentialId: { type: DataTypes.STRING(512), allowNull: false },
    publicKey: { type: DataTypes.TEXT, allowNull: false },
    counter: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
    transports: { type: DataTypes.STRING(200), allowNull: true },
    name: { type: DataTypes.STRING(100), allowNull: false },
    createdAt: { type: DataTypes.DATE(3), allowNull: false },
    lastUsedAt: { type: DataTypes.DATE(3), allowNull: true },
  }, { sequelize, tableName: 'passkeys', updatedAt: false });
  RecoveryCode.init({
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    userId: { type: DataTypes.UUID, allowNull: false },
    codeHash: { type: DataTypes.STRING(64), allowNull: false },
    usedAt: { type: DataTypes.DATE(3), allowNull: true },
  }, { sequelize, tableName: 'recovery_codes', timestamps: false });

  OneTimeToken.init({
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    purpose: { type: DataTypes.STRING(20), allowNull: false },
    tokenHash: { type: DataTypes.STRING(64), allowNull: false, unique: true },
    userId: { type: DataTypes.UUID, allowNull: true },
    expiresAt: { type: DataTypes.DATE(3), allowNull: false },
    usedAt: { type: DataTypes.DATE(3), allowNull: true },
    newEmail: { type: DataTypes.STRING(190), allowNull: true, defaultValue: null },
    createdAt: DataTypes.DATE(3),
  }, { sequelize, tableName: 'one_time_tokens', updatedAt: false });

  Firm.init({
    id: { type: DataTypes.INTEGER, primaryKey: true },
    name: { type: DataTypes.STRING(200), allowNull: false },
    createdAt: DataTypes.DATE(3),
    updatedAt: DataTypes.DATE(3),
  }, { sequelize, tableName: 'firm' });

  SessionRow.init({
    sid: { type: DataTypes.STRING(64), primaryKey: true },
    userId: { type: DataTypes.UUID, allowNull: true },
    expires: { type: DataTypes.DATE, allowNull: true },
    data: { type: DataTypes.TEXT, allowNull: false },
  }, { sequelize, tableName: 'sessions', modelName: 'Session', timestamps: false });
}
