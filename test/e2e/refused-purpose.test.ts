import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { dialectName } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { e2eSuite, freshCode, onPhone, signIn } from '../support/e2e';
import { makePayee, numberFrom } from '../support/vault';
import { jaText } from '../support/chromium';
import { systemContext } from '../../server/audit';
import { StoredFile, type Client } from '../../server/db/models';
import { TestBrowser } from '../support/browser';
import { pngBytes } from '../support/files';

/** The one reason given, and on screen where the page opened (not a screen below). */
async function expectReasonInView(page: Page, key: string): Promise<void> {
  await page.waitForLoadState();
  const reason = page.locator('main .field-error');
  expect(await reason.allInnerTexts()).to.deep.equal([jaText(key)]);
  const box = (await reason.boundingBox())!;
  const viewport = page.viewportSize()!;
  expect(box.y, `the reason at y=${Math.round(box.y)} on a ${viewport.height} px screen`).to.be.within(0, viewport.height - box.height);
}

/**
 * From a product walk: on a phone, a staff member who asked for a payee's number under 源泉徴収票
 * was refused (400) at the top of the long list; the reason stood beside the purpose choice, a
 * screen further down, and the page looked as if nothing had happened.
 */
describe(`E2E (Chromium, ${dialectName}): a refused purpose on a phone shows its reason where the page opens`, function () {
  this.timeout(120_000);
  let client: Client;
  let staff: MadeUser;
  let fileId: string;
  const reauthenticate = async (page: Page) => {
    await page.getByLabel('パスワード').fill(staff.password);
    await page.getByLabel('確認コード').fill(await freshCode(staff));
    await page.getByRole('button', { name: '再認証する' }).tap();
  };
  const e2e = e2eSuite({
    seed: async (h) => {
      client = await makeClient(h, { code: 'RPUR', name: '株式会社目的歩き' });
      staff = await makeUser(h, { role: 'firm_staff' });
      await assign(h, client.id, staff.user.id);
      // The photo of a payee's card, sent by the company's admin with the number (代理登録).
      const hr = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
      const b = new TestBrowser(h.portal.app);
      await b.login(hr);
      const lecturer = await makePayee(client.id, { code: 'P901', name: '講師 二郎' });
      const path = `/client/people/payee/${lecturer.payee.id}/number`;
      const sent = await b.agent.post(path).set('X-CSRF-Token', await b.csrf(path)).set('Accept', 'application/json')
        .field('number', numberFrom(72000000002)).attach('files', pngBytes(5000), { filename: '講師二郎_個人番号カード.png', contentType: 'image/png' });
      expect(sent.status, sent.text).to.equal(200);
      fileId = (await StoredFile.findOne({ where: { displayName: '講師二郎_個人番号カード.png' } }))!.id;
    },
  });

  it('表示 of a payee for 源泉徴収票: the refusal opens at the purpose choice with the reason in view', async () => {
    await onPhone(e2e, async (page) => {
      await signIn(page, staff, { phone: true });
      await page.goto(`/reauth?next=/firm/clients/${client.id}/numbers`);
      await reauthenticate(page);
      await page.waitForURL((u) => u.pathname === `/firm/clients/${client.id}/numbers`);
      await page.locator('select[name=purpose]').selectOption('withholding_slip');
      await page.locator('select[name=office]').selectOption('tax_office');
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST'),
        page.getByTestId('reveal').tap(),
      ]);
      expect(answer.status()).to.equal(400);
      await page.waitForURL((u) => u.pathname.endsWith('/reveal'));
      await expectReasonInView(page, 'vault.payeePurpose');
    });
  });

  it('a payee\'s card photo opened for 源泉徴収票: the file page opens at the purpose choice with the reason in view', async () => {
    await onPhone(e2e, async (page) => {
      await signIn(page, staff, { phone: true });
      await page.goto(`/reauth?next=/files/${fileId}`);
      await reauthenticate(page);
      await page.waitForURL((u) => u.pathname === `/files/${fileId}`);
      // A payee's number is for the 支払調書 only.
      await page.locator('select[name=purpose]').selectOption('withholding_slip');
      await page.locator('select[name=office]').selectOption('tax_office');
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST'),
        page.getByRole('button', { name: 'ダウンロード' }).tap(),
      ]);
      expect(answer.status()).to.equal(400);
      await page.waitForURL((u) => u.pathname === `/files/${fileId}/download`);
      await expectReasonInView(page, 'vault.payeePurpose');
    });
  });

  it('a deletion date in the past on the same page: it opens at the date with the reason in view', async () => {
    await onPhone(e2e, async (page) => {
      await signIn(page, staff, { phone: true });
      await page.goto(`/files/${fileId}`);
      await page.getByLabel('削除予定日').fill('2020-04-01');
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST'),
        page.getByRole('button', { name: '保存' }).tap(),
      ]);
      expect(answer.status()).to.equal(400);
      await page.waitForURL((u) => u.pathname === `/files/${fileId}/retention`);
      await expectReasonInView(page, 'files.retentionPast');
    });
  });
});
