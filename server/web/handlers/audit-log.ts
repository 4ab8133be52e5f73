import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { page } from '../render';
import { allLogRows, LOG_PAGE_SIZE, LOG_SORTS, logScope, queryLog, type LogFilter } from '../../audit/log-query';
import { Client, type AuditEvent } from '../../db/models';
import { Op } from 'sequelize';
import { formatDateTime } from '../../presenters/format';
import { departmentsOf } from '../../vault/people';
import { toCsv } from '../../vault/csv';
import { translate, type Lang } from '../../i18n';
import { maskPersonLabel } from '../../reports/report-data';
import { operatorLabel } from '../../presenters/operator';

const UUID = /^[0-9a-f-]{36}$/i;
const text = (max: number) => z.string().trim().max(max).optional().catch(undefined).transform((v) => v || undefined);
const filterForm = z.object({
  client: z.string().regex(UUID).optional().catch(undefined),
  from: text(10), to: text(10),
  department: z.string().regex(UUID).optional().catch(undefined),
  code: text(30), name: text(100), operation: z.string().regex(/^[a-z.]{3,40}$/).optional().catch(undefined), operator: text(100),
  result: z.enum(['allowed', 'denied', 'error']).optional().catch(undefined),
  sort: z.enum(LOG_SORTS).catch('at'),
  dir: z.enum(['asc', 'desc']).catch('desc'),
  page: z.coerce.number().int().min(1).max(100_000).catch(1),
});

function filterOf(req: Request): { f: LogFilter; page: number; query: Record<string, string> } {
  const q = filterForm.parse(req.query);
  const f: LogFilter = {
    clientId: q.client, from: q.from, to: q.to, departmentId: q.department, employeeCode: q.code, name: q.name,
    operation: q.operation, operator: q.operator, result: q.result, sort: q.sort, desc: q.dir === 'desc',
  };
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries({ client: q.client, from: q.from, to: q.to, department: q.department, code: q.code, name: q.name, operation: q.operation, operator: q.operator, result: q.result, sort: q.sort, dir: q.dir })) {
    if (v) query[k] = String(v);
  }
  return { f, page: q.page, query };
}

