import type { Sequelize } from 'sequelize';
import type { Logger } from 'pino';
import type { Config } from './config';
import { AuditLog } from './audit';
import type { Keys } from './crypto/keys';
import { createMailer, type Mailer } from './mail/mailer';
import { LoginThrottle, databaseCounters } from './auth/login-throttle';
import { AccountService } from './accounts/account-service';
import { SetupService } from './accounts/setup-service';
import { StaffService } from './accounts/staff-service';
import { ClientKeys } from './clients/client-keys';
import { ClientService } from './clients/client-service';
import { FileService } from './files/file-service';
import { FileSweeper } from './files/sweeper';
import { PeopleService } from './vault/people-service';
import { VaultService } from './vault/vault-service';
import { VaultLinks } from './vault/links';
import { ApiTokens } from './vault/api-tokens';
import { MailOutbox } from './mail/outbox';
import { NumberReminders } from './vault/reminders';
import { ReportService } from './reports/report-service';
import { PdfService } from './reports/pdf-service';
import { Scheduler } from './jobs/scheduler';
import { ErasureLedger } from './disposal/erasure-ledger';
import { PasskeyService } from './auth/passkeys';
import { DisposalService } from './disposal/disposal-service';
import type { Lang } from './i18n';
import type { StorageAdapter } from '../storage-adapters';

export interface Services {
  config: Config;
  sequelize: Sequelize;
  keys: Keys;
  logger: Logger;
  mailer: Mailer;
  audit: AuditLog;
  accounts: AccountService;
  setup: SetupService;
  staff: StaffService;
  clientKeys: ClientKeys;
  clients: ClientService;
  storage: StorageAdapter;
  files: FileService;
  sweeper: FileSweeper;
  people: PeopleService;
  vault: VaultService;
  vaultLinks: VaultLinks;
  reminders: NumberReminders;
  apiTokens: ApiTokens;
  outbox: MailOutbox;
  pdf: PdfService;
  reports: ReportService;
  scheduler: Scheduler;
  erasureLedger: ErasureLedger;
  passkeys: PasskeyService;
  disposal: DisposalService;
  renderLogPdf(header: string[], rows: string[][], conditions: [string, string][], lang: Lang): Promise<Uint8Array>;
  loginThrottle: LoginThrottle;
}

/** Wires the real services together; tests may pass their own mailer. */
export function createServices(d: { config: Config; sequelize: Sequelize; keys: Keys; logger: Logger; storage: StorageAdapter; mailer?: Mailer }): Services {
  const mailer = d.mailer ?? createMailer(d.config);
  const audit = new AuditLog(d.sequelize, { checkLockOrder: d.config.env === 'test' });
  const loginThrottle = new LoginThrottle(databaseCounters(d.sequelize, d.config));
  const outbox = new MailOutbox({ mailer, logger: d.logger, ring: () => d.keys.ring() });
  const accounts = new AccountService({ audit, keys: d.keys, mailer, outbox, throttle: loginThrottle, config: d.config });
  const clientKeys = new ClientKeys(d.keys);
  const pdf = new PdfService({ keys: d.keys, config: d.config });
  const reports = new ReportService({
    audit, clientKeys, storage: d.storage, outbox, logger: d.logger, config: d.config,
    render: (data) => pdf.accessReport(data),
  });
  const erasureLedger = new ErasureLedger({ storage: d.storage, keys: d.keys, audit, logger: d.logger });
  const disposal = new DisposalService({
    audit, clientKeys, storage: d.storage, outbox, logger: d.logger, config: d.config,
    firmName: () => pdf.firmName(), renderCertificate: (data) => pdf.certificate(data), ledger: erasureLedger,
  });
  const vault = new VaultService({ sequelize: d.sequelize, audit, clientKeys, outbox, logger: d.logger, config: d.config });
  return {
    ...d,
    mailer,
    audit,
    loginThrottle,
    accounts,
    setup: new SetupService({ audit }),
    staff: new StaffService({ accounts }),
    clientKeys,
    clients: new ClientService({ audit, clientKeys, accounts }),
    files: new FileService({ sequelize: d.sequelize, audit, storage: d.storage, clientKeys, outbox, logger: d.logger, config: d.config, guard: vault.guard }),
    sweeper: new FileSweeper({ storage: d.storage, logger: d.logger, ageMs: d.config.sweepAfterMinutes * 60_000 }),
    people: new PeopleService({ audit, outbox, logger: d.logger }),
    vault,
    vaultLinks: new VaultLinks({ audit, keys: d.keys, mailer, vault, config: d.config }),
    reminders: new NumberReminders({ audit, outbox, logger: d.logger, config: d.config, countByStatus: (id) => vault.countByStatus(id), firmName: () => pdf.firmName() }),
    apiTokens: new ApiTokens({ audit }),
    outbox,
    pdf,
    reports,
    erasureLedger,
    passkeys: new PasskeyService({ audit, config: d.config }),
    scheduler: new Scheduler({ reports, outbox, disposal, ledger: erasureLedger, throttle: loginThrottle, logger: d.logger }),
    disposal,
    renderLogPdf: (header, rows, conditions, lang) => pdf.logTable(header, rows, conditions, lang),
  };
}
