import { Op, type Sequelize, type Transaction } from 'sequelize';
import type { Logger } from 'pino';
import type { AuditLog, ActorContext } from '../audit';
import type { ClientKeys } from '../clients/client-keys';
import type { Config } from '../config';
import type { MailOutbox } from '../mail/outbox';
import { ClientKey, NumberRecord, StoredFile, type NumberSource, type NumberStatus, type User } from '../db/models';
import { blindIndex, openNumber, sealNumber, type NumberOwner } from '../crypto/number-cipher';
import { BadRequest, FieldConflict, Forbidden, NotFound } from '../errors';
import { officeFits, procedureRefusal, type Office, type Procedure } from '../domain/purposes';
import { issueDateProblem, parseMyNumber } from './my-number';
import { employeeAndDependants, findPerson, hasLeft, logLabelOf, peopleByIds, type Person } from './people';
import { countByStatus, countByStatusOfClients, pageOfPeople, recordIdsMatching, dueOfMatching, type DueOfMatching, type ListStatus, type PeopleFilter } from './people-page';
import { deletionDateFor } from '../disposal/retention-rules';
import { japanDay } from '../domain/dates';
import { GUARDED_OPERATIONS, RevealGuard, batchDetail } from './reveal-guard';
import { isAssigned } from '../policies';
import { cardPhotosSentWith } from '../files/card-photos';

export interface Purpose { purpose: Procedure; office: Office }

export interface NumberInput {
  number: string;
  issueDate: string | null;
}

export interface RegisterOptions {
  source: NumberSource;
  /** the person confirmed the number themselves while registering it */
  confirmedByPerson?: boolean;
  idFileId?: string | null;
  registeredBy: string | null;
}

export type RevealOperation = 'vault.reveal' | 'vault.print' | 'vault.export' | 'vault.api.read';

export interface Revealed { person: Person; record: NumberRecord; number: string }

/** A person with their number's record (null when none is held), and whether one was held and disposed of. */
export interface ListedPerson { person: Person; record: NumberRecord | null; disposed?: boolean }

export type ListFilter = PeopleFilter;

export const VAULT_PAGE_SIZE = 50;

const REGISTER_OPERATION: Record<NumberSource, string> = {
  self: 'vault.register.self', proxy: 'vault.register.proxy', link: 'vault.register.link', import: 'vault.register.import',
};

const ownerOf = (r: Pick<NumberRecord, 'clientId' | 'personKind' | 'personId' | 'keyVersion'>): NumberOwner =>
  ({ clientId: r.clientId, personKind: r.personKind, personId: r.personId, keyVersion: r.keyVersion });

/** Parses a typed number, or a 400 naming the field and what is wrong. */
export function numberOrFail(input: string, field = 'number'): string {
  const parsed = parseMyNumber(input);
  if (!parsed.ok) throw new BadRequest(parsed.problem, { [field]: parsed.problem });
  return parsed.number;
}

/**
 * The My Number vault: numbers sealed under the client's number key, found by a keyed blind
 * index, shown masked everywhere; opened only for an assigned member of the firm with a purpose,
 * and only after the audit row of that access has been committed.
 */
export class VaultService {
  readonly guard: RevealGuard;

  constructor(private readonly d: { sequelize: Sequelize; audit: AuditLog; clientKeys: ClientKeys; outbox: MailOutbox; logger: Logger; config: Config }) {
    this.guard = new RevealGuard(d);
  }

  /** The blind index of a number under every index-key version the client has, newest first. */
  private async indexes(clientId: string, number: string, tx?: Transaction): Promise<{ current: { version: number; value: string }; all: string[] }> {
    const versions = await ClientKey.findAll({ where: { clientId, purpose: 'index', destroyedAt: null }, order: [['version', 'DESC']], transaction: tx });
    if (versions.length === 0) throw new Error('client has no live index key');
    const values: { version: number; value: string }[] = [];
    for (const v of versions) values.push({ version: v.version, value: blindIndex(await this.d.clientKeys.version(clientId, 'index', v.version, tx), number) });
    return { current: values[0]!, all: values.map((v) => v.value) };
  }

  /** Whether a number is already held for someone else of the client (a My Number belongs to one person). */
  private async heldByOther(person: Person, indexValues: string[], tx?: Transaction): Promise<boolean> {
    const clash = await NumberRecord.findOne({
      where: {
        clientId: person.clientId, blindIndex: { [Op.in]: indexValues },
        [Op.not]: { personKind: person.kind, personId: person.id },
      },
      transaction: tx,
    });
    return clash !== null;
  }

