import { Op } from 'sequelize';
import { NumberRecord, StoredFile } from '../db/models';
import { peopleByIds } from '../vault/people';

/** Whose card a photo shows, and the date it goes: its number's (a card photo goes with its number, see DisposalService.describeMany). */
export interface CardPhotoOwner { personLabel: string; deletionDate: string | null }

/**
 * For the card photos among `files`: the person whose number each shows and that number's deletion
 * date. Front and back were sent together (one batch); a number points to one of them. A photo no
 * live number points to is not in the map: it goes on its own date.
 */
export async function cardPhotoOwners(clientId: string, files: Pick<StoredFile, 'id' | 'batchId' | 'cardPhoto'>[]): Promise<Map<string, CardPhotoOwner>> {
  const photos = files.filter((f) => f.cardPhoto);
  if (photos.length === 0) return new Map();
  const records = await NumberRecord.findAll({
    where: { clientId, idFileId: { [Op.ne]: null }, sealedNumber: { [Op.ne]: null } }, attributes: ['idFileId', 'deletionDate', 'personKind', 'personId'],
  });
  const pointed = records.map((r) => r.idFileId!);
  const batchOf = new Map((pointed.length ? await StoredFile.findAll({ where: { id: { [Op.in]: pointed } }, attributes: ['id', 'batchId'] }) : []).map((f) => [f.id, f.batchId]));
  const recordOfBatch = new Map(records.flatMap((r) => (batchOf.has(r.idFileId!) ? [[batchOf.get(r.idFileId!)!, r] as const] : [])));
  const people = new Map((await peopleByIds(clientId, [...recordOfBatch.values()].map((r) => ({ kind: r.personKind, id: r.personId }))))
    .map((p) => [`${p.kind}:${p.id}`, p.label]));
  const out = new Map<string, CardPhotoOwner>();
  for (const f of photos) {
    const r = recordOfBatch.get(f.batchId);
    if (r) out.set(f.id, { personLabel: people.get(`${r.personKind}:${r.personId}`) ?? '', deletionDate: r.deletionDate });
  }
  return out;
}
