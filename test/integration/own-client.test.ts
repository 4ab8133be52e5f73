import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeClient, makeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import type { Response } from 'supertest';
import { Client } from '../../server/db/models';
import { rowsReadDuring } from '../support/rows-read';

describe("A client user's own client: read once per request", () => {
  let h: Harness;
  before(async () => { h = await createHarness(); });
  after(async () => { await h.close(); });
  const clientRowsRead = (fn: () => Promise<Response>) => rowsReadDuring([Client], fn);

  it('the layout (is TOTP owed?) and the page share one read; the next request reads again and sees a change', async () => {
    const client = await makeClient(h, { name: '株式会社一度', requireAdminTotp: false });
    const admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);

    const home = await clientRowsRead(() => b.get('/home'));
    expect(home.result.status).to.equal(200);
    expect(home.rows).to.equal(1);

    const people = await clientRowsRead(() => b.get('/client/people'));
    expect(people.result.status).to.equal(200);
    expect(people.rows).to.equal(1);

    // The firm turns on 管理者の二要素認証 between two requests: the very next page asks for enrolment.
    await Client.update({ requireAdminTotp: true }, { where: { id: client.id } });
    const after = await clientRowsRead(() => b.get('/home'));
    expect(after.rows).to.equal(1);
    expect(after.result.status).to.equal(303);
    expect(after.result.headers.location).to.equal('/account/totp');
  });
});
