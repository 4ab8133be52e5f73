import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Op, UniqueConstraintError, type Transaction } from 'sequelize';
import type { Logger } from 'pino';
import type { AuditLog, ActorContext } from '../audit';
import type { ClientKeys } from '../clients/client-keys';
import type { Config } from '../config';
import type { StorageAdapter } from '../../storage-adapters';
import type { MailOutbox } from '../mail/outbox';
import {
  Client, ClientKey, DisposalCertificate, DisposalItem, DisposalRequest, NumberRecord, RetentionRule, StoredFile, User, type DisposalItemState,
} from '../db/models';
import { BadRequest, Conflict, Forbidden, NotFound } from '../errors';
import { translate, isLang, DEFAULT_LANG } from '../i18n';
import { findPerson, listPeople, logLabelOf, peopleByIds, type Person } from '../vault/people';
import { maskPersonLabel } from '../reports/report-data';
import { storeSealed, openSealed, readAll } from '../files/sealed-object';
import { readOrLogFailure } from '../files/unreadable';
import { certificateFingerprint, EXECUTOR_AUTOMATIC, EXECUTOR_ON_APPROVAL, type CertificateData } from './certificate-data';
import type { ErasureLedger } from './erasure-ledger';
import { japanDay } from '../domain/dates';
import { maskNumberRuns } from '../vault/my-number';
import { flushErasedPages } from '../db/database';
import { visibleFilesWhere } from '../files/visibility';
import { addYears, ruleDateOf, rulesOf, type Rules } from './retention-rules';
import { mayAccessClient } from '../policies';

const INSTANCE = `${hostname()}:${process.pid}`;
/** A claim older than this belongs to a process that died mid-disposal: another may resume it. */
const STALE_CLAIM_MS = 5 * 60_000;
const SOFTWARE = 'Akatsuki Portal (暁ポータル) 0.1.0';

export type ItemRef = { kind: 'number' | 'file'; id: string };

/** What is recorded about an item before it goes: enough for the certificate, nothing of the data. */
interface ItemFacts {
  clientId: string; itemKind: 'number' | 'file'; itemId: string; objectId: string | null; employeeCode: string | null;
  maskedLabel: string; dataKind: string; deletionDate: string | null; due: boolean;
}


/** Thrown by a test hook to stop a disposal at a given step, the way a killed process would. */
export class DisposalInterrupted extends Error {}

/**
 * 廃棄: a request names what goes and why; a different person, the firm admin, approves; execution
 * destroys key material (number ciphertext and blind index; a file's wrapped data key), deletes
 * stored objects, verifies that nothing remains, and only then issues the one certificate of the
 * request. Every step is an audit row and a recorded state, so a process killed anywhere resumes.
 */
export class DisposalService {
  constructor(private readonly d: {
    audit: AuditLog; clientKeys: ClientKeys; storage: StorageAdapter; outbox: MailOutbox; logger: Logger;
    config: Pick<Config, 'publicUrl'>; firmName(): Promise<string>;
    renderCertificate(data: CertificateData): Promise<Uint8Array>;
    ledger: ErasureLedger;
    /** test hook: called with each step's name; throwing DisposalInterrupted stops there */
    checkpoint?: (step: string) => void;
  }) {}

  private step(name: string): void {
    this.d.checkpoint?.(name);
  }

  /** A file of a client that can be disposed of (still ready), as the request and certificate name it. */
  private factsOfFile(clientId: string, f: StoredFile, people: Map<string, Person>, today: string): ItemFacts {
    // A file's name may carry a person's name: the certificate names the employee masked, or the file by its id.
    const owner = f.employeeId ? people.get(`employee:${f.employeeId}`) ?? null : null;
    return {
      clientId, itemKind: 'file', itemId: f.id, objectId: f.objectId, employeeCode: owner?.employeeCode ?? null,
      maskedLabel: owner ? maskPersonLabel(owner.label) : `ID ${f.id.slice(0, 8)}`,
      dataKind: `file.${f.category}`, deletionDate: f.retentionDate, due: Boolean(f.retentionDate && f.retentionDate <= today),
    };
  }

