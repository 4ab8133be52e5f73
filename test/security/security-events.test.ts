import { expect } from 'chai';
import { Op } from 'sequelize';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { htmlBytes, pdfBytes, uploadFiles } from '../support/files';
import { AuditEvent, StoredFile, type Client } from '../../server/db/models';

/**
 * Every refusal of the security cases is a security event in the audit log (security-cases.md:
 * "a security event in the audit log"): once per refused request, naming who, which route and
 * which id was asked for, never the address itself; none for a stranger's requests.
 */
describe('Security events: refusals are in the audit log', () => {
  let h: Harness;
  let client: Client;
  let other: Client;
  let hr: MadeUser;
  let otherHr: MadeUser;
  let staff: MadeUser;
  let b: TestBrowser;
  let foreignFileId: string;

  const rowsAfter = async (seq: number) => (await AuditEvent.findAll({ where: { seq: { [Op.gt]: seq } }, order: [['seq', 'ASC']] }))
    .map((r) => ({ operation: r.operation, result: r.result, actorId: r.actorId, clientId: r.clientId, targetId: r.targetId, detail: r.detail }));
  const headSeq = async () => Number((await AuditEvent.max('seq')) ?? 0);

  before(async () => {
    h = await createHarness({ UPLOAD_MAX_FILE_MB: '1' });
    client = await makeClient(h, { name: '株式会社記録' });
    other = await makeClient(h, { name: '株式会社よそ' });
    hr = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    otherHr = await makeUser(h, { role: 'client_admin', clientId: other.id, totp: false });
    staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
    const o = new TestBrowser(h.portal.app);
    await o.login(otherHr);
    expect((await uploadFiles(o, { direction: 'to_firm', category: 'other' }, [{ name: 'よその書類.pdf', data: pdfBytes() }])).status).to.equal(200);
    foreignFileId = (await StoredFile.findOne({ where: { clientId: other.id } }))!.id;
    b = new TestBrowser(h.portal.app);
    await b.login(hr);
  });
  after(async () => { await h.close(); });

  it('another client\'s file id: 404 as if missing, and a row naming who asked for which id', async () => {
    const seq = await headSeq();
    expect((await b.get(`/files/${foreignFileId}`)).status).to.equal(404);
    expect(await rowsAfter(seq)).to.deep.equal([{
      operation: 'security.notFound', result: 'denied', actorId: hr.user.id, clientId: client.id, targetId: foreignFileId, detail: 'GET /files/:fileId: 404 error.notFound',
    }]);
  });

  it('staff refused at a client they are not assigned to: the row is filed under that client (its log and report list any denial)', async () => {
    const outsider = await makeUser(h, { role: 'firm_staff', name: '担当外 職員' });
    const s = new TestBrowser(h.portal.app);
    await s.login(outsider);
    const seq = await headSeq();
    expect((await s.get(`/firm/clients/${other.id}/numbers`)).status).to.equal(404);
    expect((await rowsAfter(seq)).map((r) => [r.operation, r.actorId, r.clientId, r.targetId])).to.deep.equal([
      ['security.notFound', outsider.user.id, other.id, other.id],
    ]);
    // A page that names the client in its query, the id written in capitals: filed under that client all the same.
    const again = await headSeq();
    expect((await s.get(`/disposal?client=${other.id.toUpperCase()}`)).status).to.be.oneOf([403, 404]);
    expect((await rowsAfter(again)).map((r) => [r.actorId, r.clientId])).to.deep.equal([[outsider.user.id, other.id]]);
  });

  it('a role refusal and a forged form (no CSRF token) are each one row', async () => {
    const seq = await headSeq();
    expect((await b.get('/firm/clients')).status).to.equal(403);
    expect((await b.agent.post('/client/users').type('form').send({ name: 'x', email: 'x@example.jp', role: 'employee' })).status).to.equal(403);
    expect((await rowsAfter(seq)).map((r) => [r.operation, r.actorId, r.detail])).to.deep.equal([
      ['security.forbidden', hr.user.id, 'GET /firm/clients: 403 error.forbidden'],
      ['security.csrf', hr.user.id, 'POST /client/users: 403 error.csrf'],
    ]);
  });

  it('an old token posted by a page of this site (a tab left open across a new sign-in) is refused but is no forgery: no row', async () => {
    const seq = await headSeq();
    const stale = await b.agent.post('/client/users').type('form').set('Origin', 'http://portal.test')
      .send({ _csrf: 'a-token-of-an-earlier-session', name: 'x', email: 'x@example.jp', role: 'employee' });
    expect(stale.status).to.equal(403);
    const fromPage = await b.agent.post('/client/users').type('form').set('Referer', 'http://portal.test/client/users')
      .send({ _csrf: 'a-token-of-an-earlier-session', name: 'x', email: 'x@example.jp', role: 'employee' });
    expect(fromPage.status).to.equal(403);
    expect(await rowsAfter(seq)).to.deep.equal([]);
    // The same from another site is a forgery.
    const forged = await b.agent.post('/client/users').type('form').set('Origin', 'https://evil.example')
      .send({ _csrf: 'a-token-of-an-earlier-session', name: 'x', email: 'x@example.jp', role: 'employee' });
    expect(forged.status).to.equal(403);
    expect((await rowsAfter(seq)).map((r) => r.operation)).to.deep.equal(['security.csrf']);
  });

  it('re-authenticating keeps the form token: a form left open in another tab still posts', async () => {
    const s = new TestBrowser(h.portal.app);
    await s.login(staff);
    const token = await s.csrf('/account');
    expect((await s.reauth(staff)).status).to.equal(303);
    const res = await s.agent.post('/lang').type('form').send({ _csrf: token, lang: 'ja', back: '/account' });
    expect(res.status).to.equal(303);
  });

  it('an upload over the limit, a file whose bytes are not its type, and a malformed body: one row each, nothing stored', async () => {
    const seq = await headSeq();
    const files = await StoredFile.count();
    expect((await uploadFiles(b, { direction: 'to_firm', category: 'other' }, [{ name: 'big.pdf', data: pdfBytes(1024 * 1024 + 1) }])).status).to.equal(413);
    expect((await uploadFiles(b, { direction: 'to_firm', category: 'other' }, [{ name: 'invoice.pdf', data: htmlBytes() }])).status).to.equal(415);
    const token = await b.csrf('/files');
    const cut = '--B\r\nContent-Disposition: form-data; name="direction"\r\n\r\nto_firm\r\n--B\r\nContent-Disposition: form-data; name="files"; filename="x.pdf"\r\n\r\n%PDF-1.7 cut';
    expect((await b.agent.post('/files').set('X-CSRF-Token', token).set('Accept', 'application/json').set('Content-Type', 'multipart/form-data; boundary=B').send(cut)).status).to.equal(400);
    expect((await rowsAfter(seq)).map((r) => [r.operation, r.result, r.actorId, r.clientId])).to.deep.equal([
      ['security.tooLarge', 'denied', hr.user.id, client.id],
      ['security.fileType', 'denied', hr.user.id, client.id],
      ['security.malformed', 'denied', hr.user.id, client.id],
    ]);
    expect(await StoredFile.count()).to.equal(files);
    // A type the portal does not take at all is the person's choice, refused the same way, but no event.
    const seq2 = await headSeq();
    expect((await uploadFiles(b, { direction: 'to_firm', category: 'other' }, [{ name: '集計.xlsm', data: pdfBytes() }])).status).to.equal(415);
    expect(await rowsAfter(seq2)).to.deep.equal([]);
  });

  it('a form\'s own answer (a required field left empty) is no security event', async () => {
    const seq = await headSeq();
    expect((await b.post('/client/users', { name: '', email: '', role: 'employee' }, '/client/users')).status).to.equal(400);
    expect(await rowsAfter(seq)).to.deep.equal([]);
  });

  it('a refusal the code logs itself (a reveal by staff without re-authentication) is not logged twice', async () => {
    const s = new TestBrowser(h.portal.app);
    await s.login(staff);
    const seq = await headSeq();
    const list = `/firm/clients/${client.id}/numbers`;
    const res = await s.post(`${list}/00000000-0000-4000-8000-000000000000/reveal`, { purpose: 'withholding_slip', office: 'tax_office' }, list);
    expect(res.status).to.equal(403);
    expect((await rowsAfter(seq)).map((r) => [r.operation, r.result])).to.deep.equal([['vault.reveal', 'denied']]);
  });

  it('a stranger\'s refused requests write nothing (they go to the server log): nobody outside can fill the audit log', async () => {
    const stranger = new TestBrowser(h.portal.app);
    await stranger.get('/login');
    const seq = await headSeq();
    expect((await stranger.agent.post('/login').type('form').send({ email: 'a@example.jp', password: 'x' })).status).to.equal(403);
    expect((await stranger.get(`/files/${foreignFileId}`)).status).to.equal(303);
    expect(await rowsAfter(seq)).to.deep.equal([]);
  });
});