  /**
   * Registers (or replaces) a person's number. A replaced number loses its confirmations. Runs in
   * the caller's transaction when given one, so a registration and its ID image land together.
   */
  async register(ctx: ActorContext, person: Person, input: NumberInput, opts: RegisterOptions, outer?: Transaction): Promise<NumberRecord> {
    const number = numberOrFail(input.number);
    const dateProblem = input.issueDate ? issueDateProblem(input.issueDate) : null;
    if (dateProblem) throw new BadRequest(dateProblem, { issueDate: dateProblem });
    const work = async (tx: Transaction) => {
      // The log's head first: registrations for one person (a double tap) then run one after the
      // other instead of racing to insert the same row.
      await this.d.audit.serialise(tx);
      const idx = await this.indexes(person.clientId, number, tx);
      if (await this.heldByOther(person, idx.all, tx)) throw new FieldConflict('vault.number.duplicate', { number: 'vault.number.duplicate' });
      const key = await this.d.clientKeys.current(person.clientId, 'numbers', tx);
      const existing = await NumberRecord.findOne({ where: { clientId: person.clientId, personKind: person.kind, personId: person.id }, transaction: tx, lock: tx.LOCK.UPDATE });
      // Destroyed because the person left: collecting it again needs a reason, a rehire, which clears the leave date first.
      if (existing && !existing.sealedNumber && hasLeft(person)) throw new BadRequest('vault.number.disposedLeaver', { number: 'vault.number.disposedLeaver' });
      // A record emptied by a disposal and filled again holds a new registration, not a correction.
      const correcting = Boolean(existing?.sealedNumber);
      const now = new Date();
      const status: NumberStatus = opts.confirmedByPerson ? 'person_confirmed' : 'registered';
      const fields = {
        keyVersion: key.version,
        indexVersion: idx.current.version,
        sealedNumber: sealNumber(key.key, { clientId: person.clientId, personKind: person.kind, personId: person.id, keyVersion: key.version }, number),
        blindIndex: idx.current.value,
        lastTwo: number.slice(-2),
        issueDate: input.issueDate,
        source: opts.source,
        status,
        personConfirmedAt: opts.confirmedByPerson ? now : null,
        adminConfirmedAt: null,
        // A card image belongs to the number it shows: a different number drops the old image.
        idFileId: opts.idFileId ?? (existing?.blindIndex === idx.current.value ? existing.idFileId : null),
        // A number corrected keeps its record's date, also one cancelled by hand (null); a record emptied
        // by a disposal and registered anew (a rehire) starts again from the rules.
        deletionDate: correcting ? existing!.deletionDate : await deletionDateFor(person),
        deletionDateByHand: correcting ? existing!.deletionDateByHand : false,
        registeredBy: opts.registeredBy,
      };
      const formerPhoto = existing?.idFileId ?? null;
      const record = existing
        ? await existing.update(fields, { transaction: tx })
        : await NumberRecord.create({ clientId: person.clientId, personKind: person.kind, personId: person.id, ...fields }, { transaction: tx });
      await this.d.audit.record(tx, ctx, {
        operation: correcting ? 'vault.update' : REGISTER_OPERATION[opts.source], result: 'allowed', clientId: person.clientId,
        targetKind: person.kind, targetId: person.id, targetLabel: this.auditLabel(person), detail: opts.source,
      });
      if (formerPhoto && formerPhoto !== fields.idFileId) await this.retireCardPhoto(ctx, formerPhoto, tx);
      return record;
    };
    return outer ? work(outer) : this.d.audit.transaction(work);
  }

