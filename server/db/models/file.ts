import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export const DIRECTIONS = ['to_firm', 'to_client', 'to_employee', 'to_all'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export const CATEGORIES = ['procedure', 'payroll', 'year_end', 'identity', 'templates', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];

/** One sending: the files of one upload, its direction, addressee and comment. */
export class FileBatch extends Model<InferAttributes<FileBatch>, InferCreationAttributes<FileBatch>> {
  declare id: CreationOptional<string>;
  /** null only for firm → all clients */
  declare clientId: string | null;
  declare direction: Direction;
  declare employeeId: string | null;
  declare senderId: string;
  declare senderName: string;
  declare comment: string | null;
  declare createdAt: CreationOptional<Date>;
}

export type FileStatus = 'ready' | 'deleted';

export class StoredFile extends Model<InferAttributes<StoredFile>, InferCreationAttributes<StoredFile>> {
  declare id: string;
  declare batchId: string;
  declare clientId: string | null;
  declare direction: Direction;
  declare employeeId: string | null;
  declare senderId: string;
  declare category: Category;
  /** the name shown (cleaned); never used as a path or object key */
  declare displayName: string;
  declare contentType: string;
  declare size: number;
  declare sha256: string;
  declare objectId: string;
  declare keyVersion: number;
  /** the per-file data key, wrapped under the client's (or firm's) file key; null once destroyed */
  declare wrappedKey: string | null;
  declare containsMyNumber: boolean;
  /** a photo or scan of a card, sent with its number: it goes when the number no longer points to it */
  declare cardPhoto: CreationOptional<boolean>;
  /** sent by a person through a one-time link (filed under the admin who issued it) */
  declare throughLink: CreationOptional<boolean>;
  declare retentionDate: string | null;
  declare status: FileStatus;
  declare deletedAt: Date | null;
  declare deletedBy: string | null;
  declare createdAt: CreationOptional<Date>;
}

/** Who opened a file, first and last time (既読). */
export class FileRead extends Model<InferAttributes<FileRead>, InferCreationAttributes<FileRead>> {
  declare id: CreationOptional<number>;
  declare fileId: string;
  declare userId: string;
  declare userName: string;
  declare firstAt: Date;
  declare lastAt: Date;
  declare count: number;
}

/** Objects whose deletion from storage failed; a sweeper retries them. */
export class PendingObjectDeletion extends Model<InferAttributes<PendingObjectDeletion>, InferCreationAttributes<PendingObjectDeletion>> {
  declare objectId: string;
  declare attempts: number;
  declare lastError: string | null;
  declare nextAt: Date;
}

/** Keys of the firm itself, for what it sends to all clients (templates, guides). */
export class FirmKey extends Model<InferAttributes<FirmKey>, InferCreationAttributes<FirmKey>> {
  declare id: CreationOptional<number>;
  declare purpose: string;
  declare version: number;
  declare wrappedKey: string;
  declare createdAt: CreationOptional<Date>;
}

const big = (field: string) => ({
  type: DataTypes.BIGINT, allowNull: false,
  get(this: Model) { return Number(this.getDataValue(field)); },
});

export function initFileModels(sequelize: Sequelize): void {
  FileBatch.init({
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    clientId: { type: DataTypes.UUID, allowNull: true },
    direction: { type: DataTypes.STRING(20), allowNull: false },
    employeeId: { type: DataTypes.UUID, allowNull: true },
    senderId: { type: DataTypes.UUID, allowNull: false },
    senderName: { type: DataTypes.STRING(100), allowNull: false },
    comment: { type: DataTypes.STRING(1000), allowNull: true },
    createdAt: DataTypes.DATE(3),
  }, { sequelize, tableName: 'file_batches', updatedAt: false });

  StoredFile.init({
    id: { type: DataTypes.UUID, primaryKey: true },
    batchId: { type: DataTypes.UUID, allowNull: false },
    clientId: { type: DataTypes.UUID, allowNull: true },
    direction: { type: DataTypes.STRING(20), allowNull: false },
    employeeId: { type: DataTypes.UUID, allowNull: true },
    senderId: { type: DataTypes.UUID, allowNull: false },
    category: { type: DataTypes.STRING(20), allowNull: false },
    displayName: { type: DataTypes.STRING(255), allowNull: false },
    contentType: { type: DataTypes.STRING(100), allowNull: false },
    size: big('size'),
    sha256: { type: DataTypes.STRING(64), allowNull: false },
    objectId: { type: DataTypes.STRING(100), allowNull: false },
    keyVersion: { type: DataTypes.INTEGER, allowNull: false },
    wrappedKey: { type: DataTypes.STRING(255), allowNull: true },
    containsMyNumber: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    cardPhoto: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    throughLink: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    retentionDate: { type: DataTypes.DATEONLY, allowNull: true },
    status: { type: DataTypes.STRING(10), allowNull: false },
    deletedAt: { type: DataTypes.DATE(3), allowNull: true },
    deletedBy: { type: DataTypes.UUID, allowNull: true },
    createdAt: DataTypes.DATE(3),
  }, { sequelize, tableName: 'files', updatedAt: false });

  FileRead.init({
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    fileId: { type: DataTypes.UUID, allowNull: false },
    userId: { type: DataTypes.UUID, allowNull: false },
    userName: { type: DataTypes.STRING(100), allowNull: false },
    firstAt: { type: DataTypes.DATE(3), allowNull: false },
    lastAt: { type: DataTypes.DATE(3), allowNull: false },
    count: { type: DataTypes.INTEGER, allowNull: false },
  }, { sequelize, tableName: 'file_reads', timestamps: false });

  PendingObjectDeletion.init({
    objectId: { type: DataTypes.STRING(100), primaryKey: true },
    attempts: { type: DataTypes.INTEGER, allowNull: false },
    lastError: { type: DataTypes.STRING(300), allowNull: true },
    nextAt: { type: DataTypes.DATE(3), allowNull: false },
  }, { sequelize, tableName: 'pending_object_deletions', timestamps: false });

  FirmKey.init({
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    purpose: { type: DataTypes.STRING(20), allowNull: false },
    version: { type: DataTypes.INTEGER, allowNull: false },
    wrappedKey: { type: DataTypes.STRING(255), allowNull: false },
    createdAt: DataTypes.DATE(3),
  }, { sequelize, tableName: 'firm_keys', updatedAt: false });
}
