import { expect } from 'chai';
import type { Locator, Page } from 'playwright-core';
import { dialectName } from '../support/harness';
import { makeUser, makeClient, type MadeUser } from '../support/factories';
import { artifactPath, jaText } from '../support/chromium';
import { e2eSuite, onPhone, signIn } from '../support/e2e';
import { systemContext } from '../../server/audit';
import { Employee } from '../../server/db/models';

/**
 * From a product walk as a client company's HR person, on a phone:
 * - the home page's 「マイナンバーが未登録の方」 opened the people list at its top: the intro, the
 *   reminder button and the filters filled the screen, the people themselves a screen below (an
 *   anchor at the table would have hidden the reminder button, the one thing to do about them);
 * - 社員を登録 with a code already used came back at the top of the page too, the error under the
 *   form two screens below: the admin saw the list again and no word that nothing had been saved.
 */
describe(`E2E (Chromium, ${dialectName}): the people list on a phone opens where the admin has something to see`, function () {
  this.timeout(120_000);
  let admin: MadeUser;
  const e2e = e2eSuite({
    seed: async (h) => {
      const client = await makeClient(h, { code: 'PPH', name: '株式会社ひとびと' });
      admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: '人事 担当' });
      for (let i = 1; i <= 12; i++) {
        await h.booted.services.people.addEmployee(systemContext('test'), client.id, { employeeCode: `E${String(i).padStart(3, '0')}`, name: `社員 ${i}`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null });
      }
    },
  });

  /** Whether the whole of `what` is on the screen as it stands. */
  async function inView(page: Page, what: Locator, label: string): Promise<void> {
    const box = (await what.boundingBox())!;
    const height = page.viewportSize()!.height;
    expect(box, `${label} is shown`).to.not.equal(null);
    expect(box.y, `${label} at y=${Math.round(box.y)}…${Math.round(box.y + box.height)} on a ${height} px screen`).to.be.within(-1, height - box.height);
  }

  it('「マイナンバーが未登録の方」 opens with the reminder button and the first of those people on the screen, and the reminder\'s answer beside them', async () => {
    await onPhone(e2e, async (page, problems) => {
      await signIn(page, admin, { phone: true });
      await page.getByRole('link', { name: /マイナンバーが未登録の方/ }).tap();
      await page.waitForURL((u) => u.pathname === '/client/people' && u.searchParams.get('status') === 'missing');
      await page.waitForLoadState();
      await inView(page, page.getByTestId('remind'), 'the reminder button');
      await inView(page, page.locator('[data-testid="vault-table"] tbody tr').first().locator('td').first(), 'the first person\'s status');
      await page.screenshot({ path: artifactPath('people-missing-phone.png') });

      page.once('dialog', (d) => void d.accept());
      await page.getByTestId('remind').tap();
      // (the address before and after is the same: the answer's banner says the page is back)
      await page.locator('.banner[role="status"]').waitFor();
      // Nobody here has an account: the answer says so, beside the button, with the people below it.
      const told = page.getByText(jaText('vault.remind.nobody'));
      expect(await told.count(), 'the answer, once').to.equal(1);
      await inView(page, told, 'the answer');
      await inView(page, page.getByTestId('remind'), 'the reminder button after it was pressed');
      expect(problems.take(), 'console errors / CSP violations').to.deep.equal([]);
    });
  });

  it('社員を登録 refused (a code already used) opens at the form: the error on the screen, what was typed kept', async () => {
    await onPhone(e2e, async (page, problems) => {
      await signIn(page, admin, { phone: true });
      await page.goto('/client/people');
      const form = page.locator('form[action^="/client/people/employees"]');
      await form.getByLabel(jaText('vault.col.employeeCode')).fill('E001');
      await form.getByLabel(jaText('people.name'), { exact: true }).fill('新入 社員');
      await form.getByRole('button', { name: jaText('people.addEmployee') }).tap();
      await page.waitForURL((u) => u.pathname === '/client/people/employees');
      await page.waitForLoadState();
      await inView(page, page.getByText(jaText('people.codeTaken')), 'the error');
      // (the refusal's 400 is what the browser logs as an error; nothing else may be there)
      const others = problems.take().filter((p) => !p.includes('status of 400'));
      expect(await page.locator('form[action^="/client/people/employees"]').getByLabel(jaText('people.name'), { exact: true }).inputValue()).to.equal('新入 社員');
      expect(await Employee.count({ where: { name: '新入 社員' } })).to.equal(0);
      expect(others, 'console errors / CSP violations').to.deep.equal([]);
    });
  });
});