  /**
   * A card photo replaced by a new one, or showing a number since replaced, is no longer needed: it
   * becomes due for disposal today (番号法: kept no longer than needed), and goes with a certificate
   * like any other file, instead of waiting out the file retention years.
   */
  private async retireCardPhoto(ctx: ActorContext, fileId: string, tx: Transaction): Promise<void> {
    const today = japanDay();
    const first = await StoredFile.findOne({ where: { id: fileId, status: 'ready' }, transaction: tx });
    if (!first) return;
    // The photos sent together (front and back of the card) are superseded together.
    const photos = first.cardPhoto ? await cardPhotosSentWith(first, tx) : [first];
    for (const photo of photos) {
      if (photo.retentionDate !== null && photo.retentionDate <= today) continue;
      const before = photo.retentionDate;
      await photo.update({ retentionDate: today }, { transaction: tx });
      await this.d.audit.record(tx, ctx, {
        operation: 'file.retention', result: 'allowed', clientId: photo.clientId, targetKind: 'file', targetId: photo.id,
        targetLabel: photo.displayName, detail: `${before ?? 'none'} → ${today}: superseded card photo`,
      });
    }
  }

  auditLabel(person: Person): string {
    return logLabelOf(person);
  }

  /**
   * A registration refused because the number typed is someone else's in the company: that refusal
   * tells the typist something about another person's number, so it is logged (after the refused
   * transaction, by the caller that saw it), under the person it was typed for.
   */
  async recordRefusedAsDuplicate(ctx: ActorContext, person: Person, source: NumberSource, errors: Record<string, string>, tx?: Transaction): Promise<void> {
    if (errors.number !== 'vault.number.duplicate') return;
    const entry = {
      operation: REGISTER_OPERATION[source], result: 'denied' as const, clientId: person.clientId, targetKind: person.kind, targetId: person.id,
      targetLabel: this.auditLabel(person), detail: 'number held by another person',
    };
    if (tx) await this.d.audit.record(tx, ctx, entry);
    else await this.d.audit.recordAlone(ctx, entry);
  }

  async recordOf(person: Person, tx?: Transaction): Promise<NumberRecord | null> {
    return NumberRecord.findOne({ where: { clientId: person.clientId, personKind: person.kind, personId: person.id }, transaction: tx });
  }

  /** A number record of the client with its person, or NotFound. */
  async getRecord(clientId: string, recordId: string): Promise<{ record: NumberRecord; person: Person }> {
    if (!/^[0-9a-f-]{36}$/i.test(recordId)) throw new NotFound();
    const record = await NumberRecord.findOne({ where: { id: recordId, clientId } });
    if (!record || !record.sealedNumber) throw new NotFound();
    return { record, person: await findPerson(clientId, record.personKind, record.personId) };
  }

  /** The person or the client's admin confirms the stored number is right (本人確認 / 管理者確認); gives the person's id. */
  async confirm(ctx: ActorContext, clientId: string, recordId: string, by: 'person' | 'admin'): Promise<string> {
    const { person } = await this.getRecord(clientId, recordId);
    await this.d.audit.transaction(async (tx) => {
      const record = await NumberRecord.findOne({ where: { id: recordId, clientId }, transaction: tx, lock: tx.LOCK.UPDATE });
      if (!record?.sealedNumber) throw new NotFound();
      await this.markConfirmed(ctx, tx, record, person, by);
    });
    return person.id;
  }

  /**
   * 照合 then confirmation: the number typed from the document is checked (logged as a check), and
   * the record is confirmed only if it still holds that number when the confirmation is written; a
   * number replaced in between is answered as a mismatch. Gives the person's id, or null for a mismatch.
   */
  async confirmTyped(ctx: ActorContext, clientId: string, recordId: string, typed: string, by: 'person' | 'admin'): Promise<string | null> {
    const checked = await this.checkIndex(ctx, clientId, recordId, typed);
    if (!checked.matches) return null;
    const confirmed = await this.d.audit.transaction(async (tx) => {
      const record = await NumberRecord.findOne({ where: { id: recordId, clientId }, transaction: tx, lock: tx.LOCK.UPDATE });
      if (!record?.sealedNumber) return false;
      // The typed number against the row as it is now, under its index version (a rotation may have recomputed it).
      const key = await this.d.clientKeys.version(clientId, 'index', record.indexVersion, tx);
      if (blindIndex(key, checked.number) !== record.blindIndex) return false;
      await this.markConfirmed(ctx, tx, record, checked.person, by);
      return true;
    });
    return confirmed ? checked.person.id : null;
  }