/** A log row as the screens and downloads show it: the person's code and masked name, never a number. */
export function presentLogRow(e: AuditEvent, lang: Lang, clients: Map<string, Client>) {
  const client = e.clientId ? clients.get(e.clientId) : undefined;
  return {
    at: formatDateTime(e.at, lang),
    client: client ? `${client.code} ${client.name}` : '',
    operator: operatorLabel(e, lang),
    operatorRole: e.actorRole && e.actorRole !== 'system' ? translate(lang, `role.${e.actorRole}`) : '',
    person: e.targetKind === 'employee' || e.targetKind === 'dependant' || e.targetKind === 'payee' ? maskPersonLabel(e.targetLabel) : (e.targetLabel ?? ''),
    operation: translate(lang, `op.${e.operation}`),
    purpose: e.purpose ? translate(lang, `purpose.${e.purpose}`) : '',
    office: e.office ? translate(lang, `office.${e.office}`) : '',
    result: translate(lang, `log.result.${e.result}`),
    denied: e.result !== 'allowed',
    how: e.channel.startsWith('api:') ? 'API' : e.channel.startsWith('job:') || e.channel.startsWith('cli:') ? translate(lang, 'log.how.system') : translate(lang, 'log.how.screen'),
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

  async function download(req: Request, format: 'csv' | 'pdf') {
    const { f } = filterOf(req);
    const clients = await clientsFor(req);
    const byId = new Map(clients.map((c) => [c.id, c]));
    const rows: ReturnType<typeof presentLogRow>[] = [];
    // A PDF is laid out in the request (pdf-lib blocks while it works): it holds the first 10,000 rows, the CSV all.
    for await (const e of allLogRows(req.user!, f, format === 'pdf' ? 10_000 : 100_000)) rows.push(presentLogRow(e, req.lang, byId));
    await services.audit.recordAlone(actorOf(req), {
      operation: `log.export.${format}`, result: 'allowed', clientId: f.clientId ?? (req.user!.role === 'client_admin' ? req.user!.clientId : null), detail: `${rows.length} rows`,
    });
    return rows;
  }

  const t = (req: Request, k: string) => translate(req.lang, k);
  const HEADER = ['log.col.at', 'log.col.client', 'log.col.operator', 'log.col.person', 'log.col.operation', 'log.col.purpose', 'log.col.office', 'log.col.result', 'log.col.how', 'log.col.ip'];

  return {
    async list(req: Request, res: Response) {
      const { f, page: p, query } = filterOf(req);
      const clients = await clientsFor(req);
      const byId = new Map(clients.map((c) => [c.id, c]));
      const { rows, total } = await queryLog(req.user!, f, p);
      const departments = f.clientId ? await departmentsOf(f.clientId) : [];
      const qs = (extra: Record<string, string>) => new URLSearchParams({ ...query, ...extra }).toString();
      page(req, res, 'audit/log', {
        title: 'log.title',
        rows: rows.map((e) => presentLogRow(e, req.lang, byId)),
        total, filter: { ...f, client: f.clientId, department: f.departmentId, code: f.employeeCode },
        clients: clients.map((c) => ({ id: c.id, label: `${c.code} ${c.name}`, selected: c.id === f.clientId })),
        showClientFilter: req.user!.role !== 'client_admin',
        departments: departments.map((d) => ({ id: d.id, label: `${d.code} ${d.name}`, selected: d.id === f.departmentId })),
        results: ['allowed', 'denied', 'error'].map((r) => ({ value: r, labelKey: `log.result.${r}`, selected: r === f.result })),
        operations: LOG_OPERATIONS.map((o) => ({ value: o, labelKey: `op.${o}`, selected: o === f.operation })),
        sorts: LOG_SORTS.map((s) => ({ key: s, labelKey: `log.sort.${s}`, href: `/audit?${qs({ sort: s, dir: f.sort === s && f.desc ? 'asc' : 'desc', page: '1' })}`, current: f.sort === s, desc: f.desc })),
        prevHref: p > 1 ? `/audit?${qs({ page: String(p - 1) })}` : null,
        nextHref: p * LOG_PAGE_SIZE < total ? `/audit?${qs({ page: String(p + 1) })}` : null,
        csvHref: `/audit.csv?${qs({})}`,
        pdfHref: `/audit.pdf?${qs({})}`,
      });
    },

    async csv(req: Request, res: Response) {
      const rows = await download(req, 'csv');
      const body = toCsv(HEADER.map((k) => t(req, k)), rows.map((r) => [r.at, r.client, r.operator, r.person, r.operation, r.purpose, r.office, r.result, r.how, r.ip]));
      res.status(200).set({ 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': 'attachment; filename="access-log.csv"', 'Cache-Control': 'no-store' }).send(body);
    },

    async pdf(req: Request, res: Response) {
      const rows = await download(req, 'pdf');
      const pdf = await services.renderLogPdf(HEADER.map((k) => t(req, k)), rows.map((r) => [r.at, r.client, r.operator, r.person, r.operation, r.purpose, r.office, r.result, r.how, r.ip]), req.lang);
      res.status(200).set({ 'Content-Type': 'application/pdf', 'Content-Disposition': 'attachment; filename="access-log.pdf"', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' }).send(Buffer.from(pdf));
    },
  };
}

/** The operations people filter by (the rest are still shown, and reachable by other filters). */
export const LOG_OPERATIONS = [
  'vault.reveal', 'vault.print', 'vault.export', 'vault.api.read', 'vault.check', 'vault.register.self', 'vault.register.proxy',
  'vault.register.link', 'vault.register.import', 'vault.update', 'vault.confirm.person', 'vault.confirm.admin', 'vault.burst',
  'file.upload', 'file.download', 'file.delete', 'report.download', 'log.export.csv', 'log.export.pdf',
];
