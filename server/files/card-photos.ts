import { Op, type Transaction } from 'sequelize';
import { NumberRecord, StoredFile, type User } from '../db/models';
import { peopleByIds } from '../vault/people';

/**
 * The card photos sent together with this file (the front and back of one card), the ready ones,
 * in a stable order: a number points to one of them, and they are superseded, kept and disposed of together.
 */
export function cardPhotosSentWith(file: Pick<StoredFile, 'batchId'>, tx?: Transaction): Promise<StoredFile[]> {
  return StoredFile.findAll({ where: { batchId: file.batchId, cardPhoto: true, status: 'ready' }, order: [['id', 'ASC']], transaction: tx });
}

/** Whose card a photo shows, and the date it goes: its number's (a card photo goes with its number, see DisposalService.describeMany). */
export interface CardPhotoOwner {
  /** `社員名` or `社員名 > 扶養家族名` (Person.label) */
  personLabel: string;
  /** the dependant's own name when the card is a dependant's */
  dependantName: string | null;
  deletionDate: string | null;
}

/**
 * For the card photos among `files`: the person whose number each shows and that number's deletion
 * date. Front and back were sent together (one batch); a number points to one of them. A photo no
 * live number points to is not in the map: it goes on its own date.
 */
export async function cardPhotoOwners(clientId: string, files: Pick<StoredFile, 'id' | 'batchId' | 'cardPhoto'>[]): Promise<Map<string, CardPhotoOwner>> {
  const photos = files.filter((f) => f.cardPhoto);
  if (photos.length === 0) return new Map();
  // Every photo of the listed photos' batches, whatever its state: the number may point to a side since deleted.
  const sides = await StoredFile.findAll({ where: { clientId, cardPhoto: true, batchId: { [Op.in]: [...new Set(photos.map((f) => f.batchId))] } }, attributes: ['id', 'batchId'] });
  const batchOf = new Map(sides.map((f) => [f.id, f.batchId]));
  const records = await NumberRecord.findAll({
    where: { clientId, idFileId: { [Op.in]: [...batchOf.keys()] }, sealedNumber: { [Op.ne]: null } }, attributes: ['idFileId', 'deletionDate', 'personKind', 'personId'],
  });
  const recordOfBatch = new Map(records.flatMap((r) => (batchOf.has(r.idFileId!) ? [[batchOf.get(r.idFileId!)!, r] as const] : [])));
  const people = new Map((await peopleByIds(clientId, [...recordOfBatch.values()].map((r) => ({ kind: r.personKind, id: r.personId }))))
    .map((p) => [`${p.kind}:${p.id}`, p]));
  const out = new Map<string, CardPhotoOwner>();
  for (const f of photos) {
    const r = recordOfBatch.get(f.batchId);
    const person = r ? people.get(`${r.personKind}:${r.personId}`) : undefined;
    if (r) out.set(f.id, { personLabel: person?.label ?? '', dependantName: person?.dependant?.name ?? null, deletionDate: r.deletionDate });
  }
  return out;
}

/** cardPhotoOwners for a list that may span clients (the firm's). */
export async function cardPhotoOwnersAcross(files: Pick<StoredFile, 'id' | 'batchId' | 'cardPhoto' | 'clientId'>[]): Promise<Map<string, CardPhotoOwner>> {
  const out = new Map<string, CardPhotoOwner>();
  const clientIds = new Set(files.filter((f) => f.cardPhoto && f.clientId).map((f) => f.clientId!));
  for (const clientId of clientIds) {
    for (const [id, owner] of await cardPhotoOwners(clientId, files.filter((f) => f.clientId === clientId))) out.set(id, owner);
  }
  return out;
}

/**
 * A card photo shows its person's whole number, which a client's admin sees nowhere else in the
 * portal: the admin opens one as the firm opens a number, re-authenticated in this session, logged,
 * within the reveal burst limit. (An employee opening their own photos needs none of that.)
 */
export function opensLikeANumber(user: Pick<User, 'role'>, file: Pick<StoredFile, 'cardPhoto'>): boolean {
  return file.cardPhoto && user.role === 'client_admin';
}
