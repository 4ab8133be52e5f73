import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

/** The fields of one audit row that its hash covers, in a fixed order. */
export interface ChainedFields {
  seq: number;
  at: Date;
  actorId: string | null;
  actorName: string | null;
  actorRole: string | null;
  clientId: string | null;
  targetKind: string | null;
  targetId: string | null;
  targetLabel: string | null;
  operation: string;
  channel: string;
  ip: string | null;
  userAgent: string | null;
  purpose: string | null;
  office: string | null;
  result: string;
  detail: string | null;
  prevHash: string;
}

export function rowHash(f: ChainedFields): string {
  const canonical = JSON.stringify([
    'akatsuki-audit-v1', f.seq, f.at.toISOString(), f.actorId, f.actorName, f.actorRole, f.clientId,
    f.targetKind, f.targetId, f.targetLabel, f.operation, f.channel, f.ip, f.userAgent, f.purpose,
    f.office, f.result, f.detail, f.prevHash,
  ]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}
