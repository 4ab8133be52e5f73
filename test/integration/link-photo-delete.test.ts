import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeClient, makeUser, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { pngBytes } from '../support/files';
import { systemContext } from '../../server/audit';
import { AuditEvent, NumberRecord, StoredFile, type Client } from '../../server/db/models';
import { makePayee, numberFrom } from '../support/vault';

/**
 * A payee's card photo sent through a one-time link is filed under the admin who issued the link
 * (a file is an account's), but the admin did not send it: it is with what the company's people sent,
 * and, like an employee's own photo, not the admin's to delete. Deleting it would destroy an image of
 * a My Number outside the disposal (a request another person approves, and a certificate).
 */
describe('A card photo a payee sent through a one-time link is not the issuing admin\'s to delete', function () {
  this.timeout(60_000);
  let h: Harness;
  let client: Client;
  let issuer: MadeUser;
  let hr: TestBrowser;
  let photoId: string;

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'LD01', name: '株式会社リンク削除' });
    issuer = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    hr = new TestBrowser(h.portal.app);
    await hr.login(issuer);
    const { person } = await makePayee(client.id, { code: 'P01', name: '講師 三郎' });
    const link = await h.booted.services.vaultLinks.create(systemContext('test'), person, issuer.user.id, null);
    const payee = new TestBrowser(h.portal.app);
    const at = new URL(link.url).pathname;
    const token = csrfIn((await payee.get(at)).text);
    const res = await payee.agent.post(at).set('X-CSRF-Token', token).set('Accept', 'application/json')
      .field('code', link.code).field('number', numberFrom(64000000011)).field('confirm', 'on')
      .attach('files', pngBytes(3000), { filename: '講師_表.png', contentType: 'image/png' });
    expect(res.status, res.text).to.equal(200);
    const photo = (await StoredFile.findOne({ where: { displayName: '講師_表.png' } }))!;
    expect([photo.senderId, photo.throughLink]).to.deep.equal([issuer.user.id, true]);
    photoId = photo.id;
  });
  after(async () => { await h.close(); });

  it('the file page offers no delete, and a delete posted anyway is refused (403, logged), the photo and its number\'s tie kept', async () => {
    await hr.reauth(issuer);
    const page = await hr.get(`/files/${photoId}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.not.contain(`action="/files/${photoId}/delete"`);
    const res = await hr.post(`/files/${photoId}/delete`, {}, `/files/${photoId}`);
    expect(res.status).to.equal(403);
    const photo = (await StoredFile.findByPk(photoId))!;
    expect([photo.status, photo.wrappedKey !== null]).to.deep.equal(['ready', true]);
    expect(await NumberRecord.count({ where: { idFileId: photoId } })).to.equal(1);
    expect(await AuditEvent.count({ where: { operation: 'file.delete', targetId: photoId } })).to.equal(0);
    expect(await AuditEvent.count({ where: { operation: 'security.forbidden', actorId: issuer.user.id, result: 'denied' } })).to.equal(1);
  });

  it('what the admin sent themselves stays theirs to delete', async () => {
    const token = await hr.csrf('/files');
    const sent = await hr.agent.post('/files').set('X-CSRF-Token', token).set('Accept', 'application/json')
      .field('direction', 'to_firm').field('category', 'other').attach('files', pngBytes(1200), { filename: '自分の送信.png', contentType: 'application/octet-stream' });
    expect(sent.status, sent.text).to.equal(200);
    const own = (await StoredFile.findOne({ where: { displayName: '自分の送信.png' } }))!;
    expect((await hr.get(`/files/${own.id}`)).text).to.contain(`action="/files/${own.id}/delete"`);
    expect((await hr.post(`/files/${own.id}/delete`, {}, `/files/${own.id}`)).status).to.equal(303);
    expect((await StoredFile.findByPk(own.id))!.status).to.equal('deleted');
  });
});
