import type { Client, Employee, FileBatch, FileRead, StoredFile } from '../db/models';
import type { Lang } from '../i18n';
import { formatBytes, formatDateTime } from './format';
import { clientLabel } from './client';

/** `client` and `employee`: who else the file concerns, as a list names them (the firm's lists span clients). */
export function presentFile(f: StoredFile, lang: Lang, opts: { read?: boolean; client?: string; employee?: string; sentByViewer?: boolean } = {}) {
  return {
    client: opts.client ?? '',
    employee: opts.employee ?? '',
    id: f.id,
    name: f.displayName,
    size: formatBytes(f.size),
    categoryKey: `files.category.${f.category}`,
    directionKey: `files.direction.${f.direction}`,
    sentAt: formatDateTime(f.createdAt, lang),
    containsMyNumber: f.containsMyNumber,
    read: Boolean(opts.read),
    // On the sender's own list the badge says whether the other side has opened it, not "new".
    sentByViewer: Boolean(opts.sentByViewer),
    retentionDate: f.retentionDate ?? '',
  };
}

export function presentFileDetails(f: StoredFile, d: { batch: FileBatch | null; reads: FileRead[]; client: Client | null; employee: Employee | null }, lang: Lang) {
  return {
    ...presentFile(f, lang, { read: d.reads.length > 0 }),
    comment: d.batch?.comment ?? '',
    senderName: d.batch?.senderName ?? '',
    clientName: d.client ? clientLabel(d.client) : '',
    employeeName: d.employee ? `${d.employee.employeeCode} ${d.employee.name}` : '',
    sha256: f.sha256,
    reads: d.reads.map((r) => ({ name: r.userName, firstAt: formatDateTime(r.firstAt, lang), lastAt: formatDateTime(r.lastAt, lang), count: r.count })),
  };
}
