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
  /** Where uploaded objects live: files under storageDir (default) or an S3-compatible bucket. */
  storage: StorageSettings;
  outboxDir: string;
  publicUrl: string;
  trustProxy: boolean;
  smtpUrl: string | null;
  /** how long the mail server may keep silent at any step (connecting, greeting, any command) before a send gives up */
  smtpTimeoutSeconds: number;
  mailFrom: string;
  sessionIdleMinutes: number;
  sessionAbsoluteHours: number;
  reauthMinutes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  uploadMaxFileBytes: number;
  uploadMaxRequestBytes: number;
  uploadMaxFiles: number;
  /** leftovers of interrupted uploads older than this are swept */
  sweepAfterMinutes: number;
  /** how long a revealed My Number stays on screen */
  revealSeconds: number;
  /** more reveals than this by one user within revealBurstWindowSeconds are refused and alerted */
  revealBurstMax: number;
  revealBurstWindowSeconds: number;
  /** how long a one-time registration link (payee, employee sheet) stays valid */
  vaultLinkDays: number;
  /** the access log's CSV holds every row it was filtered to, up to this many; more are refused with the count, never cut short */
  logExportMaxRows: number;
  /** The identity PDFs are signed with: the firm's PKCS#12 file, or (null) a self-signed one made at first use. */
  pdfSigning: { p12File: string | null; p12Password: string };
}

export interface S3Settings {
  /** e.g. https://s3.example.jp (path-style requests are used, so any S3-compatible server works) */
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** '' or a folder-like prefix without slashes at either end; objects are stored as <prefix>/<id> */
  prefix: string;
}

