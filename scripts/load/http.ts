/**
 * A small cookie-keeping HTTP client for the load and soak scripts: signs in like a browser
 * (password, TOTP when enrolled), re-authenticates, reads CSRF tokens from pages, and streams
 * multipart uploads generated on the fly.
 *
 * Every session may send from its own loopback address (127.0.0.x; all of 127/8 is loopback on
 * Linux): the portal limits requests per client IP (600 a minute, 30 sign-ins a minute), and 50
 * users at their desks come from 50 addresses, not one.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { currentTotp } from '../../server/auth/totp';

export interface Reply { status: number; text: string; headers: http.IncomingHttpHeaders }

export const csrfIn = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

/** The n-th loopback address other than 127.0.0.1 (n from 0): 127.0.0.2, 127.0.0.3, … 127.0.1.x … */
export function loopback(n: number): string {
  const k = n + 2;
  return `127.0.${Math.floor(k / 250)}.${(k % 250) + 1}`;
}

export class Session {
  cookie = '';

  constructor(readonly port: number, readonly localAddress = '127.0.0.1', private readonly agent: http.Agent | false = false) {}

  request(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = http.request({
        agent: this.agent, host: '127.0.0.1', port: this.port, localAddress: this.localAddress, path, method,
        headers: {
          ...(this.cookie ? { Cookie: this.cookie } : {}),
          ...(body !== undefined ? { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(Buffer.byteLength(body)) } : {}),
          ...headers,
        },
      }, (res) => {
        this.keepCookie(res.headers);
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A GET whose body is only counted, not kept (downloads). */
  download(path: string): Promise<{ status: number; bytes: number }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ agent: this.agent, host: '127.0.0.1', port: this.port, localAddress: this.localAddress, path, headers: { Cookie: this.cookie } }, (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => { bytes += d.length; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  private keepCookie(headers: http.IncomingHttpHeaders) {
    const set = headers['set-cookie']?.find((c) => c.startsWith('akatsuki.sid='));
    if (set) this.cookie = set.split(';')[0]!;
  }

  async csrf(path: string): Promise<string> {
    const page = await this.request('GET', path);
    const token = csrfIn(page.text);
    if (page.status !== 200 || !token) throw new Error(`no CSRF token on ${path} (${page.status})`);
    return token;
  }

  /** Password, then (when enrolled) a TOTP code; the session is signed in afterwards. */
  async login(email: string, password: string, totpSecret: string | null = null): Promise<void> {
    const token = await this.csrf('/login');
    const done = await this.request('POST', '/login', new URLSearchParams({ _csrf: token, email, password }).toString());
    if (done.status !== 303) throw new Error(`sign-in of ${email} failed: ${done.status}`);
    if (done.headers.location === '/login/totp') {
      if (!totpSecret) throw new Error(`${email} needs a TOTP code`);
      const t = await this.csrf('/login/totp');
      const code = await this.request('POST', '/login/totp', new URLSearchParams({ _csrf: t, code: await currentTotp(totpSecret) }).toString());
      if (code.status !== 303) throw new Error(`TOTP step of ${email} failed: ${code.status}`);
    }
  }

  /**
   * Re-authentication (password + TOTP). A code is accepted once: the sign-in just used this
   * step's, so the next step's code is sent (the portal accepts one step either side).
   */
  async reauth(password: string, totpSecret: string): Promise<void> {
    const token = await this.csrf('/reauth');
    const code = await currentTotp(totpSecret, Date.now() + 30_000);
    const done = await this.request('POST', '/reauth', new URLSearchParams({ _csrf: token, password, code }).toString());
    if (done.status !== 303) throw new Error(`re-authentication failed: ${done.status}`);
  }
}

const CHUNK = 1 << 20;

/** `bytes` of a PDF-looking payload (the portal checks types by the first bytes), from one reused random block. */
function* payload(bytes: number): Generator<Buffer> {
  const block = randomBytes(CHUNK);
  let left = bytes;
  let first = true;
  while (left > 0) {
    const n = Math.min(left, CHUNK);
    if (first) {
      const head = Buffer.from(block.subarray(0, n));
      Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n', 'latin1').copy(head);
      yield head;
      first = false;
    } else {
      yield n < CHUNK ? block.subarray(0, n) : block;
    }
    left -= n;
  }
}

export interface UploadResult { status: number; body: string; seconds: number }

/**
 * POST /files the way the page's script does: fields first, then the file, the CSRF token in a
 * header, JSON back. The body is generated while it is sent (nothing held in memory).
 */
export function uploadFile(s: Session, csrf: string, bytes: number, name = 'load.pdf', fields: Record<string, string> = { direction: 'to_firm', category: 'other' }): Promise<UploadResult> {
  const boundary = `----akatsukiload${randomBytes(8).toString('hex')}`;
  const pre = Object.entries(fields).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('')
    + `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  const post = `\r\n--${boundary}--\r\n`;
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request({
      agent: false, host: '127.0.0.1', port: s.port, localAddress: s.localAddress, path: '/files', method: 'POST',
      headers: {
        Cookie: s.cookie, 'X-CSRF-Token': csrf, Accept: 'application/json',
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': String(Buffer.byteLength(pre) + bytes + Buffer.byteLength(post)),
      },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { if (body.length < 10_000) body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, seconds: Number(process.hrtime.bigint() - started) / 1e9 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.write(pre);
    const chunks = payload(bytes);
    const pump = () => {
      for (let c = chunks.next(); !c.done; c = chunks.next()) {
        if (!req.write(c.value)) { req.once('drain', pump); return; }
      }
      req.end(post);
    };
    pump();
  });
}
