import { hostname } from 'node:os';
import { Op, UniqueConstraintError } from 'sequelize';
import type { Logger } from 'pino';
import type { AuditLog, ActorContext } from '../audit';
import type { ClientKeys } from '../clients/client-keys';
import type { Config } from '../config';
import { ObjectNotFound, type StorageAdapter } from '../../storage-adapters';
import type { MailOutbox } from '../mail/outbox';
import { AccessReport, Client, ReportSchedule, User, type ReportFrequency } from '../db/models';
import { BadRequest, NotFound } from '../errors';
import { translate, isLang, DEFAULT_LANG } from '../i18n';
import { openSealed, readAll, sealedOf, storeSealed } from '../files/sealed-object';
import { collectReportData, type ReportData } from './report-data';
import { duePeriods, periodLabel, type Period } from './periods';

/** A claim older than this belongs to a process that died mid-build: another may take it over. */
const STALE_CLAIM_MS = 10 * 60_000;
const INSTANCE = `${hostname()}:${process.pid}`;

export type RenderReport = (data: ReportData) => Promise<Uint8Array>;

/**
 * 取扱状況報告書: one report per client and period, built once however many instances run the
 * schedule (the row insert is the claim), stored sealed under the client's key, announced by a
 * queued mail with a link and nothing personal.
 */
export class ReportService {
  constructor(private readonly d: {
    audit: AuditLog; clientKeys: ClientKeys; storage: StorageAdapter; outbox: MailOutbox;
    logger: Logger; config: Pick<Config, 'publicUrl'>; render: RenderReport;
  }) {}

  async scheduleOf(clientId: string): Promise<{ frequency: ReportFrequency; recipients: string[] | null }> {
    const s = await ReportSchedule.findByPk(clientId);
    return { frequency: s?.frequency ?? 'monthly', recipients: s?.recipients ? s.recipients.split(',').filter(Boolean) : null };
  }

  async setSchedule(ctx: ActorContext, clientId: string, frequency: ReportFrequency, recipients: string[] | null): Promise<void> {
    await this.d.audit.transaction(async (tx) => {
      await ReportSchedule.upsert({ clientId, frequency, recipients: recipients?.length ? recipients.join(',') : null }, { transaction: tx });
      await this.d.audit.record(tx, ctx, { operation: 'report.schedule', result: 'allowed', clientId, detail: `${frequency} ${recipients?.length ?? 0} recipients` });
    });
  }

  /** Builds every report that is due and not yet built (catching up missed periods); returns how many this instance built. */
  async runDue(now = new Date()): Promise<number> {
    let built = 0;
    for (const client of await Client.findAll({ order: [['code', 'ASC']] })) {
      const { frequency } = await this.scheduleOf(client.id);
      for (const period of duePeriods(frequency, now, client.createdAt).reverse()) {
        try {
          if (await this.build(client.id, period, now)) built++;
        } catch (err) {
          this.d.logger.error({ clientId: client.id, period: period.key, err: { message: (err as Error).message } }, 'access report failed');
        }
      }
    }
    return built;
  }

