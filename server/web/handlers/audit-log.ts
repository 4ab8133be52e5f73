import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { page } from '../render';
import { allLogRows, countLog, departmentsOfTargets, LOG_PAGE_SIZE, LOG_SORTS, logScope, queryLog, type LogFilter } from '../../audit/log-query';
import { Client, type AuditEvent } from '../../db/models';
import { Op } from 'sequelize';
import { formatDateTime } from '../../presenters/format';
import { departmentsOf } from '../../vault/people';
import { toCsv } from '../../vault/csv';
import { translate, type Lang } from '../../i18n';
import { disposalItemsOf, disposalTarget, maskPersonLabel } from '../../reports/report-data';
import { operatorLabel } from '../../presenters/operator';
import { calendarDate } from '../../domain/dates';
import { clientCrumb, clientLabel } from '../../presenters/client';
import { AppError, BadRequest, NotFound } from '../../errors';
import { LOG_OPERATION_GROUPS, LOG_OPERATIONS } from '../../audit/operations';

const UUID = /^[0-9a-f-]{36}$/i;
/** A PDF is laid out in the request (pdf-lib blocks while it works): it holds the first 10,000 rows, the CSV all. */
const PDF_ROWS = 10_000;
const text = (max: number) => z.string().trim().max(max).optional().catch(undefined).transform((v) => v || undefined);
const filterForm = z.object({
  client: z.string().regex(UUID).optional().catch(undefined),
  from: text(10), to: text(10),
  department: z.string().regex(UUID).optional().catch(undefined),
  code: text(30), name: text(100), operation: z.enum(LOG_OPERATIONS as [string, ...string[]]).optional().catch(undefined), operator: text(100),
  result: z.enum(['allowed', 'denied', 'error']).optional().catch(undefined),
  sort: z.enum(LOG_SORTS).catch('at'),
  dir: z.enum(['asc', 'desc']).catch('desc'),
  page: z.coerce.number().int().min(1).max(100_000).catch(1),
});

/** A period typed into the address bar (the date pickers send only real dates) is checked, not silently dropped. */
function periodProblems(from?: string, to?: string): Record<string, string> {
  const problems: Record<string, string> = {};
  const [f, t] = [from ? calendarDate(from) : null, to ? calendarDate(to) : null];
  if (from && !f) problems.from = 'log.dateInvalid';
  if (to && !t) problems.to = 'log.dateInvalid';
  if (f && t && f > t) problems.to = 'log.periodReversed';
  return problems;
}

/** Whose departments the department filter lists: the chosen client, or a client admin's own (their log names no client in its query). */
const departmentsClientOf = (req: Request, f: LogFilter): string | null => f.clientId ?? (req.user!.role === 'client_admin' ? req.user!.clientId : null);

function filterOf(req: Request): { f: LogFilter; page: number; query: Record<string, string>; problems: Record<string, string> } {
  const q = filterForm.parse(req.query);
  const f: LogFilter = {
    clientId: q.client, from: q.from, to: q.to, departmentId: q.department, employeeCode: q.code, name: q.name,
    operation: q.operation, operator: q.operator, result: q.result, sort: q.sort, desc: q.dir === 'desc',
  };
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries({ client: q.client, from: q.from, to: q.to, department: q.department, code: q.code, name: q.name, operation: q.operation, operator: q.operator, result: q.result, sort: q.sort, dir: q.dir })) {
    if (v) query[k] = String(v);
  }
  return { f, page: q.page, query, problems: periodProblems(q.from, q.to) };
}

/**
 * Whom or what a row is about: a person masked; a file, report or certificate named as such (a period
 * or a DC number alone reads as a person's column gone wrong); a disposal (申請・承認・消去) by the
 * items it disposes of, code and masked name as its certificate names them, not a blank.
 */
function targetOf(e: AuditEvent, lang: Lang, disposed: Map<string, string[]>): string {
  const label = e.targetLabel ?? '';
  switch (e.targetKind) {
    case 'disposal': {
      const d = e.targetId ? disposalTarget(disposed.get(e.targetId)) : null;
      return d ? translate(lang, `report.pdf.target.disposal${d.more ? 'More' : ''}`, { label: d.label, count: d.more }) : '';
    }
    case 'employee': case 'dependant': case 'payee': return maskPersonLabel(e.targetLabel);
    case 'file': return label ? translate(lang, 'report.pdf.target.file', { label }) : '';
    case 'certificate': return label ? translate(lang, 'report.pdf.target.certificate', { label }) : '';
    case 'report': return label ? translate(lang, 'log.target.report', { label }) : '';
    default: return label;
  }
}