  /**
   * describe() for a chunk, in three queries whatever its size: the numbers, the files the numbers
   * point to, and the ready files (those asked for, and the card photos sent with a number's photo).
   * Any id asked for and not found is a 404.
   */
  private async describeMany(clientId: string, refs: ItemRef[], people: Map<string, Person>): Promise<ItemFacts[]> {
    if (refs.some((r) => !/^[0-9a-f-]{36}$/i.test(r.id))) throw new NotFound();
    const numberIds = refs.filter((r) => r.kind === 'number').map((r) => r.id);
    const records = new Map((numberIds.length ? await NumberRecord.findAll({ where: { id: { [Op.in]: numberIds }, clientId, sealedNumber: { [Op.ne]: null } } }) : []).map((r) => [r.id, r]));
    const pointed = [...new Set([...records.values()].flatMap((r) => (r.idFileId ? [r.idFileId] : [])))];
    // The batch of each photo a number points to, whatever its state: its other side may still be there.
    const batchOf = new Map((pointed.length ? await StoredFile.findAll({ where: { id: { [Op.in]: pointed }, clientId }, attributes: ['id', 'batchId'] }) : []).map((f) => [f.id, f.batchId]));
    const asked = refs.filter((r) => r.kind === 'file').map((r) => r.id);
    const batches = [...new Set(batchOf.values())];
    const wanted = [...new Set([...asked, ...pointed])];
    const ready = wanted.length || batches.length
      ? await StoredFile.findAll({ where: { clientId, status: 'ready', [Op.or]: [{ id: { [Op.in]: wanted } }, ...(batches.length ? [{ batchId: { [Op.in]: batches }, cardPhoto: true }] : [])] } })
      : [];
    const readyById = new Map(ready.map((f) => [f.id, f]));
    const sidesOf = new Map<string, string[]>();
    for (const f of ready.filter((x) => x.cardPhoto)) sidesOf.set(f.batchId, [...(sidesOf.get(f.batchId) ?? []), f.id]);
    /** The card photos sent together with the one a number points to (the front and back of one card), that one first. */
    const photosBesides = (fileId: string): string[] => {
      const batchId = batchOf.get(fileId);
      if (batchId === undefined) return [fileId];
      return [fileId, ...[...(sidesOf.get(batchId) ?? [])].sort().filter((id) => id !== fileId)];
    };
    const today = japanDay();
    const out: ItemFacts[] = [];
    const listed = new Set<string>();
    const askedFiles = new Set(asked);
    for (const ref of refs) {
      if (ref.kind === 'file') {
        const f = readyById.get(ref.id);
        if (!f) throw new NotFound();
        out.push(this.factsOfFile(clientId, f, people, today));
        listed.add(f.id);
        continue;
      }
      const r = records.get(ref.id);
      if (!r) throw new NotFound();
      const person = people.get(`${r.personKind}:${r.personId}`) ?? null;
      const facts: ItemFacts = {
        clientId, itemKind: 'number', itemId: r.id, objectId: null, employeeCode: person?.employeeCode ?? null,
        maskedLabel: maskPersonLabel(person?.label ?? '') || '—', dataKind: `number.${r.personKind}`, deletionDate: r.deletionDate,
        due: Boolean(r.deletionDate && r.deletionDate <= today),
      };
      out.push(facts);
      listed.add(r.id);
      // The photographed card shows the number too: its photos (front and back came together) go
      // with the number, on the number's date.
      for (const photoId of r.idFileId ? photosBesides(r.idFileId) : []) {
        if (askedFiles.has(photoId) || listed.has(photoId)) continue;
        const photo = readyById.get(photoId);
        if (!photo) continue;
        out.push({ ...this.factsOfFile(clientId, photo, people, today), deletionDate: facts.deletionDate, due: facts.due });
        listed.add(photoId);
      }
    }
    return out;
  }

