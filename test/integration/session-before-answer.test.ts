import http from 'node:http';
import { expect } from 'chai';
import { createHarness, dialectName, type Harness } from '../support/harness';
import { makeUser } from '../support/factories';
import { listen } from '../support/chromium';
import { csrfIn } from '../support/browser';
import { SessionRow, User } from '../../server/db/models';
import { currentTotp } from '../../server/auth/totp';

interface Head { status: number; location?: string; sidStoredAtHeaders: boolean; followedStatus: number }

/** The Cookie header a browser would send back for these Set-Cookie lines. */
const cookieHeader = (setCookie: string[] | undefined) => (setCookie ?? []).map((c) => c.split(';')[0]).join('; ');

function get(url: string, cookie: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { cookie } }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject);
  });
}

/**
 * A browser follows a redirect as soon as it has the headers. The test does what the browser does:
 * the moment the headers arrive (before the body has ended) it asks the database whether the
 * session the new cookie names is there yet, and follows the redirect with that cookie.
 */
function postAndLookAtHeaders(baseUrl: string, path: string, cookie: string, body: string): Promise<Head> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const cookieNow = cookieHeader(res.headers['set-cookie']);
      const sid = /akatsuki\.sid=s%3A([^.;]+)/.exec(cookieNow)?.[1];
      const lookup = sid ? SessionRow.findByPk(sid).then((row) => row !== null) : Promise.resolve(false);
      const followed = res.headers.location ? get(`${baseUrl}${res.headers.location}`, cookieNow) : Promise.resolve(0);
      Promise.all([lookup, followed]).then(([stored, followedStatus]) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, location: res.headers.location, sidStoredAtHeaders: stored, followedStatus }));
      }, reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Reads a page and, the moment its form's token has arrived (before the body has ended: express-session
 * holds back only the last byte while it stores), sends that form as a quick browser would.
 */
function actOnFirstBytes<T>(url: string, cookie: string, act: (html: string) => Promise<T>): Promise<{ acted: T; page: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { cookie } }, (res) => {
      let html = '';
      let acting: Promise<T> | null = null;
      res.setEncoding('utf8').on('data', (c) => {
        html += c;
        if (!acting && /name="_csrf" value="[^"]+"/.test(html)) acting = act(html);
      }).on('end', () => (acting ?? Promise.reject(new Error('no form token on the page'))).then((acted) => resolve({ acted, page: html }), reject));
    }).on('error', reject);
  });
}

function postForm(url: string, cookie: string, form: Record<string, string>): Promise<{ status: number; location?: string; cookie: string }> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    http.request(url, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, location: res.headers.location, cookie: cookieHeader(res.headers['set-cookie']) }));
    }).on('error', reject).end(body);
  });
}

