import { Op, UniqueConstraintError, col, fn, literal, type Sequelize, type Transaction, type WhereOptions } from 'sequelize';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { AuditLog, ActorContext } from '../audit';
import { ObjectNotFound, type StorageAdapter } from '../../storage-adapters';
import type { ClientKeys } from '../clients/client-keys';
import type { MailOutbox } from '../mail/outbox';
import { Client, Employee, FileBatch, FileRead, NumberRecord, StaffAssignment, StoredFile, User, type Category } from '../db/models';
import { unwrapDataKey } from '../crypto/key-ring';
import { createDecryptStream, CorruptObject } from '../crypto/segment-cipher';
import { BadRequest, Forbidden, NotFound, StorageUnavailable } from '../errors';
import { translate, isLang, DEFAULT_LANG } from '../i18n';
import { boxWhere, isRecipientSide, readersVisibleToSql, unreadWhere, visibleFilesWhere, type Box } from './visibility';
import { isAssigned, mayDeleteFile } from '../policies';
import { FIRM_KEY_OWNER, type EncryptedUpload } from './upload-engine';
import { deleteOrQueue } from './sweeper';
import { addYears, rulesOf } from '../disposal/retention-rules';
import { procedureRefusal, type Procedure } from '../domain/purposes';
import type { UploadTarget } from './upload-target';
import { japanDay } from '../domain/dates';
import { CARD_PHOTO_DETAIL, type RevealGuard } from '../vault/reveal-guard';
import { cardPhotosSentWith, opensLikeANumber } from './card-photos';
import { logUnreadable } from './unreadable';

export interface FileDeps {
  sequelize: Sequelize;
  audit: AuditLog;
  storage: StorageAdapter;
  clientKeys: ClientKeys;
  outbox: MailOutbox;
  logger: Logger;
  config: Pick<Config, 'publicUrl'>;
  /** the vault's reveal burst limit, which the firm's downloads of My Number files count against */
  guard: RevealGuard;
}

export interface ListFilter {
  box: Box;
  category?: Category;
  clientId?: string;
  page: number;
}

export const PAGE_SIZE = 50;

/** A list row's opening badge, for its viewer (see `FileService.readStates`). */
export type ReadState = 'unread' | 'read' | 'notOpened' | 'openedByRecipient' | 'notOpenedYet' | 'firmOpened' | 'firmNotOpened';

const isFirm = (u: User) => u.role === 'firm_admin' || u.role === 'firm_staff';

/** Where a file's bytes are and how its key is wrapped: read together, as a key rotation changes them together. */
interface StoredAt { objectId: string; keyVersion: number; wrappedKey: Buffer }
const STORED_AT = ['id', 'objectId', 'keyVersion', 'wrappedKey'];
const storedAt = (f: StoredFile): StoredAt => ({ objectId: f.objectId, keyVersion: f.keyVersion, wrappedKey: Buffer.from(f.wrappedKey!, 'base64') });

/** The file exchange: sending (after the engine stored the objects), listing, downloading, deleting. */
export class FileService {
  constructor(private readonly d: FileDeps) {}

  /**
   * Makes a sending visible: the batch, its files and one audit row per file, in one transaction.
   * If that fails the stored objects are removed (the sweeper catches any that cannot be).
   */
  async commitUpload(ctx: ActorContext, sender: User, target: UploadTarget, uploads: EncryptedUpload[]): Promise<FileBatch> {
    if (uploads.length === 0) throw new BadRequest('files.noFiles', { files: 'files.noFiles' });
    let batch: FileBatch;
    let notices = 0;
    try {
      batch = await this.d.audit.transaction(async (tx) => {
        const b = await this.insertUploads(tx, ctx, sender, target, uploads);
        notices = await this.queueNotices(tx, b.id, target, uploads.length);
        return b;
      });
    } catch (err) {
      await this.discardUploads(uploads);
      throw err;
    }
    // Sent now if the mail server answers; otherwise the outbox job retries it with back-off.
    if (notices) void this.d.outbox.deliverNow().catch((err: unknown) => this.d.logger.warn({ err: { message: (err as Error).message } }, 'new-files notice not sent yet; queued'));
    return batch;
  }