  /** A request by a client admin (their own company) or the firm; items already in an open request are refused. */
  async request(ctx: ActorContext, user: User, clientId: string, what: ItemRef[] | 'client', reason: string): Promise<DisposalRequest> {
    if (!reason.trim()) throw new BadRequest('disposal.reasonRequired', { reason: 'disposal.reasonRequired' });
    const refs: ItemRef[] = what === 'client'
      ? [
          ...(await NumberRecord.findAll({ where: { clientId, sealedNumber: { [Op.ne]: null } }, attributes: ['id'] })).map((r) => ({ kind: 'number' as const, id: r.id })),
          ...(await StoredFile.findAll({ where: { clientId, status: 'ready' }, attributes: ['id'] })).map((f) => ({ kind: 'file' as const, id: f.id })),
        ]
      : what;
    if (what !== 'client' && refs.length === 0) throw new BadRequest('disposal.noneSelected');
    if (user.id) await this.mayRequest(user, clientId, what, refs);
    // Everyone of the client once, and the items in chunks, rather than a lookup per item (an offboarding can hold thousands).
    const people = new Map((await listPeople(clientId)).map((p) => [`${p.kind}:${p.id}`, p]));
    const items: ItemFacts[] = [];
    for (let i = 0; i < refs.length; i += 1000) items.push(...await this.describeMany(clientId, refs.slice(i, i + 1000), people));
    // One request at a time (two people, or two instances' nightly runs): the second waits for the
    // log's head, then sees the first's items as open.
    return this.d.audit.transaction(async (tx) => {
      const open = await DisposalItem.count({
        where: { itemId: { [Op.in]: items.map((i) => i.itemId) }, state: { [Op.ne]: 'verified' } },
        include: [], transaction: tx,
      });
      if (open) throw new Conflict('disposal.alreadyRequested');
      // Described before the head was ours: an item another request destroyed meanwhile is gone, not requested again.
      if (!(await this.allStillHeld(items, tx))) throw new Conflict('disposal.alreadyDisposed');
      const req = await DisposalRequest.create({
        // Typed reasons are shown on pages, in the log and on the certificate: a number typed into one is masked.
        clientId, scope: what === 'client' ? 'client' : 'items', reason: maskNumberRuns(reason.trim()).slice(0, 500), early: what === 'client' || items.some((i) => !i.due),
        status: 'requested', requestedBy: user.id, requestedByName: user.name, requestedAt: new Date(),
        approvedBy: null, approvedByName: null, approvedAt: null, claimedBy: null, claimedAt: null, executedAt: null,
      }, { transaction: tx });
      for (let i = 0; i < items.length; i += 1000) {
        await DisposalItem.bulkCreate(items.slice(i, i + 1000).map(({ due: _due, ...x }) => ({ ...x, requestId: req.id, state: 'pending' as const, erasedAt: null, verifiedAt: null })), { transaction: tx });
      }
      await this.d.audit.record(tx, ctx, {
        operation: 'disposal.request', result: 'allowed', clientId, targetKind: 'disposal', targetId: req.id,
        detail: `${req.scope} ${items.length} items${req.early ? ' early' : ''}`,
      });
      if (user.id) await this.queueApprovalNotices(req, user, tx);
      return req;
    }).then((req) => {
      void this.d.outbox.deliverNow().catch((err: unknown) => this.d.logger.warn({ err: { message: (err as Error).message } }, 'approval notice not sent yet; queued'));
      return req;
    });
  }

  /**
   * A person asks only for what they could open or see: a client they may access (staff: assigned,
   * checked now, so a removed assignment counts at once), and files under the file list's rules (a
   * client admin not what the firm sent one employee; the firm, its admin too, not what the company's
   * admins sent one). Anything else answers as an unknown id, as the file routes do. The whole
   * client (end of contract) is the firm admin's alone. The nightly job (no person) is not asked.
   */
  private async mayRequest(user: User, clientId: string, what: ItemRef[] | 'client', refs: ItemRef[]): Promise<void> {
    if (!(await mayAccessClient(user, clientId))) throw new NotFound();
    if (what === 'client') {
      if (user.role !== 'firm_admin') throw new Forbidden('disposal.approverRole');
      return;
    }
    const ticked = [...new Set(refs.filter((r) => r.kind === 'file').map((r) => r.id))];
    if (ticked.some((id) => !/^[0-9a-f-]{36}$/i.test(id))) throw new NotFound();
    for (let i = 0; i < ticked.length; i += 1000) {
      const chunk = ticked.slice(i, i + 1000);
      if (await StoredFile.count({ where: { [Op.and]: [{ id: { [Op.in]: chunk }, clientId }, await visibleFilesWhere(user)] } }) !== chunk.length) throw new NotFound();
    }
  }

  /** Whether every item still holds data: a number still sealed, a file still stored. */
  private async allStillHeld(items: ItemFacts[], tx: Transaction): Promise<boolean> {
    const held: Record<ItemFacts['itemKind'], (ids: string[]) => Promise<number>> = {
      number: (ids) => NumberRecord.count({ where: { id: { [Op.in]: ids }, sealedNumber: { [Op.ne]: null } }, transaction: tx }),
      file: (ids) => StoredFile.count({ where: { id: { [Op.in]: ids }, status: 'ready', wrappedKey: { [Op.ne]: null } }, transaction: tx }),
    };
    for (const kind of ['number', 'file'] as const) {
      const ids = items.filter((i) => i.itemKind === kind).map((i) => i.itemId);
      for (let i = 0; i < ids.length; i += 1000) {
        const chunk = ids.slice(i, i + 1000);
        if (await held[kind](chunk) !== chunk.length) return false;
      }
    }
    return true;
  }

  /**
   * Tells the firm admins who may approve (everyone but the requester) that a request waits: a link
   * to the approvals page, the client's name, nothing of what is in it. Queued with the request.
   */
  private async queueApprovalNotices(req: DisposalRequest, requester: User, tx: Transaction): Promise<void> {
    const admins = await User.findAll({ where: { role: 'firm_admin', disabledAt: null, passwordHash: { [Op.ne]: null }, id: { [Op.ne]: requester.id } }, transaction: tx });
    if (admins.length === 0) return;
    const client = (await Client.findByPk(req.clientId, { transaction: tx }))?.name ?? '';
    for (const a of admins) {
      const lang = isLang(a.lang) ? a.lang : DEFAULT_LANG;
      await this.d.outbox.enqueue({
        dedupeKey: `disposal-request:${req.id}:${a.id}`,
        to: a.email,
        subject: translate(lang, 'mail.disposalRequested.subject', { client }),
        text: translate(lang, 'mail.disposalRequested.body', { client, link: `${this.d.config.publicUrl}/disposal/approvals` }),
      }, tx);
    }
  }

