import { expect } from 'chai';
import request from 'supertest';
import type { Harness } from '../support/harness';
import { makeClient, makeUser, type MadeUser } from '../support/factories';
import { SecBrowser, editSession, inlineProblems, ja, proxiedHarness, readSession, renderedPages, resetTotpStep, sidOfCookie } from '../support/security';
import { AuditEvent, SessionRow, User } from '../../server/db/models';
import { currentTotp } from '../../server/auth/totp';
import { SESSION_COOKIE } from '../../server/web/middleware/session';
import { csrfIn } from '../support/browser';
import { heldDuring } from '../support/in-flight';
import { makePayee } from '../support/vault';
import { systemContext } from '../../server/audit';

const MINUTE = 60 * 1000;
const REAUTH_MINUTES = 7;

/** The Set-Cookie line for the session cookie, if the response set it. */
function sessionSetCookie(res: request.Response): string | undefined {
  const raw = res.headers['set-cookie'] as unknown as string[] | string | undefined;
  const lines = Array.isArray(raw) ? raw : raw ? [raw] : [];
  return lines.find((l) => l.startsWith(`${SESSION_COOKIE}=`));
}

const attrs = (line: string) => line.split(';').slice(1).map((a) => a.trim().toLowerCase());

describe('Security: sessions', () => {
  let h: Harness;
  before(async () => { h = await proxiedHarness({ REAUTH_MINUTES: String(REAUTH_MINUTES) }); });
  after(async () => { await h.close(); });

  const browser = () => new SecBrowser(h.portal.app);
  /** A different client replaying a copied Cookie header. */
  const replay = (cookieHeader: string, path = '/home') =>
    request.agent(h.portal.app).get(path).set('Cookie', cookieHeader).set('X-Forwarded-For', '198.19.0.1');

  describe('session fixation', () => {
    it('a cookie from before sign-in never becomes the signed-in session; the id changes at each step and again on re-authentication', async () => {
      const u = await makeUser(h, { role: 'firm_staff' });
      const b = browser();
      await b.get('/login');
      const planted = b.cookieHeader();
      const c0 = b.sid()!;
      expect(await SessionRow.count({ where: { sid: c0 } })).to.equal(1);

      const pw = await b.passwordStep(u.email, u.password);
      expect(pw.headers.location).to.equal('/login/totp');
      const c1 = b.sid()!;
      expect(c1).to.not.equal(c0);
      const pending = b.cookieHeader();

      await resetTotpStep(u);
      const done = await b.codeStep(await currentTotp(u.totpSecret!));
      expect(done.status).to.equal(303);
      const c2 = b.sid()!;
      expect(c2).to.not.equal(c1);
      expect(c2).to.not.equal(c0);
      expect((await b.get('/home')).status).to.equal(200);

      // Neither the planted cookie nor the half-way one carries the sign-in.
      for (const old of [planted, pending]) {
        const res = await replay(old);
        expect(res.status).to.equal(303);
        expect(res.headers.location).to.match(/^\/login/);
      }
      expect(await SessionRow.count({ where: { sid: [c0, c1] } })).to.equal(0);
      const signedIn = b.cookieHeader();
      expect((await replay(signedIn)).status).to.equal(200);

      // Re-authentication gives yet another id; the previous one is dead.
      expect((await b.reauth(u)).status).to.equal(303);
      const c3 = b.sid()!;
      expect(c3).to.not.equal(c2);
      expect((await b.get('/home')).status).to.equal(200);
      const stale = await replay(signedIn);
      expect(stale.status).to.equal(303);
      expect(stale.headers.location).to.match(/^\/login/);
      expect(await SessionRow.count({ where: { sid: c2 } })).to.equal(0);
    });

    it('also without TOTP: the session id changes at sign-in', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      const b = browser();
      await b.get('/login');
      const before = b.sid()!;
      const planted = b.cookieHeader();
      const res = await b.passwordStep(u.email, u.password);
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.equal('/home');
      expect(b.sid()).to.not.equal(before);
      expect((await b.get('/home')).status).to.equal(200);
      expect((await replay(planted)).status).to.equal(303);
    });
  });

  describe('logout', () => {
    it('ends the session on the server: the copied cookie is sent to /login afterwards', async () => {
      const u = await makeUser(h, { role: 'client_admin', clientId: (await makeClient(h)).id, totp: false });
      const b = browser();
      await b.login(u);
      const copied = b.cookieHeader();
      const sid = b.sid()!;
      expect((await replay(copied)).status).to.equal(200);

      const out = await b.post('/logout', {});
      expect(out.status).to.equal(303);
      expect(out.headers.location).to.equal('/login?reason=loggedOut');
      expect(await SessionRow.count({ where: { sid } })).to.equal(0);

      const res = await replay(copied);
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.match(/^\/login\?/);
      expect(await SessionRow.count({ where: { userId: u.user.id } })).to.equal(0);
      expect((await AuditEvent.count({ where: { operation: 'auth.logout', actorId: u.user.id } }))).to.equal(1);
    });

    /**
     * Holds a request of this cookie inside its handler (after its session was read, with activity to
     * record, so it stores its session as it ends), runs `meanwhile`, then lets it finish.
     */
    async function inFlightDuring(cookie: string, sid: string, meanwhile: () => Promise<void>): Promise<number> {
      await editSession(sid, (d) => { d.lastSeenAt = Date.now() - 2 * MINUTE; });
      return heldDuring(h.booted.services.accounts, () => replay(cookie).then((r) => r), meanwhile);
    }

    /** A signed-in employee, and their session cookie copied (as by someone who got hold of it). */
    async function signedInWithCopy() {
      const u = await makeUser(h, { role: 'employee', totp: false });
      const b = browser();
      await b.login(u);
      return { u, b, copied: b.cookieHeader(), sid: b.sid()! };
    }

    /** The copied cookie's session is over: the row stays gone and the cookie leads to the sign-in page. */
    async function expectEnded(copied: string, sid: string, what: string) {
      expect(await SessionRow.count({ where: { sid } }), what).to.equal(0);
      const res = await replay(copied);
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.match(/^\/login/);
    }

    it('a request of the same session in flight during the logout does not write the ended session back', async () => {
      const { b, copied, sid } = await signedInWithCopy();
      const status = await inFlightDuring(copied, sid, async () => {
        expect((await b.post('/logout', {})).status).to.equal(303);
        expect(await SessionRow.count({ where: { sid } })).to.equal(0);
      });
      expect(status).to.equal(200);
      await expectEnded(copied, sid, 'the ended session\'s row');
    });

    it('nor does one in flight during a re-authentication bring back the id the session had before', async () => {
      const { u, b, copied, sid } = await signedInWithCopy();
      await inFlightDuring(copied, sid, async () => {
        await b.reauth(u);
        expect(b.sid()).to.not.equal(sid);
      });
      await expectEnded(copied, sid, 'the old id\'s row');
      expect((await b.get('/home')).status).to.equal(200);
    });
  });

  describe('disabling a user', () => {
    it('ends all of that user\'s sessions at once', async () => {
      const admin = await makeUser(h, { role: 'firm_admin' });
      const client = await makeClient(h);
      const target = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
      const t1 = browser();
      const t2 = browser();
      await t1.login(target);
      await t2.login(target);
      expect((await t1.get('/home')).status).to.equal(200);
      expect(await SessionRow.count({ where: { userId: target.user.id } })).to.equal(2);

      const a = browser();
      await a.login(admin);
      // Behind re-authentication, which comes back to the page the row was on (a client's page or the staff list; nowhere else).
      const refused = await a.post(`/firm/users/${target.user.id}/disable`, { back: `/firm/clients/${client.id}` });
      expect(refused.status).to.equal(403);
      // (Handlebars writes the link's = as &#x3D;)
      const comesBackTo = (html: string) => decodeURIComponent(/href="\/reauth\?next(?:=|&#x3D;)([^"]*)"/.exec(html)?.[1] ?? '');
      expect(comesBackTo(refused.text)).to.equal(`/firm/clients/${client.id}`);
      for (const back of [undefined, '/account', '//evil.example/firm/clients', `/firm/clients/${client.id}/../../account`]) {
        const page = await a.post(`/firm/users/${target.user.id}/disable`, back === undefined ? {} : { back });
        expect(comesBackTo(page.text), String(back)).to.equal('/firm/staff');
      }
      expect((await a.get(`/firm/clients/${client.id}`)).text).to.contain(`name="back" value="/firm/clients/${client.id}"`);
      expect(await SessionRow.count({ where: { userId: target.user.id } })).to.equal(2);
      await a.reauth(admin);
      const res = await a.post(`/firm/users/${target.user.id}/disable`, {});
      expect(res.status).to.equal(303);

      expect(await SessionRow.count({ where: { userId: target.user.id } })).to.equal(0);
      expect((await User.findByPk(target.user.id))!.disabledAt).to.not.equal(null);
      for (const t of [t1, t2]) {
        const next = await t.get('/home');
        expect(next.status).to.equal(303);
        expect(next.headers.location).to.match(/^\/login/);
      }
      // And the right password no longer signs in.
      expect((await browser().passwordStep(target.email, target.password)).status).to.equal(401);
      // The admin's own session is untouched.
      expect((await a.get('/home')).status).to.equal(200);
    });
  });

  describe('idle timeout and absolute lifetime', () => {
    let u: MadeUser;
    before(async () => { u = await makeUser(h, { role: 'employee', totp: false }); });

    async function signedIn(): Promise<{ b: SecBrowser; sid: string }> {
      const b = browser();
      await b.login(u);
      expect((await b.get('/home')).status).to.equal(200);
      return { b, sid: b.sid()! };
    }

    async function expectExpired(b: SecBrowser, sid: string) {
      const res = await b.get('/home');
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.match(/^\/login\?.*reason=expired/);
      expect(await SessionRow.count({ where: { sid } })).to.equal(0);
      const page = await b.get(res.headers.location!);
      expect(page.text).to.contain(ja('auth.reason.expired'));
    }

    it('29 minutes idle is still signed in', async () => {
      const { b, sid } = await signedIn();
      await editSession(sid, (d) => { d.lastSeenAt = Date.now() - 29 * MINUTE; });
      expect((await b.get('/home')).status).to.equal(200);
      // The request counted as activity.
      expect(Number((await readSession(sid))!.lastSeenAt)).to.be.greaterThan(Date.now() - MINUTE);
    });

    it('31 minutes idle: the next request goes to /login?…reason=expired and the session is gone', async () => {
      const { b, sid } = await signedIn();
      await editSession(sid, (d) => { d.lastSeenAt = Date.now() - 31 * MINUTE; });
      await expectExpired(b, sid);
    });

    it('just under 12 hours since sign-in, active, is still signed in', async () => {
      const { b, sid } = await signedIn();
      await editSession(sid, (d) => { d.startedAt = Date.now() - 12 * 60 * MINUTE + 2 * MINUTE; d.lastSeenAt = Date.now() - 1000; });
      expect((await b.get('/home')).status).to.equal(200);
    });

    it('over 12 hours since sign-in ends the session even when active', async () => {
      const { b, sid } = await signedIn();
      await editSession(sid, (d) => { d.startedAt = Date.now() - 12 * 60 * MINUTE - MINUTE; d.lastSeenAt = Date.now() - 1000; });
      await expectExpired(b, sid);
    });

    it('an expired session that opens a public page gets the page, with a form that works (not an error page)', async () => {
      for (const path of ['/login', '/password/forgot', '/r/no-such-link-token-0123456789', '/verify']) {
        const { b, sid } = await signedIn();
        await editSession(sid, (d) => { d.lastSeenAt = Date.now() - 31 * MINUTE; });
        const res = await b.get(path);
        expect(res.status, path).to.equal(path.startsWith('/r/') ? 404 : 200);
        expect(res.text, path).to.match(/name="_csrf" value="[^"]+"/);
        expect(await SessionRow.count({ where: { sid } }), path).to.equal(0);
      }
      const { b, sid } = await signedIn();
      await editSession(sid, (d) => { d.lastSeenAt = Date.now() - 31 * MINUTE; });
      expect((await b.get('/login')).status).to.equal(200);
      await b.login(u);
      expect((await b.get('/home')).status).to.equal(200);
    });

    it('a public form of a page open from before the session expired (the language switch): told the session ended and to sign in again, not a 500 nor "reopen the page"', async () => {
      const { b, sid } = await signedIn();
      const form = csrfIn((await b.get('/account')).text);
      await editSession(sid, (d) => { d.lastSeenAt = Date.now() - 31 * MINUTE; });
      const late = await b.agent.post('/lang').type('form').send({ _csrf: form, lang: 'en', back: '/account' });
      expect(late.status).to.equal(401);
      expect(late.text).to.contain(ja('auth.reason.expired')).and.contain('href="/login"').and.not.contain(ja('error.csrf'));
      expect(await SessionRow.count({ where: { sid } })).to.equal(0);
    });

    it("a one-time link's form sent after the signed-in session expired: its token does not go into the sign-in's address; the link's page is offered again", async () => {
      // The 401 page's sign-in button came back to the form's page as /login?next=/r/<token>: a link's
      // secret copied into another address (and, through the sign-in form, into a session), for a form that needs no sign-in.
      const client = await makeClient(h, { code: 'SXL', name: '株式会社きれたリンク' });
      const issuer = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
      const { person } = await makePayee(client.id, { name: '講師 四郎' });
      const link = await h.booted.services.vaultLinks.create(systemContext('test'), person, issuer.user.id, null);
      const path = new URL(link.url).pathname;
      const secret = path.split('/').pop()!;
      const { b, sid } = await signedIn();
      const form = csrfIn((await b.get(path)).text);
      await editSession(sid, (d) => { d.lastSeenAt = Date.now() - 31 * MINUTE; });
      const late = await b.agent.post(path).type('form').send({ _csrf: form, code: link.code, number: '123456789018', confirm: 'on' });
      expect(late.status).to.equal(401);
      expect(late.text).to.contain(ja('auth.reason.expired')).and.contain('href="/login"');
      expect(late.text).to.contain(`href="${path}" data-testid="reopen-form"`);
      expect(late.text.match(/href="\/login[^"]*"/g)!.join(' ')).to.not.contain(secret);
      expect(late.text).to.not.contain(ja('error.notSaved')).and.not.contain('123456789018');
      // The link still works from its page, opened afresh.
      const reopened = await b.get(path);
      expect(reopened.status).to.equal(200);
    });

    it('an expired session cannot POST either', async () => {
      const { b, sid } = await signedIn();
      const token = await b.csrf('/account');
      await editSession(sid, (d) => { d.lastSeenAt = Date.now() - 31 * MINUTE; });
      const res = await b.agent.post('/logout').type('form').send({ _csrf: token });
      expect(res.status).to.equal(401);
      expect(await SessionRow.count({ where: { sid } })).to.equal(0);
    });

    // From a product walk: a number typed on a phone left a while came back as 「ログインが必要です」, its button to
    // the bare sign-in page (then the home page), with no word on whether the number went in.
    it("a form sent after the session expired (a number, a dependant): the page says nothing was saved, and signing in comes back to the form's page", async () => {
      for (const [path, formPage] of [['/me/numbers', '/me/numbers'], ['/me/dependants', '/me/numbers'], [`/me/numbers/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}/confirm`, '/me/numbers']] as const) {
        const { b, sid } = await signedIn();
        const token = await b.csrf('/account');
        await editSession(sid, (d) => { d.lastSeenAt = Date.now() - 31 * MINUTE; });
        const res = await b.agent.post(path).type('form').send({ _csrf: token, name: '山田 花子', relationship: 'child', number: '123456789018', confirm: 'on' });
        expect(res.status, path).to.equal(401);
        expect(res.text, path).to.contain(ja('auth.reason.expired')).and.contain(ja('error.notSaved'))
          .and.contain(`href="/login?next&#x3D;${encodeURIComponent(formPage)}"`).and.not.contain('123456789018');
        const login = await b.get(`/login?next=${encodeURIComponent(formPage)}`);
        const back = await b.agent.post('/login').type('form').send({ _csrf: csrfIn(login.text), email: u.email, password: u.password, next: formPage });
        expect(back.headers.location, path).to.equal(formPage);
      }
    });

    it('an upload (JSON) made after the session expired is told why, so the page can offer to sign in again', async () => {
      const { b, sid } = await signedIn();
      const token = await b.csrf('/files');
      await editSession(sid, (d) => { d.lastSeenAt = Date.now() - 31 * MINUTE; });
      const res = await b.agent.post('/files').set('X-CSRF-Token', token).set('Accept', 'application/json').field('direction', 'to_firm').attach('files', Buffer.from('%PDF-1.7\n'), 'a.pdf');
      expect(res.status).to.equal(401);
      expect(res.body.error).to.deep.equal({ code: 'auth.reason.expired', message: ja('auth.reason.expired') });
    });
  });

  describe('cookie flags', () => {
    it('the session cookie is HttpOnly, SameSite=Lax, Path=/, and (over http) not Secure', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      const b = browser();
      const first = sessionSetCookie(await b.get('/login'));
      expect(first, 'session cookie on the login page').to.be.a('string');
      const token = await b.csrf('/login');
      const signedIn = sessionSetCookie(await b.agent.post('/login').type('form').send({ _csrf: token, email: u.email, password: u.password }));
      expect(signedIn, 'session cookie after sign-in').to.be.a('string');
      for (const line of [first!, signedIn!]) {
        expect(attrs(line)).to.include.members(['httponly', 'samesite=lax', 'path=/']);
        expect(attrs(line)).to.not.include('secure');
        // Kept by the browser for the session's whole lifetime (12 h), not only its idle time: the server
        // must see an idle-expired session to say why it signed the person out.
        const expires = Date.parse(attrs(line).find((a) => a.startsWith('expires='))!.slice('expires='.length));
        expect((expires - Date.now()) / 3_600_000).to.be.within(11.9, 12);
      }
    });
  });

  describe('re-authentication', () => {
    let u: MadeUser;
    before(async () => { u = await makeUser(h, { role: 'firm_staff' }); });

    /** A harmless sensitive request: reaches the handler only when re-authenticated (then 400 for the mismatch). */
    const sensitive = (b: SecBrowser) => b.post('/account/password', { current: u.password, password: 'x'.repeat(20), confirm: 'y'.repeat(20) });

    it(`lasts REAUTH_MINUTES (${REAUTH_MINUTES}) for this session, then is needed again`, async () => {
      const b = browser();
      await b.login(u);
      expect((await sensitive(b)).status).to.equal(403);
      const t0 = Date.now();
      await b.reauth(u);
      const t1 = Date.now();
      const sid = b.sid()!;
      const until = Number((await readSession(sid))!.reauthUntil);
      expect(until).to.be.within(t0 + REAUTH_MINUTES * MINUTE, t1 + REAUTH_MINUTES * MINUTE);
      expect((await sensitive(b)).status).to.equal(400);

      await editSession(sid, (d) => { d.reauthUntil = Date.now() + MINUTE; });
      expect((await sensitive(b)).status).to.equal(400);

      await editSession(sid, (d) => { d.reauthUntil = Date.now() - 1000; });
      const res = await sensitive(b);
      expect(res.status).to.equal(403);
      expect(res.text).to.contain(ja('error.reauthRequired'));
      // Still signed in: only the window closed.
      expect((await b.get('/home')).status).to.equal(200);
    });

    it('re-authenticating in another session of the same user does not count for this one', async () => {
      const mine = browser();
      const theirs = browser();
      await mine.login(u);
      await theirs.login(u);
      await resetTotpStep(u);
      expect((await theirs.reauth(u)).status).to.equal(303);
      expect((await sensitive(theirs)).status).to.equal(400);
      const res = await sensitive(mine);
      expect(res.status).to.equal(403);
      expect(res.text).to.contain(ja('error.reauthRequired'));
      expect((await readSession(mine.sid()!))!.reauthUntil).to.equal(undefined);
    });

    it('a wrong password or code does not open the window', async () => {
      const b = browser();
      await b.login(u);
      await resetTotpStep(u);
      const wrongPassword = await b.post('/reauth', { password: 'not the password', code: await currentTotp(u.totpSecret!) }, '/reauth');
      expect(wrongPassword.status).to.equal(401);
      await resetTotpStep(u);
      const wrongCode = await b.post('/reauth', { password: u.password, code: '000000' === (await currentTotp(u.totpSecret!)) ? '111111' : '000000' }, '/reauth');
      expect(wrongCode.status).to.equal(401);
      expect((await sensitive(b)).status).to.equal(403);
    });
  });

  describe('pages rendered by this suite', () => {
    it('have no inline script or style', () => {
      expect(renderedPages.length).to.be.greaterThan(10);
      for (const p of renderedPages) expect(inlineProblems(p.html), `${p.status} ${p.url}`).to.deep.equal([]);
    });
  });
});