  /** The rows of a sending in the caller's transaction, so it can land together with other rows (a number and its card image). */
  async insertUploads(tx: Transaction, ctx: ActorContext, sender: Pick<User, 'id' | 'name'>, target: UploadTarget, uploads: EncryptedUpload[]): Promise<FileBatch> {
    // Files get their deletion date at once from the client's rule for the category (7 years unless set otherwise).
    const years = target.clientId ? (await rulesOf(target.clientId)).fileYears[target.category] : undefined;
    const retentionDate = years ? addYears(japanDay(), years) : null;
    const b = await FileBatch.create({
      clientId: target.clientId, direction: target.direction, employeeId: target.employeeId,
      senderId: sender.id, senderName: sender.name, comment: target.comment,
    }, { transaction: tx });
    for (const u of uploads) {
      await StoredFile.create({
        id: u.fileId, batchId: b.id, clientId: target.clientId, direction: target.direction, employeeId: target.employeeId,
        senderId: sender.id, category: target.category, displayName: u.displayName, contentType: u.contentType,
        size: u.size, sha256: u.sha256, objectId: u.objectId, keyVersion: u.keyVersion, wrappedKey: u.wrappedKey,
        containsMyNumber: target.containsMyNumber, cardPhoto: target.cardPhoto === true, throughLink: target.throughLink === true, retentionDate, status: 'ready', deletedAt: null, deletedBy: null,
      }, { transaction: tx });
      await this.d.audit.record(tx, ctx, {
        operation: 'file.upload', result: 'allowed', clientId: target.clientId, targetKind: 'file', targetId: u.fileId,
        targetLabel: u.displayName, detail: `${target.direction} ${target.category} ${u.size}B`,
      });
    }
    return b;
  }

  /** Removes stored objects whose rows did not land (the sweeper catches any that cannot be removed now). */
  async discardUploads(uploads: EncryptedUpload[]): Promise<void> {
    await Promise.allSettled(uploads.map((u) => this.d.storage.delete(u.objectId)));
  }

  async list(user: User, f: ListFilter): Promise<{ rows: StoredFile[]; total: number }> {
    const where: WhereOptions<StoredFile>[] = [await visibleFilesWhere(user), { status: 'ready' }];
    if (f.category) where.push({ category: f.category });
    if (f.clientId && isFirm(user)) where.push({ clientId: f.clientId });
    const box = boxWhere(user, f.box);
    if (box) where.push(box);
    const { rows, count } = await StoredFile.findAndCountAll({
      where: { [Op.and]: where }, order: [['createdAt', 'DESC']], limit: PAGE_SIZE, offset: (f.page - 1) * PAGE_SIZE,
    });
    return { rows, total: count };
  }

  /** A file the user may see, or NotFound (other clients' files look exactly like missing ones). */
  async getFor(user: User, fileId: string): Promise<StoredFile> {
    if (!/^[0-9a-f-]{36}$/i.test(fileId)) throw new NotFound();
    const file = await StoredFile.findOne({ where: { [Op.and]: [await visibleFilesWhere(user), { id: fileId, status: 'ready' }] } });
    if (!file) throw new NotFound();
    return file;
  }

  /**
   * Whose opening of a file a user may learn: the firm sees every reader; a client's people see their
   * own company's and the firm's, never another client's (a file sent to all clients is opened by many).
   */
  private readersVisibleTo(user: User): WhereOptions {
    const readers = readersVisibleToSql(user);
    return readers ? { userId: { [Op.in]: literal(readers) } } : {};
  }

  async details(file: StoredFile, viewer: User) {
    const [batch, reads, client, employee] = await Promise.all([
      FileBatch.findByPk(file.batchId),
      FileRead.findAll({ where: { fileId: file.id, ...this.readersVisibleTo(viewer) }, order: [['firstAt', 'ASC']] }),
      file.clientId ? Client.findByPk(file.clientId) : null,
      file.employeeId ? Employee.findByPk(file.employeeId) : null,
    ]);
    return { batch, reads, client, employee };
  }

