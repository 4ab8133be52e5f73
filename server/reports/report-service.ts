import { randomBytes } from 'node:crypto';
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
import { maskNumberRuns } from '../vault/my-number';
import { openSealed, readAll, sealedOf, storeSealed } from '../files/sealed-object';
import { readOrLogFailure } from '../files/unreadable';
import { collectReportData, type ReportData } from './report-data';
import { duePeriods, periodLabel, type Period } from './periods';

/**
 * A claim not renewed for this long belongs to a process that died mid-build: another may take it
 * over. A live build renews its claim three times within it, however long it takes.
 */
const STALE_CLAIM_MS = 10 * 60_000;
const INSTANCE = `${hostname().slice(0, 40)}:${process.pid}`;

/**
 * How long a report whose build failed (or was abandoned) `attempts` times waits before the next
 * try: 2, 4, 8 … minutes, at most 6 hours, so storage that stays full is not hammered every few
 * minutes while a passing fault is retried by the next scheduler round.
 */
export function retryDelayMs(attempts: number): number {
  return attempts <= 0 ? 0 : Math.min(6 * 3600_000, 2 * 60_000 * 2 ** (attempts - 1));
}

/**
 * The row has no column of its own for the tries: a failed or abandoned build is recorded in
 * `error` as "attempt N: what went wrong", N counting the builds that did not finish.
 */
export function attemptsOf(error: string | null): number {
  return Number(/^attempt (\d+):/.exec(error ?? '')?.[1] ?? 0);
}
const attemptRecord = (attempts: number, what: string) => `attempt ${attempts}: ${what}`.slice(0, 300);