/** A log row as the screens and downloads show it: the person's code and masked name, never a number. */
export function presentLogRow(e: AuditEvent, lang: Lang, clients: Map<string, Client>, disposed: Map<string, string[]> = new Map()) {
  const client = e.clientId ? clients.get(e.clientId) : undefined;
  return {
    at: formatDateTime(e.at, lang, { seconds: true }),
    client: client ? clientLabel(client) : '',
    operator: operatorLabel(e, lang),
    operatorRole: e.actorRole && e.actorRole !== 'system' ? translate(lang, `role.${e.actorRole}`) : '',
    person: targetOf(e, lang, disposed),
    operation: translate(lang, `op.${e.operation}`),
    purpose: e.purpose ? translate(lang, `purpose.${e.purpose}`) : '',
    office: e.office ? translate(lang, `office.${e.office}`) : '',
    result: translate(lang, `log.result.${e.result}`),
    denied: e.result !== 'allowed',
    how: e.channel.startsWith('api:') ? 'API'
      : e.channel.startsWith('link:') ? translate(lang, 'log.how.link')
      : e.actorRole === 'system' || e.channel.startsWith('job:') || e.channel.startsWith('cli:') ? translate(lang, 'log.how.system')
        : translate(lang, 'log.how.screen'),
    ip: e.ip ?? '',
  };
}