  /** A refused download of a file holding My Numbers, logged with why (and the purpose given, when it was one on the lists). */
  async recordRefused(ctx: ActorContext, file: StoredFile, reason: string, purpose: { purpose?: string; office?: string } | null): Promise<void> {
    await this.d.audit.recordAlone(ctx, {
      operation: 'file.download', result: 'denied', clientId: file.clientId, targetKind: 'file', targetId: file.id,
      targetLabel: file.displayName, purpose: purpose?.purpose ?? null, office: purpose?.office ?? null, detail: reason,
    });
  }

  mayOpenNumbersOf(user: User, clientId: string): Promise<boolean> {
    return isAssigned(user, clientId);
  }

  /**
   * Per client, the files it sent to the firm that nobody at the firm has opened yet (as a firm
   * admin's 未読: the same rule as `unreadCounts`). Card photos are not counted.
   */
  async unreadByFirm(clientIds: string[]): Promise<Map<string, number>> {
    const counts = await this.unreadCounts({ id: '', role: 'firm_admin', clientId: null }, clientIds);
    return new Map([...counts].filter((e): e is [string, number] => e[0] !== null));
  }

  /**
   * Per client (null: files sent to all), how many files the user has to open: exactly those
   * /files?box=received shows them as 未読 (one condition, `unreadWhere`, for both).
   */
  async unreadCounts(user: Pick<User, 'id' | 'role' | 'clientId'>, clientIds?: string[]): Promise<Map<string | null, number>> {
    if (clientIds && clientIds.length === 0) return new Map();
    const rows = await StoredFile.findAll({
      where: { [Op.and]: [await visibleFilesWhere(user as User), { status: 'ready' }, unreadWhere(user), ...(clientIds ? [{ clientId: { [Op.in]: clientIds } }] : [])] },
      attributes: ['clientId', [fn('COUNT', col('id')), 'n']], group: ['clientId'], raw: true,
    }) as unknown as { clientId: string | null; n: number | string }[];
    return new Map(rows.map((r) => [r.clientId, Number(r.n)]));
  }

  /**
   * What a list page says of each file's opening, for this viewer: on what they received, 未読 (by
   * `unreadWhere`, as home counts) or 既読 — a card photo is never 未読; on what their side sent,
   * whether the other side opened it; and for a client admin, on what the company's employees sent
   * the firm, whether the firm opened it (never 未読: the admin has nothing to open there).
   */
  async readStates(user: User, files: StoredFile[]): Promise<Map<string, ReadState>> {
    const ids = files.map((f) => f.id);
    if (ids.length === 0) return new Map();
    const [unread, read, byEmployees] = await Promise.all([
      StoredFile.findAll({ where: { [Op.and]: [{ id: { [Op.in]: ids } }, unreadWhere(user)] }, attributes: ['id'] }),
      this.readFileIds(ids, user),
      user.role === 'client_admin' ? StoredFile.findAll({ where: { [Op.and]: [{ id: { [Op.in]: ids } }, boxWhere(user, 'employees')!] }, attributes: ['id'] }) : [],
    ]);
    const unreadIds = new Set(unread.map((f) => f.id));
    const employeeIds = new Set(byEmployees.map((f) => f.id));
    return new Map(files.map((f): [string, ReadState] => {
      if (employeeIds.has(f.id)) return [f.id, read.has(f.id) ? 'firmOpened' : 'firmNotOpened'];
      if (isRecipientSide(user, f)) return [f.id, unreadIds.has(f.id) ? 'unread' : read.has(f.id) ? 'read' : 'notOpened'];
      return [f.id, read.has(f.id) ? 'openedByRecipient' : 'notOpenedYet'];
    }));
  }

  /** Read receipts for a list page: file id → opened by someone whose reading the viewer may learn of. */
  async readFileIds(fileIds: string[], viewer: User): Promise<Set<string>> {
    if (fileIds.length === 0) return new Set();
    const reads = await FileRead.findAll({ where: { fileId: { [Op.in]: fileIds }, ...this.readersVisibleTo(viewer) }, attributes: ['fileId'] });
    return new Set(reads.map((r) => r.fileId));
  }

