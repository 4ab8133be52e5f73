import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeClient, makeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { Client } from '../../server/db/models';

describe("A client user's own client: read once per request", () => {
  let h: Harness;
  let reads = 0;
  const count = (found: unknown) => { reads += Array.isArray(found) ? found.length : found ? 1 : 0; };

  before(async () => {
    h = await createHarness();
    Client.addHook('afterFind', 'count-own-client', count);
  });
  after(async () => {
    Client.removeHook('afterFind', 'count-own-client');
    await h.close();
  });

  it('the layout (is TOTP owed?) and the page share one read; the next request reads again and sees a change', async () => {
    const client = await makeClient(h, { name: '株式会社一度', requireAdminTotp: false });
    const admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);

    reads = 0;
    const home = await b.get('/home');
    expect(home.status).to.equal(200);
    expect(reads).to.equal(1);

    reads = 0;
    expect((await b.get('/client/people')).status).to.equal(200);
    expect(reads).to.equal(1);

    // The firm turns on 管理者の二要素認証 between two requests: the very next page asks for enrolment.
    await Client.update({ requireAdminTotp: true }, { where: { id: client.id } });
    reads = 0;
    const after = await b.get('/home');
    expect(reads).to.equal(1);
    expect(after.status).to.equal(303);
    expect(after.headers.location).to.equal('/account/totp');
  });
});
