import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { dialectName } from '../support/harness';
import { makeUser, makeClient, type MadeUser } from '../support/factories';
import { VIEWPORTS, artifactPath, jaText, watchProblems } from '../support/chromium';
import { e2eSuite, signIn } from '../support/e2e';
import { systemContext } from '../../server/audit';
import { Payee } from '../../server/db/models';

/**
 * From a product walk: after 支払先を登録 on a phone the list opened at the new payee's row, as it
 * should, and 「支払先を登録しました。…」 stood at the top of the page, a screen above: the admin
 * saw a row and no word that anything had happened, nor what to do next.
 */
describe(`E2E (Chromium, ${dialectName}): after 支払先を登録 the confirmation stands with the new payee's row`, function () {
  this.timeout(120_000);
  let admin: MadeUser;
  const e2e = e2eSuite({
    seed: async (h) => {
      const client = await makeClient(h, { code: 'PAY', name: '株式会社しはらい' });
      admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: '人事 担当' });
      for (let i = 1; i <= 12; i++) {
        await h.booted.services.people.addEmployee(systemContext('test'), client.id, { employeeCode: `E${String(i).padStart(3, '0')}`, name: `社員 ${i}`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null });
      }
    },
  });

  async function addPayee(page: Page, code: string, name: string, phone: boolean) {
    await page.goto('/client/people');
    const form = page.locator('form[action^="/client/people/payees"]');
    await form.getByLabel(jaText('people.payeeCode')).fill(code);
    await form.getByLabel(jaText('people.name'), { exact: true }).fill(name);
    const button = form.getByRole('button', { name: jaText('people.addPayee') });
    await (phone ? button.tap() : button.click());
    const payee = await (async () => { for (;;) { const p = await Payee.findOne({ where: { code } }); if (p) return p; await page.waitForTimeout(100); } })();
    await page.waitForURL((u) => u.hash === `#person-${payee.id}`);
    await page.waitForLoadState();
    return payee;
  }

  async function seenOnce(page: Page, what: string) {
    const told = page.getByText(jaText('people.payeeAdded'));
    expect(await told.count(), `${what}: the confirmation, once`).to.equal(1);
    const box = (await told.boundingBox())!;
    const viewport = page.viewportSize()!;
    expect(box.y, `${what}: the confirmation at y=${Math.round(box.y)} on a ${viewport.height} px screen`).to.be.within(0, viewport.height - box.height);
  }

  for (const viewport of VIEWPORTS) {
    it(`on a ${viewport.name}: the page opens at the new row, the confirmation in view beside it`, async () => {
      const context = await e2e.browser.newContext({ ...viewport.context, baseURL: e2e.portal.baseUrl });
      context.setDefaultTimeout(15_000);
      try {
        const page = await context.newPage();
        const problems = await watchProblems(page);
        await signIn(page, admin, { phone: viewport.phone });
        const payee = await addPayee(page, `P-${viewport.name}`, `講師 ${viewport.name}`, viewport.phone);
        await seenOnce(page, viewport.name);
        const row = page.locator(`#person-${payee.id}`);
        const rowBox = (await row.boundingBox())!;
        expect(rowBox.y, 'the row itself in view').to.be.within(-1, page.viewportSize()!.height - 40);
        await page.screenshot({ path: artifactPath(`payee-added-${viewport.name}.png`) });
        expect(problems.take(), 'console errors / CSP violations').to.deep.equal([]);
        // Reloaded or opened again, the confirmation is not said twice.
        await page.reload();
        expect(await page.getByText(jaText('people.payeeAdded')).count()).to.equal(0);
      } finally {
        await context.close();
      }
    });
  }
});
