import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { dialectName } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { e2eSuite, freshCode, onPhone, signIn } from '../support/e2e';
import { VIEWPORTS, horizontalOverflow, jaText } from '../support/chromium';
import { makeDependant, makeEmployee, numberFrom } from '../support/vault';
import { systemContext } from '../../server/audit';
import type { Client } from '../../server/db/models';

/**
 * From a product walk: 選択した人を印刷 opens the sheet in a tab of its own, the list still open in the
 * tab before; the sheet's 一覧に戻る opened a second copy of the list in the new tab. There, closing
 * the tab is the way back (and takes the printed numbers off the screen).
 */
describe(`E2E (Chromium, ${dialectName}): the print sheet, opened in its own tab, closes to go back`, function () {
  this.timeout(120_000);
  let client: Client;
  let staff: MadeUser;
  const e2e = e2eSuite({
    seed: async (h) => {
      client = await makeClient(h, { code: 'PRTB', name: '株式会社印刷タブ' });
      staff = await makeUser(h, { role: 'firm_staff' });
      await assign(h, client.id, staff.user.id);
      const { employee, person } = await makeEmployee(client.id, { employeeCode: 'T001', name: '印刷 太郎' });
      await h.booted.services.vault.register(systemContext('test'), person, { number: numberFrom(73000000001), issueDate: '2020-04-01' }, { source: 'proxy', registeredBy: null });
      // A dependant's row (社員 > 扶養家族, 続柄, the card's date): as wide as the sheet's rows get.
      const child = await makeDependant(client.id, employee.id, '印刷 花子');
      await h.booted.services.vault.register(systemContext('test'), child.person, { number: numberFrom(73000000002), issueDate: '2021-05-10' }, { source: 'proxy', registeredBy: null });
    },
  });

  /**
   * Signed in and re-authenticated, on the client's numbers list with rows ticked (the first, or all)
   * and a purpose chosen: the step before 選択した人を印刷. Taps on a phone, clicks on the desktop.
   */
  async function readyToPrint(page: Page, o: { phone: boolean; allRows?: boolean }): Promise<string> {
    await signIn(page, staff, { phone: o.phone });
    const list = `/firm/clients/${client.id}/numbers`;
    await page.goto(`/reauth?next=${list}`);
    await page.getByLabel('パスワード').fill(staff.password);
    await page.getByLabel('確認コード').fill(await freshCode(staff));
    const reauth = page.getByRole('button', { name: '再認証する' });
    await (o.phone ? reauth.tap() : reauth.click());
    await page.waitForURL((u) => u.pathname === list);
    const boxes = await page.locator('input[name=ids]').all();
    for (const box of o.allRows ? boxes : boxes.slice(0, 1)) await box.check();
    await page.locator('select[name=purpose]').selectOption('withholding_slip');
    await page.locator('select[name=office]').selectOption('tax_office');
    return list;
  }

  it('the sheet offers このページを閉じる, not 一覧に戻る, and closing it leaves the list where it was', async () => {
    const desktop = VIEWPORTS.find((v) => !v.phone)!;
    const context = await e2e.browser.newContext({ ...desktop.context, baseURL: e2e.portal.baseUrl });
    context.setDefaultTimeout(15_000);
    try {
      const page = await context.newPage();
      const list = await readyToPrint(page, { phone: false });
      const [sheet] = await Promise.all([
        context.waitForEvent('page'),
        page.getByRole('button', { name: jaText('vault.action.print') }).click(),
      ]);
      await sheet.waitForLoadState();
      expect(await sheet.locator('h1').innerText()).to.equal(jaText('vault.print.title'));
      const close = sheet.getByRole('button', { name: jaText('vault.print.close') });
      expect(await close.isVisible(), 'このページを閉じる shown').to.equal(true);
      expect(await sheet.getByTestId('print-back').isVisible(), '一覧に戻る hidden').to.equal(false);
      await Promise.all([sheet.waitForEvent('close'), close.click()]);
      expect(sheet.isClosed()).to.equal(true);
      expect(new URL(page.url()).pathname).to.equal(list);
      // Opened in the tab itself (a bookmark, a reload after a restart): 一覧に戻る is the way back, as before.
      const again = await context.newPage();
      await again.goto(list);
      await again.locator('input[name=ids]').first().check();
      await again.locator('select[name=purpose]').selectOption('withholding_slip');
      await again.locator('select[name=office]').selectOption('tax_office');
      await again.evaluate(`document.querySelector('button[formtarget]').removeAttribute('formtarget')`);
      await again.getByRole('button', { name: jaText('vault.action.print') }).click();
      await again.waitForURL((u) => u.pathname === `${list}/print`);
      expect(await again.getByTestId('print-back').isVisible(), '一覧に戻る shown').to.equal(true);
      expect(await again.getByRole('button', { name: jaText('vault.print.close') }).isVisible()).to.equal(false);
    } finally {
      await context.close();
    }
  });

  it('on a phone the sheet does not scroll sideways: its table scrolls in its own box', async () => {
    await onPhone(e2e, async (page) => {
      const list = await readyToPrint(page, { phone: true, allRows: true });
      // In this tab (a phone browser may open the new tab the same way): the sheet itself is what is looked at.
      await page.evaluate(`document.querySelector('button[formtarget]').removeAttribute('formtarget')`);
      await page.getByRole('button', { name: jaText('vault.action.print') }).tap();
      await page.waitForURL((u) => u.pathname === `${list}/print`);
      const o = await horizontalOverflow(page);
      expect(o.scrollWidth, `the sheet scrolls sideways on a phone (too wide: ${o.wide.join(', ')})`).to.be.at.most(o.innerWidth);
      expect(await page.locator('.table-wrap .print-table').count()).to.equal(1);
    });
  });
});
