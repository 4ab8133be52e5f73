import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import type { Response } from 'supertest';
import { TestBrowser, csrfIn } from './browser';
import { createHarness, type Harness } from './harness';
import type { MadeUser } from './factories';
import { RecoveryCode, SessionRow, User } from '../../server/db/models';
import { hashRecoveryCode, newRecoveryCodes } from '../../server/auth/recovery-codes';
import { translate } from '../../server/i18n';
import { SESSION_COOKIE } from '../../server/web/middleware/session';

/** The Japanese text a page must show for a message key (the default UI language). */
export const ja = (key: string, params: Record<string, unknown> = {}) => translate('ja', key, params);

/** Some Japanese (kana or kanji) in a text. */
export const JAPANESE = /[\u3040-\u30ff\u4e00-\u9fff]/;

/**
 * A portal behind a (simulated) reverse proxy: `req.ip` comes from X-Forwarded-For, so each test
 * browser can have an address of its own and the per-IP limits of one test do not leak into the next.
 */
export function proxiedHarness(env: Record<string, string> = {}): Promise<Harness> {
  return createHarness({ TRUST_PROXY: 'true', ...env });
}

let ipSeq = 0;
/** A new documentation-range address per call (198.18.0.0/15 is reserved for benchmarking). */
export function nextIp(): string {
  ipSeq += 1;
  return `198.18.${(ipSeq >> 8) & 0xff}.${ipSeq & 0xff}`;
}

/** Every HTML page any SecBrowser received in this process, for the inline script/style check. */
export const renderedPages: { url: string; status: number; html: string }[] = [];

/**
 * A TestBrowser with its own client address (X-Forwarded-For; only honoured with TRUST_PROXY) and
 * optional extra headers on every request. Records every HTML page it receives.
 */
export class SecBrowser extends TestBrowser {
  readonly ip: string;

  constructor(app: Express, opts: { ip?: string; headers?: Record<string, string> } = {}) {
    super(app);
    this.ip = opts.ip ?? nextIp();
    const agent = this.agent as unknown as {
      set(name: string, value: string): unknown;
      use(fn: (req: { url: string; on(ev: 'response', cb: (res: Response) => void): void }) => void): unknown;
    };
    agent.set('X-Forwarded-For', this.ip);
    for (const [k, v] of Object.entries(opts.headers ?? {})) agent.set(k, v);
    agent.use((req) => {
      req.on('response', (res) => {
        if (/text\/html/.test(String(res.headers['content-type'] ?? ''))) renderedPages.push({ url: req.url, status: res.status, html: res.text });
      });
    });
  }

  /** The first (password) step of signing in. */
  async passwordStep(email: string, password: string) {
    return this.post('/login', { email, password });
  }

  /** The second (TOTP or recovery code) step, with the CSRF token of the code form. */
  async codeStep(code: string) {
    const form = await this.agent.get('/login/totp');
    if (form.status !== 200) throw new Error(`no code form: ${form.status} ${form.headers.location ?? ''}`);
    return this.agent.post('/login/totp').type('form').send({ _csrf: csrfIn(form.text), code });
  }

  /** The session id behind this browser's cookie (the cookie is `s:<sid>.<signature>`). */
  sid(): string | undefined {
    return sidOfCookie(this.cookie(SESSION_COOKIE));
  }

  /** The raw Cookie header this browser would send, to replay it from another client. */
  cookieHeader(): string {
    const value = this.cookie(SESSION_COOKIE);
    if (!value) throw new Error('no session cookie');
    return `${SESSION_COOKIE}=${value}`;
  }
}

export function sidOfCookie(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = /^s:([^.]+)\./.exec(decodeURIComponent(value));
  return m?.[1];
}

/** The stored session data (JSON in `sessions.data`). */
export async function readSession(sid: string): Promise<Record<string, unknown> | null> {
  const row = await SessionRow.findByPk(sid);
  return row ? (JSON.parse(row.data) as Record<string, unknown>) : null;
}

/** Edits a stored session the way time passing would (e.g. lastSeenAt an hour ago). */
export async function editSession(sid: string, change: (data: Record<string, unknown>) => void): Promise<void> {
  const data = await readSession(sid);
  if (!data) throw new Error(`no session row ${sid}`);
  change(data);
  const [n] = await SessionRow.update({ data: JSON.stringify(data) }, { where: { sid } });
  if (n !== 1) throw new Error(`session row ${sid} not updated`);
}

