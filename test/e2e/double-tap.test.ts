import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { dialectName } from '../support/harness';
import { makeUser, makeClient } from '../support/factories';
import { e2eSuite, onPhone, signIn } from '../support/e2e';
import { AuditEvent, Dependant, Employee, NumberRecord } from '../../server/db/models';
import { numberFrom } from '../support/vault';

/**
 * A phone on a slow connection: the page stays as it is for a second or two after 登録する or
 * 扶養家族を追加 is tapped, and people tap again. The second tap must not send the form a second time.
 */
async function slowConnection(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 1500, downloadThroughput: 100_000, uploadThroughput: 100_000 });
}

/** Two taps on the button, 300 ms apart, by screen position (the second tap lands while the first answer is on its way). */
async function doubleTap(page: Page, button: ReturnType<Page['locator']>): Promise<void> {
  await button.scrollIntoViewIfNeeded();
  const box = (await button.boundingBox())!;
  await page.touchscreen.tap(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForTimeout(300);
  await page.touchscreen.tap(box.x + box.width / 2, box.y + box.height / 2);
}

describe(`E2E (Chromium, ${dialectName}): じぶんで登録 on a slow phone — a second tap sends nothing more`, function () {
  const e2e = e2eSuite();

  it('扶養家族を追加 tapped twice adds the dependant once; 登録する tapped twice registers the number once', async () => {
    const client = await makeClient(e2e.h, { code: 'DBL', name: '株式会社にどおし' });
    const emp = await makeUser(e2e.h, { role: 'employee', clientId: client.id, totp: false, name: '二度 押男' });
    const employee = await Employee.create({
      clientId: client.id, employeeCode: 'E001', name: '二度 押男', nameKana: null,
      departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: emp.user.id,
    });

    await onPhone(e2e, async (page) => {
      await signIn(page, emp, { phone: true });
      await page.goto('/me/numbers');
      await slowConnection(page);

      const add = page.locator('form[action="/me/dependants"]');
      await add.locator('input[name="name"]').fill('二度 花子');
      await add.locator('select[name="relationship"]').selectOption('child');
      await doubleTap(page, add.getByRole('button'));
      // (the first tap's page is left for the second's answer, if there is one: wait for the page that says it was added)
      await page.getByTestId('row-flash').waitFor({ timeout: 20_000 });
      await page.waitForLoadState('load');
      await page.waitForTimeout(500);
      const added = await Dependant.findAll({ where: { employeeId: employee.id } });
      expect(added.map((d) => d.name), 'one dependant').to.deep.equal(['二度 花子']);

      const card = page.getByTestId('person-self');
      await card.getByTestId('number-input').fill(numberFrom(27182818284));
      await card.locator('input[name="confirm"]').check();
      await doubleTap(page, card.getByRole('button', { name: '登録する' }));
      await page.getByTestId('person-self').getByTestId('masked-number').waitFor({ timeout: 20_000 });
      await page.waitForLoadState('load');
      await page.waitForTimeout(500);
      expect(await NumberRecord.count({ where: { personId: employee.id } })).to.equal(1);
      // (sent again, the same number would be registered again: logged as a change of it)
      const logged = await AuditEvent.findAll({ where: { operation: ['vault.register.self', 'vault.update'] } });
      expect(logged.map((e) => e.operation), 'registered once').to.deep.equal(['vault.register.self']);
    });
  });
});
