import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { flash, page } from '../render';
import { parseForm } from '../forms';
import { BadRequest } from '../../errors';
import { REPORT_FREQUENCIES, type AccessReport, type Client } from '../../db/models';
import { parsePeriod, periodLabel } from '../../reports/periods';
import { formatBytes, formatDateTime } from '../../presenters/format';
import { clientCrumb, presentClient } from '../../presenters/client';
import type { Lang } from '../../i18n';

const scheduleForm = z.object({
  frequency: z.enum(REPORT_FREQUENCIES, { message: 'form.invalid' }),
  recipients: z.string().max(2000).optional().transform((v) => (v ?? '').split(/[\s,、]+/).map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.email({ message: 'form.email' })).max(20, 'form.tooLong')),
});

function presentReport(r: AccessReport, lang: Lang) {
  const period = parsePeriod(r.period)!;
  return {
    id: r.id, period: periodLabel(period, lang), range: `${r.periodStart} – ${r.periodEnd}`, events: r.events ?? 0,
    size: formatBytes(r.size ?? 0), builtAt: formatDateTime(r.finishedAt, lang), headHash: r.headHash ?? '', headSeq: r.headSeq ?? 0,
  };
}

/** 取扱状況報告書: the list (client admin: their own; the firm: a client it may see), the download, the schedule. */
export function reportHandlers(services: Services) {
  const { reports } = services;

  const clientFor = (req: Request) => services.clients.getFor(req.user!, req.user!.role === 'client_admin' ? req.user!.clientId! : String(req.query.client ?? req.params.clientId ?? ''));

  /** The list, also when a refused schedule comes back to it (the reason beside the field, what was typed kept). */
  async function showList(req: Request, res: Response, client: Client, extra: { scheduleErrors?: Record<string, string>; typed?: { frequency: string; recipients: string } } = {}, status = 200) {
    const schedule = await reports.scheduleOf(client.id);
    const frequency = extra.typed?.frequency ?? schedule.frequency;
    page(req, res, 'reports/list', {
      title: 'reports.title',
      client: presentClient(client),
      clientCrumb: clientCrumb(req.user!.role, client),
      reports: (await reports.list(client.id)).map((r) => presentReport(r, req.lang)),
      frequencyKey: `reports.frequency.${schedule.frequency}`,
      canSchedule: req.user!.role === 'firm_admin',
      // The firm's links name the client; a client admin's need not.
      firmView: req.user!.role !== 'client_admin',
      frequencies: REPORT_FREQUENCIES.map((f) => ({ value: f, labelKey: `reports.frequency.${f}`, selected: f === frequency })),
      recipients: extra.typed?.recipients ?? (schedule.recipients ?? []).join(', '),
      scheduleErrors: extra.scheduleErrors ?? {},
    }, status);
  }

  return {
    async list(req: Request, res: Response) {
      // The firm picks the client first (its page links here with ?client=).
      if (req.user!.role !== 'client_admin' && !req.query.client) return res.redirect(303, '/firm/clients');
      await showList(req, res, await clientFor(req));
    },

    async download(req: Request, res: Response) {
      const client = await clientFor(req);
      const report = await reports.get(client.id, String(req.params.reportId));
      const pdf = await reports.download(actorOf(req), report);
      res.status(200).set({
        'Content-Type': 'application/pdf',
        'Content-Disposition': `attachment; filename="access-report-${client.code}-${report.period}.pdf"`,
        'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff',
      }).send(pdf);
    },

    async schedule(req: Request, res: Response) {
      const client = await services.clients.getFor(req.user!, String(req.params.clientId));
      const f = parseForm(scheduleForm, req.body);
      if (!f.ok) {
        const body = (req.body ?? {}) as Record<string, unknown>;
        const typed = { frequency: String(body.frequency ?? ''), recipients: typeof body.recipients === 'string' ? body.recipients.slice(0, 2000) : '' };
        // zod names the bad entry's index (recipients.1): the message goes beside the recipients field.
        const errors = Object.fromEntries(Object.entries(f.errors).map(([k, v]) => [k.split('.')[0]!, v]));
        return showList(req, res, client, { scheduleErrors: errors, typed }, 400);
      }
      await reports.setSchedule(actorOf(req), client.id, f.data.frequency, f.data.recipients.length ? f.data.recipients : null);
      flash(req, 'ok', 'reports.scheduleSaved');
      res.redirect(303, `/reports?client=${client.id}`);
    },
  };
}