export type StorageSettings = { kind: 'local' } | ({ kind: 's3' } & S3Settings);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`設定に誤りがあります / invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** The longest a request may take (a 2 GiB upload over a slow line): the server cuts it after this. */
export const REQUEST_LIMIT_MINUTES = 120;

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
  // At most 90 s a step: a send that hangs must give up long before the outbox's claim on it (15 min) runs out.
  SMTP_TIMEOUT_SECONDS: int(1, 90).default(60),
  MAIL_FROM: z.string().min(3).default('暁ポータル <no-reply@localhost>'),
  SESSION_IDLE_MINUTES: int(1, 24 * 60).default(30),
  SESSION_ABSOLUTE_HOURS: int(1, 24 * 7).default(12),
  REAUTH_MINUTES: int(1, 60).default(5),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  UPLOAD_MAX_FILE_MB: int(1, 1024 * 1024).default(2048),
  UPLOAD_MAX_REQUEST_MB: int(1, 1024 * 1024).default(4096),
  UPLOAD_MAX_FILES: int(1, 100).default(20),
  // Longer than any upload may last on any instance, or a sending still in progress loses the files it already stored.
  SWEEP_AFTER_MINUTES: int(0, 7 * 24 * 60).default(REQUEST_LIMIT_MINUTES + 30)
    .refine((n) => n === 0 || n > REQUEST_LIMIT_MINUTES, `0 (sweep at once: a single instance, for tests) or more than ${REQUEST_LIMIT_MINUTES}, the longest an upload may take`),
  REVEAL_SECONDS: int(1, 600).default(60),
  REVEAL_BURST_MAX: int(1, 100_000).default(30),
  REVEAL_BURST_WINDOW_SECONDS: int(1, 3600).default(60),
  VAULT_LINK_DAYS: int(1, 90).default(14),
  LOG_EXPORT_MAX_ROWS: int(1, 10_000_000).default(100_000),
  STORAGE: z.enum(['local', 's3'], { message: 'local or s3' }).default('local'),
  S3_ENDPOINT: z.url({ protocol: /^https?$/, message: 'an http(s) URL such as https://s3.example.jp' }).optional(),
  S3_REGION: z.string().regex(/^[a-z0-9-]{1,40}$/, 'a region name such as us-east-1').default('us-east-1'),
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'a bucket name: 3–63 lowercase letters, digits, dots and hyphens').optional(),
  S3_ACCESS_KEY_ID: z.string().regex(/^\S+$/, 'an access key id without spaces').optional(),
  S3_SECRET_ACCESS_KEY: z.string().regex(/^\S+$/, 'a secret access key without spaces').optional(),
  PDF_SIGNING_P12: z.string().min(1).optional(),
  PDF_SIGNING_P12_PASSWORD: z.string().optional(),
  S3_PREFIX: z.string().regex(/^\/*[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/*$/, 'a key prefix such as akatsuki or akatsuki/prod (letters, digits, . _ - and /)')
    .refine((v) => !v.split('/').some((seg) => seg === '.' || seg === '..'), 'a key prefix without . or .. segments')
    .optional(),
});

/** With STORAGE=s3 these must be set; each missing one is named on its own line. */
const S3_REQUIRED = {
  S3_ENDPOINT: 'the S3 service URL, e.g. https://s3.example.jp',
  S3_BUCKET: 'the bucket the portal stores its objects in',
  S3_ACCESS_KEY_ID: 'the access key id of the portal\'s S3 user',
  S3_SECRET_ACCESS_KEY: 'the secret access key of the portal\'s S3 user',
} as const;

/** Reads the settings from `env`; throws ConfigError naming every problem at once. */
export function loadConfig(env: Record<string, string | undefined>, cwd = process.cwd()): Config {
  // An empty variable means "unset", the way .env files are usually written.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  if (cleaned.STORAGE === 's3') {
    for (const [name, what] of Object.entries(S3_REQUIRED)) {
      if (cleaned[name] === undefined) problems.push(`${name}: required when STORAGE=s3 (${what})`);
    }
  }
  if (cleaned.PDF_SIGNING_P12_PASSWORD !== undefined && cleaned.PDF_SIGNING_P12 === undefined) {
    problems.push('PDF_SIGNING_P12_PASSWORD: set, but PDF_SIGNING_P12 (the PKCS#12 file it opens) is not');
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
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
    storage: e.STORAGE === 's3'
      ? {
          kind: 's3',
          endpoint: e.S3_ENDPOINT!,
          region: e.S3_REGION,
          bucket: e.S3_BUCKET!,
          accessKeyId: e.S3_ACCESS_KEY_ID!,
          secretAccessKey: e.S3_SECRET_ACCESS_KEY!,
          prefix: (e.S3_PREFIX ?? '').replace(/^\/+|\/+$/g, ''),
        }
      : { kind: 'local' },
    outboxDir: path.join(dataDir, 'outbox'),
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    trustProxy: e.TRUST_PROXY,
    smtpUrl: e.SMTP_URL ?? null,
    smtpTimeoutSeconds: e.SMTP_TIMEOUT_SECONDS,
    mailFrom: e.MAIL_FROM,
    sessionIdleMinutes: e.SESSION_IDLE_MINUTES,
    sessionAbsoluteHours: e.SESSION_ABSOLUTE_HOURS,
    reauthMinutes: e.REAUTH_MINUTES,
    logLevel: e.LOG_LEVEL,
    uploadMaxFileBytes: e.UPLOAD_MAX_FILE_MB * 1024 * 1024,
    uploadMaxRequestBytes: e.UPLOAD_MAX_REQUEST_MB * 1024 * 1024,
    uploadMaxFiles: e.UPLOAD_MAX_FILES,
    sweepAfterMinutes: e.SWEEP_AFTER_MINUTES,
    revealSeconds: e.REVEAL_SECONDS,
    revealBurstMax: e.REVEAL_BURST_MAX,
    revealBurstWindowSeconds: e.REVEAL_BURST_WINDOW_SECONDS,
    vaultLinkDays: e.VAULT_LINK_DAYS,
    logExportMaxRows: e.LOG_EXPORT_MAX_ROWS,
    pdfSigning: {
      p12File: e.PDF_SIGNING_P12 ? path.resolve(cwd, e.PDF_SIGNING_P12) : null,
      p12Password: e.PDF_SIGNING_P12_PASSWORD ?? '',
    },
  };
}
