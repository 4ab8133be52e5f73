export { AuditLog, type AuditEntry, type ChainVerdict } from './audit-log';
export { type ActorContext, systemContext, ON_REFUSAL_RECORDED } from './context';
