export { AuditLog, type AuditEntry, type ChainVerdict } from './audit-log';
export { type ActorContext, systemContext } from './context';