  /** How many requests wait for a firm admin's decision. */
  waitingForApproval(): Promise<number> {
    return DisposalRequest.count({ where: { status: 'requested' } });
  }

  /** Only the firm admin approves, and never their own request (誤削除防止: two people). */
  async approve(ctx: ActorContext, approver: User, requestId: string): Promise<void> {
    const req = await DisposalRequest.findByPk(requestId);
    if (!req) throw new NotFound();
    const refuse = async (why: string, err: Error) => {
      await this.d.audit.recordAlone(ctx, { operation: 'disposal.approve', result: 'denied', clientId: req.clientId, targetKind: 'disposal', targetId: req.id, detail: why });
      throw err;
    };
    if (approver.role !== 'firm_admin') await refuse('not firm admin', new Forbidden('disposal.approverRole'));
    if (approver.id === req.requestedBy) await refuse('own request', new Forbidden('disposal.ownRequest'));
    await this.d.audit.transaction(async (tx) => {
      const [n] = await DisposalRequest.update({ status: 'approved', approvedBy: approver.id, approvedByName: approver.name, approvedAt: new Date() },
        { where: { id: req.id, status: 'requested' }, transaction: tx });
      if (n !== 1) throw new Conflict('disposal.notPending');
      await this.d.audit.record(tx, ctx, { operation: 'disposal.approve', result: 'allowed', clientId: req.clientId, targetKind: 'disposal', targetId: req.id, detail: req.early ? 'early' : 'due' });
    });
  }

  /**
   * The firm admin turns a request down (a mistaken or too broad selection) with a reason: nothing
   * is erased, its items are released so they can be requested again, and the refusal is logged.
   */
  async reject(ctx: ActorContext, decider: User, requestId: string, reason: string): Promise<void> {
    const req = await DisposalRequest.findByPk(requestId);
    if (!req) throw new NotFound();
    if (decider.role !== 'firm_admin') throw new Forbidden('disposal.approverRole');
    const why = maskNumberRuns(reason.trim());
    if (!why) throw new BadRequest('disposal.rejectReasonRequired', { reason: 'disposal.rejectReasonRequired' });
    await this.d.audit.transaction(async (tx) => {
      const [n] = await DisposalRequest.update({ status: 'rejected', rejectedByName: decider.name, rejectedAt: new Date(), rejectReason: why.slice(0, 400) },
        { where: { id: req.id, status: 'requested' }, transaction: tx });
      if (n !== 1) throw new Conflict('disposal.notPending');
      await DisposalItem.destroy({ where: { requestId: req.id }, transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'disposal.reject', result: 'allowed', clientId: req.clientId, targetKind: 'disposal', targetId: req.id, detail: why.slice(0, 400) });
    });
  }

  /** Claims an approved (or abandoned) request for this process; false when another holds a live claim. */
  private async claim(requestId: string): Promise<boolean> {
    const now = new Date();
    const [n] = await DisposalRequest.update({ status: 'executing', claimedBy: INSTANCE, claimedAt: now }, {
      where: { id: requestId, [Op.or]: [{ status: 'approved' }, { status: 'executing', claimedAt: { [Op.lt]: new Date(now.getTime() - STALE_CLAIM_MS) } }, { status: 'executing', claimedBy: INSTANCE }] },
    });
    return n === 1;
  }

  /** Runs (or resumes) a request to its certificate. Safe to call again at any point. */
  async execute(requestId: string): Promise<DisposalCertificate | null> {
    const existing = await DisposalCertificate.findOne({ where: { requestId } });
    if (existing) return existing;
    if (!(await this.claim(requestId))) return null;
    const req = (await DisposalRequest.findByPk(requestId))!;
    const ctx: ActorContext = { actorId: null, actorName: 'system', actorRole: 'system', ip: null, userAgent: null, channel: 'job:disposal' };
    const items = await DisposalItem.findAll({ where: { requestId }, order: [['employeeCode', 'ASC'], ['maskedLabel', 'ASC']] });
    const entry = {
      requestId: req.id, clientId: req.clientId, scope: req.scope === 'client' ? 'client' as const : 'items' as const,
      numbers: items.filter((i) => i.itemKind === 'number').map((i) => i.itemId),
      files: items.filter((i) => i.itemKind === 'file').map((i) => ({ id: i.itemId, objectId: i.objectId })),
    };
    // Resumed: the entry keeps the time it was first written, before anything was erased.
    const at = await this.d.ledger.record({ ...entry, at: (await this.d.ledger.entryOf(req.id))?.at });
    this.step('ledger-written');
    await this.erase(ctx, req, items.filter((i) => i.state === 'pending'));
    if (req.scope === 'client') await this.destroyClientKeys(ctx, req);
    if (!(await flushErasedPages(DisposalItem.sequelize!))) this.d.logger.warn({ requestId }, 'erased rows may stay in the SQLite WAL until the next checkpoint (another process held it)');
    // A row written while the erasure ran (a confirmation, a leave date) and caught by a backup is restored data too;
    // a file a key rotation moved is named at both its objects (a backup may hold either).
    const moved = (await DisposalItem.findAll({ where: { requestId, itemKind: 'file' }, attributes: ['itemId', 'objectId'] }))
      .filter((i) => !entry.files.some((f) => f.id === i.itemId && f.objectId === i.objectId)).map((i) => ({ id: i.itemId, objectId: i.objectId }));
    await this.d.ledger.record({ ...entry, files: [...entry.files, ...moved], at, erasedAt: new Date().toISOString() });
    await this.deleteObjects(ctx, req, items);
    await this.verify(ctx, req, await DisposalItem.findAll({ where: { requestId } }));
    return this.issueCertificate(ctx, req);
  }

