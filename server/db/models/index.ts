import type { Sequelize } from 'sequelize';
import { initUserModels } from './user';
import { initClientModels } from './client';
import { initAuditModels } from './audit';
import { initFileModels } from './file';
import { initVaultModels } from './vault';
import { initReportModels } from './report';
import { initDisposalModels } from './disposal';

export * from './user';
export * from './client';
export * from './audit';
export * from './file';
export * from './vault';
export * from './report';
export * from './disposal';

/** Binds every model class to one Sequelize instance (models are module-level, one database per process). */
export function initModels(sequelize: Sequelize): void {
  initUserModels(sequelize);
  initClientModels(sequelize);
  initAuditModels(sequelize);
  initFileModels(sequelize);
  initVaultModels(sequelize);
  initReportModels(sequelize);
  initDisposalModels(sequelize);
}
