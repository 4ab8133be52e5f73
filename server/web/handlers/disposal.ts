import type { Request, Response } from 'express';
import multer from 'multer';
import { Op } from 'sequelize';
import { visibleFilesWhere } from '../../files/visibility';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { flash, page } from '../render';
import { optionalDate } from '../vault-forms';
import { tickedValues } from '../forms';
import { reauthActive } from '../middleware/guards';
import { AppError, BadRequest, Forbidden, NotFound } from '../../errors';
import { CATEGORIES, Client, DisposalCertificate, DisposalItem, DisposalRequest, StoredFile, User, type Category, type Department } from '../../db/models';
import { changeDeletionDate, type ItemRef } from '../../disposal/disposal-service';
import { rulesOf, saveRules } from '../../disposal/retention-rules';
import { presentVerified, verifyCertificateNumber, verifyCertificateUpload, type CertificateVerification } from '../../disposal/certificate-lookup';
import { openRequestsOf, type OpenRequestItem } from '../../disposal/open-requests';
import { cardPhotoOwners } from '../../files/card-photos';
import { maskNumber } from '../../vault/my-number';
import { formatDateTime } from '../../presenters/format';
import { departmentsOf } from '../../vault/people';
import { VAULT_PAGE_SIZE, type ListFilter } from '../../vault/vault-service';
import { clientCrumb, clientLabel, presentClient } from '../../presenters/client';
import { translate } from '../../i18n';
import { approverName, requestReason, requesterName } from '../../presenters/disposal';
import { japanDay } from '../../domain/dates';

const UUID = /^[0-9a-f-]{36}$/i;
/** Items listed per request on the approvals page (the rest counted): enough to see what a selection holds. */
const APPROVAL_ITEMS_SHOWN = 100;
/** How long a decided request stays in view: turned down on the retention list (with why), carried out or turned down on the approvals page. */
const DECIDED_SHOWN_MS = 30 * 24 * 3600_000;
/** At most this many of them on the approvals page (the certificates page keeps every one carried out). */
const DECIDED_SHOWN = 50;
/** A client of the map by id, as lists name it ('' parts when it is gone). */
const clientOfMap = (clients: Map<string, Client>, id: string) => clientLabel(clients.get(id) ?? { code: '', name: '' });
const filterForm = z.object({
  department: z.string().regex(UUID).optional().catch(undefined),
  code: z.string().trim().max(30).optional().catch(undefined).transform((v) => v || undefined),
  name: z.string().trim().max(100).optional().catch(undefined).transform((v) => v || undefined),
  due: z.literal('1').optional().catch(undefined),
  noDate: z.literal('1').optional().catch(undefined),
  page: z.coerce.number().int().min(1).max(1_000_000).catch(1).default(1),
});
type RetentionFilter = z.infer<typeof filterForm>;
// `allMatching`: every due number the list's filter (sent again with the form) matches, on every page.
const requestForm = z.object({
  items: tickedValues(/^(number|file):[0-9a-f-]{36}$/i, 20_000), reason: z.string().trim().max(500).default(''),
  whole: z.literal('on').optional().catch(undefined), allMatching: z.literal('on').optional().catch(undefined),
  // the whole client (end of contract): the client's code typed again, as a deliberate act
  confirmCode: z.string().trim().max(30).optional().catch(undefined),
  // how many "all of these" meant on the page the person read
  shownTotal: z.coerce.number().int().min(0).optional().catch(undefined),
});
const dateForm = z.object({
  date: optionalDate, reason: z.string().trim().max(400).default(''),
  // The row's 予定解除 button: no deletion date, whatever the date field holds.
  cancel: z.literal('on').optional().catch(undefined),
});

/** An open request's items on the retention list: how many, the first ones, and how many more. */
function presentOpenItems(held: { count: number; items: OpenRequestItem[] } | undefined) {
  if (!held) return null;
  return {
    count: held.count, more: held.count - held.items.length,
    items: held.items.map((i) => ({ employeeCode: i.employeeCode, label: i.label, kindKey: `disposal.kind.${i.dataKind}`, deletionDate: i.deletionDate })),
  };
}

