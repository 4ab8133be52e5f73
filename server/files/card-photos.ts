import type { Transaction } from 'sequelize';
import { StoredFile } from '../db/models';

/**
 * The card photos sent together with this file (the front and back of one card), the ready ones,
 * in a stable order: a number points to one of them, and they are superseded, kept and disposed of together.
 */
export function cardPhotosSentWith(file: Pick<StoredFile, 'batchId'>, tx?: Transaction): Promise<StoredFile[]> {
  return StoredFile.findAll({ where: { batchId: file.batchId, cardPhoto: true, status: 'ready' }, order: [['id', 'ASC']], transaction: tx });
}
