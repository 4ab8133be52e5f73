import request from 'supertest';
import type { Express } from 'express';
import { User } from '../../server/db/models';
import { currentTotp } from '../../server/auth/totp';
import type { MadeUser } from './factories';

type Form = Record<string, string>;

export function csrfIn(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1]!;
}

/** The TOTP key an enrolment page shows (in groups of four) as one base32 string. */
export function totpSecretIn(html: string): string {
  const m = /data-testid="totp-secret">([\s\S]*?)<\/code>/.exec(html);
  if (!m) throw new Error('no TOTP key on the page');
  return m[1]!.replace(/<[^>]*>|\s/g, '');
}

/** A cookie-keeping client that fills in CSRF tokens the way a browser form would. */
export class TestBrowser {
  readonly agent: ReturnType<typeof request.agent>;

  constructor(readonly app: Express) {
    this.agent = request.agent(app);
  }

  get(path: string) {
    return this.agent.get(path);
  }

  /** The CSRF token from a page of this session (a page with a form on it). */
  async csrf(fromPath = '/login'): Promise<string> {
    const res = await this.agent.get(fromPath);
    return csrfIn(res.text);
  }

  async post(path: string, form: Form = {}, csrfFrom?: string) {
    const token = await this.csrf(csrfFrom ?? (path.startsWith('/login') || path.startsWith('/password') ? '/login' : '/account'));
    return this.agent.post(path).type('form').send({ _csrf: token, ...form });
  }

  /** Signs in with password and (when enrolled) a fresh TOTP code. */
  async login(u: MadeUser): Promise<void> {
    const res = await this.post('/login', { email: u.email, password: u.password });
    if (res.status !== 303) throw new Error(`login failed: ${res.status}`);
    if (res.headers.location === '/login/totp') {
      // A code works once: let each test sign in again within the same 30 s.
      await User.update({ totpLastStep: null }, { where: { id: u.user.id } });
      const token = csrfIn((await this.agent.get('/login/totp')).text);
      const done = await this.agent.post('/login/totp').type('form').send({ _csrf: token, code: await currentTotp(u.totpSecret!) });
      if (done.status !== 303) throw new Error(`TOTP step failed: ${done.status}`);
    }
  }

  async reauth(u: MadeUser) {
    await User.update({ totpLastStep: null }, { where: { id: u.user.id } });
    return this.post('/reauth', { password: u.password, ...(u.totpSecret ? { code: await currentTotp(u.totpSecret) } : {}) }, '/reauth');
  }

  cookie(name = 'akatsuki.sid'): string | undefined {
    const jar = (this.agent as unknown as { jar: { getCookie(n: string, o: object): { value: string } | undefined } }).jar;
    return jar.getCookie(name, { domain: '127.0.0.1', path: '/', secure: false, script: false })?.value;
  }
}
