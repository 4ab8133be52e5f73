import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import dotenv from 'dotenv';
import type { Sequelize } from 'sequelize';
import { loadConfig, type Config } from './config';
import { openDatabase } from './db/database';
import { migrate } from './db/migrate';
import { initModels } from './db/models';
import { Keys } from './crypto/keys';
import { createServices, type Services } from './services';
import type { Mailer } from './mail/mailer';
import { createStorage, type StorageAdapter } from '../storage-adapters';

/** Reads .env (if any) and the environment, validated; exits with one line per problem. */
export function configFromEnvironment(): Config {
  dotenv.config({ quiet: true });
  return loadConfig(process.env);
}

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({
    level: config.logLevel,
    // Belt and braces: these never belong in a log line, whatever a caller passes.
    redact: { paths: ['password', '*.password', 'token', '*.token', 'code', '*.code', 'secret', '*.secret', 'cookie', '*.cookie', 'headers', '*.headers'], censor: '[redacted]' },
  });
}

export interface Booted {
  services: Services;
  sequelize: Sequelize;
  sessionSecret: Buffer;
  close(): Promise<void>;
}

/** config → database → migrations → keys → services: shared by the server, the CLI, the demo and the tests. */
export async function boot(config: Config, opts: { logger?: Logger; mailer?: Mailer; storage?: StorageAdapter } = {}): Promise<Booted> {
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const sequelize = await openDatabase(config);
  initModels(sequelize);
  await migrate(sequelize);
  const keys = await Keys.open(config);
  const logger = opts.logger ?? createLogger(config);
  const storage = opts.storage ?? createStorage(config);
  const services = createServices({ config, sequelize, keys, logger, storage, mailer: opts.mailer });
  // Mail queued by an older version kept its text as written (an invitation's link): sealed now.
  if (!keys.sealed) await services.outbox.sealPlainBodies().catch((err: unknown) => logger.error({ err: { message: (err as Error).message } }, 'queued mail texts could not be sealed at start; tried again at the next start'));
  // Before anything is served or read: a restored backup must not bring back what was disposed of.
  await services.erasureLedger.reapply().catch((err: unknown) => logger.error({ err: { message: (err as Error).message } }, 'erasure ledger could not be read at start; retried every 5 minutes'));
  // Derived from the master key so all instances agree; while sealed nobody can sign in anyway.
  const sessionSecret = keys.sealed ? randomBytes(32) : keys.ring().derive('session-cookie');
  return {
    services, sequelize, sessionSecret,
    close: async () => {
      services.sweeper.stop();
      services.scheduler.stop();
      await services.loginThrottle.close();
      await sequelize.close();
    },
  };
}

export function sealMessage(keys: Keys, config: Config): string {
  const why = {
    missing: `the master key file ${config.masterKeyFile} does not exist`,
    unreadable: `the master key file ${config.masterKeyFile} cannot be read or is not 64 hex digits`,
    'wrong-key': `the master key in ${config.masterKeyFile} is not the key this database was encrypted with`,
    'check-missing': `the database holds encrypted data but its key-check value (table key_check) is gone, so no key can be trusted; restore that row from a backup`,
  }[keys.sealReason!];
  return `SEALED: ${why}. Pages that need keys answer 503 and nothing is written until the right key is in place and the portal restarts.`;
}
