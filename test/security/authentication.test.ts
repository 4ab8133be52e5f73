import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { TestBrowser, csrfIn, totpSecretIn } from '../support/browser';
import { makeClient, makeUser, type MadeUser } from '../support/factories';
import { SecBrowser, JAPANESE, editSession, giveRecoveryCodes, inlineProblems, ja, proxiedHarness, renderedPages, resetTotpStep, withoutCsrf } from '../support/security';
import { AuditEvent, Employee, OneTimeToken, SessionRow, User } from '../../server/db/models';
import { currentTotp } from '../../server/auth/totp';
import { linkIn } from '../support/smtp';
import { heldDuring } from '../support/in-flight';

describe('Security: authentication', () => {
  let h: Harness;
  before(async () => { h = await proxiedHarness(); });
  after(async () => { await h.close(); });

  const browser = () => new SecBrowser(h.portal.app);

  describe('wrong password', () => {
    let u: MadeUser;
    before(async () => { u = await makeUser(h, { role: 'client_admin', totp: false }); });

    it('answers a real user with a wrong password exactly as an unknown user (status and page)', async () => {
      const email = 'nobody-here@example.jp';
      expect(await User.count({ where: { email } })).to.equal(0);
      const known = await browser().passwordStep(u.email, 'wrong password, long enough');
      const unknown = await browser().passwordStep(email, 'wrong password, long enough');
      expect(known.status).to.equal(401);
      expect(unknown.status).to.equal(401);
      expect(known.text).to.contain(ja('auth.loginFailed'));
      // The form echoes the address typed; apart from that and the per-session CSRF token, the pages are the same.
      const normalise = (html: string, typed: string) => withoutCsrf(html).split(typed).join('EMAIL');
      expect(normalise(known.text, u.email)).to.equal(normalise(unknown.text, email));
      expect(known.headers['content-type']).to.equal(unknown.headers['content-type']);
    });

    it('a password typed into the address field by mistake is not kept in the log (nor a reset asked for with one)', async () => {
      const typed = 'P@ssw0rd.1';
      expect((await browser().passwordStep(typed, 'anything at all here')).status).to.equal(401);
      expect((await browser().post('/password/forgot', { email: typed })).status).to.equal(200);
      const rows = await AuditEvent.findAll({ where: { operation: ['auth.login', 'auth.password.reset_request'] }, order: [['seq', 'DESC']], limit: 2 });
      expect(rows.map((r) => [r.operation, r.targetLabel, r.detail])).to.deep.equal([
        ['auth.password.reset_request', null, 'not an address'], ['auth.login', null, 'bad credentials; not an address'],
      ]);
      expect(JSON.stringify(await AuditEvent.findAll())).to.not.contain(typed);
    });

    it('answers a disabled user with the right password the same way, and signs nobody in', async () => {
      const d = await makeUser(h, { role: 'employee', totp: false });
      await User.update({ disabledAt: new Date() }, { where: { id: d.user.id } });
      const b = browser();
      const disabled = await b.passwordStep(d.email, d.password);
      const unknown = await browser().passwordStep('nobody-either@example.jp', d.password);
      expect(disabled.status).to.equal(401);
      expect(withoutCsrf(disabled.text).split(d.email).join('EMAIL')).to.equal(withoutCsrf(unknown.text).split('nobody-either@example.jp').join('EMAIL'));
      expect((await b.get('/home')).status).to.equal(303);
    });
  });

  it('re-authentication asks a person without TOTP for the password only, and says so when it is wrong', async () => {
    const u = await makeUser(h, { role: 'employee', totp: false });
    const b = browser();
    await b.login(u);
    const form = await b.get('/reauth');
    expect(form.text).to.contain(ja('auth.reauth.introPassword', { minutes: 5 })).and.not.contain('name="code"');
    const wrong = await b.post('/reauth', { password: 'not my password at all' }, '/reauth');
    expect(wrong.status).to.equal(401);
    expect(wrong.text).to.contain(ja('auth.reauthPasswordFailed')).and.not.contain('確認コード');
    const staff = await makeUser(h, { role: 'firm_staff' });
    const s = browser();
    await s.login(staff);
    expect((await s.get('/reauth')).text).to.contain(ja('auth.reauth.intro', { minutes: 5 })).and.contain('name="code"');
  });

  describe('no account enumeration, no open redirect', () => {
    it('"forgot password" answers a known and an unknown address the same way', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      const known = await browser().post('/password/forgot', { email: u.email });
      const unknown = await browser().post('/password/forgot', { email: 'not-a-user@example.jp' });
      expect(known.status).to.equal(200);
      expect(unknown.status).to.equal(200);
      expect(withoutCsrf(known.text)).to.equal(withoutCsrf(unknown.text));
      await h.smtp.lastTo(u.email);
      expect(h.smtp.messages.some((m) => JSON.stringify(m.to).includes('not-a-user@example.jp'))).to.equal(false);
    });

    it('while the mail server refuses, a known address is answered as an unknown one, and the link mailed earlier still works', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      expect((await browser().post('/password/forgot', { email: u.email })).status).to.equal(200);
      const earlier = linkIn(await h.smtp.lastTo(u.email));
      const tokens = await OneTimeToken.count({ where: { userId: u.user.id } });
      h.smtp.refusing = true;
      let known, unknown;
      try {
        known = await browser().post('/password/forgot', { email: u.email });
        unknown = await browser().post('/password/forgot', { email: 'not-a-user-either@example.jp' });
      } finally { h.smtp.refusing = false; }
      expect(known.status).to.equal(200);
      expect(withoutCsrf(known.text)).to.equal(withoutCsrf(unknown.text));
      expect(await OneTimeToken.count({ where: { userId: u.user.id } })).to.equal(tokens);
      expect((await browser().get(earlier)).status).to.equal(200);
      // The operator sees the refusal in the log.
      const row = await AuditEvent.findOne({ where: { operation: 'auth.password.reset_request', targetId: u.user.id }, order: [['seq', 'DESC']] });
      expect([row?.result, row?.detail]).to.deep.equal(['error', 'mail refused']);
    });

    it('a reset asked for from an English page comes in English to a person who chose no language', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      const b = browser();
      await b.post('/lang', { lang: 'en', back: '/password/forgot' }, '/login');
      expect((await b.post('/password/forgot', { email: u.email })).status).to.equal(200);
      expect((await h.smtp.lastTo(u.email)).subject).to.equal('[Akatsuki Portal] Reset your password');
    });

    it('the "next" of a sign-in only ever leads to a path on this site', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      for (const next of ['//evil.example/', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)', '/\t/evil.example']) {
        const b = browser();
        const res = await b.post('/login', { email: u.email, password: u.password, next });
        expect(res.status, next).to.equal(303);
        expect(res.headers.location, next).to.equal('/home');
      }
      const ok = await browser().post('/login', { email: u.email, password: u.password, next: '/account' });
      expect(ok.headers.location).to.equal('/account');
    });
  });

  describe('throttling repeated failures', () => {
    it('refuses the 6th try from one IP with 429, Retry-After and a Japanese message; another IP can still sign in; the refusal is audited', async () => {
      const u = await makeUser(h, { role: 'firm_staff' });
      const attacker = browser();
      for (let i = 1; i <= 5; i += 1) {
        const res = await attacker.passwordStep(u.email, `wrong guess number ${i}`);
        expect(res.status, `failure ${i}`).to.equal(401);
      }
      const auditBefore = await AuditEvent.count({ where: { operation: 'auth.login', result: 'denied', detail: 'throttled' } });
      // Even the right password is refused now, from this address.
      const sixth = await attacker.passwordStep(u.email, u.password);
      expect(sixth.status).to.equal(429);
      const retryAfter = Number(sixth.headers['retry-after']);
      expect(retryAfter).to.be.greaterThan(0).and.at.most(15 * 60);
      expect(sixth.text).to.match(JAPANESE);
      expect(sixth.text).to.contain(ja('error.tooManyRequests', { seconds: retryAfter }));
      expect(await AuditEvent.count({ where: { operation: 'auth.login', result: 'denied', detail: 'throttled' } })).to.equal(auditBefore + 1);
      const row = await AuditEvent.findOne({ where: { operation: 'auth.login', result: 'denied', detail: 'throttled' }, order: [['seq', 'DESC']] });
      expect(row!.ip).to.equal(attacker.ip);
      expect(row!.targetLabel).to.equal(u.email);

      // The real user, elsewhere, is not locked out by the stranger's guesses.
      const owner = browser();
      await owner.login(u);
      const home = await owner.get('/home');
      expect(home.status).to.equal(200);

      // And from the attacker's address it stays refused.
      expect((await attacker.passwordStep(u.email, u.password)).status).to.equal(429);
    });

    it('wrong passwords sent all at once from one IP are counted before any is checked: five are answered 401, the rest 429', async () => {
      const u = await makeUser(h, { role: 'firm_staff' });
      const attacker = browser();
      const statuses = (await Promise.all(Array.from({ length: 12 }, (_, i) => attacker.passwordStep(u.email, `parallel guess ${i}`)))).map((r) => r.status);
      expect(statuses.filter((st) => st === 401), statuses.join(' ')).to.have.length(5);
      expect(statuses.filter((st) => st === 429), statuses.join(' ')).to.have.length(7);
      expect((await attacker.passwordStep(u.email, u.password)).status).to.equal(429);
    });

    it('a sign-in left at the code step costs nothing: after six right passwords without a code, the password and a code still sign in', async () => {
      const u = await makeUser(h, { role: 'firm_staff' });
      // One address throughout (each test browser has its own).
      const visitor = browser();
      for (let i = 0; i < 6; i++) {
        const res = await visitor.passwordStep(u.email, u.password);
        expect(res.status, `password step ${i + 1}`).to.equal(303);
        expect(res.headers.location).to.equal('/login/totp');
      }
      expect((await visitor.codeStep(await currentTotp(u.totpSecret!))).status).to.equal(303);
      expect((await visitor.get('/home')).status).to.equal(200);
      // A wrong password from that address still counts: after five, even the right one waits.
      const guesser = new SecBrowser(h.portal.app, { ip: visitor.ip });
      for (let i = 1; i <= 5; i++) expect((await guesser.passwordStep(u.email, `wrong again ${i}`)).status, `wrong ${i}`).to.equal(401);
      expect((await guesser.passwordStep(u.email, u.password)).status).to.equal(429);
    });

    it('wrong codes from many addresses, with the right password, add up for the account: after 20 in an hour the code step waits, from any address', async () => {
      const u = await makeUser(h, { role: 'firm_staff' });
      // Four wrong codes from each of five addresses: under each address's own limit of five.
      for (let a = 0; a < 5; a++) {
        const attacker = browser();
        expect((await attacker.passwordStep(u.email, u.password)).headers.location).to.equal('/login/totp');
        for (let i = 0; i < 4; i++) expect((await attacker.codeStep(String(100000 + a * 10 + i))).status, `address ${a}, code ${i}`).to.equal(401);
      }
      const fresh = browser();
      expect((await fresh.passwordStep(u.email, u.password)).headers.location).to.equal('/login/totp');
      const refused = await fresh.codeStep('123456');
      expect(refused.status).to.equal(429);
      expect(Number(refused.headers['retry-after'])).to.be.greaterThan(0).and.at.most(3600);
      expect(refused.text).to.contain(ja('error.tooManyRequests', { seconds: Number(refused.headers['retry-after']) }));
      // The password step itself is not locked for the account (a stranger's wrong passwords never lock anyone out).
      expect((await browser().passwordStep(u.email, u.password)).headers.location).to.equal('/login/totp');
    });

    it('so do wrong codes at re-authentication with the right password, sent through one session from many addresses', async () => {
      const u = await makeUser(h, { role: 'firm_staff' });
      const owner = browser();
      await owner.login(u);
      for (let a = 0; a < 5; a++) {
        const elsewhere = new SecBrowser(h.portal.app, { headers: { Cookie: owner.cookieHeader() } });
        for (let i = 0; i < 4; i++) expect((await elsewhere.post('/reauth', { password: u.password, code: String(200000 + a * 10 + i) }, '/reauth')).status, `address ${a}, code ${i}`).to.equal(401);
      }
      await resetTotpStep(u);
      // Even the right code now waits, from yet another address.
      const fresh = new SecBrowser(h.portal.app, { headers: { Cookie: owner.cookieHeader() } });
      expect((await fresh.post('/reauth', { password: u.password, code: await currentTotp(u.totpSecret!) }, '/reauth')).status).to.equal(429);
    });

    it('a sign-in that fails for an unknown account is audited as denied', async () => {
      const before = await AuditEvent.count({ where: { operation: 'auth.login', result: 'denied' } });
      const res = await browser().passwordStep('ghost@example.jp', 'some wrong password');
      expect(res.status).to.equal(401);
      expect(await AuditEvent.count({ where: { operation: 'auth.login', result: 'denied' } })).to.equal(before + 1);
      const row = await AuditEvent.findOne({ where: { operation: 'auth.login', result: 'denied' }, order: [['seq', 'DESC']] });
      expect(row!.targetLabel).to.equal('ghost@example.jp');
      expect(row!.targetId).to.equal(null);
    });
  });

  describe('huge passwords', () => {
    it('refuses a 1 MB password with 413 before any hashing, and writes nothing to users', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      const b = browser();
      const usersBefore = await User.findAll({ order: [['id', 'ASC']], raw: true });
      const auditBefore = await AuditEvent.count();
      const started = Date.now();
      const res = await b.post('/login', { email: u.email, password: 'x'.repeat(1024 * 1024) });
      expect(res.status).to.equal(413);
      expect(res.text).to.contain(ja('error.payloadTooLarge'));
      expect(Date.now() - started).to.be.below(5000);
      expect(await User.findAll({ order: [['id', 'ASC']], raw: true })).to.deep.equal(usersBefore);
      expect(await AuditEvent.count()).to.equal(auditBefore);
      // The setup and password-link forms are behind the same limit.
      const setup = await b.post('/setup/whatever-token-aaaaaaaaaaaaaaaa', { password: 'x'.repeat(1024 * 1024) }, '/login');
      expect(setup.status).to.equal(413);
      expect(await User.findAll({ order: [['id', 'ASC']], raw: true })).to.deep.equal(usersBefore);
    });

    it('a password over the maximum length but under the body limit is refused like any wrong password', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      const res = await browser().passwordStep(u.email, `${u.password}${'y'.repeat(20_000)}`);
      expect(res.status).to.equal(401);
      expect(res.text).to.contain(ja('auth.loginFailed'));
    });
  });

  describe('TOTP and recovery codes', () => {
    let u: MadeUser;
    before(async () => { u = await makeUser(h, { role: 'firm_staff' }); });
    beforeEach(async () => { await resetTotpStep(u); });

    it('a TOTP code works once: the same code again is refused with 401', async () => {
      const code = await currentTotp(u.totpSecret!);
      const first = browser();
      expect((await first.passwordStep(u.email, u.password)).headers.location).to.equal('/login/totp');
      const ok = await first.codeStep(code);
      expect(ok.status).to.equal(303);
      expect((await first.get('/home')).status).to.equal(200);

      const second = browser();
      expect((await second.passwordStep(u.email, u.password)).headers.location).to.equal('/login/totp');
      const replay = await second.codeStep(code);
      expect(replay.status).to.equal(401);
      // The right code of a spent step: the page says to wait for the next one, not that it is wrong.
      expect(replay.text).to.contain(ja('auth.totpUsed')).and.not.contain(ja('auth.totpFailed'));
      expect((await second.get('/home')).status).to.equal(303);
    });

    it('re-authenticating with the code just used to sign in says it is spent and to wait for the next one (not "wrong password or code"); the next code then works', async () => {
      const b = browser();
      await b.passwordStep(u.email, u.password);
      const code = await currentTotp(u.totpSecret!);
      expect((await b.codeStep(code)).status).to.equal(303);
      // Straight on to a number: the app still shows the same six digits.
      const again = await b.post('/reauth', { password: u.password, code }, '/reauth');
      expect(again.status).to.equal(401);
      expect(again.text).to.contain(ja('auth.reauthCodeUsed')).and.not.contain(ja('auth.reauthFailed'));
      const denied = await AuditEvent.findOne({ where: { operation: 'auth.reauth', actorId: u.user.id }, order: [['seq', 'DESC']] });
      expect([denied?.result, denied?.detail]).to.deep.equal(['denied', 'code already used']);
      // With a wrong password nothing is said about the code.
      const wrongPassword = await b.post('/reauth', { password: 'not the password at all', code }, '/reauth');
      expect(wrongPassword.status).to.equal(401);
      expect(wrongPassword.text).to.contain(ja('auth.reauthFailed')).and.not.contain(ja('auth.reauthCodeUsed'));
      // A plainly wrong code is still "wrong".
      const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
      expect((await b.post('/reauth', { password: u.password, code: wrong }, '/reauth')).text).to.contain(ja('auth.reauthFailed'));
      // The app's next code (one period on, within the allowed drift) re-authenticates.
      const next = await b.post('/reauth', { password: u.password, code: await currentTotp(u.totpSecret!, Date.now() + 30_000) }, '/reauth');
      expect(next.status).to.equal(303);
    });

    it('the same code sent twice at once (two sessions racing) signs in only one of them', async () => {
      const a = browser();
      const b = browser();
      await a.passwordStep(u.email, u.password);
      await b.passwordStep(u.email, u.password);
      const code = await currentTotp(u.totpSecret!);
      const [ta, tb] = [csrfIn((await a.get('/login/totp')).text), csrfIn((await b.get('/login/totp')).text)];
      const results = await Promise.all([
        a.agent.post('/login/totp').type('form').send({ _csrf: ta, code }),
        b.agent.post('/login/totp').type('form').send({ _csrf: tb, code }),
      ]);
      expect(results.map((r) => r.status).sort()).to.deep.equal([303, 401]);
    });

    it('the same recovery code sent twice at once works only once', async () => {
      const [code] = await giveRecoveryCodes(u);
      const a = browser();
      const b = browser();
      await a.passwordStep(u.email, u.password);
      await b.passwordStep(u.email, u.password);
      const [ta, tb] = [csrfIn((await a.get('/login/totp')).text), csrfIn((await b.get('/login/totp')).text)];
      const results = await Promise.all([
        a.agent.post('/login/totp').type('form').send({ _csrf: ta, code: code! }),
        b.agent.post('/login/totp').type('form').send({ _csrf: tb, code: code! }),
      ]);
      expect(results.map((r) => r.status).sort()).to.deep.equal([303, 401]);
    });

    it('a code from three periods ago is refused; the current one then works', async () => {
      const b = browser();
      await b.passwordStep(u.email, u.password);
      const old = await currentTotp(u.totpSecret!, Date.now() - 3 * 30_000);
      const now = await currentTotp(u.totpSecret!);
      if (old !== now) {
        const res = await b.codeStep(old);
        expect(res.status).to.equal(401);
        expect((await b.get('/home')).status).to.equal(303);
      }
      // (the same six digits three periods apart is a one-in-a-million coincidence; then only the second half runs)
      expect((await b.codeStep(now)).status).to.equal(303);
      expect((await b.get('/home')).status).to.equal(200);
    });

    it('a wrong code is refused and a code from the future beyond one period too', async () => {
      const b = browser();
      await b.passwordStep(u.email, u.password);
      const now = await currentTotp(u.totpSecret!);
      const future = await currentTotp(u.totpSecret!, Date.now() + 3 * 30_000);
      if (future !== now) expect((await b.codeStep(future)).status).to.equal(401);
      const wrong = String((Number(now) + 1) % 1_000_000).padStart(6, '0');
      expect((await b.codeStep(wrong)).status).to.equal(401);
    });

    it('a recovery code works once, in place of the TOTP code', async () => {
      const [code] = await giveRecoveryCodes(u);
      const first = browser();
      await first.passwordStep(u.email, u.password);
      expect((await first.codeStep(code!)).status).to.equal(303);
      expect((await first.get('/home')).status).to.equal(200);
      const login = await AuditEvent.findOne({ where: { operation: 'auth.login', result: 'allowed', actorId: u.user.id }, order: [['seq', 'DESC']] });
      expect(login!.detail).to.equal('password+recovery-code');

      const second = browser();
      await second.passwordStep(u.email, u.password);
      expect((await second.codeStep(code!)).status).to.equal(401);
      expect((await second.get('/home')).status).to.equal(303);
    });

    it('the code step is not reachable without the password step', async () => {
      const b = browser();
      const res = await b.get('/login/totp');
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.equal('/login');
      const token = await b.csrf('/login');
      const post = await b.agent.post('/login/totp').type('form').send({ _csrf: token, code: await currentTotp(u.totpSecret!) });
      expect(post.status).to.equal(303);
      expect(post.headers.location).to.match(/^\/login/);
      expect((await b.get('/home')).status).to.equal(303);
    });
  });

  describe('replacing the TOTP device', () => {
    it('needs re-authentication: without it the page and the form send the person to /reauth and the enrolled seed stays; after it the enrolment page opens', async () => {
      const u = await makeUser(h, { role: 'firm_staff' });
      const b = browser();
      await b.login(u);
      const enrolled = (await User.findByPk(u.user.id))!;
      const sealedBefore = enrolled.totpSecretSealed;
      expect(sealedBefore).to.be.a('string');
      const page = await b.get('/account/totp');
      expect([page.status, page.headers.location]).to.deep.equal([303, '/reauth?next=/account/totp']);
      const posted = await b.post('/account/totp', { code: await currentTotp(u.totpSecret!) }, '/account');
      expect([posted.status, posted.headers.location]).to.deep.equal([303, '/reauth?next=/account/totp']);
      const after = (await User.findByPk(u.user.id))!;
      expect([after.totpSecretSealed, after.totpEnabledAt?.getTime()]).to.deep.equal([sealedBefore, enrolled.totpEnabledAt!.getTime()]);
      expect(await AuditEvent.count({ where: { operation: 'auth.totp.enrol', actorId: u.user.id } })).to.equal(0);
      expect((await b.reauth(u)).status).to.equal(303);
      const opened = await b.get('/account/totp');
      expect(opened.status).to.equal(200);
    });
  });

  describe('a first TOTP device', () => {
    it('a session signed in more than half an hour ago cannot enrol one until its owner re-authenticates', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      const b = browser();
      await b.login(u);
      // Fresh from the password: the enrolment page opens (as the forced enrolment after a first sign-in needs).
      const fresh = await b.get('/account/totp');
      expect(fresh.status).to.equal(200);
      const secret = totpSecretIn(fresh.text);
      // Longer than re-authentication lasts (5 minutes) is still fresh enough to install an app and enrol it.
      await editSession(b.sid()!, (d) => { d.startedAt = Date.now() - 20 * 60_000; });
      expect((await b.get('/account/totp')).status).to.equal(200);
      await editSession(b.sid()!, (d) => { d.startedAt = Date.now() - 31 * 60_000; });
      const page = await b.get('/account/totp');
      expect([page.status, page.headers.location]).to.deep.equal([303, '/reauth?next=/account/totp']);
      const posted = await b.post('/account/totp', { code: await currentTotp(secret) }, '/account');
      expect([posted.status, posted.headers.location]).to.deep.equal([303, '/reauth?next=/account/totp']);
      expect((await User.findByPk(u.user.id))!.totpEnabledAt).to.equal(null);
      expect(await AuditEvent.count({ where: { operation: 'auth.totp.enrol', actorId: u.user.id } })).to.equal(0);
      // The password alone re-authenticates someone with no device yet; then the device goes on.
      expect((await b.reauth(u)).status).to.equal(303);
      const opened = await b.get('/account/totp');
      expect(opened.status).to.equal(200);
      expect((await b.post('/account/totp', { code: await currentTotp(totpSecretIn(opened.text)) }, '/account/totp')).status).to.equal(200);
      expect((await User.findByPk(u.user.id))!.totpEnabledAt).to.not.equal(null);
    });

    it('staff made to enrol at sign-in reach the re-authentication page from it when their sign-in has grown old', async () => {
      const u = await makeUser(h, { role: 'firm_staff', totp: false });
      const b = browser();
      await b.login(u);
      expect((await b.get('/home')).headers.location).to.equal('/account/totp');
      await editSession(b.sid()!, (d) => { d.startedAt = Date.now() - 31 * 60_000; });
      expect((await b.get('/account/totp')).headers.location).to.equal('/reauth?next=/account/totp');
      const reauthPage = await b.get('/reauth?next=/account/totp');
      expect(reauthPage.status).to.equal(200);
      expect((await b.reauth(u)).status).to.equal(303);
      expect((await b.get('/account/totp')).status).to.equal(200);
    });
  });

  describe('changing the password', () => {
    it('needs re-authentication (403 without, 303 after) and ends the user\'s other sessions', async () => {
      const u = await makeUser(h, { role: 'firm_staff' });
      const b = browser();
      const other = browser();
      await b.login(u);
      await other.login(u);
      expect((await other.get('/home')).status).to.equal(200);
      const newPassword = 'a brand new long password';
      const form = { current: u.password, password: newPassword, confirm: newPassword };

      // The form waits for re-authentication (nothing typed to be lost), and says where to do it.
      const before = await b.get('/account');
      expect(before.text).to.match(/<fieldset class="plain" disabled>[\s\S]*name="current"[\s\S]*<\/fieldset>/);
      expect(before.text).to.contain(ja('account.reauthFirst')).and.contain('href="/reauth?next=%2Faccount"');
      const refused = await b.post('/account/password', form);
      expect(refused.status).to.equal(403);
      expect(refused.text).to.contain(ja('error.reauthRequired'));
      const hashBefore = (await User.findByPk(u.user.id))!.passwordHash;

      expect((await b.reauth(u)).status).to.equal(303);
      const after = await b.get('/account');
      expect(after.text).to.contain('<fieldset class="plain">').and.not.contain(ja('account.reauthFirst'));
      // A refused change comes back to the whole page (the passkeys and recovery codes stay on it).
      const mismatch = await b.post('/account/password', { ...form, confirm: 'something else entirely' });
      expect(mismatch.status).to.equal(400);
      expect(mismatch.text).to.contain('data-passkey="register"').and.contain(ja('password.mismatch'));
      expect((await User.findByPk(u.user.id))!.passwordHash).to.equal(hashBefore);
      expect(await SessionRow.count({ where: { userId: u.user.id } })).to.equal(2);
      const done = await b.post('/account/password', form);
      expect(done.status).to.equal(303);
      expect((await User.findByPk(u.user.id))!.passwordHash).to.not.equal(hashBefore);

      // This session goes on; the other one is gone, on the server.
      expect((await b.get('/home')).status).to.equal(200);
      expect(await SessionRow.count({ where: { userId: u.user.id } })).to.equal(1);
      const kicked = await other.get('/home');
      expect(kicked.status).to.equal(303);
      expect(kicked.headers.location).to.match(/^\/login/);

      // The old password no longer works, the new one does.
      expect((await browser().passwordStep(u.email, u.password)).status).to.equal(401);
      await browser().login({ ...u, password: newPassword });
    });

    /**
     * A request of the other session that was already running when the password changed saves its
     * session at the end (express-session → store.set → findCreateFind), which writes the deleted
     * row back. That late write must not bring the old sign-in back.
     */
    it('a request of the other session that was in flight during the change does not keep it signed in', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      const b = browser();
      const other = browser();
      await b.login(u);
      await other.login(u);
      await b.reauth(u);
      // Make the held request one that saves its session (activity is recorded at most once a minute).
      await editSession(other.sid()!, (d) => { d.lastSeenAt = Date.now() - 2 * 60_000; });

      // Held inside the request, after its session was read, while the password changes.
      const status = await heldDuring(h.booted.services.accounts, () => other.get('/home').then((r) => r), async () => {
        const newPassword = 'yet another long password';
        expect((await b.post('/account/password', { current: u.password, password: newPassword, confirm: newPassword })).status).to.equal(303);
        expect(await SessionRow.count({ where: { userId: u.user.id } })).to.equal(1);
      });
      expect(status).to.equal(200);

      const res = await other.get('/home');
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.match(/^\/login/);
      // The session that changed the password goes on.
      expect((await b.get('/home')).status).to.equal(200);
    });

    it('the same after a password reset through a mailed link', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      const thief = browser();
      await thief.login(u);
      const stale = (await SessionRow.findByPk(thief.sid()!, { raw: true }))!;
      const owner = browser();
      expect((await owner.post('/password/forgot', { email: u.email })).status).to.equal(200);
      const link = linkIn(await h.smtp.lastTo(u.email));
      const newPassword = 'reset to a long password';
      expect((await owner.post(link, { password: newPassword, confirm: newPassword })).status).to.equal(303);
      expect(await SessionRow.count({ where: { userId: u.user.id } })).to.equal(0);
      expect((await thief.get('/home')).status).to.equal(303);

      await SessionRow.create(stale);
      const res = await thief.get('/home');
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.match(/^\/login/);
      await browser().login({ ...u, password: newPassword });
    });

    it('and after disabling: a written-back row of a disabled user does not sign in', async () => {
      const admin = await makeUser(h, { role: 'firm_admin' });
      const u = await makeUser(h, { role: 'firm_staff', totp: false });
      const t = browser();
      await t.login(u);
      const stale = (await SessionRow.findByPk(t.sid()!, { raw: true }))!;
      const a = browser();
      await a.login(admin);
      await a.reauth(admin);
      expect((await a.post(`/firm/users/${u.user.id}/disable`, {})).status).to.equal(303);
      await SessionRow.create(stale);
      const res = await t.get('/home');
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.match(/^\/login/);
    });

    it('a wrong current password is refused even after re-authentication', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      const b = browser();
      await b.login(u);
      await b.reauth(u);
      const hashBefore = (await User.findByPk(u.user.id))!.passwordHash;
      const res = await b.post('/account/password', { current: 'not my password at all', password: 'another long password', confirm: 'another long password' });
      expect(res.status).to.equal(400);
      expect((await User.findByPk(u.user.id))!.passwordHash).to.equal(hashBefore);
    });
  });

  describe('changing the e-mail address', () => {
    const pendingOf = (userId: string) => OneTimeToken.count({ where: { userId, purpose: 'email_change', usedAt: null } });
    const mailsTo = (address: string) => h.smtp.messages.filter((m) => (m.to && !Array.isArray(m.to) ? m.to.text : '').includes(address)).length;

    it('needs re-authentication; the same or a malformed address is refused with the reason and nothing stored; a taken one is answered like any other and changes nothing', async () => {
      const u = await makeUser(h, { role: 'client_admin' });
      const other = await makeUser(h, { role: 'employee', totp: false });
      const b = browser();
      await b.login(u);
      const next = `moved.${Date.now()}@example.jp`;

      const before = await b.get('/account');
      expect(before.text).to.match(/<fieldset class="plain" disabled>[\s\S]*name="email"[\s\S]*<\/fieldset>/);
      expect(before.text).to.contain('href="/reauth?next=%2Faccount%23email"').and.contain('action="/account/email#email"');
      const refused = await b.post('/account/email', { email: next });
      expect(refused.status).to.equal(403);
      expect(refused.text).to.contain(ja('error.reauthRequired'));

      expect((await b.reauth(u)).status).to.equal(303);
      const same = await b.post('/account/email', { email: u.email.toUpperCase() });
      expect(same.status).to.equal(400);
      expect(same.text).to.contain(ja('account.emailSame')).and.contain('data-passkey="register"');
      const malformed = await b.post('/account/email', { email: 'not an address' });
      expect(malformed.status).to.equal(400);
      expect(malformed.text).to.contain('value="not an address"');
      expect(await AuditEvent.count({ where: { operation: 'account.email.request', targetId: u.user.id } })).to.equal(0);

      // An address another account uses is answered like any other (who has an account is not told);
      // that address learns someone tried, gets no link, and nothing is pending.
      const taken = await b.post('/account/email', { email: other.email });
      expect(taken.status).to.equal(303);
      expect((await b.get('/account')).text).to.contain(ja('account.emailSent'));
      const told = await h.smtp.lastTo(other.email);
      expect(told.subject).to.contain('このアドレスへの変更の依頼がありました');
      expect(told.text).to.not.contain('http').and.not.contain(u.user.name);
      expect(await pendingOf(u.user.id)).to.equal(0);
      expect(mailsTo(next)).to.equal(0);
      const row = (await AuditEvent.findOne({ where: { operation: 'account.email.request', targetId: u.user.id } }))!;
      expect([row.result, row.detail]).to.deep.equal(['denied', 'address in use']);
      expect((await User.findByPk(u.user.id))!.email).to.equal(u.email);
      expect((await User.findByPk(other.user.id))!.email).to.equal(other.email);
    });

    it('the new address confirms with a link (a page, then a button); the old one is told twice; sign-in moves to the new address', async () => {
      const u = await makeUser(h, { role: 'firm_staff' });
      const b = browser();
      await b.login(u);
      await b.reauth(u);
      const next = `Renamed.${Date.now()}@Example.jp`;
      const asked = await b.post('/account/email', { email: next });
      expect(asked.status).to.equal(303);
      expect((await b.get('/account')).text).to.contain(ja('account.emailSent'));
      const lower = next.toLowerCase();
      const confirmMail = await h.smtp.lastTo(lower);
      expect(confirmMail.subject).to.equal(ja('mail.emailConfirm.subject'));
      const link = linkIn(confirmMail);
      expect(link).to.match(/^\/account\/email\/[A-Za-z0-9_-]{20,}$/);
      const notice = await h.smtp.lastTo(u.email);
      expect(notice.subject).to.equal(ja('mail.emailChangeRequested.subject'));
      expect(notice.text).to.not.contain(lower).and.not.contain('/account/email/');
      expect(await AuditEvent.count({ where: { operation: 'account.email.request', targetId: u.user.id, result: 'allowed' } })).to.equal(1);

      // Opened in the new mailbox, on a device that is not signed in: the page asks, only the button changes.
      const phone = browser();
      const shown = await phone.get(link);
      expect(shown.status).to.equal(200);
      expect(shown.text).to.contain(`<strong data-testid="new-email">${lower}</strong>`);
      expect((await User.findByPk(u.user.id))!.email).to.equal(u.email);
      const done = await phone.post(link, {}, link);
      expect(done.status).to.equal(303);
      expect(done.headers.location).to.equal('/login');
      expect((await User.findByPk(u.user.id))!.email).to.equal(lower);
      const changed = await AuditEvent.findOne({ where: { operation: 'account.email.change', targetId: u.user.id } });
      expect(changed?.actorId).to.equal(u.user.id);
      expect((await h.smtp.lastTo(u.email)).subject).to.equal(ja('mail.emailChanged.subject'));

      // The link worked once; the old address no longer signs in, the new one does; this session goes on.
      const spent = await phone.get(link);
      expect(spent.status).to.equal(404);
      expect(spent.text).to.contain(ja('error.deadLink')).and.contain('href="/login"').and.contain('href="/password/forgot"');
      expect((await browser().passwordStep(u.email, u.password)).status).to.equal(401);
      await browser().login({ ...u, email: lower });
      expect((await b.get('/account')).text).to.contain(lower);
    });

    it('only the newest link works, a link nobody issued is 404, and an address taken in the meantime is refused', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      const b = browser();
      await b.login(u);
      await b.reauth(u);
      const first = `first.${Date.now()}@example.jp`;
      const second = `second.${Date.now()}@example.jp`;
      expect((await b.post('/account/email', { email: first })).status).to.equal(303);
      const firstLink = linkIn(await h.smtp.lastTo(first));
      expect((await b.post('/account/email', { email: second })).status).to.equal(303);
      const secondLink = linkIn(await h.smtp.lastTo(second));
      expect(await pendingOf(u.user.id)).to.equal(1);
      expect((await browser().get(firstLink)).status).to.equal(404);
      expect((await browser().get('/account/email/not-a-real-link-aaaaaaaaaaaa')).status).to.equal(404);

      const squatter = await makeUser(h, { role: 'employee', totp: false });
      await User.update({ email: second }, { where: { id: squatter.user.id } });
      const late = await browser().post(secondLink, {}, secondLink);
      expect(late.status).to.equal(409);
      expect(late.text).to.contain(ja('account.emailTaken'));
      expect((await User.findByPk(u.user.id))!.email).to.equal(u.email);
      expect(await AuditEvent.count({ where: { operation: 'account.email.change', targetId: u.user.id } })).to.equal(0);
    });
    it('a mail server that refuses stops the change at either step, leaving nothing half-done', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      const b = browser();
      await b.login(u);
      await b.reauth(u);
      const next = `refused.${Date.now()}@example.jp`;
      h.smtp.refusing = true;
      try {
        const asked = await b.post('/account/email', { email: next });
        expect(asked.status).to.equal(503);
        expect(asked.text).to.contain(ja('error.mailUnavailable'));
      } finally { h.smtp.refusing = false; }
      expect(await pendingOf(u.user.id)).to.equal(0);
      expect(await AuditEvent.count({ where: { operation: 'account.email.request', targetId: u.user.id } })).to.equal(0);

      expect((await b.post('/account/email', { email: next })).status).to.equal(303);
      const link = linkIn(await h.smtp.lastTo(next));
      const phone = browser();
      const csrf = await phone.csrf(link);
      h.smtp.refusing = true;
      try {
        const confirmed = await phone.agent.post(link).type('form').send({ _csrf: csrf });
        expect(confirmed.status).to.equal(503);
      } finally { h.smtp.refusing = false; }
      expect((await User.findByPk(u.user.id))!.email).to.equal(u.email);
      expect(await AuditEvent.count({ where: { operation: 'account.email.change', targetId: u.user.id } })).to.equal(0);
      // The link was not spent by the failed attempt.
      expect((await phone.post(link, {}, link)).status).to.equal(303);
      expect((await User.findByPk(u.user.id))!.email).to.equal(next);
    });
  });

  describe('a guessable password is refused wherever a password is set', () => {
    it('through a mailed link: 400 with the reason, nothing stored, and the link still works', async () => {
      const u = await makeUser(h, { role: 'employee', totp: false });
      const hashBefore = (await User.findByPk(u.user.id))!.passwordHash;
      const b = browser();
      expect((await b.post('/password/forgot', { email: u.email })).status).to.equal(200);
      const link = linkIn(await h.smtp.lastTo(u.email));
      const weak = await b.post(link, { password: 'password1234', confirm: 'password1234' });
      expect(weak.status).to.equal(400);
      expect(weak.text).to.contain('推測されやすいパスワードです');
      expect(weak.text).to.not.contain('password1234');
      expect((await User.findByPk(u.user.id))!.passwordHash).to.equal(hashBefore);
      expect((await b.get(link)).status).to.equal(200);
      const strong = 'blue kettle orbit 27';
      expect((await b.post(link, { password: strong, confirm: strong })).status).to.equal(303);
      await browser().login({ ...u, password: strong });
    });

    it("when changed on the account page, including one made of the person's own address", async () => {
      const u = await makeUser(h, { role: 'employee', totp: false, email: `zorvex.quintaro.${Date.now()}@example.jp` });
      const b = browser();
      await b.login(u);
      await b.reauth(u);
      const hashBefore = (await User.findByPk(u.user.id))!.passwordHash;
      for (const [weak, why] of [['qwertyuiop12', '推測されやすいパスワードです'], ['zorvexquintaro', 'ご自身の氏名・メールアドレス・会社名（またはその読みやローマ字）から作ったパスワードは使えません']] as const) {
        const res = await b.post('/account/password', { current: u.password, password: weak, confirm: weak });
        expect(res.status, weak).to.equal(400);
        expect(res.text).to.contain(why);
      }
      expect((await User.findByPk(u.user.id))!.passwordHash).to.equal(hashBefore);
      expect(await AuditEvent.count({ where: { operation: 'auth.password.change', targetId: u.user.id } })).to.equal(0);
    });

    it("taro.yamada@example.jp sets no password made of his address, his name's reading or his company's, however joined; a good passphrase passes", async () => {
      const client = await makeClient(h, { name: '株式会社むすび' });
      await client.update({ nameKana: 'ムスビ' });
      const u = await makeUser(h, { role: 'employee', clientId: client.id, totp: false, email: 'taro.yamada@example.jp', name: '山田 太郎' });
      await Employee.create({ clientId: client.id, employeeCode: 'E1', name: '山田 太郎', nameKana: 'ヤマダ タロウ', departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: u.user.id });
      const hashBefore = (await User.findByPk(u.user.id))!.passwordHash;
      const b = browser();
      expect((await b.post('/password/forgot', { email: u.email })).status).to.equal(200);
      const link = linkIn(await h.smtp.lastTo(u.email));
      for (const weak of ['taro.yamada2024', 'Yamada.Taro.1234', 'TaroYamada!2026', 'tarou-yamada-01', 'musubi.taro.2024']) {
        const res = await b.post(link, { password: weak, confirm: weak });
        expect(res.status, weak).to.equal(400);
        expect(res.text).to.contain('ご自身の氏名・メールアドレス・会社名（またはその読みやローマ字）から作ったパスワードは使えません').and.not.contain(weak);
      }
      expect((await User.findByPk(u.user.id))!.passwordHash).to.equal(hashBefore);
      const strong = 'blue kettle orbit 27';
      expect((await b.post(link, { password: strong, confirm: strong })).status).to.equal(303);
    });

    it('a link nobody issued gets 404 before any strength check', async () => {
      const res = await browser().post('/password/reset/not-a-real-link-aaaaaaaaaaaa', { password: 'password1234', confirm: 'password1234' }, '/login');
      expect(res.status).to.equal(404);
      expect(res.text).to.not.contain('推測されやすい');
    });
  });

  describe('pages rendered by this suite', () => {
    it('have no inline script or style', () => {
      expect(renderedPages.length).to.be.greaterThan(10);
      for (const p of renderedPages) expect(inlineProblems(p.html), `${p.status} ${p.url}`).to.deep.equal([]);
    });
  });
});