  /** Key material first, one transaction per batch: ciphertext, blind index, wrapped data keys go. */
  private async erase(ctx: ActorContext, req: DisposalRequest, items: DisposalItem[]): Promise<void> {
    for (let i = 0; i < items.length; i += 500) {
      const batch = items.slice(i, i + 500);
      await this.d.audit.transaction(async (tx) => {
        const numbers = batch.filter((x) => x.itemKind === 'number').map((x) => x.itemId);
        const files = batch.filter((x) => x.itemKind === 'file').map((x) => x.itemId);
        if (numbers.length) await NumberRecord.update({ sealedNumber: null, blindIndex: null, lastTwo: null, idFileId: null }, { where: { id: { [Op.in]: numbers }, clientId: req.clientId }, transaction: tx });
        if (files.length) {
          // A key rotation may have moved a file to another object since the request was made: the object deleted and checked is the one the row names now.
          const now = await StoredFile.findAll({ where: { id: { [Op.in]: files }, clientId: req.clientId }, attributes: ['id', 'objectId'], transaction: tx, lock: tx.LOCK.UPDATE });
          for (const f of now) {
            const item = batch.find((x) => x.itemKind === 'file' && x.itemId === f.id);
            if (item && item.objectId !== f.objectId) await DisposalItem.update({ objectId: f.objectId }, { where: { id: item.id }, transaction: tx });
          }
          await StoredFile.update({ wrappedKey: null, status: 'deleted', deletedAt: new Date() }, { where: { id: { [Op.in]: files }, clientId: req.clientId }, transaction: tx });
        }
        await DisposalItem.update({ state: 'erased', erasedAt: new Date() }, { where: { id: { [Op.in]: batch.map((x) => x.id) } }, transaction: tx });
        await this.d.audit.record(tx, ctx, { operation: 'disposal.erase', result: 'allowed', clientId: req.clientId, targetKind: 'disposal', targetId: req.id, detail: `${numbers.length} numbers, ${files.length} files` });
      });
      this.step('erased-batch');
    }
  }

  /** Offboarding: the client's own keys are destroyed too, so nothing sealed under them can ever open again. */
  private async destroyClientKeys(ctx: ActorContext, req: DisposalRequest): Promise<void> {
    await this.d.audit.transaction(async (tx) => {
      const [n] = await ClientKey.update({ wrappedKey: null, destroyedAt: new Date() }, { where: { clientId: req.clientId, destroyedAt: null }, transaction: tx });
      if (n) await this.d.audit.record(tx, ctx, { operation: 'disposal.keys', result: 'allowed', clientId: req.clientId, targetKind: 'disposal', targetId: req.id, detail: `${n} client keys destroyed` });
    });
    this.step('keys-destroyed');
  }

  private async deleteObjects(ctx: ActorContext, req: DisposalRequest, items: DisposalItem[]): Promise<void> {
    // Items erased just now were read before: their state is read again so a resumed run sees them.
    const erased = await DisposalItem.findAll({ where: { id: { [Op.in]: items.map((x) => x.id) }, state: 'erased' } });
    for (const item of erased.filter((x) => x.objectId)) await this.d.storage.delete(item.objectId!);
    for (let i = 0; i < erased.length; i += 500) {
      await DisposalItem.update({ state: 'deleted' }, { where: { id: { [Op.in]: erased.slice(i, i + 500).map((x) => x.id) }, state: 'erased' } });
    }
    if (erased.length) await this.d.audit.recordAlone(ctx, { operation: 'disposal.delete', result: 'allowed', clientId: req.clientId, targetKind: 'disposal', targetId: req.id, detail: `${erased.length} items` });
    this.step('objects-deleted');
  }