  private async markConfirmed(ctx: ActorContext, tx: Transaction, record: NumberRecord, person: Person, by: 'person' | 'admin'): Promise<void> {
    const now = new Date();
    const personConfirmedAt = by === 'person' ? now : record.personConfirmedAt;
    const adminConfirmedAt = by === 'admin' ? now : record.adminConfirmedAt;
    await record.update({ personConfirmedAt, adminConfirmedAt, status: adminConfirmedAt ? 'admin_confirmed' : 'person_confirmed' }, { transaction: tx });
    await this.d.audit.record(tx, ctx, {
      operation: `vault.confirm.${by}`, result: 'allowed', clientId: record.clientId, targetKind: person.kind, targetId: person.id, targetLabel: this.auditLabel(person),
    });
  }

  /**
   * The client's people with their records, filtered and paged, for the masked lists and the
   * retention list: one page in listPeople's order, chosen in SQL, so only that page's people and
   * records are loaded.
   */
  async list(clientId: string, filter: ListFilter, page: number): Promise<{ rows: ListedPerson[]; total: number }> {
    const { ids, total } = await pageOfPeople(this.d.sequelize, clientId, filter, (page - 1) * VAULT_PAGE_SIZE, VAULT_PAGE_SIZE);
    const people = await peopleByIds(clientId, ids);
    return { rows: await this.withRecords(clientId, people), total };
  }

  /** How many of the client's people are in each number status, 'missing' for none (what is left to do, on the home page). */
  async countByStatus(clientId: string): Promise<Partial<Record<ListStatus, number>>> {
    return countByStatus(this.d.sequelize, clientId);
  }

  async countByStatusOfClients(clientIds: string[]): Promise<Map<string, Partial<Record<ListStatus, number>>>> {
    return countByStatusOfClients(this.d.sequelize, clientIds);
  }

  /** An employee and their dependants, each with their record (or null): the employee's page and じぶんで登録. */
  async household(clientId: string, employeeId: string): Promise<ListedPerson[]> {
    return this.withRecords(clientId, await employeeAndDependants(clientId, employeeId));
  }

  /** The ids of the numbers of every person the filter matches (all pages): "every one of these" in the retention list. */
  async matchingRecordIds(clientId: string, filter: ListFilter): Promise<string[]> {
    return recordIdsMatching(this.d.sequelize, clientId, filter);
  }

  /** Of the numbers the filter matches (all pages, its due condition aside): how many, how many are due by `today`, and the next deletion date to come. */
  async dueOfMatching(clientId: string, filter: ListFilter, today: string): Promise<DueOfMatching> {
    return dueOfMatching(this.d.sequelize, clientId, filter, today);
  }

  /** Each person with their sealed record, or null (and whether theirs was disposed of); the records are read for these people only. */
  private async withRecords(clientId: string, people: Person[]): Promise<ListedPerson[]> {
    if (people.length === 0) return [];
    const records = await NumberRecord.findAll({ where: { clientId, personId: { [Op.in]: people.map((p) => p.id) } } });
    const byPerson = new Map(records.map((r) => [`${r.personKind}:${r.personId}`, r]));
    return people.map((person) => {
      const record = byPerson.get(`${person.kind}:${person.id}`);
      return { person, record: record?.sealedNumber ? record : null, disposed: Boolean(record && !record.sealedNumber) };
    });
  }

  /**
   * 照合: whether a typed number is the stored one, answered through the blind index so the stored
   * number is never opened. Logged either way (match or not).
   */
  async check(ctx: ActorContext, clientId: string, recordId: string, typed: string): Promise<boolean> {
    return (await this.checkIndex(ctx, clientId, recordId, typed)).matches;
  }

  private async checkIndex(ctx: ActorContext, clientId: string, recordId: string, typed: string): Promise<{ matches: boolean; number: string; person: Person }> {
    const number = numberOrFail(typed, 'typed');
    const { record, person } = await this.getRecord(clientId, recordId);
    const key = await this.d.clientKeys.version(clientId, 'index', record.indexVersion);
    const matches = blindIndex(key, number) === record.blindIndex;
    await this.guard.within(ctx, clientId, 'vault.check', 1, (tx) => this.d.audit.record(tx, ctx, {
      operation: 'vault.check', result: 'allowed', clientId, targetKind: person.kind, targetId: person.id,
      targetLabel: this.auditLabel(person), detail: matches ? 'match' : 'mismatch',
    }));
    return { matches, number, person };
  }

  /**
   * Only firm members assigned to the client may open its numbers (the firm admin too: the list
   * of who may reveal is the assignment list). A refusal is logged and answered 403.
   */
  async isAssigned(user: User, clientId: string): Promise<boolean> {
    return isAssigned(user, clientId);
  }

