import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { ReportService } from '../reports/report-service';
import type { Period } from '../reports/periods';
import type { MailOutbox } from '../mail/outbox';
import type { DisposalService } from '../disposal/disposal-service';
import type { ErasureLedger } from '../disposal/erasure-ledger';
import type { LoginThrottle } from '../auth/login-throttle';

/**
 * The portal's timed jobs, in its own process. Each is safe on several instances at once: a report
 * is claimed by inserting its row, a queued mail by a conditional update. `protect` keeps one
 * instance from overlapping itself when a run is slow.
 */
export class Scheduler {
  private jobs: Cron[] = [];

  constructor(private readonly d: { reports: ReportService; outbox: MailOutbox; disposal: DisposalService; ledger: ErasureLedger; throttle: LoginThrottle; logger: Logger }) {}

  start(opts: { reportCron?: string; reportRetryCron?: string; outboxCron?: string } = {}): void {
    const run = (name: string, fn: () => Promise<unknown>) => async () => {
      try {
        await fn();
      } catch (err) {
        this.d.logger.error({ job: name, err: { message: (err as Error).message } }, 'scheduled job failed');
      }
    };
    // Access reports: the 1st of each month at 06:00 Japan time (reportCron), for the month (or
    // quarter, or year) just ended. The job runs every 5 minutes: a period nobody has started waits
    // for that moment, while a build that failed (storage full, the database gone) is retried once
    // its back-off has passed and a claim a killed process left is taken over once stale, within
    // minutes rather than at next month's run. Each build is still claimed in the database, so
    // several instances build each period once.
    const reportSchedule = new Cron(opts.reportCron ?? '0 6 1 * *', { timezone: 'Asia/Tokyo', paused: true });
    const scheduledAt = (p: Period) => reportSchedule.nextRun(new Date(p.end.getTime() - 1));
    // One report run at a time in this process (the start-up run may still be going at the first round).
    let reportRun: Promise<unknown> | null = null;
    const reportsOnce = (fn: () => Promise<unknown>) => () => {
      if (reportRun) return reportRun;
      reportRun = fn().finally(() => { reportRun = null; });
      return reportRun;
    };
    this.jobs.push(new Cron(opts.reportRetryCron ?? '*/5 * * * *', { protect: true },
      run('access-reports', reportsOnce(() => this.d.reports.runDue(new Date(), { scheduledAt })))));
    this.jobs.push(new Cron(opts.outboxCron ?? '*/30 * * * * *', { protect: true }, run('mail-outbox', () => this.d.outbox.deliverDue())));
    // Approved disposals a killed process left unfinished are resumed at start and every 5 minutes,
    // and whatever a restored backup brought back of finished ones is erased again.
    const disposals = run('disposals', async () => { await this.d.ledger.reapply(); await this.d.disposal.resumeAll(); });
    this.jobs.push(new Cron('*/5 * * * *', { protect: true }, disposals));
    void disposals();
    // Due items of clients that allowed it, every day at 02:00 Japan time.
    this.jobs.push(new Cron('0 2 * * *', { timezone: 'Asia/Tokyo', protect: true }, run('auto-disposal', () => this.d.disposal.runAutomatic())));
    // Expired sign-in failure counters (any instance may sweep; deleting dead rows twice is harmless).
    this.jobs.push(new Cron('*/10 * * * *', { protect: true }, run('sign-in-counters', () => this.d.throttle.sweepExpired())));
    // Periods missed while the portal was down are caught up at start.
    void run('access-reports', reportsOnce(() => this.d.reports.runDue()))().then(() => this.d.logger.info('access reports: start-up run finished'));
  }

  stop(): void {
    for (const j of this.jobs) j.stop();
    this.jobs = [];
  }
}
