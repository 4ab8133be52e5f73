import http from 'node:http';
import { expect } from 'chai';
import en from '../../server/i18n/locales/en.json';
import request from 'supertest';
import type { Response } from 'supertest';
import type { Harness } from '../support/harness';
import { makeClient, makeUser, type MadeUser } from '../support/factories';
import { linkIn } from '../support/smtp';
import { csrfIn, totpSecretIn } from '../support/browser';
import { JAPANESE, SecBrowser, fillPath, nextIp, inlineProblems, ja, leakProblems, proxiedHarness, renderedPages, resetTotpStep } from '../support/security';
import { ROLES, Client, Department, Dependant, Employee, Establishment, Firm, Payee, StoredFile, User, type Role } from '../../server/db/models';
import { currentTotp } from '../../server/auth/totp';
import { translate } from '../../server/i18n';

/** The CSP as directive → sources. */
function csp(res: Response): Map<string, string[]> {
  const header = String(res.headers['content-security-policy'] ?? '');
  const map = new Map<string, string[]>();
  for (const part of header.split(';').map((p) => p.trim()).filter(Boolean)) {
    const [name, ...sources] = part.split(/\s+/);
    map.set(name!.toLowerCase(), sources);
  }
  return map;
}

/** The headers every dynamic response must carry. */
function expectPageHeaders(res: Response, label: string) {
  const policy = csp(res);
  expect(policy.size, `${label}: CSP present`).to.be.greaterThan(0);
  expect(policy.get('script-src'), `${label}: script-src`).to.deep.equal(["'self'"]);
  expect(policy.get('style-src'), `${label}: style-src`).to.deep.equal(["'self'"]);
  expect(policy.get('default-src'), `${label}: default-src`).to.deep.equal(["'self'"]);
  expect(policy.get('frame-ancestors'), `${label}: frame-ancestors`).to.deep.equal(["'none'"]);
  expect(policy.get('object-src'), `${label}: object-src`).to.deep.equal(["'none'"]);
  expect(policy.get('base-uri'), `${label}: base-uri`).to.deep.equal(["'none'"]);
  expect(policy.get('form-action'), `${label}: form-action`).to.deep.equal(["'self'"]);
  const whole = String(res.headers['content-security-policy']);
  expect(whole, label).to.not.match(/unsafe-inline|unsafe-eval|unsafe-hashes|\*/);
  expect(res.headers['x-content-type-options'], label).to.equal('nosniff');
  expect(res.headers['referrer-policy'], label).to.equal('no-referrer');
  expect(String(res.headers['cache-control']).split(',').map((s) => s.trim()), label).to.include('no-store');
  // Never cached, so no ETag either (it would cost a hash of every page for nothing).
  expect(res.headers.etag, `${label}: no ETag`).to.equal(undefined);
  expect(res.headers['x-frame-options'], label).to.equal('DENY');
  expect(res.headers, label).to.not.have.property('x-powered-by');
}

