import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { SoftPasskey } from '../support/webauthn';
import { AuditEvent, Passkey } from '../../server/db/models';
import { BadRequest } from '../../server/errors';

/** A JSON request the page's script would make, with the session's CSRF token in the header. */
async function postJson(b: TestBrowser, path: string, body: unknown) {
  const token = await b.csrf('/account');
  return b.agent.post(path).set('X-CSRF-Token', token).set('Accept', 'application/json').send(body as object);
}

async function addPasskey(b: TestBrowser, key: SoftPasskey, name: string) {
  const options = await b.get('/account/passkeys/options').set('Accept', 'application/json');
  expect(options.status, options.text).to.equal(200);
  return postJson(b, '/account/passkeys', { name, response: key.create(options.body) });
}

async function passkeyReauth(b: TestBrowser, answer: (options: { challenge: string; rpId?: string }) => Record<string, unknown>) {
  const options = await b.get('/reauth/passkey/options').set('Accept', 'application/json');
  expect(options.status, options.text).to.equal(200);
  return postJson(b, '/reauth/passkey', { response: answer(options.body), next: '/account' });
}

describe('Passkeys: the other way to re-authenticate (WebAuthn)', function () {
  this.timeout(60_000);
  let h: Harness;
  let staff: MadeUser;
  let other: MadeUser;
  const key = new SoftPasskey('http://portal.test');

  before(async () => {
    h = await createHarness();
    staff = await makeUser(h, { role: 'firm_staff', name: '鍵 職員' });
    other = await makeUser(h, { role: 'firm_staff', name: '他 職員' });
  });
  after(async () => { await h.close(); });

  it('adding one needs a live re-authentication first', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(staff);
    const options = await b.get('/account/passkeys/options');
    expect(options.status).to.equal(303);
    expect(options.headers.location).to.match(/^\/reauth\?next=/);
    const post = await postJson(b, '/account/passkeys', { name: 'x', response: {} });
    expect(post.status).to.equal(403);
    expect(await Passkey.count()).to.equal(0);
  });

  it('after password + TOTP: registered from the device\'s answer (public key only), listed, logged; the challenge answers once', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(staff);
    expect((await b.reauth(staff)).status).to.equal(303);
    const options = await b.get('/account/passkeys/options').set('Accept', 'application/json');
    expect(options.body.rp.id).to.equal('portal.test');
    expect(options.body.authenticatorSelection.userVerification).to.equal('required');
    const answer = key.create(options.body);
    const res = await postJson(b, '/account/passkeys', { name: '事務所のPC', response: answer });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.deep.equal({ ok: true, redirect: '/account' });
    const rows = await Passkey.findAll({ where: { userId: staff.user.id } });
    expect(rows.map((r) => [r.name, r.credentialId])).to.deep.equal([['事務所のPC', key.id]]);
    expect((await b.get('/account')).text).to.contain('事務所のPC');
    expect(await AuditEvent.count({ where: { operation: 'account.passkey.add', result: 'allowed', actorId: staff.user.id } })).to.equal(1);
    // The same answer again: its challenge is spent.
    const replay = await postJson(b, '/account/passkeys', { name: 'again', response: answer });
    expect(replay.status).to.equal(400);
    expect(await Passkey.count({ where: { userId: staff.user.id } })).to.equal(1);
  });

  it('a new session re-authenticates with the passkey alone, for that session only, logged as passkey', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(staff);
    const page = await b.get('/reauth');
    expect(page.text).to.contain('data-testid="passkey-reauth"');
    expect(page.text).to.contain('/vendor/simplewebauthn/index.umd.min.js');
    expect((await b.get('/vendor/simplewebauthn/index.umd.min.js')).status).to.equal(200);
    const res = await passkeyReauth(b, (o) => key.get(o));
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.deep.equal({ ok: true, redirect: '/account' });
    // A route that needs re-authentication now answers.
    expect((await b.get('/account/passkeys/options').set('Accept', 'application/json')).status).to.equal(200);
    const row = await AuditEvent.findOne({ where: { operation: 'auth.reauth', actorId: staff.user.id, detail: 'passkey' } });
    expect(row?.result).to.equal('allowed');
    expect((await Passkey.findOne({ where: { userId: staff.user.id } }))!.lastUsedAt).to.not.equal(null);
    // Another session of the same user is not re-authenticated by it.
    const b2 = new TestBrowser(h.portal.app);
    await b2.login(staff);
    expect((await b2.get('/account/passkeys/options')).status).to.equal(303);
  });

  it('refused and logged: another site\'s origin, a replayed answer, another user\'s passkey; repeated failures are throttled', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(staff);
    const phished = await passkeyReauth(b, (o) => key.get(o, 'http://portal-test.example'));
    expect(phished.status).to.equal(401);
    expect(phished.body.error.message).to.contain('パスキーで確認できませんでした');
    let kept: Record<string, unknown> | null = null;
    const first = await passkeyReauth(b, (o) => (kept = key.get(o)));
    expect(first.status).to.equal(200);
    const replay = await postJson(b, '/reauth/passkey', { response: kept });
    expect(replay.status, 'no challenge is pending any more').to.equal(401);

    // The other user has no passkey: no options, and staff's credential does not count for them.
    const o = new TestBrowser(h.portal.app);
    await o.login(other);
    expect((await o.get('/reauth/passkey/options').set('Accept', 'application/json')).status).to.equal(404);
    expect((await o.get('/reauth')).text).to.not.contain('passkey-reauth');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await postJson(o, '/reauth/passkey', { response: key.get({ challenge: 'x' }) })).status);
    expect(statuses).to.deep.equal([401, 401, 401, 401, 401, 429]);
    expect(await AuditEvent.count({ where: { operation: 'auth.reauth', result: 'denied', detail: 'passkey' } })).to.equal(7);
  });

  it('a credential already registered (to this user or another) is refused and logged, not a server error', async () => {
    const shared = new SoftPasskey('http://portal.test');
    const passkeys = h.booted.services.passkeys;
    const ctx = (u: MadeUser) => ({ actorId: u.user.id, actorName: u.user.name, actorRole: u.user.role, ip: '127.0.0.1', userAgent: 't', channel: 'test' });
    const answer = async (u: MadeUser) => {
      const options = await passkeys.registrationOptions(u.user);
      return { response: shared.create(options), challenge: options.challenge };
    };
    const owner = await makeUser(h, { role: 'firm_staff', name: '持主 職員' });
    const first = await answer(owner);
    await passkeys.register(ctx(owner), owner.user, first.response, first.challenge, 'shared');
    const again = await answer(other);
    const refused = await passkeys.register(ctx(other), other.user, again.response, again.challenge, 'borrowed').then(() => null, (err: unknown) => err);
    expect(refused).to.be.instanceOf(BadRequest);
    // Two registrations at the same moment: both pass the look-up, the unique index refuses the second, answered the same way.
    const count = Passkey.count.bind(Passkey);
    (Passkey as unknown as { count: () => Promise<number> }).count = async () => 0;
    const raced = await answer(other);
    const lost = await passkeys.register(ctx(other), other.user, raced.response, raced.challenge, 'raced').then(() => null, (err: unknown) => err)
      .finally(() => { (Passkey as unknown as { count: typeof count }).count = count; });
    expect(lost).to.be.instanceOf(BadRequest);
    expect(await Passkey.count({ where: { credentialId: shared.id } })).to.equal(1);
    expect((await AuditEvent.findOne({ where: { operation: 'account.passkey.add', actorId: other.user.id }, order: [['seq', 'DESC']] }))!.detail).to.equal('credential already registered');
  });

  it('removing one needs a re-authentication and is logged', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(staff);
    const row = (await Passkey.findOne({ where: { userId: staff.user.id } }))!;
    expect((await b.post(`/account/passkeys/${row.id}/delete`)).status).to.equal(403);
    await b.reauth(staff);
    const res = await b.post(`/account/passkeys/${row.id}/delete`);
    expect(res.status).to.equal(303);
    expect(await Passkey.count({ where: { userId: staff.user.id } })).to.equal(0);
    expect(await AuditEvent.count({ where: { operation: 'account.passkey.remove', actorId: staff.user.id } })).to.equal(1);
    // Someone else's passkey id is not found.
    await addPasskey(b, new SoftPasskey('http://portal.test'), 'mine');
    const mine = (await Passkey.findOne({ where: { userId: staff.user.id } }))!;
    const third = await makeUser(h, { role: 'firm_staff', name: '三 職員' });
    const o = new TestBrowser(h.portal.app);
    await o.login(third);
    await o.reauth(third);
    expect((await o.post(`/account/passkeys/${mine.id}/delete`)).status).to.equal(404);
    expect(await Passkey.count({ where: { id: mine.id } })).to.equal(1);
  });
});