describe('Security: sessions behind an https proxy', () => {
  let h: Harness;
  before(async () => { h = await proxiedHarness({ PUBLIC_URL: 'https://portal.test' }); });
  after(async () => { await h.close(); });

  it('the session cookie is Secure, HttpOnly and SameSite=Lax when reached over https', async () => {
    const u = await makeUser(h, { role: 'employee', totp: false });
    const b = new SecBrowser(h.portal.app, { headers: { 'X-Forwarded-Proto': 'https' } });
    const res = await b.get('/login');
    const line = sessionSetCookie(res);
    expect(line).to.be.a('string');
    expect(attrs(line!)).to.include.members(['secure', 'httponly', 'samesite=lax', 'path=/']);
    // The agent would not send a Secure cookie back over the test's plain connection; send it by hand.
    const token = /name="_csrf" value="([^"]+)"/.exec(res.text)![1]!;
    const cookie = line!.split(';')[0]!;
    const login = await request(h.portal.app).post('/login').set('Cookie', cookie).set('X-Forwarded-Proto', 'https').set('X-Forwarded-For', b.ip)
      .type('form').send({ _csrf: token, email: u.email, password: u.password });
    expect(login.status).to.equal(303);
    const after = sessionSetCookie(login);
    expect(after).to.be.a('string');
    expect(attrs(after!)).to.include.members(['secure', 'httponly', 'samesite=lax']);
    expect(sidOfCookie(after!.split(';')[0]!.split('=').slice(1).join('='))).to.not.equal(sidOfCookie(cookie.split('=').slice(1).join('=')));
  });

  it('over plain http the secure cookie is not sent at all', async () => {
    const res = await new SecBrowser(h.portal.app).get('/login');
    expect(res.status).to.equal(200);
    expect(sessionSetCookie(res)).to.equal(undefined);
  });
});