  /** Checks each item is really gone (no ciphertext, no index, no key; no object) before any certificate. */
  private async verify(ctx: ActorContext, req: DisposalRequest, items: DisposalItem[]): Promise<void> {
    const problems: string[] = [];
    const open = items.filter((x) => x.state !== 'verified');
    for (let i = 0; i < open.length; i += 500) {
      const batch = open.slice(i, i + 500);
      const numberIds = batch.filter((x) => x.itemKind === 'number').map((x) => x.itemId);
      const fileIds = batch.filter((x) => x.itemKind === 'file').map((x) => x.itemId);
      // Still holding key material: a number with ciphertext or index, a file with its wrapped key.
      const heldNumbers = new Set((await NumberRecord.findAll({ where: { id: { [Op.in]: numberIds }, [Op.or]: [{ sealedNumber: { [Op.ne]: null } }, { blindIndex: { [Op.ne]: null } }] }, attributes: ['id'] })).map((r) => r.id));
      const heldFiles = new Set((await StoredFile.findAll({ where: { id: { [Op.in]: fileIds }, wrappedKey: { [Op.ne]: null } }, attributes: ['id'] })).map((f) => f.id));
      const gone: string[] = [];
      for (const item of batch) {
        const held = item.itemKind === 'number' ? heldNumbers.has(item.itemId) : heldFiles.has(item.itemId) || (item.objectId !== null && (await this.d.storage.stat(item.objectId)) !== null);
        if (held) problems.push(item.id);
        else gone.push(item.id);
      }
      if (gone.length) await DisposalItem.update({ state: 'verified' as DisposalItemState, verifiedAt: new Date() }, { where: { id: { [Op.in]: gone } } });
    }
    if (req.scope === 'client' && (await ClientKey.count({ where: { clientId: req.clientId, wrappedKey: { [Op.ne]: null } } })) > 0) problems.push('client keys');
    if (problems.length) {
      await this.d.audit.recordAlone(ctx, { operation: 'disposal.verify', result: 'error', clientId: req.clientId, targetKind: 'disposal', targetId: req.id, detail: `${problems.length} items not gone` });
      throw new Error(`disposal ${req.id}: ${problems.length} items are not gone yet; it will be retried`);
    }
    await this.d.audit.recordAlone(ctx, { operation: 'disposal.verify', result: 'allowed', clientId: req.clientId, targetKind: 'disposal', targetId: req.id, detail: `${items.length} items verified gone` });
    this.step('verified');
  }

  /** DC-2026-000123: the next number of the year; the unique index settles a race between instances. */
  private async nextNumber(year: number): Promise<string> {
    const prefix = `DC-${year}-`;
    const last = await DisposalCertificate.findOne({ where: { number: { [Op.like]: `${prefix}%` } }, order: [['number', 'DESC']] });
    const n = last ? Number(last.number.slice(prefix.length)) + 1 : 1;
    return `${prefix}${String(n).padStart(6, '0')}`;
  }

  private async issueCertificate(ctx: ActorContext, req: DisposalRequest): Promise<DisposalCertificate> {
    for (let attempt = 0; ; attempt++) {
      const existing = await DisposalCertificate.findOne({ where: { requestId: req.id } });
      if (existing) return existing;
      const issuedAt = new Date();
      const number = await this.nextNumber(Number(japanDay().slice(0, 4)));
      const data = await this.certificateData(req, number, issuedAt);
      const pdf = await this.d.renderCertificate(data);
      const id = randomUUID();
      // Sealed under the firm's own key (null): a certificate outlives an offboarded client's keys.
      const sealed = await storeSealed(this.d, null, 'certificate', id, pdf);
      this.step('certificate-stored');
      try {
        const cert = await this.d.audit.transaction(async (tx) => {
          const c = await DisposalCertificate.create({
            id, number, requestId: req.id, clientId: req.clientId, issuedAt, sha256: sealed.sha256, fingerprint: data.fingerprint, objectId: sealed.objectId,
            keyVersion: sealed.keyVersion, wrappedKey: sealed.wrappedKey, size: sealed.size,
          }, { transaction: tx });
          await DisposalRequest.update({ status: 'executed', executedAt: new Date() }, { where: { id: req.id }, transaction: tx });
          await this.d.audit.record(tx, ctx, { operation: 'disposal.certificate', result: 'allowed', clientId: req.clientId, targetKind: 'certificate', targetId: id, targetLabel: number, detail: data.fingerprint });
          for (const r of await this.recipients(req.clientId)) {
            await this.d.outbox.enqueue({
              dedupeKey: `certificate:${id}:${r.email}`, to: r.email,
              subject: translate(r.lang, 'mail.certificate.subject', { number }),
              text: translate(r.lang, 'mail.certificate.body', { number, link: `${this.d.config.publicUrl}/certificates` }),
            }, tx);
          }
          return c;
        });
        return cert;
      } catch (err) {
        await this.d.storage.delete(sealed.objectId).catch(() => {});
        if (err instanceof UniqueConstraintError && attempt < 5) continue; // another instance issued it, or took the number
        throw err;
      }
    }
  }

