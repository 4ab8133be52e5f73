import { expect } from 'chai';
import type { BrowserContext, Locator } from 'playwright-core';
import { dialectName } from '../support/harness';
import { makeUser } from '../support/factories';
import { VIEWPORTS, artifactPath, horizontalOverflow, smallTouchTargets, watchProblems } from '../support/chromium';
import { e2eSuite, freshCode } from '../support/e2e';

describe(`E2E (Chromium, ${dialectName}): sign in with TOTP, re-authenticate, log out`, function () {
  const e2e = e2eSuite();

  for (const vp of VIEWPORTS) {
    describe(`${vp.name} (${vp.context.viewport!.width}×${vp.context.viewport!.height})`, () => {
      let context: BrowserContext | undefined;
      afterEach(async () => {
        await context?.close();
        context = undefined;
      });

      it('logs in with password and code, re-authenticates, sees the countdown, logs out', async () => {
        const u = await makeUser(e2e.h, { role: 'firm_admin', name: '暁 花子' });
        context = await e2e.browser.newContext({ ...vp.context, baseURL: e2e.portal.baseUrl });
        // A step that goes wrong fails well before mocha gives up (slow only when the machine is busy).
        context.setDefaultTimeout(20_000);
        const page = await context.newPage();
        const problems = await watchProblems(page);

        /** On a phone, a tap (touch events); on the desktop, a mouse click. */
        const press = (l: Locator) => (vp.phone ? l.tap() : l.click());

        /** What every step must satisfy: the page, its heading, no errors, no sideways scrolling; a screenshot. */
        async function step(name: string, pathname: string, heading: string) {
          await page.waitForURL((url) => url.pathname === pathname);
          await page.screenshot({ path: artifactPath(`${vp.name}-${name}.png`), fullPage: true });
          expect(await page.getAttribute('html', 'lang'), `${name}: page language`).to.equal('ja');
          expect(await page.locator('h1').first().innerText(), `${name}: heading`).to.equal(heading);
          expect(problems.take(), `${name}: console errors / CSP violations`).to.deep.equal([]);
          if (vp.phone) {
            const o = await horizontalOverflow(page);
            expect(o.scrollWidth, `${name}: scrolls sideways on a phone (too wide: ${o.wide.join(', ')})`).to.be.at.most(o.innerWidth);
            expect(await smallTouchTargets(page), `${name}: touch targets smaller than 44×44 px`).to.deep.equal([]);
          }
        }

        await page.goto('/login');
        await step('login', '/login', 'ログイン');
        expect(await page.title()).to.equal('ログイン | 暁ポータル');

        await page.getByLabel('メールアドレス').fill(u.email);
        await page.getByLabel('パスワード').fill(u.password);
        await press(page.getByRole('button', { name: 'ログイン' }));
        await step('totp', '/login/totp', '確認コードの入力');
        expect(await page.locator('main').innerText()).to.contain('認証アプリに表示されている6桁の確認コードを入力してください。');

        await page.getByLabel('確認コード').fill(await freshCode(u));
        await press(page.getByRole('button', { name: '確認する' }));
        await step('home', '/home', 'ホーム');
        expect(await page.locator('main').innerText()).to.contain('暁 花子さん、ようこそ。');
        expect(await page.locator('.site-header').innerText()).to.contain('事務所管理者');
        expect(await page.locator('[data-testid="reauth-status"]').count(), 'no re-authentication yet').to.equal(0);

        await press(page.getByRole('link', { name: '再認証（重要な操作の前に）' }));
        await step('reauth', '/reauth', '再認証');
        await page.getByLabel('パスワード').fill(u.password);
        await page.getByLabel('確認コード').fill(await freshCode(u));
        await press(page.getByRole('button', { name: '再認証する' }));
        await step('account', '/account', 'アカウント');

        const banner = page.locator('[data-testid="reauth-status"]');
        expect(await banner.isVisible()).to.equal(true);
        // public/js/portal.js replaces the ISO time with minutes:seconds left.
        await page.waitForFunction(`/^\\d+:\\d\\d$/.test(document.querySelector('[data-testid="reauth-status"] .reauth-left').textContent.trim())`);
        const text = (await banner.innerText()).trim();
        expect(text).to.match(/^再認証の有効期限まで残り\s*\d+:\d\d$/);
        const [, mm, ss] = /(\d+):(\d\d)$/.exec(text)!;
        const left = Number(mm) * 60 + Number(ss);
        expect(left).to.be.within(e2e.h.config.reauthMinutes * 60 - 30, e2e.h.config.reauthMinutes * 60);

        await press(page.locator('[data-testid="logout"]'));
        await step('logged-out', '/login', 'ログイン');
        expect(new URL(page.url()).searchParams.get('reason')).to.equal('loggedOut');
        expect(await page.locator('.notice').innerText()).to.equal('ログアウトしました。');
        expect(await page.locator('[data-testid="logout"]').count()).to.equal(0);

        // The session is really gone: a signed-in page sends the browser back to the login form.
        await page.goto('/home');
        await page.waitForURL((url) => url.pathname === '/login');
        expect(new URL(page.url()).searchParams.get('next')).to.equal('/home');
        expect(problems.take()).to.deep.equal([]);
      });
    });
  }
});
