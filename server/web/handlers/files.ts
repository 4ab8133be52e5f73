import type { Request, Response, NextFunction } from 'express';
import { cardPhotoOwnersAcross, opensLikeANumber } from '../../files/card-photos';
import type { Readable } from 'node:stream';
import multer from 'multer';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { flash, page, doneGoTo } from '../render';
import { parseForm, reauthThen } from '../forms';
import { AppError, BadRequest, CorruptFile, PayloadTooLarge } from '../../errors';
import { CATEGORIES, Client, Employee, type Category, type StoredFile } from '../../db/models';
import { CorruptObject, ownsChunks, releaseChunk } from '../../crypto/segment-cipher';
import { encryptingStorage, type EncryptedUpload } from '../../files/upload-engine';
import { ALL_CLIENT_CATEGORIES, resolveUploadTarget, type UploadTarget } from '../../files/upload-target';
import { contentDisposition } from '../../files/names';
import { PAGE_SIZE } from '../../files/file-service';
import { boxesOf } from '../../files/visibility';
import { sendersForEmployee } from '../../files/sent-from';
import { ACCEPTED_EXTENSIONS } from '../../files/file-types';
import { fileListBack, presentFile, presentFileDetails } from '../../presenters/file';
import { clientCrumb, clientLabel, presentClient } from '../../presenters/client';
import { formatLimit } from '../../presenters/format';
import { listedPurpose } from '../../domain/purposes';
import { purposeChoices } from '../../presenters/purposes';
import { purposeForm } from '../vault-forms';
import { reauthActive } from '../middleware/guards';
import { mayDeleteFile } from '../../policies';

const listQuery = z.object({
  box: z.enum(['received', 'sent', 'employees', 'all']).catch('all'),
  category: z.enum(CATEGORIES).optional().catch(undefined),
  client: z.string().max(64).optional().catch(undefined),
  page: z.coerce.number().int().min(1).max(10_000).catch(1),
});

type UploadRequest = Request & { uploadTarget?: Promise<UploadTarget> };

/** Resolves once the stream has a first verified chunk (or ended), so a corrupt file fails before any header is sent. */
function firstChunk(s: Readable): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const done = () => { s.off('readable', onReadable); s.off('end', onEnd); s.off('error', onError); };
    const onReadable = () => { const c = s.read() as Buffer | null; if (c !== null) { done(); resolve(c); } };
    const onEnd = () => { done(); resolve(null); };
    const onError = (e: Error) => { done(); reject(e); };
    s.on('readable', onReadable);
    s.once('end', onEnd);
    s.once('error', onError);
  });
}

