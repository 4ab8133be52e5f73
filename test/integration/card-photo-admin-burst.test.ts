import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { downloadFile, pngBytes } from '../support/files';
import { AuditEvent, Payee, StoredFile } from '../../server/db/models';
import { numberFrom } from '../support/vault';

/** A client admin's openings of card photos count against the reveal burst limit, as a reveal does. */
describe('card photos opened by a client admin: within the reveal burst limit', () => {
  let h: Harness;
  let clientAdmin: MadeUser;

  before(async () => { h = await createHarness({ REVEAL_BURST_MAX: '2' }); });
  after(async () => { await h.close(); });

  it('the third opening within the window is refused (429) and raises the burst alert', async () => {
    const client = await makeClient(h, { code: 'PB01', name: '株式会社連続' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    const admin = new TestBrowser(h.portal.app);
    await admin.login(clientAdmin);
    expect((await admin.post('/client/people/payees', { code: 'P001', name: '連続 支払先', kind: 'lecturer' }, '/client/people')).status).to.equal(303);
    const payee = (await Payee.findOne({ where: { clientId: client.id, code: 'P001' } }))!;
    const path = `/client/people/payee/${payee.id}/number`;
    const sent = await admin.agent.post(path).set('X-CSRF-Token', await admin.csrf(path)).set('Accept', 'application/json')
      .field('number', numberFrom(66661111222)).attach('files', pngBytes(3000), { filename: 'card.png', contentType: 'image/png' });
    expect(sent.status, sent.text).to.equal(200);
    const photo = (await StoredFile.findOne({ where: { clientId: client.id, cardPhoto: true } }))!;
    await admin.reauth(clientAdmin);
    expect((await downloadFile(admin, photo.id)).status).to.equal(200);
    expect((await downloadFile(admin, photo.id)).status).to.equal(200);
    const third = await downloadFile(admin, photo.id);
    expect(third.status).to.equal(429);
    expect(await AuditEvent.count({ where: { operation: 'file.download', targetId: photo.id, result: 'allowed' } })).to.equal(2);
    expect(await AuditEvent.count({ where: { operation: 'vault.burst', actorId: clientAdmin.user.id } })).to.equal(1);
  });
});
