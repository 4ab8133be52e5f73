import net from 'node:net';
import { expect } from 'chai';
import type { Browser, BrowserContext } from 'playwright-core';
import { createHarness, dialectName, type Harness } from '../support/harness';
import { makeUser } from '../support/factories';
import { artifactPath, launchChromium, listen, watchProblems } from '../support/chromium';
import { freshCode, signIn, skipWithoutChromium, type ListeningPortal } from '../support/e2e';
import { AuditEvent, Passkey } from '../../server/db/models';

/** A free loopback port, so PUBLIC_URL (and with it the passkey's site, localhost) is known before start. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    }).on('error', reject);
  });
}

// Not e2eSuite: the port is chosen before the portal starts (its PUBLIC_URL names it), and the browser reaches it as localhost.
describe(`E2E (Chromium, ${dialectName}): a passkey added on the account page re-authenticates a later session`, function () {
  this.timeout(90_000);
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let h: Harness | undefined;
  let portal: ListeningPortal | undefined;
  let baseUrl = '';

  before(async function () {
    skipWithoutChromium(this);
    // WebAuthn needs a domain for its site (an IP address will not do): the portal is reached as localhost.
    const port = await freePort();
    baseUrl = `http://localhost:${port}`;
    h = await createHarness({ PUBLIC_URL: baseUrl });
    portal = await listen(h.portal.app, port);
    browser = await launchChromium();
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await portal?.close();
    await h?.close();
  });

  it('adds a passkey (after password + TOTP), signs in again, and re-authenticates with the passkey alone', async () => {
    const u = await makeUser(h!, { role: 'firm_staff', name: '鍵 花子' });
    context = await browser!.newContext({ baseURL: baseUrl, locale: 'ja-JP', timezoneId: 'Asia/Tokyo', viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    const problems = await watchProblems(page);
    // The device: Chromium's virtual authenticator (platform, with user verification), through the DevTools protocol.
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });

    await signIn(page, u, { phone: false });
    await page.goto('/reauth?next=/account');
    expect(await page.locator('[data-testid="passkey-reauth"]').count(), 'no passkey yet, no passkey button').to.equal(0);
    await page.getByLabel('パスワード').fill(u.password);
    await page.getByLabel('確認コード').fill(await freshCode(u));
    await page.getByRole('button', { name: '再認証する' }).click();
    await page.waitForURL((url) => url.pathname === '/account');
    await page.getByLabel('名前（例：仕事用PC、私のiPhone）').fill('テスト端末');
    await page.getByRole('button', { name: 'この端末のパスキーを追加' }).click();
    await page.locator('[data-testid="passkeys"]').getByText('テスト端末').waitFor();
    await page.screenshot({ path: artifactPath('passkey-account.png'), fullPage: true });
    expect(await Passkey.count({ where: { userId: u.user.id } })).to.equal(1);

    // A new sign-in: no re-authentication yet; the passkey alone gives one.
    await page.locator('[data-testid="logout"]').click();
    await page.waitForURL((url) => url.pathname === '/login');
    await signIn(page, u, { phone: false });
    expect(await page.locator('[data-testid="reauth-status"]').count()).to.equal(0);
    await page.goto('/reauth?next=/account');
    await page.locator('[data-testid="passkey-reauth"]').click();
    await page.waitForURL((url) => url.pathname === '/account');
    expect(await page.locator('[data-testid="reauth-status"]').isVisible()).to.equal(true);
    await page.screenshot({ path: artifactPath('passkey-reauthenticated.png'), fullPage: true });
    expect(await AuditEvent.count({ where: { operation: 'auth.reauth', result: 'allowed', actorId: u.user.id, detail: 'passkey' } })).to.equal(1);
    expect(problems.take(), 'console errors / CSP violations').to.deep.equal([]);
  });
});