  async certificateData(req: DisposalRequest, number: string, issuedAt: Date): Promise<CertificateData> {
    const client = await Client.findByPk(req.clientId);
    const items = await DisposalItem.findAll({ where: { requestId: req.id }, order: [['employeeCode', 'ASC'], ['maskedLabel', 'ASC']] });
    const firmName = await this.d.firmName();
    const disposedOn = japanDay(issuedAt);
    const base = {
      number, issuedAt, client: { code: client?.code ?? '', name: client?.name ?? '' }, firmName,
      items: items.map((i) => ({
        employeeCode: i.employeeCode, maskedLabel: i.maskedLabel, dataKind: translate('ja', `disposal.kind.${i.dataKind}`),
        reason: req.early ? req.reason : translate('ja', 'disposal.reason.due'), disposedOn,
      })),
      // Who asked, who approved, and who really erased: the portal, once approved (never the requester).
      requester: req.requestedByName, approver: req.approvedByName ?? '',
      executor: req.requestedBy === null && req.approvedBy === null ? EXECUTOR_AUTOMATIC : EXECUTOR_ON_APPROVAL,
      wholeClient: req.scope === 'client',
      method: translate('ja', 'disposal.method'), category: 'Purge（暗号学的消去 / cryptographic erase）',
      verification: translate('ja', 'disposal.verification'), software: SOFTWARE, backups: translate('ja', 'disposal.backups'),
    };
    const fingerprint = certificateFingerprint(base);
    return { ...base, fingerprint, verifyUrl: `${this.d.config.publicUrl}/verify?number=${number}&sha256=${fingerprint}` };
  }

  private async recipients(clientId: string): Promise<{ email: string; lang: 'ja' | 'en' }[]> {
    const admins = await User.findAll({ where: { clientId, role: 'client_admin', disabledAt: null } });
    return admins.filter((a) => a.passwordHash).map((a) => ({ email: a.email, lang: isLang(a.lang) ? a.lang as 'ja' | 'en' : DEFAULT_LANG }));
  }

  /**
   * The daily job: for clients that allowed it (their standing approval), items whose deletion date
   * has come, and which the client's rules make due too, are disposed of without a request by a
   * person; each client gets one certificate a day.
   */
  async runAutomatic(now = new Date()): Promise<number> {
    const today = japanDay(now);
    let certificates = 0;
    for (const rule of await RetentionRule.findAll({ where: { autoDispose: true } })) {
      const rules = await rulesOf(rule.clientId);
      const numbers = await dueByRules(rule.clientId, rules, today,
        await NumberRecord.findAll({ where: { clientId: rule.clientId, sealedNumber: { [Op.ne]: null }, deletionDate: { [Op.lte]: today } }, attributes: ['id', 'personKind', 'personId', 'createdAt'] }));
      const dueFiles = await StoredFile.findAll({ where: { clientId: rule.clientId, status: 'ready', retentionDate: { [Op.lte]: today } }, attributes: ['id', 'batchId', 'category', 'cardPhoto', 'createdAt'] });
      // Card photos no number points to any more (replaced, or the number changed) are no longer needed;
      // a number points to the first of the photos sent with it, which stand or go together.
      const inUse = (await NumberRecord.findAll({ where: { clientId: rule.clientId, idFileId: { [Op.ne]: null } }, attributes: ['idFileId'] })).map((r) => r.idFileId!);
      const batchesInUse = new Set((inUse.length ? await StoredFile.findAll({ where: { id: { [Op.in]: inUse } }, attributes: ['batchId'] }) : []).map((f) => f.batchId));
      const files = dueFiles.filter((f) => {
        // A card photo goes when its number no longer points to it, or with its number: never by the category's years.
        if (f.cardPhoto) return !batchesInUse.has(f.batchId);
        const years = rules.fileYears[f.category];
        return years != null && addYears(japanDay(f.createdAt), years) <= today;
      });
      const open = new Set((await DisposalItem.findAll({ where: { clientId: rule.clientId, state: { [Op.ne]: 'verified' } }, attributes: ['itemId'] })).map((i) => i.itemId));
      const refs: ItemRef[] = [
        ...numbers.filter((r) => !open.has(r.id)).map((r) => ({ kind: 'number' as const, id: r.id })),
        ...files.filter((f) => !open.has(f.id)).map((f) => ({ kind: 'file' as const, id: f.id })),
      ];
      if (refs.length === 0) continue;
      const system = { id: null, name: translate('ja', 'disposal.automatic') } as unknown as User;
      const ctx: ActorContext = { actorId: null, actorName: system.name, actorRole: 'system', ip: null, userAgent: null, channel: 'job:auto-disposal' };
      // Another instance's nightly run may have just taken the same items: then this client is its.
      const req = await this.request(ctx, system, rule.clientId, refs, translate('ja', 'disposal.reason.due'))
        .catch((err: unknown) => { if (err instanceof Conflict) return null; throw err; });
      if (!req || req.early) continue; // only due items go without a person's approval (never the case here, but never by mistake)
      await this.d.audit.transaction(async (tx) => {
        await DisposalRequest.update({ status: 'approved', approvedBy: null, approvedByName: translate('ja', 'disposal.standingApproval'), approvedAt: new Date() }, { where: { id: req.id, status: 'requested' }, transaction: tx });
        await this.d.audit.record(tx, ctx, { operation: 'disposal.approve', result: 'allowed', clientId: rule.clientId, targetKind: 'disposal', targetId: req.id, detail: 'standing approval of the client (automatic disposal)' });
      });
      if (await this.execute(req.id)) certificates++;
    }
    return certificates;
  }