/** The file exchange screens: list, send (upload), details, download, delete, retention. */
export function fileHandlers(services: Services, csrfValid: (req: Request) => boolean) {
  const { files, config } = services;
  /** What every send form tells before anything is chosen: the types taken, and the limits. */
  const uploadHints = { accept: ACCEPTED_EXTENSIONS.map((e) => `.${e}`).join(','), maxFile: formatLimit(config.uploadMaxFileBytes), maxFiles: config.uploadMaxFiles };
  const upload = multer({
    storage: encryptingStorage({
      storage: services.storage,
      clientKeys: services.clientKeys,
      target: (req: UploadRequest) => (req.uploadTarget ??= (async () => {
        // A multipart form's token arrives in the body (first field) or the X-CSRF-Token header.
        if (!csrfValid(req)) throw new AppError(403, 'error.csrf');
        return resolveUploadTarget(req.user!, req.body);
      })()),
      maxRequestBytes: config.uploadMaxRequestBytes,
    }),
    limits: { fileSize: config.uploadMaxFileBytes, files: config.uploadMaxFiles, fields: 20, fieldSize: 10_000, parts: config.uploadMaxFiles + 20 },
    defParamCharset: 'utf8',
  }).array('files', config.uploadMaxFiles);

  async function sendForm(req: Request, res: Response, extra: Record<string, unknown> = {}, status = 200) {
    const user = req.user!;
    const clientId = typeof req.query.client === 'string' ? req.query.client : (req.body?.clientId as string | undefined);
    const client = clientId ? await services.clients.getFor(user, clientId) : null;
    const employees = client ? await Employee.findAll({ where: { clientId: client.id }, order: [['employeeCode', 'ASC']] }) : [];
    page(req, res, 'files/send', {
      title: 'files.send.title',
      client: client ? presentClient(client) : null,
      clientCrumb: clientCrumb(user.role, client),
      employees: employees.map((e) => ({ id: e.id, label: `${e.employeeCode} ${e.name}`, hasAccount: Boolean(e.userId) })),
      categories: (client ? CATEGORIES : ALL_CLIENT_CATEGORIES).map((c) => ({ value: c, labelKey: `files.category.${c}` })),
      ...uploadHints,
      directions: client ? [
        { value: 'to_client', labelKey: 'files.direction.to_client', checked: true },
        { value: 'to_employee', labelKey: 'files.direction.to_employee', checked: false },
      ] : null,
      direction: client ? null : 'to_all',
      ...extra,
    }, status);
  }

  /** What the file's page says of it; an employee is told who sent a file to them, and never named to themselves. */
  async function detailsFor(user: Express.User, file: StoredFile) {
    const details = await files.details(file, user);
    if (user.role !== 'employee') return details;
    return { ...details, client: null, employee: null, from: (await sendersForEmployee(user, [file])).get(file.id) };
  }

  /** A file's page; a refused download purpose or retention date comes back to it with the reason beside the field. */
  async function showFile(req: Request, res: Response, extra: Record<string, unknown> = {}, status = 200) {
    const user = req.user!;
    const file = await files.getFor(user, String(req.params.fileId));
    const isFirm = user.role === 'firm_admin' || user.role === 'firm_staff';
    const details = await detailsFor(user, file);
    page(req, res, 'files/show', {
      title: 'files.detail.title',
      file: presentFileDetails(file, details, req.lang),
      back: fileListBack(user.role, file, details.client),
      needsPurpose: file.containsMyNumber && isFirm,
      needsReauth: opensLikeANumber(user, file),
      // A firm member not assigned to the client is told so, instead of a form that would be refused.
      notAssigned: file.containsMyNumber && isFirm && file.clientId !== null && !(await files.mayOpenNumbersOf(user, file.clientId)),
      reauthActive: reauthActive(req),
      // Re-authenticated, back at the purpose choice (a phone's screen below the file's facts), or at the download.
      reauthHref: reauthThen(`/files/${file.id}${file.containsMyNumber && isFirm ? '#purpose-choice' : ''}`),
      ...purposeChoices(),
      canDelete: mayDeleteFile(user, file),
      canSetRetention: isFirm,
      ...extra,
    }, status);
  }

  async function stream(req: Request, res: Response, file: StoredFile, purpose: { purpose: string; office: string } | null) {
    const ctx = actorOf(req);
    const body = await files.open(ctx, req.user!, file, purpose);
    let first: Buffer | null;
    try {
      first = await firstChunk(body);
    } catch (err) {
      if (err instanceof CorruptObject) {
        await files.recordCorrupt(ctx, file, err.reason);
        throw new CorruptFile();
      }
      throw err;
    }
    res.status(200).set({
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': contentDisposition(file.displayName),
      'Content-Length': String(file.size),
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Cache-Control': 'no-store',
    });
    body.on('error', (err) => {
      // Headers are out: cut the connection so the browser reports a failed download, never a short file.
      res.destroy();
      if (err instanceof CorruptObject) void files.recordCorrupt(ctx, file, err.reason).catch(() => {});
    });
    // Like body.pipe(res), but each verified chunk is freed as soon as the socket has taken it (the
    // decryptor's chunks are its own): a 1 GiB download otherwise leaves 1 GiB of dead buffers to
    // the garbage collector. And a client that goes away stops the decryption and the file read.
    if (first === null) {
      res.end(); // an empty file: the stream has ended already
      return;
    }
    // A file of one segment may have emitted 'end' already (on the tick after its only read, before
    // this code resumed): listening for it now would wait forever and hold the connection open.
    if (body.readableEnded) {
      res.end(first);
      return;
    }
    const send = (chunk: Buffer) => res.write(chunk, (err) => { if (!err && ownsChunks(body)) releaseChunk(chunk); });
    body.on('data', (chunk: Buffer) => { if (!send(chunk)) body.pause(); });
    res.on('drain', () => body.resume());
    body.once('end', () => res.end());
    res.once('close', () => { if (!body.readableEnded) body.destroy(); });
    if (send(first)) body.resume();
  }

  return {
    async list(req: Request, res: Response) {
      const user = req.user!;
      const q = listQuery.parse(req.query);
      // A box the user has not (the employees' box is a client admin's) is every file.
      const box = boxesOf(user).includes(q.box) ? q.box : 'all';
      const { rows, total } = await files.list(user, { box, category: q.category as Category | undefined, clientId: q.client, page: q.page });
      const states = await files.readStates(user, rows);
      const isFirm = user.role === 'firm_admin' || user.role === 'firm_staff';
      // The firm's list spans its clients: each row says whose it is, and to which employee it went.
      const clientIds = isFirm ? [...new Set(rows.map((f) => f.clientId).filter((id): id is string => Boolean(id)))] : [];
      const clients = new Map((clientIds.length ? await Client.findAll({ where: { id: clientIds }, attributes: ['id', 'code', 'name'] }) : []).map((c) => [c.id, clientLabel(c)]));
      const employeeIds = [...new Set(rows.map((f) => f.employeeId).filter((id): id is string => Boolean(id)))];
      const employees = new Map((employeeIds.length ? await Employee.findAll({ where: { id: employeeIds }, attributes: ['id', 'employeeCode', 'name'] }) : []).map((e) => [e.id, `${e.employeeCode} ${e.name}`]));
      // A dependant's card photo names the dependant after the employee who sent it; a payee's, the payee.
      const photoOwners = await cardPhotoOwnersAcross(rows);
      // An employee is told who sent what came to them, and is never named to themselves: only a dependant's card photo names the dependant.
      const senders = await sendersForEmployee(user, rows);
      const employeeOf = (f: StoredFile) => {
        const label = f.employeeId ? employees.get(f.employeeId) : undefined;
        const owner = photoOwners.get(f.id);
        if (user.role === 'employee') return owner?.dependantName || undefined;
        if (label && owner?.dependantName) return `${label} > ${owner.dependantName}`;
        return label ?? (owner?.personLabel || undefined);
      };
      const shownClient = isFirm && q.client ? await services.clients.getFor(user, q.client).catch(() => null) : null;
      // Tabs and pages keep the list's client and category.
      const keep = new URLSearchParams({ ...(shownClient ? { client: shownClient.id } : {}), ...(q.category ? { category: q.category } : {}) }).toString();
      page(req, res, 'files/list', {
        title: 'files.title',
        files: rows.map((f) => presentFile(f, req.lang, {
          state: states.get(f.id), client: f.clientId ? clients.get(f.clientId) : undefined, employee: employeeOf(f), from: senders.get(f.id),
        })),
        shownClient: shownClient ? clientLabel(shownClient) : null,
        clientCrumb: clientCrumb(user.role, shownClient),
        // One client's files: sending goes to that client first (to every client is the other button).
        sendToShownClient: shownClient ? `/files/send?${new URLSearchParams({ client: shownClient.id }).toString()}` : null,
        keep: keep ? `&${keep}` : '',
        total, box, page: q.page,
        hasEmployeesBox: boxesOf(user).includes('employees'),
        prevPage: q.page > 1 ? q.page - 1 : null,
        nextPage: q.page * PAGE_SIZE < total ? q.page + 1 : null,
        isFirm,
        canSendToFirm: !isFirm,
        // A client admin may also send one of the company's employees a file (a payslip made in-house), on a page of its own.
        canSendToEmployee: user.role === 'client_admin',
        categories: (user.role === 'employee' ? ['identity', 'procedure', 'other'] : CATEGORIES).map((c) => ({ value: c, labelKey: `files.category.${c}` })),
        ...uploadHints,
      });
    },

    showSend: (req: Request, res: Response) => sendForm(req, res),

    /** The client admin's form for a file to one of the company's employees (its own page: the list of employees can be long). */
    async showSendToEmployee(req: Request, res: Response) {
      const user = req.user!;
      page(req, res, 'files/send-employee', {
        title: 'files.send.toEmployee',
        employees: (await Employee.findAll({ where: { clientId: user.clientId! }, order: [['employeeCode', 'ASC']], attributes: ['id', 'employeeCode', 'name', 'userId'] }))
          .map((e) => ({ id: e.id, label: `${e.employeeCode} ${e.name}`, hasAccount: Boolean(e.userId) })),
        categories: CATEGORIES.map((c) => ({ value: c, labelKey: `files.category.${c}` })),
        ...uploadHints,
      });
    },

    /** Refuses an oversized request from its Content-Length, before reading the body. */
    checkLength(req: Request, res: Response, next: NextFunction) {
      const length = Number(req.headers['content-length'] ?? 0);
      if (length > config.uploadMaxRequestBytes) {
        res.set('Connection', 'close');
        throw new PayloadTooLarge();
      }
      next();
    },

    receive(req: Request, res: Response, next: NextFunction) {
      upload(req, res, (err: unknown) => {
        // More files than a sending takes: say how many it does take (multer has removed what it stored).
        const code = (err as { code?: string } | undefined)?.code;
        if ((err as Error | undefined)?.name === 'MulterError' && code === 'LIMIT_FILE_COUNT') {
          return next(new PayloadTooLarge('files.tooMany', { max: config.uploadMaxFiles }));
        }
        if (err) return next(err);
        next();
      });
    },

    async commit(req: UploadRequest, res: Response) {
      const uploads = (req.files as unknown as EncryptedUpload[] | undefined) ?? [];
      if (!req.uploadTarget) {
        // No file part arrived, so the engine never checked the token: check it here.
        if (!csrfValid(req)) throw new AppError(403, 'error.csrf');
        throw new BadRequest('files.noFiles');
      }
      const target = await req.uploadTarget;
      await files.commitUpload(actorOf(req), req.user!, target, uploads);
      const back = target.clientId && req.user!.role !== 'client_admin' && req.user!.role !== 'employee' ? `/files?box=sent&client=${target.clientId}` : '/files?box=sent';
      flash(req, 'ok', 'files.sent');
      doneGoTo(req, res, back, { count: uploads.length });
    },

    show: (req: Request, res: Response) => showFile(req, res),

    async download(req: Request, res: Response) {
      const file = await files.getFor(req.user!, String(req.params.fileId));
      if (opensLikeANumber(req.user!, file) && !reauthActive(req)) {
        await files.recordRefused(actorOf(req), file, 'not re-authenticated', null);
        // Back to the file's page once re-authenticated, where the download is one tap (never a blank page with a download).
        return res.redirect(303, `/reauth?next=${encodeURIComponent(`/files/${file.id}`)}`);
      }
      await stream(req, res, file, null);
    },

    /** My Number files, for firm staff: re-authenticated (route guard) and with a purpose. */
    async downloadWithPurpose(req: Request, res: Response) {
      const file = await files.getFor(req.user!, String(req.params.fileId));
      const form = parseForm(purposeForm, req.body);
      // The page again, with the reason beside the choice, rather than an error page that loses it.
      if (!form.ok) {
        const known = listedPurpose(req.body);
        await files.recordRefused(actorOf(req), file, form.errors.office === 'vault.officeMismatch' ? 'office does not fit the purpose' : 'no purpose', known);
        return showFile(req, res, { purposeErrors: form.errors, purposeValues: known }, 400);
      }
      try {
        await stream(req, res, file, form.data);
      } catch (err) {
        // A procedure the photo's person is not filed under: the page again, the reason beside the choice.
        if (err instanceof BadRequest && err.fieldErrors.purpose) return showFile(req, res, { purposeErrors: err.fieldErrors, purposeValues: form.data }, 400);
        throw err;
      }
    },

    async remove(req: Request, res: Response) {
      const file = await files.getFor(req.user!, String(req.params.fileId));
      await files.delete(actorOf(req), req.user!, file);
      flash(req, 'ok', 'files.deleted');
      res.redirect(303, '/files');
    },

    async retention(req: Request, res: Response) {
      const file = await files.getFor(req.user!, String(req.params.fileId));
      const date = z.object({ retentionDate: z.union([z.literal(''), z.iso.date()]) }).safeParse(req.body ?? {});
      try {
        if (!date.success) throw new BadRequest('files.retentionInvalid');
        await files.setRetention(actorOf(req), req.user!, file, date.data.retentionDate || null);
      } catch (err) {
        if (err instanceof BadRequest) return showFile(req, res, { retentionError: err.messageKey, retentionValue: String(req.body?.retentionDate ?? '').slice(0, 20) }, 400);
        throw err;
      }
      flash(req, 'ok', 'files.retentionSaved');
      res.redirect(303, `/files/${file.id}`);
    },
  };
}
