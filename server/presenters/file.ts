import { FIRM_ROLES, type Client, type Employee, type FileBatch, type FileRead, type Role, type StoredFile } from '../db/models';
import { sentBy } from '../files/visibility';
import type { ReadState } from '../files/file-service';
import { formatBytes, formatDateTime } from './format';
import { clientLabel } from './client';
import { translate, type Lang } from '../i18n';

/** Who sent an employee a file (sendersForEmployee): the firm or their company, by name when known. */
export type SentFrom = { side: 'firm' | 'company'; name: string };
const SIDE_KEYS = { firm: 'files.side.firm', company: 'files.side.company' } as const;
/** The sender as the employee's page names it: the firm's or company's name, else 事務所 / 会社. */
const senderName = (from: SentFrom, lang: Lang) => from.name || translate(lang, SIDE_KEYS[from.side]);

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

/**
 * `client` and `employee`: who else the file concerns, as a list names them (the firm's lists span clients).
 * `from`: for an employee, who sent a file addressed to them (「…から」 in place of the addressee, themselves).
 */
export function presentFile(f: StoredFile, lang: Lang, opts: { read?: boolean; client?: string; employee?: string; state?: ReadState; from?: SentFrom } = {}) {
  const badge = opts.state ? READ_BADGES[opts.state] : null;
  return {
    client: opts.client ?? '',
    employee: opts.employee ?? '',
    from: opts.from ? translate(lang, 'files.from', { name: senderName(opts.from, lang) }) : '',
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

export function presentFileDetails(f: StoredFile, d: { batch: FileBatch | null; reads: FileRead[]; client: Client | null; employee: Employee | null; from?: SentFrom }, lang: Lang) {
  return {
    ...presentFile(f, lang, { read: d.reads.length > 0 }),
    // 差出人, for the employee a file was addressed to (in place of 送り先, which would name them).
    fromName: d.from ? senderName(d.from, lang) : '',
    comment: d.batch?.comment ?? '',
    senderName: d.batch?.senderName ?? '',
    clientName: d.client ? clientLabel(d.client) : '',
    employeeName: d.employee ? `${d.employee.employeeCode} ${d.employee.name}` : '',
    sha256: f.sha256,
    reads: d.reads.map((r) => ({ name: r.userName, firstAt: formatDateTime(r.firstAt, lang), lastAt: formatDateTime(r.lastAt, lang), count: r.count })),
  };
}

/**
 * Where a file's page leads back to. The firm's file list spans every client: the firm's way back is
 * the list the file is in, its client's received or sent box (as the home page's 未読 link and the
 * client page open it), not every client's files. Others have one company's list: /files.
 */
export function fileListBack(role: Role, f: StoredFile, client: Client | null): { href: string; client: string | null } {
  if (!FIRM_ROLES.includes(role)) return { href: '/files', client: null };
  const box = sentBy({ role }).includes(f.direction) ? 'sent' : 'received';
  if (!client || f.clientId !== client.id) return { href: `/files?box=${box}`, client: null };
  return { href: `/files?${new URLSearchParams({ box, client: client.id }).toString()}`, client: clientLabel(client) };
}