  /** At start and now and then: finish whatever a killed process left approved or half done. */
  async resumeAll(): Promise<number> {
    let done = 0;
    for (const r of await DisposalRequest.findAll({ where: { status: { [Op.in]: ['approved', 'executing'] } } })) {
      try {
        if (await this.execute(r.id)) done++;
      } catch (err) {
        if (err instanceof DisposalInterrupted) throw err;
        this.d.logger.error({ requestId: r.id, err: { message: (err as Error).message } }, 'disposal could not finish; will retry');
      }
    }
    return done;
  }

  async certificatePdf(cert: DisposalCertificate): Promise<Buffer> {
    return readAll(await openSealed(this.d, null, 'certificate', cert.id, cert));
  }

  /** A certificate's PDF for a reader, logged before it is read (and, if it cannot be read, that too). */
  async downloadCertificate(ctx: ActorContext, cert: DisposalCertificate): Promise<Buffer> {
    const entry = { operation: 'certificate.download', clientId: cert.clientId, targetKind: 'certificate', targetId: cert.id, targetLabel: cert.number };
    await this.d.audit.recordAlone(ctx, { ...entry, result: 'allowed' });
    return readOrLogFailure(this.d, ctx, entry, () => this.certificatePdf(cert));
  }
}

/** 削除予定日 of a number: brought forward, moved, or cancelled (予定解除, null), always with a reason; logged. */
export async function changeDeletionDate(d: { audit: AuditLog }, ctx: ActorContext, clientId: string, recordId: string, date: string | null, reason: string): Promise<void> {
  if (!reason.trim()) throw new BadRequest('disposal.reasonRequired', { reason: 'disposal.reasonRequired' });
  // A date in the past would make the number due at once, taken by the nightly job where the client gave
  // standing approval: bringing deletion forward is a request, approved by a firm admin.
  if (date && date < japanDay()) throw new BadRequest('disposal.datePast', { date: 'disposal.datePast' });
  const r = /^[0-9a-f-]{36}$/i.test(recordId) ? await NumberRecord.findOne({ where: { id: recordId, clientId, sealedNumber: { [Op.ne]: null } } }) : null;
  if (!r) throw new NotFound();
  // Named as every row about a person is (社員コード 名前), so the log's person column and filter find it.
  const person = await findPerson(clientId, r.personKind, r.personId).catch(() => null);
  const label = person ? logLabelOf(person) : null;
  await d.audit.transaction(async (tx) => {
    const before = r.deletionDate;
    await r.update({ deletionDate: date, deletionDateByHand: true }, { transaction: tx });
    await d.audit.record(tx, ctx, {
      operation: date ? 'retention.change' : 'retention.cancel', result: 'allowed', clientId, targetKind: r.personKind, targetId: r.personId, targetLabel: label,
      detail: `${before ?? '—'} → ${date ?? '—'}: ${maskNumberRuns(reason.trim())}`.slice(0, 500),
    });
  });
}

/**
 * Of the numbers whose date has come, those the client's rules make due too (N years after leaving,
 * or after a payee's registration): a date brought forward by hand is an early disposal, and goes by
 * a request a firm admin approves, never by standing approval.
 */
async function dueByRules(clientId: string, rules: Rules, today: string, records: NumberRecord[]): Promise<NumberRecord[]> {
  const people = new Map((await peopleByIds(clientId, records.map((r) => ({ kind: r.personKind, id: r.personId })))).map((p) => [`${p.kind}:${p.id}`, p]));
  return records.filter((r) => {
    const person = people.get(`${r.personKind}:${r.personId}`);
    const byRule = person ? ruleDateOf(person, rules, japanDay(r.createdAt)) : null;
    return byRule !== null && byRule <= today;
  });
}