/** Gives a made user fresh recovery codes (as enrolment would) and returns them in clear. */
export async function giveRecoveryCodes(u: MadeUser, count = 3): Promise<string[]> {
  const codes = newRecoveryCodes(count);
  await RecoveryCode.destroy({ where: { userId: u.user.id } });
  await RecoveryCode.bulkCreate(codes.map((c) => ({ userId: u.user.id, codeHash: hashRecoveryCode(c), usedAt: null })));
  return codes;
}

/** Forgets the last accepted TOTP step, so a test can sign in again within the same 30 s. */
export async function resetTotpStep(u: MadeUser): Promise<void> {
  await User.update({ totpLastStep: null }, { where: { id: u.user.id } });
}

/** A route path with every `:param` filled (by name, else a random UUID). */
export function fillPath(path: string, values: Record<string, string> = {}): string {
  return path.replace(/:(\w+)/g, (_, name: string) => values[name] ?? randomUUID());
}

/** The page with every CSRF token value blanked out (they differ per session by design). */
export function withoutCsrf(html: string): string {
  let out = html;
  for (const m of html.matchAll(/name="_csrf" value="([^"]*)"/g)) if (m[1]) out = out.split(m[1]).join('CSRF');
  return out;
}

/**
 * What makes a page need 'unsafe-inline': an inline script body, a <style> element, a style=
 * attribute, an inline event handler or a javascript: URL. Returns what was found.
 */
export function inlineProblems(html: string): string[] {
  const problems: string[] = [];
  for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)) {
    if (!/\bsrc\s*=/.test(m[1] ?? '')) problems.push(`script without src: ${m[0].slice(0, 80)}`);
    if ((m[2] ?? '').trim() !== '') problems.push(`inline script body: ${m[0].slice(0, 80)}`);
  }
  for (const m of html.matchAll(/<style\b[^>]*>/gi)) problems.push(`style tag: ${m[0]}`);
  for (const m of html.matchAll(/<[a-z][^>]*?\sstyle\s*=[^>]*>/gi)) problems.push(`style attribute: ${m[0].slice(0, 80)}`);
  for (const m of html.matchAll(/<[a-z][^>]*?\son[a-z]+\s*=[^>]*>/gi)) problems.push(`event handler attribute: ${m[0].slice(0, 80)}`);
  for (const m of html.matchAll(/(?:href|src|action)\s*=\s*["']?\s*javascript:/gi)) problems.push(`javascript: URL: ${m[0]}`);
  return problems;
}

/** Signs of a leaked stack trace or internals in an error page. */
export function leakProblems(body: string): string[] {
  const problems: string[] = [];
  if (/\bat\s+\S+\s+\(?[^)\s]*:\d+:\d+\)?/.test(body)) problems.push('stack frame');
  if (/node_modules|\/work\/|\.ts:\d+|\.js:\d+/.test(body)) problems.push('file path');
  if (/\b(TypeError|ReferenceError|SequelizeError|SyntaxError|Error:)/.test(body)) problems.push('error class name');
  return problems;
}

/** Row counts of every table the models know, except the session store's (for "nothing was written" checks). */
export async function tableCounts(sequelize: { models: Record<string, { count(): Promise<number> }> }): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const [name, model] of Object.entries(sequelize.models).sort(([a], [b]) => a.localeCompare(b))) {
    if (name !== 'Session') counts[name] = await model.count();
  }
  return counts;
}

type DumpableModel = { primaryKeyAttributes: string[]; findAll(o: object): Promise<unknown[]> };

/** Every row of every table the models know, but the session store's and the given ones, in key order: an UPDATE anywhere shows. */
export async function tableDump(sequelize: { models: Record<string, unknown> }, except: string[] = []): Promise<Record<string, string>> {
  const dump: Record<string, string> = {};
  for (const [name, m] of Object.entries(sequelize.models).sort(([a], [b]) => a.localeCompare(b))) {
    if (name === 'Session' || except.includes(name)) continue;
    const model = m as DumpableModel;
    dump[name] = JSON.stringify(await model.findAll({ raw: true, order: model.primaryKeyAttributes.map((k) => [k, 'ASC']) }));
  }
  return dump;
}