  /**
   * Opens a file for download: the audit row (and the read receipt) first, in one transaction —
   * no row, no download. Files flagged as holding My Numbers need the caller to have checked
   * re-authentication and a purpose (`purpose` given) when the reader is firm staff.
   */
  async open(ctx: ActorContext, user: User, file: StoredFile, purpose: { purpose: string; office: string } | null): Promise<Readable> {
    if (!file.wrappedKey) throw new NotFound();
    if (file.containsMyNumber && isFirm(user)) {
      // As with the vault: only the client's assigned firm members (the firm admin included), with a purpose; a refusal is logged.
      const refusal = !purpose ? 'no purpose' : file.clientId && !(await this.mayOpenNumbersOf(user, file.clientId)) ? 'not assigned' : null;
      if (refusal) {
        await this.recordRefused(ctx, file, refusal, purpose);
        throw new Forbidden(refusal === 'no purpose' ? 'files.purposeRequired' : 'files.notAssigned');
      }
      // A card photo shows its person's number: the same procedures as the number itself (a payee's for the 支払調書 …).
      // One no number points to any more was replaced by a newer one: it is due for disposal, needed for no procedure.
      const kind = await this.cardPhotoPersonKind(file);
      const misfit = kind === 'superseded' ? { key: 'files.cardPhotoSuperseded', detail: 'superseded card photo' } : kind && procedureRefusal(kind, purpose!.purpose as Procedure);
      if (misfit) {
        await this.recordRefused(ctx, file, misfit.detail, purpose);
        throw new BadRequest(misfit.key, { purpose: misfit.key });
      }
    }
    // The firm's opening of a file holding My Numbers counts against the reveal burst limit, like a reveal;
    // so does a client admin's opening of a card photo.
    const guarded = ((file.containsMyNumber && isFirm(user)) || opensLikeANumber(user, file)) && file.clientId;
    /** The audit row under the log's head, before any byte is read; gives where the file's object and key are then. */
    const write = async (tx: Transaction): Promise<StoredAt> => {
      // Read before the log's head was ours: a file deleted or disposed of meanwhile is gone, and its key with it.
      const current = await StoredFile.findOne({ where: { id: file.id, status: 'ready' }, attributes: STORED_AT, transaction: tx, lock: tx.LOCK.UPDATE });
      if (!current?.wrappedKey) throw new NotFound();
      await this.d.audit.record(tx, ctx, {
        // A file sent to all clients has none of its own: the download belongs to the reader's client's log.
        operation: 'file.download', result: 'allowed', clientId: file.clientId ?? user.clientId ?? null, targetKind: 'file', targetId: file.id,
        targetLabel: file.displayName, purpose: purpose?.purpose ?? null, office: purpose?.office ?? null,
        detail: opensLikeANumber(user, file) ? CARD_PHOTO_DETAIL : null,
      });
      return storedAt(current);
    };
    let at = guarded ? await this.d.guard.within(ctx, guarded, 'file.download', 1, write) : await this.d.audit.transaction(write);
    let source: Readable;
    try {
      ({ source, at } = await this.readObject(file, at));
    } catch (err) {
      // Nothing was read: the log says so after its 'allowed' row, and the sender is not told it was opened.
      await logUnreadable(this.d, ctx, { operation: 'file.download', clientId: file.clientId, targetKind: 'file', targetId: file.id, targetLabel: file.displayName }, err);
      // Deleted or disposed of meanwhile: gone, as it would have been a moment later; anything else is the storage's fault.
      throw err instanceof NotFound ? err : new StorageUnavailable();
    }
    if (isRecipientSide(user, file)) {
      try {
        await this.markRead(user, file);
      } catch (err) {
        source.destroy();
        throw err;
      }
    }
    const { keyVersion, wrappedKey: stored } = at;
    const owner = file.clientId ?? FIRM_KEY_OWNER;
    const fileKey = await this.d.clientKeys.fileKeyVersion(file.clientId, keyVersion);
    const decrypt = createDecryptStream({
      clientId: owner, fileId: file.id, expectedSha256: file.sha256,
      unwrapKey: (header) => {
        // The database's copy is the one that counts: once it is destroyed the file is gone.
        if (!header.wrappedKey.equals(stored)) throw new CorruptObject('data-key');
        return unwrapDataKey(fileKey, { clientId: owner, keyVersion, kind: 'file', id: file.id }, stored);
      },
    });
    source.on('error', (err) => decrypt.destroy(err));
    return source.pipe(decrypt);
  }