describe('Security: authentication without a trusted proxy', () => {
  let h: Harness;
  before(async () => { h = await createHarness(); });
  after(async () => { await h.close(); });

  it('a forged X-Forwarded-For does not give a fresh failure counter when TRUST_PROXY is off', async () => {
    const u = await makeUser(h, { role: 'employee', totp: false });
    const b = new TestBrowser(h.portal.app);
    const statuses: number[] = [];
    // express-rate-limit rightly warns (once, on the console) about the header it is told not to trust.
    const consoleError = console.error;
    console.error = (...args: unknown[]) => {
      if ((args[0] as { code?: string })?.code !== 'ERR_ERL_UNEXPECTED_X_FORWARDED_FOR') consoleError(...args);
    };
    try {
      for (let i = 1; i <= 6; i += 1) {
        const token = await b.csrf('/login');
        const res = await b.agent.post('/login').set('X-Forwarded-For', `192.0.2.${i}`).type('form').send({ _csrf: token, email: u.email, password: `wrong guess ${i}` });
        statuses.push(res.status);
      }
    } finally {
      console.error = consoleError;
    }
    expect(statuses).to.deep.equal([401, 401, 401, 401, 401, 429]);
    const row = await AuditEvent.findOne({ where: { operation: 'auth.login', detail: 'throttled' }, order: [['seq', 'DESC']] });
    expect(row!.ip).to.not.match(/^192\.0\.2\./);
  });
});
