import { createHarness, type Harness } from './harness';
import { makeClient, makeUser, type MadeUser } from './factories';
import { TestBrowser } from './browser';
import type { Client } from '../../server/db/models';

/** A fresh portal with one client company and its admin (no TOTP), signed in: the set-up of many client-side suites. */
export async function clientWithAdmin(o: { code: string; name: string }): Promise<{ h: Harness; client: Client; admin: MadeUser; browser: TestBrowser }> {
  const h = await createHarness();
  const client = await makeClient(h, o);
  const admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
  const browser = new TestBrowser(h.portal.app);
  await browser.login(admin);
  return { h, client, admin, browser };
}
