import type { Client, Employee, FileBatch, FileRead, StoredFile } from '../db/models';
import type { Lang } from '../i18n';
import type { ReadState } from '../files/file-service';
import { formatBytes, formatDateTime } from './format';
import { clientLabel } from './client';

/** Each opening badge's words and look: only what the viewer has to open is shown as new (未読). */
const READ_BADGES: Record<ReadState, { key: string; isNew: boolean } | null> = {
  unread: { key: 'files.unread', isNew: true },
  read: { key: 'files.read', isNew: false },
  // A card photo nobody opened yet: nothing to clear, no badge (its 本人確認書類 badge says what it is).
  notOpened: null,
  openedByRecipient: { key: 'files.openedByRecipient', isNew: false },
  notOpenedYet: { key: 'files.notOpenedYet', isNew: false },
  firmOpened: { key: 'files.firmOpened', isNew: false },
  firmNotOpened: { key: 'files.firmNotOpened', isNew: false },
};

/** `client` and `employee`: who else the file concerns, as a list names them (the firm's lists span clients). */
export function presentFile(f: StoredFile, lang: Lang, opts: { read?: boolean; client?: string; employee?: string; state?: ReadState } = {}) {
  const badge = opts.state ? READ_BADGES[opts.state] : null;
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
    cardPhoto: f.cardPhoto,
    // The list's badge, for its viewer (`FileService.readStates`): 未読 only on what the viewer has to open;
    // on what their side sent, whether the other side opened it.
    readBadge: badge ? { key: badge.key, isNew: badge.isNew, state: opts.state } : null,
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