/** What went wrong, for the row and the server log: the error's code and message, with no address or number in it. */
function describeError(err: unknown): { code: string | null; message: string } {
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : null;
  const raw = typeof e?.message === 'string' ? e.message : String(err);
  const message = maskNumberRuns(raw.replace(/[^\s@'"<>(),;:]+@[^\s@'"<>(),;:]+/g, '<address>')).slice(0, 200);
  return { code, message: code && !message.startsWith(code) ? `${code}: ${message}` : message };
}

/** Failures the build has logged itself (runDue does not log them again). */
const logged = new WeakSet<object>();

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
    /** Tests shorten it; STALE_CLAIM_MS otherwise. */
    staleClaimMs?: number;
  }) {}

  private get staleClaimMs(): number {
    return this.d.staleClaimMs ?? STALE_CLAIM_MS;
  }

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

  /**
   * Builds every report that is due and not yet built (catching up missed periods), and retries
   * those whose build failed once their back-off has passed or whose claim a stopped process left
   * stale; returns how many this instance built. With `scheduledAt`, a period nobody has started
   * yet waits for its scheduled moment (the monthly job's time), so the scheduler may call this
   * every few minutes; without it (start-up, the CLI) everything finished is due.
   */
  async runDue(now = new Date(), opts: { scheduledAt?: (period: Period) => Date | null } = {}): Promise<number> {
    // The run's clock moves on with real time, so a claim made late in a long run is not already stale.
    const t0 = Date.now();
    const clock = () => new Date(now.getTime() + Math.max(0, Date.now() - t0));
    const clients = await Client.findAll({ order: [['code', 'ASC']] });
    const frequencies = new Map((await ReportSchedule.findAll({ attributes: ['clientId', 'frequency'] })).map((s) => [s.clientId, s.frequency]));
    const due = clients.map((client) => ({ client, periods: duePeriods(frequencies.get(client.id) ?? 'monthly', now, client.createdAt).reverse() }));
    const keys = [...new Set(due.flatMap((d) => d.periods.map((p) => p.key)))];
    const rows = keys.length ? await AccessReport.findAll({ where: { period: { [Op.in]: keys } }, attributes: ['clientId', 'period', 'status'] }) : [];
    const status = new Map(rows.map((r) => [`${r.clientId}|${r.period}`, r.status]));
    let built = 0;
    for (const { client, periods } of due) {
      for (const period of periods) {
        const state = status.get(`${client.id}|${period.key}`);
        if (state === 'ready') continue;
        if (state === undefined && opts.scheduledAt) {
          const at = opts.scheduledAt(period);
          if (!at || at.getTime() > now.getTime()) continue;
        }
        try {
          if (await this.build(client.id, period, clock())) built++;
        } catch (err) {
          if (!logged.has(err as object)) {
            this.d.logger.error({ clientId: client.id, period: period.key, err: describeError(err) }, 'access report failed');
          }
        }
      }
    }
    return built;
  }

  /**
   * Claims (client, period) and builds its report. False when another instance holds a live claim,
   * the report exists, or its last build failed and the back-off has not passed (an operator's run,
   * any channel but a job's, retries at once). A claim left by a
   * process that died is taken over once it is stale. A build that fails gives its claim up as
   * 'failed' with the try counted, so the scheduler's next round after the back-off retries it.
   */
  async build(clientId: string, period: Period, now = new Date(), channel = 'job:access-report'): Promise<boolean> {
    // A report is issued once per (client, period) and never rebuilt: one made mid-period would stand
    // for the whole period with what it had seen so far.
    if (period.end.getTime() > now.getTime()) throw new BadRequest('report.periodNotOver');
    const t0 = Date.now();
    // An operator's run (the CLI) retries a failed build at once; the scheduled job waits for its back-off.
    const claim = await this.claim(clientId, period, now, !channel.startsWith('job:'));
    if (!claim) return false;
    const clock = () => new Date(now.getTime() + Math.max(0, Date.now() - t0));
    const stopRenewing = this.keepClaimed(claim.report, claim.token, period, clock);
    try {
      await this.produce(claim.report, claim.token, period, channel);
      return true;
    } catch (err) {
      stopRenewing();
      await this.release(claim.report, claim.token, period, clock(), err);
      throw err;
    } finally {
      stopRenewing();
    }
  }

  /**
   * Renews the claim while the build runs, so a long build (a client with a very busy month) is
   * not taken for a dead one and built a second time by another instance. Returns the stop.
   */
  private keepClaimed(report: AccessReport, token: string, period: Period, clock: () => Date): () => void {
    let renewing: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      renewing = renewing.then(async () => {
        const [kept] = await AccessReport.update({ claimedAt: clock() }, { where: { id: report.id, claimedBy: token, status: 'building' } });
        if (kept !== 1) {
          clearInterval(timer);
          this.d.logger.warn({ clientId: report.clientId, period: period.key }, 'access report build lost its claim while working (it will not be stored twice)');
        }
      }).catch((err: unknown) => {
        // A passing database fault: the next renewal tries again; the claim only goes stale if they all fail.
        this.d.logger.warn({ clientId: report.clientId, period: period.key, err: describeError(err) }, 'access report claim could not be renewed');
      });
    }, Math.max(50, Math.floor(this.staleClaimMs / 3)));
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * The claim: inserting the row, or taking over one whose build failed (past its back-off) or was
   * left by a process that stopped (its claim stale). Each is a conditional write only one
   * instance can win; the token names this build, so a second build in the same process is told
   * apart too.
   */
  private async claim(clientId: string, period: Period, now: Date, retryNow: boolean): Promise<{ report: AccessReport; token: string } | null> {
    const token = `${INSTANCE}:${randomBytes(4).toString('hex')}`;
    try {
      const report = await AccessReport.create({
        clientId, period: period.key, periodStart: period.startDate, periodEnd: period.endDate, status: 'building',
        objectId: null, keyVersion: null, wrappedKey: null, sha256: null, size: null, events: null, headSeq: null, headHash: null,
        claimedBy: token, claimedAt: now, finishedAt: null, error: null,
      });
      return { report, token };
    } catch (err) {
      if (!(err instanceof UniqueConstraintError)) throw err;
    }
    const row = await AccessReport.findOne({ where: { clientId, period: period.key } });
    if (!row || row.status === 'ready') return null;
    const attempts = attemptsOf(row.error);
    // A failed build is retried after its back-off; a live claim is left alone until it is stale
    // (and, if builds keep dying, until the back-off has passed as well).
    const wait = row.status === 'failed' ? (retryNow ? 0 : retryDelayMs(attempts)) : Math.max(this.staleClaimMs, retryDelayMs(attempts));
    const before = new Date(now.getTime() - wait);
    if (row.claimedAt.getTime() > before.getTime()) return null;
    const abandoned = row.status !== 'failed';
    // A claim a stopped process left counts as a try that did not finish.
    const error = abandoned ? attemptRecord(attempts + 1, 'the build stopped unfinished (its process ended)') : row.error;
    const [taken] = await AccessReport.update({ status: 'building', claimedBy: token, claimedAt: now, error }, {
      where: { id: row.id, status: row.status, claimedBy: row.claimedBy, claimedAt: { [Op.lte]: before } },
    });
    if (taken !== 1) return null;
    if (abandoned) this.d.logger.warn({ clientId, period: period.key, attempts: attempts + 1 }, 'access report: a stale claim (a build that stopped) was taken over');
    else this.d.logger.info({ clientId, period: period.key, attempts }, 'access report: retrying a failed build');
    const report = (await AccessReport.findByPk(row.id))!;
    return { report, token };
  }

  /** A build that failed: its claim is given up as 'failed' with the try counted, and operators are told. */
  private async release(report: AccessReport, token: string, period: Period, at: Date, err: unknown): Promise<void> {
    const attempts = attemptsOf(report.error) + 1;
    const why = describeError(err);
    const retryAt = new Date(at.getTime() + retryDelayMs(attempts));
    let released = 0;
    try {
      [released] = await AccessReport.update({ status: 'failed', claimedBy: null, claimedAt: at, error: attemptRecord(attempts, why.message) }, {
        where: { id: report.id, claimedBy: token, status: 'building' },
      });
    } catch (dbErr) {
      // The database itself is gone: the claim goes stale and is taken over then.
      this.d.logger.error({ clientId: report.clientId, period: period.key, err: why, dbErr: describeError(dbErr) }, 'access report failed; its claim could not be released (it is taken over once stale)');
      if (err && typeof err === 'object') logged.add(err);
      return;
    }
    if (released === 1) {
      this.d.logger.error({ clientId: report.clientId, period: period.key, attempts, retryAt: retryAt.toISOString(), err: why }, 'access report failed; it will be retried');
    } else {
      // Another build took the claim over (this one was too slow) or finished the report.
      this.d.logger.warn({ clientId: report.clientId, period: period.key, err: why }, 'access report build gave up: its claim was taken over');
    }
    if (err && typeof err === 'object') logged.add(err);
  }

  /** Renders and stores the claimed report, and (in one transaction) marks it ready, audits it and queues its notices. */
  private async produce(report: AccessReport, token: string, period: Period, channel: string): Promise<void> {
    const clientId = report.clientId;
    const data = await collectReportData(clientId, period);
    const pdf = await this.d.render(data);
    const sealed = await storeSealed(this.d, clientId, 'report', report.id, pdf);
    const ctx: ActorContext = { actorId: null, actorName: 'system', actorRole: 'system', ip: null, userAgent: null, channel };
    const recipients = await this.recipients(clientId);
    const client = (await Client.findByPk(clientId))!;
    await this.d.audit.transaction(async (tx) => {
      const [updated] = await AccessReport.update({
        status: 'ready', ...sealed, events: data.rows.length, headSeq: data.head?.seq ?? 0, headHash: data.head?.hash ?? null, finishedAt: new Date(), error: null,
      }, { where: { id: report.id, claimedBy: token, status: 'building' }, transaction: tx });
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
    const entry = { operation: 'report.download', clientId: report.clientId, targetKind: 'report', targetId: report.id, targetLabel: report.period };
    await this.d.audit.recordAlone(ctx, { ...entry, result: 'allowed' });
    return readOrLogFailure(this.d, ctx, entry, () => this.read(report));
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