describe('Security: headers, error pages, language, inline code (http)', () => {
  let h: Harness;
  let setupToken: string;
  const users = {} as Record<Role, MadeUser>;
  const browsers = {} as Record<Role, SecBrowser>;
  let client: Client;

  before(async () => {
    h = await proxiedHarness();
    // Before any admin exists, so the first-run page can be visited too.
    setupToken = await h.booted.services.setup.newSetupLink();
    client = await makeClient(h, { name: '<script>alert("client")</script>株式会社' });
    for (const role of ROLES) {
      users[role] = await makeUser(h, { role, clientId: role === 'client_admin' || role === 'employee' ? client.id : null, name: `"><img src=x onerror=alert(1)> ${role}` });
      browsers[role] = new SecBrowser(h.portal.app);
    }
  });
  after(async () => { await h.close(); });

  describe('security headers', () => {
    it('a signed-out page, a signed-in page, a redirect and an error page all carry the strict headers; no HSTS over http', async () => {
      const anon = new SecBrowser(h.portal.app);
      const b = browsers.firm_staff;
      await b.login(users.firm_staff);
      const samples: [string, Response][] = [
        ['GET /login', await anon.get('/login')],
        ['GET / (redirect)', await anon.get('/')],
        ['GET /home (signed out)', await anon.get('/home')],
        ['GET /home', await b.get('/home')],
        ['GET /account', await b.get('/account')],
        ['GET /nope (404)', await anon.get('/no-such-page')],
        ['POST /login (401)', await anon.post('/login', { email: 'x@example.jp', password: 'wrong password here' })],
        ['GET /healthz', await anon.get('/healthz')],
      ];
      expect(samples.map(([, r]) => r.status)).to.deep.equal([200, 303, 303, 200, 200, 404, 401, 200]);
      for (const [label, res] of samples) {
        expectPageHeaders(res, label);
        expect(res.headers, label).to.not.have.property('strict-transport-security');
      }
      // Without Accept-Language the UI is Japanese.
      expect(samples[0]![1].text).to.contain('<html lang="ja">');
      expect(samples[0]![1].text).to.contain(ja('auth.login.title'));
    });

    it('the stylesheet, scripts and icon are served as files; nothing else under public/ and no path outside it', async () => {
      const anon = new SecBrowser(h.portal.app);
      const css = await anon.get('/css/portal.css');
      expect(css.status).to.equal(200);
      expect(String(css.headers['content-type'])).to.match(/^text\/css/);
      expect(css.headers.etag, 'assets keep their ETag').to.be.a('string');
      const js = await anon.get('/js/portal.js');
      expect(js.status).to.equal(200);
      expect(String(js.headers['content-type'])).to.match(/javascript/);
      expect((await anon.get('/favicon.svg')).status).to.equal(200);
      for (const path of ['/portal.css', '/css/%2e%2e/%2e%2e/package.json', '/js/nope.js', '/js/'] ) {
        expect((await anon.get(path)).status, path).to.equal(404);
      }
    });

    it('the language cookie is HttpOnly and SameSite=Lax', async () => {
      const b = new SecBrowser(h.portal.app);
      const res = await b.post('/lang', { lang: 'en', back: '/login' }, '/login');
      expect(res.status).to.equal(303);
      const raw = res.headers['set-cookie'] as unknown as string[];
      const line = raw.find((l) => l.startsWith('lang='));
      expect(line).to.be.a('string');
      expect(line!.toLowerCase()).to.contain('httponly').and.to.contain('samesite=lax');
    });
  });

  describe('error pages', () => {
    it('404 is a Japanese page without internals', async () => {
      const res = await new SecBrowser(h.portal.app).get('/firm/../../etc/passwd-nope');
      expect(res.status).to.equal(404);
      expect(res.headers['content-type']).to.match(/^text\/html/);
      expect(res.text).to.contain(ja('error.notFound'));
      expect(res.text).to.contain('<html lang="ja">');
      expect(leakProblems(res.text)).to.deep.equal([]);
    });

    it('an unexpected server error is a Japanese 500 page with no stack trace, message or paths (also as JSON)', async () => {
      const b = browsers.firm_admin;
      await b.login(users.firm_admin);
      const clients = h.booted.services.clients;
      const original = clients.listFor;
      clients.listFor = async () => {
        throw new TypeError('boom: SELECT secret FROM users at /work/main/server/clients/client-service.ts:42:7');
      };
      try {
        const res = await b.get('/firm/clients');
        expect(res.status).to.equal(500);
        expect(res.text).to.contain(ja('error.internal'));
        expect(res.text).to.not.contain('boom');
        expect(res.text).to.not.contain('SELECT');
        expect(leakProblems(res.text)).to.deep.equal([]);
        expectPageHeaders(res, '500 page');

        const json = await b.get('/firm/clients').set('Accept', 'application/json');
        expect(json.status).to.equal(500);
        expect(json.body).to.deep.equal({ error: { code: 'error.internal', message: ja('error.internal') } });
      } finally {
        clients.listFor = original;
      }
      expect((await b.get('/firm/clients')).status).to.equal(200);
    });

    it('a malformed body is a Japanese 400, an oversized one a Japanese 413, neither shows parser internals', async () => {
      const b = new SecBrowser(h.portal.app);
      const token = await b.csrf('/login');
      // JSON is read only where a page script sends it (the passkey steps), so the broken JSON goes there.
      const signedIn = new SecBrowser(h.portal.app);
      await signedIn.login(users.employee);
      const bad = await signedIn.agent.post('/reauth/passkey').set('Content-Type', 'application/json').set('Accept', 'text/html').send('{"id": "abc", "response": ');
      expect(bad.status).to.equal(400);
      expect(bad.text).to.contain(ja('error.badRequest'));
      expect(bad.text).to.not.match(/Unexpected|JSON|position/);
      expect(leakProblems(bad.text)).to.deep.equal([]);

      const big = await b.agent.post('/login').type('form').send({ _csrf: token, email: 'a@example.jp', password: 'p'.repeat(200_000) });
      expect(big.status).to.equal(413);
      expect(big.text).to.contain(ja('error.payloadTooLarge'));
      expect(leakProblems(big.text)).to.deep.equal([]);
      // The oversized one fails before the session is read; both pages declare their language.
      for (const res of [bad, big]) expect(res.text).to.contain('<html lang="ja">');
    });

    it('a browser that chose English gets its refusals before the session is read (a body too large) in English too', async () => {
      // From the English walk: the sign-in form sent too big came back 送信されたデータが大きすぎます。 on an English browser.
      const b = new SecBrowser(h.portal.app);
      await b.post('/lang', { lang: 'en', back: '/login' }, '/login');
      const token = await b.csrf('/login');
      expect((await b.agent.get('/login')).text).to.contain('<html lang="en">');
      const big = await b.agent.post('/login').type('form').send({ _csrf: token, email: 'a@example.jp', password: 'p'.repeat(200_000) });
      expect(big.status).to.equal(413);
      expect(big.text).to.contain(en['error.payloadTooLarge']);
      expect(big.text).to.contain('<html lang="en">');
      expect(big.text).to.not.contain(ja('error.payloadTooLarge'));
    });

    it('a language cookie that is not valid percent-encoding is ignored: pages and refusals before the session are the portal\'s own, in Japanese, no stack trace', async () => {
      // The error page reads the cookie too (refusals before the session): a lang=%E0 made it throw in
      // turn, and Express's last-resort handler answered 500 with the URIError's stack.
      const b = new SecBrowser(h.portal.app);
      const page = await b.agent.get('/login').set('Cookie', 'lang=%E0');
      expect(page.status).to.equal(200);
      expect(page.text).to.contain('<html lang="ja">');
      const big = await b.agent.post('/login').set('Cookie', 'lang=%E0').type('form').send({ email: 'a@example.jp', password: 'p'.repeat(200_000) });
      expect(big.status).to.equal(413);
      expect(big.text).to.contain(ja('error.payloadTooLarge')).and.contain('<html lang="ja">');
      expect(big.text).to.not.match(/URIError|readCookie|at .*\.ts:\d+/);
      expect(leakProblems(big.text)).to.deep.equal([]);
      expectPageHeaders(big, '413 with a malformed language cookie');
    });

    it('the per-IP request limits answer 429 with a Japanese page and Retry-After, not the limiter\'s English default', async () => {
      // Sign-in and link forms: 30 a minute per address.
      const b = new SecBrowser(h.portal.app);
      const token = await b.csrf('/login');
      const statuses: number[] = [];
      for (let i = 0; i < 31; i += 1) {
        statuses.push((await b.agent.post('/password/forgot').type('form').send({ _csrf: token, email: `nobody${i}@example.jp` })).status);
      }
      expect(statuses.slice(0, 30).every((s) => s === 200)).to.equal(true);
      const limited = await b.agent.post('/login').type('form').send({ _csrf: token, email: 'a@example.jp', password: 'whatever password' });
      expect(limited.status).to.equal(429);
      const seconds = Number(limited.headers['retry-after']);
      expect(seconds).to.be.greaterThan(0).and.at.most(60);
      expect(limited.text).to.contain(ja('error.tooManyRequests', { seconds }));
      expect(limited.text).to.contain('<html lang="ja">');
      expectPageHeaders(limited, 'auth limit 429');
      // Other pages from that address still work.
      expect((await b.get('/login')).status).to.equal(200);

      // Everything: 600 a minute per address.
      const ip = nextIp();
      const server = http.createServer(h.portal.app).listen(0, '127.0.0.1');
      let last: Response | undefined;
      try {
        for (let sent = 0; sent < 600; sent += 50) {
          // (a cheap answer: a redirect)
          const batch = await Promise.all(Array.from({ length: 50 }, () => request(server).get('/').set('X-Forwarded-For', ip)));
          expect(batch.map((r) => r.status).every((st) => st === 303)).to.equal(true);
        }
        last = await request(server).get('/no-such-page').set('X-Forwarded-For', ip);
      } finally {
        server.close();
      }
      expect(last.status).to.equal(429);
      const s2 = Number(last!.headers['retry-after']);
      expect(s2).to.be.greaterThan(0).and.at.most(60);
      expect(last!.text).to.contain(ja('error.tooManyRequests', { seconds: s2 }));
      expect(last!.text).to.contain('<html lang="ja">');
    });

    it('403 and 401 pages are Japanese too', async () => {
      const forbidden = await browsers.firm_admin.get('/client/users');
      expect(forbidden.status).to.equal(403);
      expect(forbidden.text).to.contain(ja('error.forbidden'));
      const unauth = await new SecBrowser(h.portal.app).agent.post('/logout').type('form').send({});
      expect(unauth.status).to.equal(401);
      expect(unauth.text).to.contain(ja('error.unauthenticated'));
      for (const res of [forbidden, unauth]) {
        expect(res.text).to.match(JAPANESE);
        expect(leakProblems(res.text)).to.deep.equal([]);
      }
    });
  });

  describe('language', () => {
    it('is Japanese by default; POST /lang with lang=en switches pages and error messages to English, and back', async () => {
      const b = new SecBrowser(h.portal.app);
      const before = await b.get('/login');
      expect(before.text).to.contain('<html lang="ja">');
      expect(before.text).to.contain(ja('auth.login.title'));

      const res = await b.post('/lang', { lang: 'en', back: '/login' }, '/login');
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.equal('/login');
      const en = await b.get('/login');
      expect(en.text).to.contain('<html lang="en">');
      expect(en.text).to.contain(translate('en', 'auth.login.title'));
      const missing = await b.get('/no-such-page');
      expect(missing.status).to.equal(404);
      expect(missing.text).to.contain(translate('en', 'error.notFound'));

      // An open redirect is not possible through the "back" field.
      const evil = await b.post('/lang', { lang: 'ja', back: '//evil.example/' }, '/login');
      expect(evil.status).to.equal(303);
      expect(evil.headers.location).to.equal('/');
      expect((await b.get('/login')).text).to.contain('<html lang="ja">');
    });

    it('comes back to the page as it was asked for: its filters and page number stay', async () => {
      // (not a firm admin: the first-run test below needs the suite's one firm admin to be the only one)
      const u = await makeUser(h, { role: 'firm_staff' });
      const b = new SecBrowser(h.portal.app);
      await b.login(u);
      const asked = '/audit?operation=auth.login&result=allowed&page=1';
      const page = await b.get(asked);
      expect(page.status).to.equal(200);
      // (Handlebars writes '=' in an attribute as &#x3D;)
      const back = /name="back" value="([^"]*)"/.exec(page.text)![1]!.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&');
      expect(back).to.equal(asked);
      const res = await b.post('/lang', { lang: 'en', back }, asked);
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.equal(asked);
      const again = await b.get(res.headers.location!);
      expect(again.text).to.contain('<html lang="en">').and.contain('<option value="auth.login" selected>');
    });
  });

  describe('no inline code on any page', () => {
    it('every page of every role, the form pages with errors, and the first-run, invitation, enrolment and recovery-code pages, in both languages', async function () {
      this.timeout(120_000); // several hundred pages: near 30 s on a busy 2-core machine
      const gets = h.portal.routes.filter((r) => r.method === 'get' && r.path !== '/healthz');
      const start = renderedPages.length;

      // First run (while no admin existed the link was made; the page itself shows while no firm admin exists).
      const anon = new SecBrowser(h.portal.app);
      await anon.get('/login');
      await anon.post('/login', { email: 'nobody@example.jp', password: 'wrong password here' });
      await anon.get('/password/forgot');
      await anon.post('/password/forgot', { email: 'nobody@example.jp' });

      for (const lang of ['ja', 'en']) {
        for (const role of ROLES) {
          const b = browsers[role];
          if ((await b.get('/home')).status !== 200) await b.login(users[role]);
          await b.post('/lang', { lang, back: '/home' });
          for (const r of gets) await b.get(fillPath(r.path, { clientId: client.id }));
          await resetTotpStep(users[role]);
          await b.post('/reauth', { password: 'wrong', code: '000000' }, '/reauth');
          await b.reauth(users[role]);
          await b.get('/reauth');
          await b.get('/account/totp'); // re-enrolment page, now re-authenticated
          await b.post('/account/password', { current: 'x', password: 'short', confirm: 'other' });
        }
        // Forms re-shown with errors.
        const admin = browsers.firm_admin;
        await admin.post('/firm/clients', { code: '', name: '' });
        await admin.post(`/firm/clients/${client.id}`, { name: '' });
        await admin.post(`/firm/clients/${client.id}/establishments`, { name: '' });
        await admin.post(`/firm/clients/${client.id}/departments`, { code: '!', name: '' });
        await admin.post(`/firm/clients/${client.id}/users`, { name: '', email: 'bad', role: 'employee' });
        await admin.post(`/firm/clients/${client.id}/assignments`, { userId: 'nobody' });
        await admin.post('/firm/staff', { name: '', email: 'bad', role: 'firm_staff' });
        await browsers.client_admin.post('/client/users', { name: '', email: 'bad', role: 'employee' });
      }

      // The first-run page (only while no firm admin exists: briefly take the admin's role away).
      await User.update({ role: 'firm_staff' }, { where: { id: users.firm_admin.user.id } });
      try {
        const setup = await anon.get(`/setup/${setupToken}`);
        expect(setup.status).to.equal(200);
        await anon.agent.post(`/setup/${setupToken}`).type('form').send({ _csrf: csrfIn(setup.text), firmName: '', adminName: '', email: 'bad', password: 'short' });
      } finally {
        await User.update({ role: 'firm_admin' }, { where: { id: users.firm_admin.user.id } });
      }

      // An invitation link page, and first TOTP enrolment with its recovery codes.
      const invited = await browsers.firm_admin.post(`/firm/clients/${client.id}/users`, { name: '招待 太郎', email: 'invited@example.jp', role: 'employee' });
      expect(invited.status).to.equal(303);
      const link = linkIn(await h.smtp.lastTo('invited@example.jp'));
      const setPage = await anon.get(link);
      expect(setPage.status).to.equal(200);
      await anon.agent.post(link).type('form').send({ _csrf: csrfIn(setPage.text), password: 'short', confirm: 'other' });
      const fresh = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
      const fb = new SecBrowser(h.portal.app);
      await fb.login(fresh);
      const enrol = await fb.get('/account/totp');
      expect(enrol.status).to.equal(200);
      const secret = totpSecretIn(enrol.text);
      const codes = await fb.agent.post('/account/totp').type('form').send({ _csrf: csrfIn(enrol.text), code: await currentTotp(secret) });
      expect(codes.status).to.equal(200);
      expect(codes.text).to.match(/[a-z0-9]{5}-[a-z0-9]{5}/);

      const visited = renderedPages.slice(start);
      expect(visited.length).to.be.greaterThan(100);
      const statuses = new Set(visited.map((p) => p.status));
      for (const s of [200, 400, 401, 403, 404]) expect(statuses.has(s), `saw a ${s} page`).to.equal(true);
      for (const p of visited) expect(inlineProblems(p.html), `${p.status} ${p.url}`).to.deep.equal([]);
      // What users typed is escaped, never markup.
      for (const p of visited) {
        expect(p.html, p.url).to.not.contain('<script>alert');
        expect(p.html, p.url).to.not.contain('<img src=x');
      }
      expect(visited.some((p) => p.html.includes('&lt;script&gt;alert'))).to.equal(true);
      // English pages write brackets and quotes the English way (names people typed may be Japanese, not the page's own text).
      const english = visited.filter((p) => p.html.includes('<html lang="en">'));
      expect(english.length).to.be.greaterThan(30);
      for (const p of english) expect(p.html.match(/[（）「」。、]/g) ?? [], `${p.status} ${p.url}`).to.deep.equal([]);
      // And no Japanese word of the page's own: what is left once the names people typed (and the switch to 日本語) are taken out.
      const typed = (await Promise.all([
        Client.findAll(), User.findAll(), Employee.findAll(), Dependant.findAll(), Payee.findAll(), Department.findAll(), Establishment.findAll(), StoredFile.findAll(), Firm.findAll(),
      ])).flat().flatMap((row) => Object.values(row.get({ plain: true }) as Record<string, unknown>)).filter((v): v is string => typeof v === 'string' && /[\u3040-\u30ff\u3400-\u9fff]/.test(v));
      // The English texts name Japanese only where a Japanese file or form holds it (a CSV heading, a 続柄 value, the 支払調書); no other key may.
      const cjk = /[\u3040-\u30ff\u3400-\u9fff]+/g;
      const named = Object.entries(en as Record<string, string>).filter(([, v]) => /[\u3040-\u30ff\u3400-\u9fff]/.test(v));
      expect(named.map(([k]) => k).sort()).to.deep.equal(['people.import.guide.relationship', 'people.import.header', 'vault.import.guide.order', 'vault.import.header', 'vault.link.purposePayee']);
      const words = [...new Set([...typed, ...typed.flatMap((t) => t.split(/[\s　]+/)), ...named.flatMap(([, v]) => v.match(cjk) ?? []), '日本語'])].sort((x, y) => y.length - x.length);
      for (const p of english) {
        const entities: Record<string, string> = { '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#x27;': "'", '&#39;': "'", '&#x3D;': '=', '&#x60;': '`', '&amp;': '&' };
        // Text in <code> is a file's own content (the import's Japanese headings and example values), not the page's words.
        let text = p.html.replace(/<code>[^<]*<\/code>/g, ' ').replace(/<[^>]*>/g, ' ').replace(/&(lt|gt|quot|#x27|#39|#x3D|#x60|amp);/g, (e) => entities[e]!);
        for (const w of words) text = text.split(w).join(' ');
        const left = text.match(/[\u3040-\u30ff\u3400-\u9fff]+/g) ?? [];
        expect(left, `${p.status} ${p.url}`).to.deep.equal([]);
      }
    });
  });
});

describe('Security: headers behind an https proxy', () => {
  let h: Harness;
  before(async () => { h = await proxiedHarness({ PUBLIC_URL: 'https://portal.test' }); });
  after(async () => { await h.close(); });

  it('sends HSTS (at least a year) and upgrade-insecure-requests, plus the other strict headers', async () => {
    const b = new SecBrowser(h.portal.app, { headers: { 'X-Forwarded-Proto': 'https' } });
    for (const path of ['/login', '/no-such-page']) {
      const res = await b.get(path);
      expectPageHeaders(res, path);
      const hsts = String(res.headers['strict-transport-security'] ?? '');
      const maxAge = Number(/max-age=(\d+)/.exec(hsts)?.[1] ?? 0);
      expect(maxAge, `${path}: HSTS max-age`).to.be.at.least(365 * 24 * 3600);
      expect(csp(res).has('upgrade-insecure-requests'), path).to.equal(true);
    }
  });

  it('pages rendered here have no inline code either', async () => {
    const res = await new SecBrowser(h.portal.app, { headers: { 'X-Forwarded-Proto': 'https' } }).get('/login');
    expect(inlineProblems(res.text)).to.deep.equal([]);
    expect(res.text).to.contain('<html lang="ja">');
  });
});
