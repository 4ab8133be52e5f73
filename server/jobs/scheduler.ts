import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { ReportService } from '../reports/report-service';
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

  start(opts: { reportCron?: string; outboxCron?: string } = {}): void {
    const run = (name: string, fn: () => Promise<unknown>) => async () => {
      try {
        await fn();
      } catch (err) {
        this.d.logger.error({ job: name, err: { message: (err as Error).message } }, 'scheduled job failed');
      }
    };
    const reports = run('access-reports', () => this.d.reports.runDue());
    // The 1st of each month at 06:00 Japan time, for the month (or quarter, or year) just ended.
    this.jobs.push(new Cron(opts.reportCron ?? '0 6 1 * *', { timezone: 'Asia/Tokyo', protect: true }, reports));
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
    void reports().then(() => this.d.logger.info('access reports: start-up run finished'));
  }

  stop(): void {
    for (const j of this.jobs) j.stop();
    this.jobs = [];
  }
}
