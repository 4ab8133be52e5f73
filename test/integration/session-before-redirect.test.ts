import http from 'node:http';
import { expect } from 'chai';
import { createHarness, dialectName, type Harness } from '../support/harness';
import { makeUser } from '../support/factories';
import { listen } from '../support/chromium';
import { csrfIn } from '../support/browser';
import { SessionRow } from '../../server/db/models';

interface Head { status: number; location?: string; cookies: string[]; sidStoredAtHeaders: boolean }

/**
 * A browser follows a redirect as soon as it has the headers. The test does what the browser does:
 * the moment the headers arrive (before the body has ended) it asks the database whether the
 * session the new cookie names is there yet.
 */
function postAndLookAtHeaders(baseUrl: string, path: string, cookie: string, body: string): Promise<Head> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
      const sid = /akatsuki\.sid=s%3A([^.;]+)/.exec(cookies.join(';'))?.[1];
      const lookup = sid ? SessionRow.findByPk(sid).then((row) => row !== null) : Promise.resolve(false);
      lookup.then((stored) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, location: res.headers.location, cookies, sidStoredAtHeaders: stored }));
      }, reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe(`A redirect leaves only after its session is stored (${dialectName})`, () => {
  let h: Harness;
  let server: Awaited<ReturnType<typeof listen>>;
  const slowWrite = async () => { await new Promise((r) => setTimeout(r, 300)); };

  before(async () => {
    h = await createHarness();
    server = await listen(h.portal.app);
    // Storing a session takes 300 ms here, so a redirect sent before the write would be seen at once.
    SessionRow.addHook('beforeCreate', 'slow-write', slowWrite);
    SessionRow.addHook('beforeUpdate', 'slow-write', slowWrite);
  });
  after(async () => {
    SessionRow.removeHook('beforeCreate', 'slow-write');
    SessionRow.removeHook('beforeUpdate', 'slow-write');
    await server?.close();
    await h.close();
  });

  it('the password step of a TOTP sign-in: when the 303 to the code page arrives, the new session is already stored', async () => {
    const u = await makeUser(h, { role: 'firm_staff' });
    const page = await new Promise<{ cookie: string; html: string }>((resolve, reject) => {
      http.get(`${server.baseUrl}/login`, (res) => {
        let html = '';
        res.setEncoding('utf8').on('data', (c) => { html += c; }).on('end', () => resolve({
          cookie: ([] as string[]).concat(res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; '), html,
        }));
      }).on('error', reject);
    });
    const body = new URLSearchParams({ _csrf: csrfIn(page.html), email: u.email, password: u.password }).toString();
    const head = await postAndLookAtHeaders(server.baseUrl, '/login', page.cookie, body);
    expect(head.status).to.equal(303);
    expect(head.location).to.equal('/login/totp');
    expect(head.sidStoredAtHeaders, 'session row present when the headers arrived').to.equal(true);

    // And the code page, asked for at once with the new cookie, is the code page (not a bounce to /login).
    const cookie = head.cookies.map((c) => c.split(';')[0]).join('; ');
    const next = await new Promise<number>((resolve, reject) => {
      http.get(`${server.baseUrl}/login/totp`, { headers: { cookie } }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject);
    });
    expect(next).to.equal(200);
  });
});