/** The answer of the verify page, and for a genuine certificate what the record says of it. */
function verifyAnswer(req: Request, checked: CertificateVerification) {
  return {
    answer: checked.answer, answerKey: `verify.answer.${checked.answer}`, answerText: translate(req.lang, `verify.answer.${checked.answer}`),
    verified: checked.certificate ? presentVerified(checked.certificate, req.lang) : null,
  };
}

/** 廃棄: the retention list, requests, approval, certificates, and the public verification page. */
export function disposalHandlers(services: Services, csrfValid: (req: Request) => boolean) {
  const { disposal, vault } = services;
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: 10 * 1024 * 1024, files: 1, fields: 5 } }).single('file');

  const clientFor = (req: Request) => services.clients.getFor(req.user!, req.user!.role === 'client_admin' ? req.user!.clientId! : String(req.query.client ?? req.params.clientId ?? req.body?.clientId ?? ''));

  /** The retention list's filter as the vault reads it: numbers only, a department of this client only. */
  function numbersFilter(q: RetentionFilter, departments: Department[]): ListFilter {
    const department = q.department && departments.some((d) => d.id === q.department) ? q.department : undefined;
    return { withNumber: true, departmentId: department, employeeCode: q.code, name: q.name, dueBy: q.due ? japanDay() : undefined, noDeletionDate: Boolean(q.noDate) };
  }

  /** The retention list's address with a filter and page (the client named for the firm's side). */
  function listQuery(q: z.infer<typeof filterForm>, clientId: string | null, page = q.page): string {
    return new URLSearchParams({
      ...(clientId ? { client: clientId } : {}), ...(q.department ? { department: q.department } : {}), ...(q.code ? { code: q.code } : {}),
      ...(q.name ? { name: q.name } : {}), ...(q.due ? { due: '1' } : {}), ...(q.noDate ? { noDate: '1' } : {}), page: String(page),
    }).toString();
  }

  async function retentionList(req: Request, res: Response, extra: Record<string, unknown> = {}, status = 200) {
    if (req.user!.role !== 'client_admin' && !req.query.client && !req.body?.clientId) return res.redirect(303, '/firm/clients');
    const client = await clientFor(req);
    const firmSide = req.user!.role !== 'client_admin';
    // A refused request shows the list as it was filtered when the form was sent.
    const q = filterForm.parse(req.method === 'GET' ? req.query : req.body ?? {});
    const departments = await departmentsOf(client.id);
    const filter = numbersFilter(q, departments);
    const { rows, total } = await services.vault.list(client.id, filter, q.page);
    // Only files the reader may see elsewhere (a client admin does not see what the firm sent to one employee).
    const files = await StoredFile.findAll({ where: { [Op.and]: [{ clientId: client.id, status: 'ready' }, await visibleFilesWhere(req.user!)] }, order: [['createdAt', 'DESC']], limit: 500 });
    const today = japanDay();
    // "All of these" takes the due numbers the filter matches: offered only when there are some; otherwise the page says when the next is due.
    const dueOfMatching = await services.vault.dueOfMatching(client.id, filter, today);
    // A refused request comes back with its ticks and reason; a refused date change with what was typed, on its row.
    const ticked = new Set(Array.isArray(extra.ticked) ? extra.ticked as string[] : []);
    const query = (page: number) => listQuery(q, firmSide ? client.id : null, page);
    // Rows already in an open request are marked 申請中 and cannot be ticked again (the service refuses them: disposal.alreadyRequested).
    const open = await openRequestsOf(client.id);
    const owners = await cardPhotoOwners(client.id, files);
    const numbers = rows.flatMap(({ person: p, record: r }) => (r ? [{
      id: r.id, employeeCode: p.employeeCode ?? '', label: p.label, issueDate: r.issueDate ?? '', masked: maskNumber(r.lastTwo ?? '**'),
      leaveDate: p.leaveDate ?? '', deletionDate: r.deletionDate ?? '', due: Boolean(r.deletionDate && r.deletionDate <= today),
      requested: open.itemIds.has(r.id), checked: !open.itemIds.has(r.id) && ticked.has(`number:${r.id}`),
      dateRefused: extra.dateFor === r.id ? extra.dateValues : null,
    }] : []));
    page(req, res, 'disposal/list', {
      title: 'disposal.title',
      // A refused date change is told on its row; if that row is not on this page, at the top.
      dateRowShown: numbers.some((n) => n.dateRefused),
      client: presentClient(client),
      clientCrumb: clientCrumb(req.user!.role, client),
      filter: q,
      departments: departments.map((d) => ({ id: d.id, label: `${d.code} ${d.name}`, selected: d.id === q.department })),
      numbers,
      total,
      dueTotal: dueOfMatching.due,
      heldTotal: dueOfMatching.held,
      // The due numbers reach past this page: the label says "all pages" too.
      dueOnOtherPages: dueOfMatching.due > numbers.filter((n) => n.due).length,
      nextDeletionDate: dueOfMatching.nextDate,
      morePages: total > VAULT_PAGE_SIZE,
      prevQuery: q.page > 1 ? query(q.page - 1) : null,
      nextQuery: q.page * VAULT_PAGE_SIZE < total ? query(q.page + 1) : null,
      files: files.map((f) => {
        // A card photo names whose card it is and goes on its number's date, not on its own.
        const owner = owners.get(f.id);
        return {
          id: f.id, name: f.displayName, categoryKey: `files.category.${f.category}`,
          retentionDate: owner ? owner.deletionDate ?? '' : f.retentionDate ?? '', cardOf: owner?.personLabel ?? null, withNumber: Boolean(owner),
          requested: open.itemIds.has(f.id), checked: !open.itemIds.has(f.id) && ticked.has(`file:${f.id}`),
        };
      }),
      // Open requests, and those turned down in the last 30 days with why (the requester learns it here).
      pending: (await DisposalRequest.findAll({
        where: { clientId: client.id, [Op.or]: [{ status: { [Op.in]: ['requested', 'approved', 'executing'] } }, { status: 'rejected', rejectedAt: { [Op.gte]: new Date(Date.now() - DECIDED_SHOWN_MS) } }] },
        order: [['requestedAt', 'DESC']],
      })).map((r) => ({
        id: r.id, statusKey: `disposal.status.${r.status}`, reason: requestReason(r, req.lang), by: requesterName(r, req.lang), at: formatDateTime(r.requestedAt, req.lang), early: r.early,
        // What an open request holds, masked as the certificate will name it (a turned-down one's items were released).
        contents: presentOpenItems(open.byRequest.get(r.id)),
        rejected: r.status === 'rejected' ? { by: r.rejectedByName ?? '', at: formatDateTime(r.rejectedAt, req.lang), reason: r.rejectReason ?? '' } : null,
      })),
      firmSide,
      isFirmAdmin: req.user!.role === 'firm_admin',
      rules: await (async () => {
        const r = await rulesOf(client.id);
        return { ...r, files: CATEGORIES.map((c) => ({ category: c, labelKey: `files.category.${c}`, years: r.fileYears[c] ?? '' })) };
      })(),
      ...extra,
    }, status);
  }

  /** The firm admin's queue of requests waiting for approval, across clients. */
  async function approvalsPage(req: Request, res: Response, extra: Record<string, unknown> = {}, status = 200) {
    const rows = await DisposalRequest.findAll({ where: { status: { [Op.in]: ['requested', 'approved', 'executing'] } }, order: [['requestedAt', 'ASC']] });
    const clients = new Map((await Client.findAll()).map((c) => [c.id, c]));
    // A request is approved by another firm admin than its requester: with none, it would wait for ever without a word.
    const otherAdmins = await User.count({ where: { role: 'firm_admin', disabledAt: null, id: { [Op.ne]: req.user!.id } } });
    const requests = await Promise.all(rows.map(async (r) => {
      // What would be erased, as the certificate will name it (masked): the first ones, and how many in all.
      const items = await DisposalItem.findAll({ where: { requestId: r.id }, order: [['employeeCode', 'ASC'], ['maskedLabel', 'ASC']], limit: APPROVAL_ITEMS_SHOWN });
      const count = items.length < APPROVAL_ITEMS_SHOWN ? items.length : await DisposalItem.count({ where: { requestId: r.id } });
      const client = clientOfMap(clients, r.clientId);
      return {
        id: r.id, client, scopeKey: `disposal.scope.${r.scope}`, count, reason: requestReason(r, req.lang), by: requesterName(r, req.lang), at: formatDateTime(r.requestedAt, req.lang), early: r.early,
        statusKey: `disposal.status.${r.status}`, canApprove: r.status === 'requested' && r.requestedBy !== req.user!.id, canReject: r.status === 'requested',
        ownNoteKey: r.status !== 'requested' || r.requestedBy !== req.user!.id ? null : otherAdmins ? 'disposal.ownRequestNote' : 'disposal.ownRequestNoApprover',
        items: items.map((i) => ({ employeeCode: i.employeeCode ?? '', label: i.maskedLabel, kindKey: `disposal.kind.${i.dataKind}`, deletionDate: i.deletionDate ?? '' })),
        more: count - items.length,
        confirm: translate(req.lang, 'disposal.approveConfirm', { client, count }),
      };
    }));
    page(req, res, 'disposal/approvals', { title: 'disposal.approvals', reauthActive: reauthActive(req), requests, decided: await recentlyDecided(req, clients), ...extra }, status);
  }

  /** What the firm admins decided in the last 30 days: after 承認して実行 a request leaves the queue, and this says what became of it. */
  async function recentlyDecided(req: Request, clients: Map<string, Client>) {
    const since = new Date(Date.now() - DECIDED_SHOWN_MS);
    const rows = await DisposalRequest.findAll({
      where: { [Op.or]: [{ status: 'executed', executedAt: { [Op.gte]: since } }, { status: 'rejected', rejectedAt: { [Op.gte]: since } }] },
      order: [['requestedAt', 'DESC']], limit: DECIDED_SHOWN,
    });
    const certificates = new Map((await DisposalCertificate.findAll({ where: { requestId: rows.map((r) => r.id) }, attributes: ['id', 'number', 'requestId'] })).map((c) => [c.requestId, c]));
    // A turned-down request's items were released (they may be requested again): only carried-out ones have a count.
    const counts = new Map((await DisposalItem.count({ where: { requestId: rows.filter((r) => r.status === 'executed').map((r) => r.id) }, group: ['requestId'] }))
      .map((c) => [String(c.requestId), Number(c.count)]));
    return rows.map((r) => {
      const executed = r.status === 'executed';
      const cert = certificates.get(r.id);
      return {
        id: r.id, client: clientOfMap(clients, r.clientId), count: executed ? counts.get(r.id) ?? 0 : '—',
        statusKey: `disposal.status.${r.status}`, requestedBy: requesterName(r, req.lang), reason: requestReason(r, req.lang),
        decidedBy: executed ? approverName(r, req.lang) : r.rejectedByName ?? '', decidedAt: formatDateTime(executed ? r.executedAt : r.rejectedAt, req.lang),
        rejectReason: executed ? null : r.rejectReason ?? '', certificate: cert ? { id: cert.id, number: cert.number } : null,
      };
    });
  }

  return {
    list: (req: Request, res: Response) => retentionList(req, res),

    async changeDate(req: Request, res: Response) {
      const client = await clientFor(req);
      const f = dateForm.safeParse(req.body ?? {});
      const recordId = String(req.params.recordId);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const typed = { date: String(body.date ?? '').slice(0, 10), reason: String(body.reason ?? '').slice(0, 400) };
      const refused = (key: string) => retentionList(req, res, { dateError: key, dateFor: recordId, dateValues: { ...typed, error: key } }, 400);
      if (!f.success) return refused('form.date');
      try {
        await changeDeletionDate(services, actorOf(req), client.id, recordId, f.data.cancel ? null : f.data.date, f.data.reason);
      } catch (err) {
        if (err instanceof BadRequest) return refused(err.messageKey);
        throw err;
      }
      flash(req, 'ok', f.data.date && !f.data.cancel ? 'disposal.dateChanged' : 'disposal.dateCancelled');
      // Back to the list as it was (its filter and page), at the row.
      res.redirect(303, `/disposal?${listQuery(filterForm.parse(req.body ?? {}), client.id)}#row-${recordId}`);
    },

    async saveRules(req: Request, res: Response) {
      const client = await clientFor(req);
      const body = (req.body ?? {}) as Record<string, string>;
      const int = (v: unknown) => (typeof v === 'string' && /^\d{1,2}$/.test(v.trim()) ? Number(v) : NaN);
      // Blank means: files of this category get no deletion date.
      const fileYears: Partial<Record<Category, number | null>> = {};
      for (const c of CATEGORIES) fileYears[c] = typeof body[`file_${c}`] === 'string' && body[`file_${c}`]!.trim() ? int(body[`file_${c}`]) : null;
      try {
        await saveRules(services, actorOf(req), client.id, { numberYears: int(body.numberYears), payeeYears: int(body.payeeYears), fileYears, autoDispose: body.autoDispose === 'on' });
      } catch (err) {
        if (err instanceof BadRequest) return retentionList(req, res, { rulesError: err.messageKey }, 400);
        throw err;
      }
      flash(req, 'ok', 'retention.saved');
      res.redirect(303, `/disposal?client=${client.id}`);
    },

    async request(req: Request, res: Response) {
      const client = await clientFor(req);
      const parsed = requestForm.safeParse(req.body ?? {});
      if (!parsed.success) return retentionList(req, res, { requestError: 'form.invalid' }, 400);
      const f = parsed.data;
      const kept = { ticked: f.items, requestReason: f.reason };
      if (f.whole) {
        if (req.user!.role !== 'firm_admin') throw new Forbidden('disposal.approverRole');
        if (f.confirmCode !== client.code) return retentionList(req, res, { wholeError: 'disposal.wholeCodeMismatch', wholeReason: f.reason }, 400);
      }
      const ticked: ItemRef[] = f.items.map((x) => { const [kind, id] = x.split(':'); return { kind: kind as 'number' | 'file', id: id! }; });
      // "All of these": the due numbers the filter matches now (the list offers it only for those: early disposal is ticked
      // row by row), with any files ticked (ticked numbers are among them or not wanted twice).
      const matching = f.allMatching ? await vault.matchingRecordIds(client.id, { ...numbersFilter(filterForm.parse(req.body ?? {}), await departmentsOf(client.id)), dueBy: japanDay() }) : [];
      // Disposal cannot be undone: if the numbers matching changed since the page was read, the person looks again.
      if (f.allMatching && matching.length !== f.shownTotal) return retentionList(req, res, { requestError: 'disposal.matchingChanged', ...kept }, 409);
      const refs: ItemRef[] = f.allMatching ? [...matching.map((id) => ({ kind: 'number' as const, id })), ...ticked.filter((r) => r.kind === 'file')] : ticked;
      try {
        await disposal.request(actorOf(req), req.user!, client.id, f.whole ? 'client' : refs, f.reason);
      } catch (err) {
        if (err instanceof AppError && (err.status === 400 || err.status === 409)) return retentionList(req, res, { [f.whole ? 'wholeError' : 'requestError']: err.messageKey, ...(f.whole ? {} : kept) }, err.status);
        throw err;
      }
      flash(req, 'ok', 'disposal.requested');
      res.redirect(303, `/disposal?client=${client.id}`);
    },

    approvals: (req: Request, res: Response) => approvalsPage(req, res),

    /** A request turned down with a reason: nothing erased, its items free to be requested again. */
    async reject(req: Request, res: Response) {
      const id = String(req.params.requestId);
      if (!UUID.test(id)) throw new NotFound();
      const reason = typeof req.body?.reason === 'string' ? req.body.reason.slice(0, 400) : '';
      try {
        await disposal.reject(actorOf(req), req.user!, id, reason);
      } catch (err) {
        if (err instanceof BadRequest) return approvalsPage(req, res, { rejectError: err.messageKey, rejectFor: id }, 400);
        throw err;
      }
      flash(req, 'ok', 'disposal.rejected');
      res.redirect(303, '/disposal/approvals');
    },

    /** Approval runs the disposal at once; a process that dies on the way is resumed by the schedule. */
    async approve(req: Request, res: Response) {
      const id = String(req.params.requestId);
      if (!UUID.test(id)) throw new BadRequest();
      await disposal.approve(actorOf(req), req.user!, id);
      const cert = await disposal.execute(id).catch((err: unknown) => {
        services.logger.error({ requestId: id, err: { message: (err as Error).message } }, 'disposal did not finish; it will be resumed');
        return null;
      });
      flash(req, 'ok', cert ? 'disposal.executed' : 'disposal.approved');
      res.redirect(303, '/disposal/approvals');
    },

    async certificates(req: Request, res: Response) {
      const clientId = req.user!.role === 'client_admin' ? req.user!.clientId! : req.query.client && UUID.test(String(req.query.client)) ? String(req.query.client) : null;
      if (req.user!.role === 'firm_staff' && !clientId) return res.redirect(303, '/firm/clients');
      if (clientId) await services.clients.getFor(req.user!, clientId);
      const where = clientId ? { clientId } : {};
      const certs = await DisposalCertificate.findAll({ where, order: [['issuedAt', 'DESC']] });
      const clients = new Map((await Client.findAll()).map((c) => [c.id, c]));
      page(req, res, 'disposal/certificates', {
        title: 'disposal.certificates',
        certificates: certs.map((c) => ({ id: c.id, number: c.number, client: clients.get(c.clientId)?.name ?? '', issuedAt: formatDateTime(c.issuedAt, req.lang), fingerprint: c.fingerprint })),
      });
    },

    async download(req: Request, res: Response) {
      const id = String(req.params.certificateId);
      const cert = UUID.test(id) ? await DisposalCertificate.findByPk(id) : null;
      if (!cert) throw new AppError(404, 'error.notFound');
      await services.clients.getFor(req.user!, cert.clientId).catch(() => { throw new AppError(404, 'error.notFound'); });
      const pdf = await disposal.downloadCertificate(actorOf(req), cert);
      res.status(200).set({ 'Content-Type': 'application/pdf', 'Content-Disposition': `attachment; filename="${cert.number}.pdf"`, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' }).send(pdf);
    },

    /**
     * Public: genuine, not genuine or unknown; for a genuine one, which certificate it is (number, issue date,
     * issuer, client, how many items) as the portal's record says — nothing about a person.
     * The certificate's QR code opens this with its number and fingerprint: the answer is on the page at once (reading only).
     */
    async showVerify(req: Request, res: Response) {
      const number = typeof req.query.number === 'string' ? req.query.number.slice(0, 20) : '';
      const sha256 = typeof req.query.sha256 === 'string' ? req.query.sha256.slice(0, 64) : '';
      const checked = number && sha256 ? await verifyCertificateNumber(number, sha256, { firmName: () => services.pdf.firmName() }) : null;
      page(req, res, 'disposal/verify', { title: 'verify.title', number, sha256, ...(checked ? verifyAnswer(req, checked) : {}) });
    },

    async verify(req: Request, res: Response) {
      await new Promise<void>((resolve, reject) => upload(req, res, (err: unknown) => (err ? reject(err) : resolve())))
        .catch((err: unknown) => { throw csrfValid(req) ? err : new AppError(403, 'error.csrf'); });
      if (!csrfValid(req)) throw new AppError(403, 'error.csrf');
      const file = (req as Request & { file?: Express.Multer.File }).file;
      const firmName = () => services.pdf.firmName();
      let checked: CertificateVerification;
      if (file) {
        checked = await verifyCertificateUpload(file.buffer, { firmName, trustedCertificatePem: await services.pdf.trustedCertificatePem() });
      } else {
        const body = (req.body ?? {}) as Record<string, unknown>;
        // Nothing to check is a missing input, not an unknown certificate.
        const missing = !String(body.number ?? '').trim() ? 'verify.needInput' : !String(body.sha256 ?? '').trim() ? 'verify.needSha256' : null;
        if (missing) return page(req, res, 'disposal/verify', { title: 'verify.title', number: String(body.number ?? '').slice(0, 20), error: missing }, 400);
        checked = await verifyCertificateNumber(String(body.number ?? ''), String(body.sha256 ?? ''), { firmName });
      }
      page(req, res, 'disposal/verify', { title: 'verify.title', ...verifyAnswer(req, checked) });
    },
  };
}