  /** The file's object as a stream, and where it was read (a key rotation may have moved it since the row was read). */
  private async readObject(file: StoredFile, at: StoredAt): Promise<{ source: Readable; at: StoredAt }> {
    try {
      return { source: await this.d.storage.read(at.objectId), at };
    } catch (err) {
      // A key rotation moved the file to a new object (and deleted the old one) since the row was read: read it there.
      if (!(err instanceof ObjectNotFound)) throw err;
      const moved = await StoredFile.findOne({ where: { id: file.id, status: 'ready' }, attributes: STORED_AT });
      // Deleted or disposed of while it was being opened: gone, as it would have been a moment later.
      if (!moved?.wrappedKey) throw new NotFound();
      if (moved.objectId === at.objectId) throw err;
      return { source: await this.d.storage.read(moved.objectId), at: storedAt(moved) };
    }
  }

  /**
   * The read receipt the sender sees (開封済み): written once the object is open, not before. Two
   * first openings at once (a double tap) both find none: the second one's insert meets the unique
   * key and counts instead.
   */
  private async markRead(user: User, file: StoredFile): Promise<void> {
    const where = { fileId: file.id, userId: user.id };
    const now = new Date();
    const again = { lastAt: now, count: literal(`${this.d.sequelize.getQueryInterface().quoteIdentifier('count')} + 1`) };
    const [counted] = await FileRead.update(again, { where });
    if (counted > 0) return;
    try {
      await FileRead.create({ ...where, userName: user.name, firstAt: now, lastAt: now, count: 1 });
    } catch (err) {
      if (!(err instanceof UniqueConstraintError)) throw err;
      await FileRead.update(again, { where });
    }
  }

  /**
   * Whose number a card photo shows (the record it or the other side sent with it belongs to);
   * 'superseded' for a photo no record points to (replaced by newer ones); null for any other file.
   */
  private async cardPhotoPersonKind(file: StoredFile): Promise<NumberRecord['personKind'] | 'superseded' | null> {
    if (!file.cardPhoto || !file.clientId) return null;
    const sides = await StoredFile.findAll({ where: { batchId: file.batchId, cardPhoto: true }, attributes: ['id'] });
    const record = await NumberRecord.findOne({ where: { clientId: file.clientId, idFileId: { [Op.in]: sides.map((f) => f.id) } }, attributes: ['personKind'] });
    return record?.personKind ?? 'superseded';
  }

  /** Logs a download that failed its integrity checks (the event the security cases ask for). */
  async recordCorrupt(ctx: ActorContext, file: StoredFile, reason: string): Promise<void> {
    this.d.logger.error({ fileId: file.id, reason }, 'stored file failed its integrity check');
    await this.d.audit.recordAlone(ctx, {
      operation: 'file.download', result: 'error', clientId: file.clientId, targetKind: 'file', targetId: file.id,
      targetLabel: file.displayName, detail: `corrupt: ${reason}`,
    });
  }

  /** The sender or the firm admin may delete: the data key is destroyed at once, the object removed (or queued). */
  async delete(ctx: ActorContext, user: User, file: StoredFile): Promise<void> {
    if (!mayDeleteFile(user, file)) throw new Forbidden();
    await this.d.audit.transaction(async (tx) => {
      await StoredFile.update({ status: 'deleted', wrappedKey: null, deletedAt: new Date(), deletedBy: user.id }, { where: { id: file.id }, transaction: tx });
      // A deleted card photo no longer stands beside its number (the list's 画像あり); the other side of
      // the card, sent with it, takes its place, so it stays tied to the number and goes with it.
      const other = file.cardPhoto ? (await cardPhotosSentWith(file, tx)).find((p) => p.id !== file.id) : undefined;
      await NumberRecord.update({ idFileId: other?.id ?? null }, { where: { idFileId: file.id }, transaction: tx });
      await this.d.audit.record(tx, ctx, {
        operation: 'file.delete', result: 'allowed', clientId: file.clientId, targetKind: 'file', targetId: file.id, targetLabel: file.displayName,
      });
    });
    await this.deleteObject(file.objectId);
  }