/** 操作履歴: filters, sorting on fixed columns, paging, and CSV / PDF downloads that are logged themselves. */
export function auditLogHandlers(services: Services) {
  async function clientsFor(req: Request) {
    const scope = await logScope(req.user!);
    const clients = await Client.findAll({ where: scope === null ? {} : { id: { [Op.in]: scope.length ? scope : ['-'] } }, order: [['code', 'ASC']] });
    return clients;
  }

  const t = (req: Request, k: string) => translate(req.lang, k);

  async function download(req: Request, format: 'csv' | 'pdf') {
    const { f, problems } = filterOf(req);
    const problem = Object.values(problems)[0];
    if (problem) throw new BadRequest(problem, problems);
    const clients = await clientsFor(req);
    const byId = new Map(clients.map((c) => [c.id, c]));
    if (f.clientId && !byId.has(f.clientId)) throw new NotFound();
    const csvMax = services.config.logExportMaxRows;
    // A CSV is taken to be the whole log of its filter: one that would be cut short is refused, with the count, before anything is read.
    if (format === 'csv') {
      const matching = await countLog(req.user!, f);
      if (matching > csvMax) throw new AppError(400, 'log.csvTooMany', { total: matching, max: csvMax });
    }
    const cap = format === 'pdf' ? PDF_ROWS : csvMax;
    const events: AuditEvent[] = [];
    for await (const e of allLogRows(req.user!, f, cap)) events.push(e);
    const disposed = await disposalItemsOf(null, events);
    const rows = events.map((e) => presentLogRow(e, req.lang, byId, disposed));
    await services.audit.recordAlone(actorOf(req), {
      operation: `log.export.${format}`, result: 'allowed', clientId: f.clientId ?? (req.user!.role === 'client_admin' ? req.user!.clientId : null), detail: `${rows.length} rows`,
    });
    const total = rows.length < cap ? rows.length : await countLog(req.user!, f);
    return { rows, events, f, byId, total };
  }

  /** What a downloaded log was filtered by, so a printed PDF says which rows it holds and which it leaves out. */
  async function conditionsOf(req: Request, f: LogFilter, byId: Map<string, Client>, shown: number, total: number): Promise<[string, string][]> {
    const lang = req.lang;
    const all = t(req, 'vault.filter.all');
    const lines: [string, string][] = [];
    if (req.user!.role !== 'client_admin') lines.push([t(req, 'log.col.client'), f.clientId && byId.get(f.clientId) ? clientLabel(byId.get(f.clientId)!) : all]);
    lines.push([t(req, 'log.pdf.period'), f.from || f.to ? `${f.from ?? ''} 〜 ${f.to ?? ''}` : all]);
    const departmentsClient = departmentsClientOf(req, f);
    if (f.departmentId && departmentsClient) {
      const d = (await departmentsOf(departmentsClient)).find((x) => x.id === f.departmentId);
      if (d) lines.push([t(req, 'vault.filter.department'), `${d.code} ${d.name}`]);
    }
    if (f.employeeCode) lines.push([t(req, 'vault.col.employeeCode'), f.employeeCode]);
    if (f.name) lines.push([t(req, 'log.filter.name'), f.name]);
    lines.push([t(req, 'log.col.operation'), f.operation ? t(req, `op.${f.operation}`) : all]);
    if (f.operator) lines.push([t(req, 'log.col.operator'), f.operator]);
    lines.push([t(req, 'log.col.result'), f.result ? t(req, `log.result.${f.result}`) : all]);
    lines.push([t(req, 'log.sortBy').replace(/[:：]\s*$/, ''), `${t(req, `log.sort.${f.sort}`)} ${f.desc ? '▼' : '▲'}`]);
    lines.push([t(req, 'log.pdf.rows'), shown < total ? translate(lang, 'log.pdf.rowsCapped', { shown, total }) : translate(lang, 'log.total', { count: total })]);
    lines.push([t(req, 'log.pdf.printed'), `${formatDateTime(new Date(), lang)} ${req.user!.name}`]);
    return lines;
  }

  const CSV_MORE = ['log.col.departmentCode', 'log.col.department', 'log.col.operatorId', 'log.col.device'];
  const HEADER = ['log.col.at', 'log.col.client', 'log.col.operator', 'log.col.person', 'log.col.operation', 'log.col.purpose', 'log.col.office', 'log.col.result', 'log.col.how', 'log.col.ip'];

  return {
    async list(req: Request, res: Response) {
      const { f, query, problems, page: asked } = filterOf(req);
      let p = asked;
      const clients = await clientsFor(req);
      const byId = new Map(clients.map((c) => [c.id, c]));
      // A client outside the reader's scope is not there, as on every other page (its departments included).
      if (f.clientId && !byId.has(f.clientId)) throw new NotFound();
      const refused = Object.keys(problems).length > 0;
      let { rows, total } = refused ? { rows: [], total: 0 } : await queryLog(req.user!, f, p);
      // A page past the end (an old link, a narrower filter) shows the last page instead of nothing.
      if (!rows.length && total > 0 && p > 1) {
        p = Math.ceil(total / LOG_PAGE_SIZE);
        ({ rows, total } = await queryLog(req.user!, f, p));
      }
      const disposed = await disposalItemsOf(null, rows);
      const departmentsClient = departmentsClientOf(req, f);
      const departments = departmentsClient ? await departmentsOf(departmentsClient) : [];
      const qs = (extra: Record<string, string>) => new URLSearchParams({ ...query, ...extra }).toString();
      page(req, res, 'audit/log', {
        title: 'log.title',
        wide: true,
        clientCrumb: clientCrumb(req.user!.role, f.clientId ? byId.get(f.clientId) : null),
        rows: rows.map((e) => presentLogRow(e, req.lang, byId, disposed)),
        total, refused, errors: problems,
        filter: { ...f, client: f.clientId, department: f.departmentId, code: f.employeeCode },
        clients: clients.map((c) => ({ id: c.id, label: clientLabel(c), selected: c.id === f.clientId })),
        showClientFilter: req.user!.role !== 'client_admin',
        departments: departments.map((d) => ({ id: d.id, label: `${d.code} ${d.name}`, selected: d.id === f.departmentId })),
        results: ['allowed', 'denied', 'error'].map((r) => ({ value: r, labelKey: `log.result.${r}`, selected: r === f.result })),
        operationGroups: LOG_OPERATION_GROUPS.map((g) => ({
          labelKey: `log.opGroup.${g.key}`,
          operations: g.operations.map((o) => ({ value: o, labelKey: `op.${o}`, selected: o === f.operation })),
        })),
        sorts: LOG_SORTS.map((s) => ({ key: s, labelKey: `log.sort.${s}`, href: `/audit?${qs({ sort: s, dir: f.sort === s && f.desc ? 'asc' : 'desc', page: '1' })}`, current: f.sort === s, desc: f.desc })),
        pageOf: total > LOG_PAGE_SIZE ? { page: p, pages: Math.ceil(total / LOG_PAGE_SIZE) } : null,
        prevHref: p > 1 ? `/audit?${qs({ page: String(p - 1) })}` : null,
        nextHref: p * LOG_PAGE_SIZE < total ? `/audit?${qs({ page: String(p + 1) })}` : null,
        csvHref: refused ? null : `/audit.csv?${qs({})}`,
        csvTooMany: total > services.config.logExportMaxRows ? services.config.logExportMaxRows : null,
        pdfHref: refused ? null : `/audit.pdf?${qs({})}`,
      }, refused ? 400 : 200);
    },

    async csv(req: Request, res: Response) {
      const { rows, events } = await download(req, 'csv');
      // The CSV is the whole record: besides the page's columns, the person's department, the operator's id, the device.
      const departments = await departmentsOfTargets(events);
      const body = toCsv([...HEADER, ...CSV_MORE].map((k) => t(req, k)), rows.map((r, i) => {
        const e = events[i]!;
        const dept = e.targetId ? departments.get(e.targetId) : undefined;
        return [r.at, r.client, r.operator, r.person, r.operation, r.purpose, r.office, r.result, r.how, r.ip, dept?.code ?? '', dept?.name ?? '', e.actorId ?? '', e.userAgent ?? ''];
      }));
      res.status(200).set({ 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': 'attachment; filename="access-log.csv"', 'Cache-Control': 'no-store' }).send(body);
    },

    async pdf(req: Request, res: Response) {
      const { rows, f, byId, total } = await download(req, 'pdf');
      const conditions = await conditionsOf(req, f, byId, rows.length, total);
      const pdf = await services.renderLogPdf(HEADER.map((k) => t(req, k)), rows.map((r) => [r.at, r.client, r.operator, r.person, r.operation, r.purpose, r.office, r.result, r.how, r.ip]), conditions, req.lang);
      res.status(200).set({ 'Content-Type': 'application/pdf', 'Content-Disposition': 'attachment; filename="access-log.pdf"', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' }).send(Buffer.from(pdf));
    },
  };
}