describe(`An answer leaves only after its session is stored (${dialectName})`, () => {
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
          cookie: cookieHeader(res.headers['set-cookie']), html,
        }));
      }).on('error', reject);
    });
    const body = new URLSearchParams({ _csrf: csrfIn(page.html), email: u.email, password: u.password }).toString();
    const head = await postAndLookAtHeaders(server.baseUrl, '/login', page.cookie, body);
    expect(head.status).to.equal(303);
    expect(head.location).to.equal('/login/totp');
    expect(head.sidStoredAtHeaders, 'session row present when the headers arrived').to.equal(true);
    // The code page, asked for the moment the headers arrived, is the code page (not a bounce to /login).
    expect(head.followedStatus).to.equal(200);
  });

  it('the code page: a form sent as soon as the page has come is not refused as expired (its token is stored first)', async () => {
    const u = await makeUser(h, { role: 'firm_staff' });
    const login = await new Promise<{ cookie: string; html: string }>((resolve, reject) => {
      http.get(`${server.baseUrl}/login`, (res) => {
        let html = '';
        res.setEncoding('utf8').on('data', (c) => { html += c; }).on('end', () => resolve({ cookie: cookieHeader(res.headers['set-cookie']), html }));
      }).on('error', reject);
    });
    const step = await postForm(`${server.baseUrl}/login`, login.cookie, { _csrf: csrfIn(login.html), email: u.email, password: u.password });
    expect(step.location).to.equal('/login/totp');
    await User.update({ totpLastStep: null }, { where: { id: u.user.id } });
    const code = await currentTotp(u.totpSecret!);
    // A fresh session id came with the password step: the code page makes its form token in it.
    const { acted: sent } = await actOnFirstBytes(`${server.baseUrl}/login/totp`, step.cookie, (html) => postForm(`${server.baseUrl}/login/totp`, step.cookie, { _csrf: csrfIn(html), code }));
    expect(sent.status, 'not 403 (form expired)').to.equal(303);
    expect(sent.location).to.equal('/home');
  });

  it('an address carried over the language switch shows once: a reload as soon as the page has come does not show it again', async () => {
    const address = 'kept.over.switch@example.jp';
    const first = await new Promise<{ cookie: string; html: string }>((resolve, reject) => {
      http.get(`${server.baseUrl}/login`, (res) => {
        let html = '';
        res.setEncoding('utf8').on('data', (c) => { html += c; }).on('end', () => resolve({ cookie: cookieHeader(res.headers['set-cookie']), html }));
      }).on('error', reject);
    });
    const switched = await postForm(`${server.baseUrl}/lang`, first.cookie, { _csrf: csrfIn(first.html), lang: 'en', back: '/login', keepEmail: address });
    expect(switched.location).to.equal('/login');
    const cookie = `${first.cookie}; ${switched.cookie}`;
    const reload = () => new Promise<string>((resolve, reject) => {
      http.get(`${server.baseUrl}/login`, { headers: { cookie } }, (res) => {
        let html = '';
        res.setEncoding('utf8').on('data', (c) => { html += c; }).on('end', () => resolve(html));
      }).on('error', reject);
    });
    const { acted: reloaded, page } = await actOnFirstBytes(`${server.baseUrl}/login`, cookie, () => reload());
    expect(page, 'the page after the switch').to.include(address);
    expect(reloaded).to.include('name="email"');
    expect(reloaded).not.to.include(address);
  });

  it('a session stored before its answer is not written again as the answer ends: a late copy would undo what the next page stored (the code page\'s form token)', async () => {
    const u = await makeUser(h, { role: 'firm_staff' });
    // The password step's session (a sign-in pending, no form token yet) is written late, as a slow
    // connection or another instance might: after the code page has stored its token beside it.
    const late = async (row: SessionRow) => {
      const data = String(row.get('data'));
      if (data.includes('"pendingLogin"') && !data.includes('"csrfToken"')) await new Promise((r) => setTimeout(r, 700));
    };
    SessionRow.addHook('beforeCreate', 'late', late);
    SessionRow.addHook('beforeUpdate', 'late', late);
    try {
      const login = await new Promise<{ cookie: string; html: string }>((resolve, reject) => {
        http.get(`${server.baseUrl}/login`, (res) => {
          let html = '';
          res.setEncoding('utf8').on('data', (c) => { html += c; }).on('end', () => resolve({ cookie: cookieHeader(res.headers['set-cookie']), html }));
        }).on('error', reject);
      });
      // The redirect followed the moment its headers arrive, as a browser does (express-session holds back
      // only the body's last byte while it stores).
      const body = new URLSearchParams({ _csrf: csrfIn(login.html), email: u.email, password: u.password }).toString();
      const { cookie, codePage } = await new Promise<{ cookie: string; codePage: string }>((resolve, reject) => {
        http.request(`${server.baseUrl}/login`, { method: 'POST', headers: { cookie: login.cookie, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (step) => {
          step.resume();
          expect(step.headers.location).to.equal('/login/totp');
          const stepCookie = cookieHeader(step.headers['set-cookie']);
          http.get(`${server.baseUrl}/login/totp`, { headers: { cookie: stepCookie } }, (res) => {
            let html = '';
            res.setEncoding('utf8').on('data', (c) => { html += c; }).on('end', () => resolve({ cookie: stepCookie, codePage: html }));
          }).on('error', reject);
        }).on('error', reject).end(body);
      });
      // Whatever write of the password step was still on its way has landed by now.
      await new Promise((r) => setTimeout(r, 1_500));
      await User.update({ totpLastStep: null }, { where: { id: u.user.id } });
      const sent = await postForm(`${server.baseUrl}/login/totp`, cookie, { _csrf: csrfIn(codePage), code: await currentTotp(u.totpSecret!) });
      expect(sent.status, 'not 403 (form expired)').to.equal(303);
      expect(sent.location).to.equal('/home');
    } finally {
      SessionRow.removeHook('beforeCreate', 'late');
      SessionRow.removeHook('beforeUpdate', 'late');
    }
  });

  it('a store that fails: the portal\'s own error page goes out, no stack, after one more try at most', async () => {
    let tries = 0;
    const failing = async () => { tries += 1; throw new Error('store down'); };
    SessionRow.addHook('beforeCreate', 'failing', failing);
    try {
      // A first visit makes a session (its form token): storing it fails.
      const answer = await new Promise<{ status: number; html: string }>((resolve, reject) => {
        http.get(`${server.baseUrl}/login`, (res) => {
          let html = '';
          res.setEncoding('utf8').on('data', (c) => { html += c; }).on('end', () => resolve({ status: res.statusCode!, html }));
        }).on('error', reject);
      });
      expect(answer.status).to.equal(500);
      expect(answer.html).to.contain('<title>エラー | 暁ポータル</title>').and.not.contain('store down');
      await new Promise((r) => setTimeout(r, 500));
      // Ours before the answer, express-session's own as the answer ends.
      expect(tries).to.be.within(1, 2);
    } finally {
      SessionRow.removeHook('beforeCreate', 'failing');
    }
  });
});