  async setRetention(ctx: ActorContext, user: User, file: StoredFile, date: string | null): Promise<void> {
    if (!isFirm(user)) throw new Forbidden();
    // A date already past would make the file due for disposal at once: bringing deletion forward is the disposal list's work.
    if (date && date < japanDay()) throw new BadRequest('files.retentionPast');
    await this.d.audit.transaction(async (tx) => {
      await StoredFile.update({ retentionDate: date }, { where: { id: file.id }, transaction: tx });
      await this.d.audit.record(tx, ctx, {
        operation: 'file.retention', result: 'allowed', clientId: file.clientId, targetKind: 'file', targetId: file.id,
        targetLabel: file.displayName, detail: `${file.retentionDate ?? 'none'} → ${date ?? 'none'}`,
      });
    });
  }

  /** Deletes a stored object; a failure is queued for the sweeper to retry. */
  async deleteObject(objectId: string): Promise<void> {
    await deleteOrQueue(this.d.storage, objectId, this.d.logger);
  }

  /**
   * "You have N new files" — a link, never names, senders or anything personal. Queued with the
   * sending itself, so a mail server that is down delays the notice instead of losing it. The firm's
   * notice names the client by its code, which the firm gave it (a client's name may be a
   * person's, a sole proprietor's), and links to that client's received files.
   */
  private async queueNotices(tx: Transaction, batchId: string, target: UploadTarget, count: number): Promise<number> {
    let recipients: User[];
    let fromClient: { code: string; link: string } | null = null;
    if (target.direction === 'to_firm') {
      const client = await Client.findByPk(target.clientId!, { transaction: tx });
      fromClient = { code: client!.code, link: `${this.d.config.publicUrl}/files?${new URLSearchParams({ box: 'received', client: target.clientId! })}` };
      const assigned = (await StaffAssignment.findAll({ where: { clientId: target.clientId! }, transaction: tx })).map((a) => a.userId);
      recipients = await User.findAll({ where: { id: { [Op.in]: assigned }, disabledAt: null }, transaction: tx });
      if (recipients.length === 0) recipients = await User.findAll({ where: { role: 'firm_admin', disabledAt: null }, transaction: tx });
    } else if (target.direction === 'to_client') {
      recipients = await User.findAll({ where: { clientId: target.clientId, role: 'client_admin', disabledAt: null }, transaction: tx });
    } else if (target.direction === 'to_employee') {
      const employee = await Employee.findByPk(target.employeeId!, { transaction: tx });
      recipients = employee?.userId ? await User.findAll({ where: { id: employee.userId, disabledAt: null }, transaction: tx }) : [];
    } else {
      recipients = await User.findAll({ where: { role: 'client_admin', disabledAt: null }, transaction: tx });
    }
    const told = recipients.filter((u) => u.passwordHash);
    for (const r of told) {
      const lang = isLang(r.lang) ? r.lang : DEFAULT_LANG;
      await this.d.outbox.enqueue({
        dedupeKey: `files:${batchId}:${r.id}`,
        to: r.email,
        ...(fromClient ? {
          subject: translate(lang, 'mail.newFilesFromClient.subject', { code: fromClient.code }),
          text: translate(lang, 'mail.newFilesFromClient.body', { count, code: fromClient.code, link: fromClient.link }),
        } : {
          subject: translate(lang, 'mail.newFiles.subject'),
          text: translate(lang, 'mail.newFiles.body', { count, link: `${this.d.config.publicUrl}/files` }),
        }),
      }, tx);
    }
    return told.length;
  }
}
