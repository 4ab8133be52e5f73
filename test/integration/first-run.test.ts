import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { TestBrowser, csrfIn, totpSecretIn } from '../support/browser';
import { User, AuditEvent, Firm } from '../../server/db/models';
import { currentTotp } from '../../server/auth/totp';

describe('First run: setup link, first admin, TOTP enrolment', () => {
  let h: Harness;
  beforeEach(async () => { h = await createHarness(); });
  afterEach(async () => { await h.close(); });

  it('has no firm admin and no default password; a setup link creates the firm and its admin, who must enrol TOTP', async () => {
    expect(await h.booted.services.setup.needsSetup()).to.equal(true);
    expect(await User.count()).to.equal(0);
    const token = await h.booted.services.setup.newSetupLink();
    const b = new TestBrowser(h.portal.app);

    const form = await b.get(`/setup/${token}`);
    expect(form.status).to.equal(200);
    expect(form.text).to.contain('初期設定');

    const done = await b.agent.post(`/setup/${token}`).type('form').send({
      _csrf: csrfIn(form.text), firmName: '暁社会保険労務士事務所', adminName: '暁 太郎', email: 'Admin@Example.jp', password: 'a long enough password',
    });
    expect(done.status).to.equal(303);
    expect(done.headers.location).to.equal('/account/totp');
    expect((await Firm.findByPk(1))?.name).to.equal('暁社会保険労務士事務所');
    const admin = await User.findOne({ where: { email: 'admin@example.jp' } });
    expect(admin?.role).to.equal('firm_admin');

    // Until TOTP is enrolled, every other page sends the admin back to enrolment.
    const home = await b.get('/home');
    expect(home.status).to.equal(303);
    expect(home.headers.location).to.equal('/account/totp');

    const enrol = await b.get('/account/totp');
    expect(enrol.status).to.equal(200);
    const secret = totpSecretIn(enrol.text);
    expect(enrol.text).to.match(/<img src="data:image\/png;base64,/);

    // On a phone the app opens from a link holding the same key.
    const appLink = /href="(otpauth:[^"]+)" data-testid="totp-open-app"/.exec(enrol.text)![1]!.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&');
    expect(new URL(appLink).searchParams.get('secret')).to.equal(secret);
    const wrong = await b.agent.post('/account/totp').type('form').send({ _csrf: csrfIn(enrol.text), code: '000000' });
    expect(wrong.status).to.equal(400);
    expect(wrong.text).to.contain('確認コードが正しくありません。アプリに表示されている最新の6桁を入力してください');
    // A wrong code (or a reload) keeps the key the admin has just added to their app; enrol with it.
    const secret2 = totpSecretIn(wrong.text);
    expect(secret2).to.equal(secret);
    expect(totpSecretIn((await b.get('/account/totp')).text), 'a reload shows the same key').to.equal(secret);
    // So does another sign-in (the first one's browser closed before the code was typed).
    const again = new TestBrowser(h.portal.app);
    expect((await again.post('/login', { email: 'admin@example.jp', password: 'a long enough password' })).status).to.equal(303);
    expect((await again.get('/home')).headers.location).to.equal('/account/totp');
    expect(totpSecretIn((await again.get('/account/totp')).text), 'a second sign-in shows the same key').to.equal(secret);
    const ok = await b.agent.post('/account/totp').type('form').send({ _csrf: csrfIn(wrong.text), code: await currentTotp(secret2) });
    expect(ok.status).to.equal(200);
    const codes = [...ok.text.matchAll(/<li><code>([a-z0-9]{5}-[a-z0-9]{5})<\/code><\/li>/g)].map((m) => m[1]);
    expect(codes).to.have.length(10);

    expect((await b.get('/home')).status).to.equal(200);
    const ops = (await AuditEvent.findAll({ order: [['seq', 'ASC']] })).map((e) => e.operation);
    expect(ops).to.include.members(['setup.complete', 'auth.totp.enrol']);
    // The TOTP seed is stored sealed, never as the base32 text.
    const stored = await User.findByPk(admin!.id);
    expect(stored!.totpSecretSealed).to.not.contain(secret2);
    expect(h.booted.services.keys.ring().openSecret('totp', admin!.id, stored!.totpSecretSealed!).toString()).to.equal(secret2);
    // Enrolling again (a new phone) shows a new key: the one just confirmed is not offered twice.
    expect(h.booted.services.accounts.beginTotpEnrolment(stored!, 'x').secret).to.not.equal(secret2);
  });

  it('a setup link works once, and not at all once an admin exists', async () => {
    const token = await h.booted.services.setup.newSetupLink();
    const b = new TestBrowser(h.portal.app);
    const form = await b.get(`/setup/${token}`);
    const body = { _csrf: csrfIn(form.text), firmName: '事務所', adminName: '管理者', email: 'a@example.jp', password: 'a long enough password' };
    expect((await b.agent.post(`/setup/${token}`).type('form').send(body)).status).to.equal(303);
    const b2 = new TestBrowser(h.portal.app);
    expect((await b2.get(`/setup/${token}`)).status).to.equal(404);
    const fresh = await h.booted.services.setup.newSetupLink();
    const after = await b2.get(`/setup/${fresh}`);
    expect(after.status).to.equal(404);
    // Not a bare 「見つかりません」: setup is done, so the way on is to sign in.
    expect(after.text).to.contain('data-testid="setup-dead"').and.contain('初期設定はすでに完了しています').and.contain('href="/login"');
    expect(await User.count({ where: { role: 'firm_admin' } })).to.equal(1);
  });

  it('a setup link replaced by a newer one (the portal prints one at each start) says why it is dead and how to get a new one, on opening and on sending', async () => {
    const old = await h.booted.services.setup.newSetupLink();
    const b = new TestBrowser(h.portal.app);
    const form = await b.get(`/setup/${old}`);
    await h.booted.services.setup.newSetupLink();
    const opened = await new TestBrowser(h.portal.app).get(`/setup/${old}`);
    expect(opened.status).to.equal(404);
    expect(opened.text).to.contain('data-testid="setup-dead"').and.contain('新しいリンクが発行された').and.contain('npm run cli -- setup:link');
    const sent = await b.agent.post(`/setup/${old}`).type('form').send({ _csrf: csrfIn(form.text), firmName: '事務所', adminName: '管理者', email: 'a@example.jp', password: 'a long enough password' });
    expect(sent.status).to.equal(404);
    expect(sent.text).to.contain('data-testid="setup-dead"').and.contain('npm run cli -- setup:link');
    expect(await User.count()).to.equal(0);
  });

  it('an expired or unknown setup link is a 404, and a short or guessable password is refused with nothing stored', async () => {
    const b = new TestBrowser(h.portal.app);
    expect((await b.get('/setup/not-a-real-token-aaaaaaaaaaaaaaaa')).status).to.equal(404);
    const token = await h.booted.services.setup.newSetupLink();
    const form = await b.get(`/setup/${token}`);
    const res = await b.agent.post(`/setup/${token}`).type('form').send({ _csrf: csrfIn(form.text), firmName: '事務所', adminName: '管理者', email: 'a@example.jp', password: 'short' });
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('パスワードは12文字以上にしてください');
    // Long enough, but the firm's own name: found at once by anyone who knows whose portal it is.
    const guessable = await b.agent.post(`/setup/${token}`).type('form').send({ _csrf: csrfIn(res.text), firmName: 'Tsubasa Office', adminName: '管理者', email: 'a@example.jp', password: 'tsubasaoffice' });
    expect(guessable.status).to.equal(400);
    // Made of the firm's own name: told so.
    expect(guessable.text).to.contain('ご自身の氏名・メールアドレス・会社名（またはその読みやローマ字）から作ったパスワードは使えません');
    expect(await User.count()).to.equal(0);
    expect(await Firm.count()).to.equal(0);
  });
});
