import { Op } from 'sequelize';
import { AuditEvent, Client, DisposalItem, NumberRecord, StoredFile, type AuditEvent as AuditRow, type User } from '../db/models';
import { staffDuring, type StaffInPeriod } from './staff-during';
import type { Period } from './periods';
import { operatorLabel } from '../presenters/operator';
import { japanDay } from '../domain/dates';
import { withoutUnseenFileNames } from '../audit/log-query';

/**
 * 山田 太郎 → 山＊ 太＊: enough for the client to recognise their own people, not more. Each part keeps
 * its first character only when something of it stays hidden: a one-character given name (伊藤 誠,
 * 林 誠) is hidden whole — 伊＊ ＊, 林 ＊ — not shown in full; the family name's first character stays.
 */
export function maskName(label: string): string {
  let first = true;
  return label.split(/(\s+)/).map((part) => {
    if (/^\s*$/.test(part)) return part;
    if (part === '>') { first = true; return part; }
    const chars = [...part];
    const keep = chars.length > 1 || first;
    first = false;
    return keep ? `${chars[0]}${'＊'.repeat(chars.length - 1)}` : '＊';
  }).join('');
}

/** `E001 山田 太郎 > 山田 花子` → `E001 山＊ 太＊ > 山＊ 花＊` (the code stays, the names are masked). */
export function maskPersonLabel(label: string | null): string {
  if (!label) return '';
  const m = /^([A-Za-z0-9_-]+)\s+(.*)$/.exec(label);
  return m ? `${m[1]} ${maskName(m[2]!)}` : maskName(label);
}

export interface ReportRow {
  at: Date;
  operator: string;
  /** the person whose data it was, masked; '' when the row is about something else */
  person: string;
  /**
   * what else it was about: a file (its name), a disposal certificate (its number), or a disposal
   * request (the employee codes and masked names of what it disposes of; `more` beyond those named)
   */
  target: { kind: 'file' | 'certificate' | 'disposal'; label: string; more?: number } | null;
  operation: string;
  purpose: string | null;
  office: string | null;
  result: string;
  channel: string;
}

export interface ReportData {
  client: { code: string; name: string };
  period: Period;
  rows: ReportRow[];
  byDate: Map<string, number>;
  byPerson: Map<string, number>;
  byOperator: Map<string, number>;
  byOffice: Map<string, number>;
  disposals: ReportRow[];
  numbersByStatus: Map<string, number>;
  filesByCategory: Map<string, number>;
  /** Who was assigned to the client at some moment of the period. */
  staff: StaffInPeriod[];
  head: { seq: number; hash: string } | null;
}

/**
 * What counts as "touching the client's data": the vault, files, people (one by one or imported), a
 * number's deletion date moved or cancelled, disposals and their certificates, reports and log
 * exports read, and any denial.
 */
const DATA_OPERATIONS = [
  /^vault\./, /^file\./, /^person\./, /^people\.import$/, /^retention\.(change|cancel)$/, /^disposal\./, /^certificate\.download$/,
  /^report\.download$/, /^log\.export\./, /^keys\.rotate$/,
];

const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

/** Rows about a person carry their (masked) label; files and certificates are named as what they are, never counted as people. */
const PERSON_KINDS = new Set(['employee', 'dependant', 'payee']);
function targetOf(e: AuditRow, disposed: Map<string, string[]>): Pick<ReportRow, 'person' | 'target'> {
  if (e.targetKind && PERSON_KINDS.has(e.targetKind)) return { person: maskPersonLabel(e.targetLabel), target: null };
  if ((e.targetKind === 'file' || e.targetKind === 'certificate') && e.targetLabel) return { person: '', target: { kind: e.targetKind, label: e.targetLabel } };
  const d = e.targetKind === 'disposal' && e.targetId ? disposalTarget(disposed.get(e.targetId)) : null;
  if (d) return { person: '', target: { kind: 'disposal', ...d } };
  return { person: '', target: null };
}

/** How many of a disposal's items its rows name (a whole client's disposal has many; the certificate lists them all). */
const DISPOSAL_ITEMS_NAMED = 3;

/**
 * What each disposal request of the given rows disposes of, as its certificate names it (employee
 * code and masked name), so that 申請・承認・消去 say whose data they were about, not a blank.
 * Read for the access report (one client) and for the 操作履歴 (the reader's clients).
 */
