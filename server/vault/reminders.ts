import { Op } from 'sequelize';
import type { Logger } from 'pino';
import type { AuditLog, ActorContext } from '../audit';
import type { Config } from '../config';
import type { MailOutbox } from '../mail/outbox';
import { Client, NumberRecord, User } from '../db/models';
import type { ListStatus } from './people-page';
import { translate, isLang, DEFAULT_LANG } from '../i18n';
import { japanDay } from '../domain/dates';
import { listPeople } from './people';

/**
 * 登録のお願い: a client admin asks, in one go, every employee with a portal account whose own
 * number or a dependant's is still missing. The mail names the company and links to じぶんで登録;
 * it says nothing of whose number is missing. One mail per person a day, whatever the clicks.
 */
export class NumberReminders {
  constructor(private readonly d: {
    audit: AuditLog; outbox: MailOutbox; logger: Logger; config: Pick<Config, 'publicUrl'>;
    countByStatus: (clientId: string) => Promise<Partial<Record<ListStatus, number>>>; firmName: () => Promise<string>;
  }) {}

  /**
   * The employees (their accounts) a reminder would go to now: still employed, with their own or a
   * dependant's number never registered. A number registered and since disposed of is not asked for
   * again (it was disposed of because it is no longer needed), nor is anyone's after leaving.
   */
  async due(clientId: string): Promise<User[]> {
    return (await this.accountsMissingNumbers(clientId)).filter((u) => u.passwordHash);
  }

  /** Employees who would be asked but have not taken up their invitation yet (no account to sign in with). */
  async awaitingInvitation(clientId: string): Promise<number> {
    return (await this.accountsMissingNumbers(clientId)).filter((u) => !u.passwordHash).length;
  }

  private async accountsMissingNumbers(clientId: string): Promise<User[]> {
    const people = await listPeople(clientId);
    const held = new Set((await NumberRecord.findAll({ where: { clientId }, attributes: ['personKind', 'personId'] }))
      .map((r) => `${r.personKind}:${r.personId}`));
    const today = japanDay();
    const missing = new Set<string>();
    for (const p of people) {
      if (p.kind === 'payee' || held.has(`${p.kind}:${p.id}`)) continue;
      if (p.employee?.leaveDate && p.employee.leaveDate <= today) continue;
      const userId = p.employee?.userId;
      if (userId) missing.add(userId);
    }
    if (missing.size === 0) return [];
    // A disabled account is asked nothing; due() keeps the accounts in use (an invitation not yet taken up has its own mail).
    return User.findAll({
      where: { id: { [Op.in]: [...missing] }, clientId, role: 'employee', disabledAt: null },
      order: [['email', 'ASC']],
    });
  }

  /** Queues the reminders (with one audit row): how many are asked now, and how many were asked today already. */
  async remind(ctx: ActorContext, clientId: string): Promise<{ asked: number; askedToday: number }> {
    const users = await this.due(clientId);
    if (users.length === 0) return { asked: 0, askedToday: 0 };
    const company = (await Client.findByPk(clientId))?.name ?? '';
    const link = `${this.d.config.publicUrl}/me/numbers`;
    const asked = await this.mailOnceToday(ctx, clientId, users, {
      dedupe: 'remind', subject: 'mail.numberReminder.subject', body: 'mail.numberReminder.body', params: { company, link },
      operation: 'vault.remind', detail: (n) => `${n} employees`,
    });
    return { asked, askedToday: users.length - asked };
  }

  /**
   * The firm asks the client's admins (those who can sign in) to register the numbers still missing:
   * the mail names the firm and the company, says how many, and links to the people list's 未登録
   * (where the admin can ask their employees in turn); it names no one. One mail per admin a day.
   */
  async askClient(ctx: ActorContext, clientId: string): Promise<{ missing: number; asked: number; askedToday: number }> {
    const missing = (await this.d.countByStatus(clientId)).missing ?? 0;
    if (missing === 0) return { missing, asked: 0, askedToday: 0 };
    const admins = await this.clientAdminsWhoCanSignIn(clientId);
    if (admins.length === 0) return { missing, asked: 0, askedToday: 0 };
    const [company, firm] = [(await Client.findByPk(clientId))?.name ?? '', await this.d.firmName()];
    const link = `${this.d.config.publicUrl}/client/people?status=missing#remind`;
    const asked = await this.mailOnceToday(ctx, clientId, admins, {
      dedupe: 'ask-client', subject: 'mail.askClient.subject', body: 'mail.askClient.body', params: { company, firm, count: missing, link },
      operation: 'vault.askClient', detail: (n) => `${missing} missing; ${n} client admins`,
    });
    return { missing, asked, askedToday: admins.length - asked };
  }

  /**
   * One mail to each of `users` in their language, unless they had this one today (the outbox's
   * dedupe key), and one audit row for those queued, in the same transaction (fail closed). Gives how
   * many were queued now; sending follows at once, or later from the outbox.
   */
  private async mailOnceToday(ctx: ActorContext, clientId: string, users: User[], m: {
    dedupe: string; subject: string; body: string; params: Record<string, string | number>;
    operation: 'vault.remind' | 'vault.askClient'; detail: (queued: number) => string;
  }): Promise<number> {
    const day = japanDay();
    let queued = 0;
    await this.d.audit.transaction(async (tx) => {
      for (const u of users) {
        const lang = isLang(u.lang) ? u.lang : DEFAULT_LANG;
        if (await this.d.outbox.enqueue({
          dedupeKey: `${m.dedupe}:${u.id}:${day}`, to: u.email,
          subject: translate(lang, m.subject, m.params), text: translate(lang, m.body, m.params),
        }, tx)) queued++;
      }
      if (queued) await this.d.audit.record(tx, ctx, { operation: m.operation, result: 'allowed', clientId, detail: m.detail(queued) });
    });
    if (queued) void this.d.outbox.deliverNow().catch((err: unknown) => this.d.logger.warn({ err: { message: (err as Error).message }, operation: m.operation }, 'mails queued, not sent yet'));
    return queued;
  }

  /** The client's admins the firm's request can reach: enabled, their invitation taken up. */
  async clientAdminsWhoCanSignIn(clientId: string): Promise<User[]> {
    return User.findAll({ where: { clientId, role: 'client_admin', disabledAt: null, passwordHash: { [Op.ne]: null } }, order: [['email', 'ASC']] });
  }
}
