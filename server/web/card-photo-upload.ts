import type { Request, Response } from 'express';
import type { Transaction } from 'sequelize';
import type { ActorContext } from '../audit';
import type { User } from '../db/models';
import multer from 'multer';
import type { Services } from '../services';
import { AppError, BadRequest } from '../errors';
import { encryptingStorage, type EncryptedUpload } from '../files/upload-engine';
import type { UploadTarget } from '../files/upload-target';
import { ID_IMAGE_EXTENSIONS, isIdImage } from '../files/file-types';
import type { Person } from '../vault/people';
import type { FieldErrors } from './forms';
import { translate } from '../i18n';

const ID_IMAGE_MAX_BYTES = 20 * 1024 * 1024;

/** What the file input of a card photo offers to pick. */
export const CARD_PHOTO_ACCEPT = ['image/*', ...ID_IMAGE_EXTENSIONS.map((e) => `.${e}`)].join(',');

type PhotoRequest = Request & { uploadTarget?: Promise<UploadTarget>; cardPhotoTarget?: () => Promise<UploadTarget> };

/** Photos of one card a number takes: its front and back. */
export const CARD_PHOTOS_MAX = 2;

export interface ReceivedPhotos {
  uploads: EncryptedUpload[];
  /** where the photos went; null when none was sent */
  target: UploadTarget | null;
  /** more photos than a card has sides: none was kept */
  tooMany?: boolean;
}

/** multer's words for more files than the form takes. */
const TOO_MANY = new Set(['LIMIT_FILE_COUNT', 'LIMIT_UNEXPECTED_FILE']);

/**
 * A number's form with up to two photos of the card (front and back), as じぶんで登録 and 代理登録
 * send it: the photos are encrypted while they arrive, under the client's key, before the handler
 * decides anything; the handler then stores them with the number in one transaction, or discards them.
 * The CSRF token is checked before the first photo is taken, or after the form when none came.
 */
export function cardPhotoReceiver(services: Services, csrfValid: (req: Request) => boolean, o: { fields?: number } = {}) {
  const upload = multer({
    storage: encryptingStorage({
      storage: services.storage,
      clientKeys: services.clientKeys,
      target: (req: PhotoRequest) => (req.uploadTarget ??= (async (): Promise<UploadTarget> => {
        if (!csrfValid(req)) throw new AppError(403, 'error.csrf');
        return req.cardPhotoTarget!();
      })()),
    }),
    limits: { fileSize: ID_IMAGE_MAX_BYTES, files: CARD_PHOTOS_MAX, fields: o.fields ?? 10, fieldSize: 1000 },
    defParamCharset: 'utf8',
  }).array('files', CARD_PHOTOS_MAX);

  return async function receive(req: Request, res: Response, targetOf: () => Promise<UploadTarget>): Promise<ReceivedPhotos> {
    const r = req as PhotoRequest;
    r.cardPhotoTarget = targetOf;
    // Three photos picked on a phone is a slip, answered beside the field (multer has removed what it stored).
    const tooMany = await new Promise<boolean>((resolve, reject) => upload(req, res, (err: unknown) => {
      if (!err) return resolve(false);
      if ((err as Error).name === 'MulterError' && TOO_MANY.has(String((err as { code?: string }).code))) return resolve(true);
      reject(err);
    }));
    if (!r.uploadTarget && !csrfValid(req)) throw new AppError(403, 'error.csrf');
    const target = r.uploadTarget ? await r.uploadTarget : null;
    if (tooMany) return { uploads: [], target, tooMany };
    return { uploads: (req.files as unknown as EncryptedUpload[] | undefined) ?? [], target };
  };
}

/**
 * Stores the received photos in the caller's transaction, sent by `sender`; gives the id of the first
 * (the one the number points to), or null when none came.
 */
export async function storeCardPhotos(services: Services, tx: Transaction, ctx: ActorContext, sender: Pick<User, 'id' | 'name'>, received: ReceivedPhotos): Promise<string | null> {
  if (!received.target || !received.uploads.length) return null;
  await services.files.insertUploads(tx, ctx, sender, received.target, received.uploads);
  return received.uploads[0]!.fileId;
}

/** At most a card's two sides; and any file the portal takes would pass the upload itself, but a card's photo must be a picture or a scan. */
export function checkCardPhotos(received: ReceivedPhotos): void {
  if (received.tooMany) throw new BadRequest('vault.photo.tooMany', { files: 'vault.photo.tooMany' });
  if (received.uploads.some((u) => !isIdImage(u.contentType))) throw new BadRequest('vault.self.photoType', { files: 'vault.self.photoType' });
}

/** The target of a number's card photos: an identity file to the firm, of the person's client, naming the employee it belongs to (none for a payee). */
export function cardPhotoTarget(clientId: string, employeeId: string | null): UploadTarget {
  return { direction: 'to_firm', clientId, employeeId, category: 'identity', comment: null, containsMyNumber: true, cardPhoto: true };
}

/** The same for a person of any kind: a dependant's photo names their employee. */
export function cardPhotoTargetFor(person: Person): UploadTarget {
  const employeeId = person.kind === 'employee' ? person.id : person.kind === 'dependant' ? person.dependant!.employeeId : null;
  return cardPhotoTarget(person.clientId, employeeId);
}

/**
 * A refused number form: to the page's upload script a JSON answer with the first reason (it shows it
 * above the button); to a plain form post the page again, each reason beside its field.
 */
export function refuseNumberForm(req: Request, res: Response, errors: FieldErrors, status: number, showAgain: () => Promise<unknown>, also?: string, params: Record<string, unknown> = {}): Promise<unknown> | void {
  if (req.accepts(['html', 'json']) === 'json') {
    const key = Object.values(errors)[0] ?? 'error.badRequest';
    // `also`: what the page would show beside the field too (the tries a link has left); `params`: what its messages name (the company).
    res.status(status).json({ ok: false, error: { message: [translate(req.lang, key, params), also].filter(Boolean).join(req.lang === 'en' ? ' ' : '') } });
    return;
  }
  return showAgain();
}
