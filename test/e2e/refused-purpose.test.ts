import { expect } from 'chai';
import { dialectName } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { e2eSuite, freshCode, onPhone, signIn } from '../support/e2e';
import { makePayee, numberFrom } from '../support/vault';
import { jaText } from '../support/chromium';
import { systemContext } from '../../server/audit';
import type { Client } from '../../server/db/models';

/**
 * From a product walk: on a phone, a staff member who asked for a payee's number under 源泉徴収票
 * was refused (400) at the top of the long list; the reason stood beside the purpose choice, a
 * screen further down, and the page looked as if nothing had happened.
 */
describe(`E2E (Chromium, ${dialectName}): a refused purpose on a phone shows its reason where the page opens`, function () {
  this.timeout(120_000);
  let client: Client;
  let staff: MadeUser;
  const e2e = e2eSuite({
    seed: async (h) => {
      client = await makeClient(h, { code: 'RPUR', name: '株式会社目的歩き' });
      staff = await makeUser(h, { role: 'firm_staff' });
      await assign(h, client.id, staff.user.id);
      const { person } = await makePayee(client.id, { code: 'P900', name: '講師 一郎' });
      await h.booted.services.vault.register(systemContext('test'), person, { number: numberFrom(72000000001), issueDate: null }, { source: 'proxy', registeredBy: null });
    },
  });

  it('表示 of a payee for 源泉徴収票: the refusal opens at the purpose choice with the reason in view', async () => {
    await onPhone(e2e, async (page) => {
      await signIn(page, staff, { phone: true });
      await page.goto(`/reauth?next=/firm/clients/${client.id}/numbers`);
      await page.getByLabel('パスワード').fill(staff.password);
      await page.getByLabel('確認コード').fill(await freshCode(staff));
      await page.getByRole('button', { name: '再認証する' }).tap();
      await page.waitForURL((u) => u.pathname === `/firm/clients/${client.id}/numbers`);
      await page.locator('select[name=purpose]').selectOption('withholding_slip');
      await page.locator('select[name=office]').selectOption('tax_office');
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST'),
        page.getByTestId('reveal').tap(),
      ]);
      expect(answer.status()).to.equal(400);
      await page.waitForURL((u) => u.pathname.endsWith('/reveal'));
      await page.waitForLoadState();
      const reason = page.locator('main .field-error');
      expect(await reason.allInnerTexts()).to.deep.equal([jaText('vault.payeePurpose')]);
      const box = (await reason.boundingBox())!;
      const viewport = page.viewportSize()!;
      expect(box.y, `the reason at y=${Math.round(box.y)} on a ${viewport.height} px screen`).to.be.within(0, viewport.height - box.height);
    });
  });
});