  /**
   * Claims (client, period) and builds its report. False when another instance holds a live claim
   * or the report exists. A claim left by a process that died is taken over once it is stale.
   */
  async build(clientId: string, period: Period, now = new Date(), channel = 'job:access-report'): Promise<boolean> {
    // A report is issued once per (client, period) and never rebuilt: one made mid-period would stand
    // for the whole period with what it had seen so far.
    if (period.end.getTime() > now.getTime()) throw new BadRequest('report.periodNotOver');
    let report: AccessReport;
    try {
      report = await AccessReport.create({
        clientId, period: period.key, periodStart: period.startDate, periodEnd: period.endDate, status: 'building',
        objectId: null, keyVersion: null, wrappedKey: null, sha256: null, size: null, events: null, headSeq: null, headHash: null,
        claimedBy: INSTANCE, claimedAt: now, finishedAt: null, error: null,
      });
    } catch (err) {
      if (!(err instanceof UniqueConstraintError)) throw err;
      const [taken] = await AccessReport.update({ claimedBy: INSTANCE, claimedAt: now }, {
        where: { clientId, period: period.key, status: { [Op.ne]: 'ready' }, claimedAt: { [Op.lt]: new Date(now.getTime() - STALE_CLAIM_MS) } },
      });
      if (taken !== 1) return false;
      report = (await AccessReport.findOne({ where: { clientId, period: period.key } }))!;
    }
    const data = await collectReportData(clientId, period);
    const pdf = await this.d.render(data);
    const sealed = await storeSealed(this.d, clientId, 'report', report.id, pdf);
    const ctx: ActorContext = { actorId: null, actorName: 'system', actorRole: 'system', ip: null, userAgent: null, channel };
    const recipients = await this.recipients(clientId);
    const client = (await Client.findByPk(clientId))!;
    await this.d.audit.transaction(async (tx) => {
      const [updated] = await AccessReport.update({
        status: 'ready', ...sealed, events: data.rows.length, headSeq: data.head?.seq ?? 0, headHash: data.head?.hash ?? null, finishedAt: new Date(), error: null,
      }, { where: { id: report.id, claimedBy: INSTANCE, status: { [Op.ne]: 'ready' } }, transaction: tx });
      if (updated !== 1) throw new Error('report claim was lost');
      await this.d.audit.record(tx, ctx, { operation: 'report.build', result: 'allowed', clientId, targetKind: 'report', targetId: report.id, targetLabel: period.key, detail: `${data.rows.length} events` });
      for (const r of recipients) {
        await this.d.outbox.enqueue({
          dedupeKey: `report:${report.id}:${r.email}`,
          to: r.email,
          subject: translate(r.lang, 'mail.reportReady.subject', { period: periodLabel(period, r.lang) }),
          text: translate(r.lang, 'mail.reportReady.body', { client: client.name, period: periodLabel(period, r.lang), link: `${this.d.config.publicUrl}/reports` }),
        }, tx);
      }
    }).catch(async (err: unknown) => {
      // The row did not land: the object is removed (the sweeper catches it otherwise).
      await this.d.storage.delete(sealed.objectId).catch(() => {});
      throw err;
    });
    return true;
  }

  /** The schedule's addresses, else the client's enabled admins, each with their language. */
  private async recipients(clientId: string): Promise<{ email: string; lang: 'ja' | 'en' }[]> {
    const { recipients } = await this.scheduleOf(clientId);
    const admins = await User.findAll({ where: { clientId, role: 'client_admin', disabledAt: null } });
    if (recipients) {
      return recipients.map((email) => {
        const u = admins.find((a) => a.email === email);
        return { email, lang: isLang(u?.lang) ? u!.lang as 'ja' | 'en' : DEFAULT_LANG };
      });
    }
    return admins.filter((a) => a.passwordHash).map((a) => ({ email: a.email, lang: isLang(a.lang) ? a.lang as 'ja' | 'en' : DEFAULT_LANG }));
  }

  async list(clientId: string): Promise<AccessReport[]> {
    return AccessReport.findAll({ where: { clientId, status: 'ready' }, order: [['periodStart', 'DESC']] });
  }

  async get(clientId: string, reportId: string): Promise<AccessReport> {
    const r = /^[0-9a-f-]{36}$/i.test(reportId) ? await AccessReport.findOne({ where: { id: reportId, clientId, status: 'ready' } }) : null;
    if (!r) throw new NotFound();
    return r;
  }

  /** The PDF's bytes; the download is an audit row first (no row, no download). */
  async download(ctx: ActorContext, report: AccessReport): Promise<Buffer> {
    await this.d.audit.recordAlone(ctx, { operation: 'report.download', result: 'allowed', clientId: report.clientId, targetKind: 'report', targetId: report.id, targetLabel: report.period });
    return this.read(report);
  }

  async read(report: AccessReport): Promise<Buffer> {
    try {
      return await readAll(await openSealed(this.d, report.clientId, 'report', report.id, sealedOf(report)));
    } catch (err) {
      // A key rotation moved the PDF to a new object since the row was read: read it there.
      const moved = err instanceof ObjectNotFound ? await AccessReport.findOne({ where: { id: report.id, status: 'ready' } }) : null;
      if (!moved?.objectId || moved.objectId === report.objectId) throw err;
      return readAll(await openSealed(this.d, report.clientId, 'report', report.id, sealedOf(moved)));
    }
  }
}
