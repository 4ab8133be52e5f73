import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freshMysqlDatabase } from '../../scripts/support/fresh-mysql';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../../server/config';
import { boot, type Booted } from '../../server/boot';
import { createApp, type PortalApp } from '../../server/app';
import type { StorageAdapter } from '../../storage-adapters';
import { TestSmtp } from './smtp';

/** The suites run on SQLite by default and on MySQL/MariaDB when DATABASE_URL is set (a fresh database per harness). */
export const TEST_DATABASE_URL = process.env.DATABASE_URL || null;
export const dialectName = TEST_DATABASE_URL ? 'mysql' : 'sqlite';

export interface Harness {
  config: Config;
  booted: Booted;
  portal: PortalApp;
  smtp: TestSmtp;
  dataDir: string;
  close(): Promise<void>;
}


/** A fresh portal: its own data folder, database, master key and SMTP server. */
export async function createHarness(env: Record<string, string> = {}, opts: { dataDir?: string; keepDatabase?: { url: string }; logger?: Logger; storage?: (config: Config) => StorageAdapter } = {}): Promise<Harness> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-test-'));
  const smtp = new TestSmtp();
  const smtpUrl = await smtp.start();
  const db = opts.keepDatabase ? { url: opts.keepDatabase.url, drop: async () => {} } : TEST_DATABASE_URL ? await freshMysqlDatabase(TEST_DATABASE_URL, 'akatsuki_t_') : null;
  const config = loadConfig({
    NODE_ENV: 'test', DATA_DIR: dataDir, SMTP_URL: smtpUrl, PUBLIC_URL: 'http://portal.test', LOG_LEVEL: 'silent',
    ...(db ? { DATABASE_URL: db.url } : {}),
    ...env,
  });
  const booted = await boot(config, { logger: opts.logger ?? pino({ level: 'silent' }), storage: opts.storage?.(config) });
  const portal = createApp(booted.services, { sessionSecret: booted.sessionSecret });
  return {
    config, booted, portal, smtp, dataDir,
    async close() {
      portal.close();
      await booted.close();
      await smtp.stop();
      await db?.drop();
      if (!opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** For tests that restart the portal on the same data (sealed start): the database URL to reuse. */
export async function sharedDatabase(): Promise<{ url: string | null; drop: () => Promise<void> }> {
  if (!TEST_DATABASE_URL) return { url: null, drop: async () => {} };
  return freshMysqlDatabase(TEST_DATABASE_URL, 'akatsuki_t_');
}