export async function disposalItemsOf(clientId: string | null, events: AuditRow[]): Promise<Map<string, string[]>> {
  const requestIds = [...new Set(events.filter((e) => e.targetKind === 'disposal' && e.targetId).map((e) => e.targetId!))];
  const byRequest = new Map<string, string[]>();
  for (let i = 0; i < requestIds.length; i += 500) {
    const ids = requestIds.slice(i, i + 500);
    const items = await DisposalItem.findAll({ where: { ...(clientId ? { clientId } : {}), requestId: { [Op.in]: ids } }, attributes: ['requestId', 'employeeCode', 'maskedLabel'], order: [['employeeCode', 'ASC'], ['maskedLabel', 'ASC']] });
    for (const it of items) {
      const label = [it.employeeCode, it.maskedLabel].filter(Boolean).join(' ');
      const list = byRequest.get(it.requestId) ?? [];
      if (!list.includes(label)) list.push(label);
      byRequest.set(it.requestId, list);
    }
  }
  return byRequest;
}

/** A disposal's items as a row names them: the first few, and how many more (the certificate lists them all). */
export function disposalTarget(items: string[] | undefined): { label: string; more: number } | null {
  if (!items?.length) return null;
  return { label: items.slice(0, DISPOSAL_ITEMS_NAMED).join('、'), more: Math.max(0, items.length - DISPOSAL_ITEMS_NAMED) };
}

/** Everything one client's access report for one period says, read from the log and the current holdings. */
export async function collectReportData(clientId: string, period: Period): Promise<ReportData> {
  const client = await Client.findByPk(clientId);
  if (!client) throw new Error('client not found');
  // Read by the client's admins and by the firm: a file either side may not see is named no more
  // than in that side's own log.
  const readers = [{ id: '', role: 'client_admin', clientId }, { id: '', role: 'firm_admin', clientId: null }] as User[];
  let events: AuditRow[] = await AuditEvent.findAll({ where: { clientId, at: { [Op.gte]: period.start, [Op.lt]: period.end } }, order: [['seq', 'ASC']] });
  for (const reader of readers) events = await withoutUnseenFileNames(reader, events);
  const disposed = await disposalItemsOf(clientId, events);
  const rows: ReportRow[] = [];
  const byDate = new Map<string, number>();
  const byPerson = new Map<string, number>();
  const byOperator = new Map<string, number>();
  const byOffice = new Map<string, number>();
  for (const e of events) {
    if (!DATA_OPERATIONS.some((r) => r.test(e.operation)) && e.result !== 'denied') continue;
    const row: ReportRow = {
      at: e.at, operator: operatorLabel(e, 'ja'), ...targetOf(e, disposed),
      operation: e.operation, purpose: e.purpose, office: e.office, result: e.result, channel: e.channel,
    };
    rows.push(row);
    bump(byDate, japanDay(e.at));
    if (row.person) bump(byPerson, row.person);
    bump(byOperator, row.operator || '—');
    if (e.office) bump(byOffice, e.office);
  }
  // Holdings at the period's end, not at the build (a catch-up after downtime, a disposal before the
  // 06:00 run): what was there then and has been erased since counts; numbers by their status now.
  const erasedSince = (await DisposalItem.findAll({ where: { clientId, itemKind: 'number', erasedAt: { [Op.gte]: period.end } }, attributes: ['itemId'] })).map((i) => i.itemId);
  const [records, files, staff, head] = await Promise.all([
    NumberRecord.findAll({ where: { clientId, createdAt: { [Op.lt]: period.end }, [Op.or]: [{ sealedNumber: { [Op.ne]: null } }, ...(erasedSince.length ? [{ id: { [Op.in]: erasedSince } }] : [])] }, attributes: ['status'] }),
    StoredFile.findAll({ where: { clientId, createdAt: { [Op.lt]: period.end }, [Op.or]: [{ status: 'ready' }, { status: 'deleted', deletedAt: { [Op.gte]: period.end } }] }, attributes: ['category'] }),
    staffDuring(clientId, period),
    AuditEvent.findOne({ where: { at: { [Op.lt]: period.end } }, order: [['seq', 'DESC']], attributes: ['seq', 'hash'] }),
  ]);
  const numbersByStatus = new Map<string, number>();
  for (const r of records) bump(numbersByStatus, r.status);
  const filesByCategory = new Map<string, number>();
  for (const f of files) bump(filesByCategory, f.category);
  return {
    client: { code: client.code, name: client.name },
    period, rows, byDate, byPerson, byOperator, byOffice,
    disposals: rows.filter((r) => r.operation.startsWith('disposal.')),
    numbersByStatus, filesByCategory,
    staff,
    head: head ? { seq: Number(head.seq), hash: head.hash } : null,
  };
}
