import path from 'node:path';
import { z } from 'zod';

/** Every setting the portal reads, validated once at start-up; nothing else touches process.env. */
export interface Config {
  env: 'production' | 'development' | 'test';
  port: number;
  host: string;
  dataDir: string;
  /** null → the embedded SQLite file under dataDir */
  databaseUrl: string | null;
  sqliteFile: string;
  masterKeyFile: string;
  /** true when MASTER_KEY_FILE was not given: the key may then be generated at first run */
  masterKeyIsEmbedded: boolean;
  storageDir: string;
  outboxDir: string;
  publicUrl: string;
  trustProxy: boolean;
  smtpUrl: string | null;
  mailFrom: string;
  sessionIdleMinutes: number;
  sessionAbsoluteHours: number;
  reauthMinutes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`設定に誤りがあります / invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const int = (min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, `an integer between ${min} and ${max}`).transform(Number)
    .refine((n) => n >= min && n <= max, `an integer between ${min} and ${max}`);

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'true or false' })
  .transform((v) => ['true', '1', 'yes'].includes(v));

const schema = z.object({
  NODE_ENV: z.enum(['production', 'development', 'test'], { message: 'production, development or test' }).default('development'),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('data'),
  DATABASE_URL: z.string().regex(/^(mysql|mariadb):\/\/[^/]+\/[A-Za-z0-9_]+(\?.*)?$/, 'mysql://user:password@host:port/database (or leave unset for the embedded SQLite file)').optional(),
  MASTER_KEY_FILE: z.string().min(1).optional(),
  PUBLIC_URL: z.url({ protocol: /^https?$/, message: 'an http(s) URL such as https://portal.example.jp' }).optional(),
  TRUST_PROXY: bool.default(false),
  SMTP_URL: z.string().regex(/^smtps?:\/\/.+/, 'smtp://user:password@host:port or smtps://…').optional(),
  MAIL_FROM: z.string().min(3).default('暁ポータル <no-reply@localhost>'),
  SESSION_IDLE_MINUTES: int(1, 24 * 60).default(30),
  SESSION_ABSOLUTE_HOURS: int(1, 24 * 7).default(12),
  REAUTH_MINUTES: int(1, 60).default(5),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Reads the settings from `env`; throws ConfigError naming every problem at once. */
export function loadConfig(env: Record<string, string | undefined>, cwd = process.cwd()): Config {
  // An empty variable means "unset", the way .env files are usually written.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  if (e.PUBLIC_URL?.startsWith('https://') && !e.TRUST_PROXY) {
    // The portal itself speaks plain HTTP; https means a TLS proxy in front, whose headers we must trust.
    throw new ConfigError(['PUBLIC_URL is https but TRUST_PROXY is false: put the portal behind a TLS proxy and set TRUST_PROXY=true']);
  }
  const dataDir = path.resolve(cwd, e.DATA_DIR);
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    dataDir,
    databaseUrl: e.DATABASE_URL ?? null,
    sqliteFile: path.join(dataDir, 'portal.sqlite'),
    masterKeyFile: e.MASTER_KEY_FILE ? path.resolve(cwd, e.MASTER_KEY_FILE) : path.join(dataDir, 'master.key'),
    masterKeyIsEmbedded: !e.MASTER_KEY_FILE,
    storageDir: path.join(dataDir, 'storage'),
    outboxDir: path.join(dataDir, 'outbox'),
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    trustProxy: e.TRUST_PROXY,
    smtpUrl: e.SMTP_URL ?? null,
    mailFrom: e.MAIL_FROM,
    sessionIdleMinutes: e.SESSION_IDLE_MINUTES,
    sessionAbsoluteHours: e.SESSION_ABSOLUTE_HOURS,
    reauthMinutes: e.REAUTH_MINUTES,
    logLevel: e.LOG_LEVEL,
  };
}
