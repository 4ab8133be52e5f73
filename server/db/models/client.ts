import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export class Client extends Model<InferAttributes<Client>, InferCreationAttributes<Client>> {
  declare id: CreationOptional<string>;
  declare code: string;
  declare name: string;
  declare nameKana: string | null;
  /** whether this client's admins must use TOTP (firm roles always must) */
  declare requireAdminTotp: boolean;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class Establishment extends Model<InferAttributes<Establishment>, InferCreationAttributes<Establishment>> {
  declare id: CreationOptional<string>;
  declare clientId: string;
  declare name: string;
  declare address: string | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class Department extends Model<InferAttributes<Department>, InferCreationAttributes<Department>> {
  declare id: CreationOptional<string>;
  declare clientId: string;
  declare code: string;
  declare name: string;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class StaffAssignment extends Model<InferAttributes<StaffAssignment>, InferCreationAttributes<StaffAssignment>> {
  declare id: CreationOptional<string>;
  declare clientId: string;
  declare userId: string;
  declare createdAt: CreationOptional<Date>;
}

export class Employee extends Model<InferAttributes<Employee>, InferCreationAttributes<Employee>> {
  declare id: CreationOptional<string>;
  declare clientId: string;
  declare employeeCode: string;
  declare name: string;
  declare nameKana: string | null;
  declare departmentId: string | null;
  declare establishmentId: string | null;
  declare hireDate: string | null;
  declare leaveDate: string | null;
  declare userId: string | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class Dependant extends Model<InferAttributes<Dependant>, InferCreationAttributes<Dependant>> {
  declare id: CreationOptional<string>;
  declare clientId: string;
  declare employeeId: string;
  declare name: string;
  declare nameKana: string | null;
  declare relationship: string;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class ClientKey extends Model<InferAttributes<ClientKey>, InferCreationAttributes<ClientKey>> {
  declare id: CreationOptional<number>;
  declare clientId: string;
  declare purpose: string;
  declare version: number;
  declare wrappedKey: string | null;
  declare destroyedAt: Date | null;
  declare createdAt: CreationOptional<Date>;
}

const uuidPk = { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 };
const stamps = { createdAt: DataTypes.DATE(3), updatedAt: DataTypes.DATE(3) };

export function initClientModels(sequelize: Sequelize): void {
  Client.init({
    id: uuidPk,
    code: { type: DataTypes.STRING(20), allowNull: false, unique: true },
    name: { type: DataTypes.STRING(200), allowNull: false },
    nameKana: { type: DataTypes.STRING(200), allowNull: true },
    requireAdminTotp: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    ...stamps,
  }, { sequelize, tableName: 'clients' });

  Establishment.init({
    id: uuidPk,
    clientId: { type: DataTypes.UUID, allowNull: false },
    name: { type: DataTypes.STRING(200), allowNull: false },
    address: { type: DataTypes.STRING(300), allowNull: true },
    ...stamps,
  }, { sequelize, tableName: 'establishments' });

  Department.init({
    id: uuidPk,
    clientId: { type: DataTypes.UUID, allowNull: false },
    code: { type: DataTypes.STRING(20), allowNull: false },
    name: { type: DataTypes.STRING(200), allowNull: false },
    ...stamps,
  }, { sequelize, tableName: 'departments' });

  StaffAssignment.init({
    id: uuidPk,
    clientId: { type: DataTypes.UUID, allowNull: false },
    userId: { type: DataTypes.UUID, allowNull: false },
    createdAt: DataTypes.DATE(3),
  }, { sequelize, tableName: 'staff_assignments', updatedAt: false });

  Employee.init({
    id: uuidPk,
    clientId: { type: DataTypes.UUID, allowNull: false },
    employeeCode: { type: DataTypes.STRING(30), allowNull: false },
    name: { type: DataTypes.STRING(100), allowNull: false },
    nameKana: { type: DataTypes.STRING(100), allowNull: true },
    departmentId: { type: DataTypes.UUID, allowNull: true },
    establishmentId: { type: DataTypes.UUID, allowNull: true },
    hireDate: { type: DataTypes.DATEONLY, allowNull: true },
    leaveDate: { type: DataTypes.DATEONLY, allowNull: true },
    userId: { type: DataTypes.UUID, allowNull: true },
    ...stamps,
  }, { sequelize, tableName: 'employees' });

  Dependant.init({
    id: uuidPk,
    clientId: { type: DataTypes.UUID, allowNull: false },
    employeeId: { type: DataTypes.UUID, allowNull: false },
    name: { type: DataTypes.STRING(100), allowNull: false },
    nameKana: { type: DataTypes.STRING(100), allowNull: true },
    relationship: { type: DataTypes.STRING(20), allowNull: false },
    ...stamps,
  }, { sequelize, tableName: 'dependants' });

  ClientKey.init({
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    clientId: { type: DataTypes.UUID, allowNull: false },
    purpose: { type: DataTypes.STRING(20), allowNull: false },
    version: { type: DataTypes.INTEGER, allowNull: false },
    wrappedKey: { type: DataTypes.STRING(255), allowNull: true },
    destroyedAt: { type: DataTypes.DATE(3), allowNull: true },
    createdAt: DataTypes.DATE(3),
  }, { sequelize, tableName: 'client_keys', updatedAt: false });
}