  async assertMayReveal(ctx: ActorContext, user: User, clientId: string, operation: RevealOperation | 'vault.check', purpose: Partial<Purpose> | null, recordIds: string[] = []): Promise<void> {
    if (await this.isAssigned(user, clientId)) return;
    await this.recordDenied(ctx, clientId, operation, 'not assigned', purpose, recordIds);
    throw new Forbidden('vault.notAssigned');
  }

  /**
   * Records a refusal decided before the vault was reached (not assigned, no re-authentication, no
   * purpose): whose number was asked for, when one was (an auditor asks that first), else how many.
   */
  async recordDenied(ctx: ActorContext, clientId: string | null, operation: string, reason: string, purpose: Partial<Purpose> | null = null, recordIds: string[] = []): Promise<void> {
    const person = clientId && recordIds.length === 1 ? await this.getRecord(clientId, recordIds[0]!).then((r) => r.person, () => null) : null;
    await this.d.audit.recordAlone(ctx, {
      operation, result: 'denied', clientId, purpose: purpose?.purpose ?? null, office: purpose?.office ?? null,
      ...(person ? { targetKind: person.kind, targetId: person.id, targetLabel: this.auditLabel(person) } : {}),
      detail: recordIds.length > 1 ? `${reason} (${recordIds.length} records)` : reason,
    });
  }

  /**
   * Opens numbers for a purpose: every number is decrypted first, then one audit row per person
   * is committed, and only then are the numbers handed back. If the rows cannot be written, the
   * numbers never leave this method (fail closed). The caller has checked who may do this.
   */
  async open(ctx: ActorContext, clientId: string, recordIds: string[], purpose: Purpose, operation: RevealOperation): Promise<Revealed[]> {
    if (recordIds.length === 0) throw new BadRequest('vault.noneSelected');
    if (!officeFits(purpose.purpose, purpose.office)) {
      await this.recordDenied(ctx, clientId, operation, 'office does not fit the purpose', purpose, recordIds);
      throw new BadRequest('vault.officeMismatch', { office: 'vault.officeMismatch' });
    }
    const asked: { person: Person; id: string }[] = [];
    for (const id of recordIds) {
      const { person } = await this.getRecord(clientId, id);
      const refusal = procedureRefusal(person.kind, purpose.purpose);
      if (refusal) {
        await this.recordDenied(ctx, clientId, operation, refusal.detail, purpose, [id]);
        throw new BadRequest(refusal.key, { purpose: refusal.key });
      }
      asked.push({ person, id });
    }
    // Single reveals count one each; a print or export counts as one request, so a user stopped for
    // a burst cannot carry on through it, while a payroll export of many people stays possible.
    // Its rows say which of how many they were: the first of each counts in later windows.
    const single = GUARDED_OPERATIONS.includes(operation);
    const counted = single ? asked.length : 1;
    return this.guard.within(ctx, clientId, operation, counted, async (tx) => {
      // Opened from the rows as they are under the log's head: a number disposed of meanwhile is not
      // shown, one replaced is shown as it now is, one re-sealed by a key rotation opens as before.
      const rows = new Map((await NumberRecord.findAll({ where: { id: { [Op.in]: asked.map((a) => a.id) }, clientId }, transaction: tx, lock: tx.LOCK.UPDATE })).map((r) => [r.id, r]));
      // One look-up per key version (one or two), not per number, while the head is held.
      const keys = new Map<number, Buffer>();
      const opened: Revealed[] = [];
      for (const { person, id } of asked) {
        const record = rows.get(id);
        if (!record?.sealedNumber) throw new NotFound();
        const key = keys.get(record.keyVersion) ?? await this.d.clientKeys.version(clientId, 'numbers', record.keyVersion, tx);
        keys.set(record.keyVersion, key);
        opened.push({ person, record, number: openNumber(key, ownerOf(record), record.sealedNumber) });
      }
      for (const [i, o] of opened.entries()) {
        await this.d.audit.record(tx, ctx, {
          operation, result: 'allowed', clientId, targetKind: o.person.kind, targetId: o.person.id,
          targetLabel: this.auditLabel(o.person), purpose: purpose.purpose, office: purpose.office,
          detail: single ? null : batchDetail(i, opened.length),
        });
      }
      return opened;
    });
  }
}
