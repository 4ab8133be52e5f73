import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { dialectName, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { pngBytes } from '../support/files';
import { VIEWPORTS, artifactPath, horizontalOverflow, smallTouchTargets, watchProblems, jaText } from '../support/chromium';
import { e2eSuite, freshCode, signIn } from '../support/e2e';
import { AuditEvent, Dependant, Employee, NumberRecord, StoredFile } from '../../server/db/models';
import { checkDigit } from '../../server/vault/my-number';
import { findPerson } from '../../server/vault/people';
import { systemContext } from '../../server/audit';

/** The messages as the people here read them. */
const t = jaText;

/** A valid My Number from its first 11 digits (the check digit as the ordinance gives it). */
const valid = (first11: string) => `${first11}${checkDigit(first11)}`;
/** '123456789018' → '１２３４５６７８９０１８', as a phone's Japanese keyboard types it. */
const fullWidth = (n: string) => n.replace(/[0-9]/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0));
/** '123456789018' → '1234 5678 9018', as the reveal page groups the digits. */
const grouped = (n: string) => n.replace(/(\d{4})(?=\d)/g, '$1 ');

const SELF_NUMBER = '123456789018';
const SPOUSE_NUMBER = valid('98765432109');
const WRONG_DIGIT = `${SELF_NUMBER.slice(0, 11)}${(Number(SELF_NUMBER[11]) + 1) % 10}`;

/**
 * Chromium logs every answer of 400 or more as a console error; where the test provokes one on
 * purpose, exactly that one line is expected and nothing else.
 */
const refusedLoad = (status: number, text: string, pathname: string) =>
  // (the paths here are letters, digits, '-' and '/': nothing to escape)
  // (a form's action may carry the fragment of the card it belongs to: #person-…)
  new RegExp(`^console error: Failed to load resource: the server responded with a status of ${status} \\(${text}\\) \\(http://127\\.0\\.0\\.1:\\d+${pathname}(?:#[\\w-]+)?\\)$`);

/**
 * What a page reports as broken, less one thing that is not: the browser's own fetch of the
 * site icon, cancelled when the test moves on before it finished.
 */
const pageProblems = (problems: { take(): string[] }) =>
  problems.take().filter((p) => !/^request failed: GET http:\/\/127\.0\.0\.1:\d+\/favicon\.svg net::ERR_ABORTED$/.test(p));

/** Disclosure headings (summary) one taps to open a form: at least 44 CSS px tall on a phone. */
async function smallSummaries(page: Page): Promise<string[]> {
  return page.evaluate(`[...document.querySelectorAll('main summary')]
    .filter((el) => el.getBoundingClientRect().height > 0 && el.getBoundingClientRect().height < 44)
    .map((el) => el.textContent.trim() + ' (' + Math.round(el.getBoundingClientRect().width) + '×' + Math.round(el.getBoundingClientRect().height) + ')')`);
}

/** Whether the element is on the screen as the page stands (a message scrolled out of view is not read). */
async function expectInView(page: Page, selector: string, what: string) {
  const box = (await page.locator(selector).boundingBox())!;
  const height = page.viewportSize()!.height;
  expect(box.y, `${what}: at y=${Math.round(box.y)} on a ${height} px screen`).to.be.within(0, height - box.height);
}

/** How many objects the storage holds (a refused upload must leave none behind). */
async function storedObjects(h: Harness): Promise<number> {
  let n = 0;
  for await (const _ of h.booted.services.storage.list()) n++;
  return n;
}

describe(`E2E (Chromium, ${dialectName}): My Numbers — じぶんで登録 on a phone, the firm reveals one after re-authentication`, function () {
  // A short reveal, so the test sees the number leave the page.
  const e2e = e2eSuite({ env: { REVEAL_SECONDS: '3' } });
  let context: BrowserContext | undefined;
  let tmp: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-e2e-vault-'));
  });

  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('an employee registers their own and their spouse\'s number with card photos on a phone; a wrong check digit is refused', async () => {
    const client = await makeClient(e2e.h, { code: 'SELF', name: '株式会社いろは' });
    const emp = await makeUser(e2e.h, { role: 'employee', clientId: client.id, totp: false, name: '山田 太郎' });
    const employee = await Employee.create({
      clientId: client.id, employeeCode: 'E001', name: '山田 太郎', nameKana: 'ヤマダ タロウ',
      departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: emp.user.id,
    });
    const photo = path.join(tmp, 'マイナンバーカード.png');
    fs.writeFileSync(photo, pngBytes(200_000));

    const phone = VIEWPORTS.find((v) => v.phone)!;
    context = await e2e.browser.newContext({ ...phone.context, baseURL: e2e.portal.baseUrl });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const problems = await watchProblems(page);

    /** What every state of the page must satisfy on a phone: no errors, no sideways scrolling, fingers-sized targets. */
    async function phoneOk(name: string, expected: RegExp[] = []) {
      expect(pageProblems(problems).filter((p) => !expected.some((e) => e.test(p))), `${name}: console errors / CSP violations`).to.deep.equal([]);
      const o = await horizontalOverflow(page);
      expect(o.scrollWidth, `${name}: scrolls sideways on a phone (too wide: ${o.wide.join(', ')})`).to.be.at.most(o.innerWidth);
      expect(await smallTouchTargets(page), `${name}: touch targets smaller than 44×44 px`).to.deep.equal([]);
      expect(await smallSummaries(page), `${name}: disclosure headings lower than 44 px`).to.deep.equal([]);
    }

    /** No form of a full number anywhere in the page's HTML (its inputs' values included). */
    async function noFullNumber(name: string) {
      const html = await page.content();
      const values: string[] = await page.locator('input').evaluateAll((els) => els.map((el) => String((el as unknown as { value: string }).value)));
      for (const n of [SELF_NUMBER, SPOUSE_NUMBER]) {
        for (const form of [n, fullWidth(n), grouped(n)]) {
          expect(html, `${name}: the page shows ${form}`).not.to.contain(form);
          expect(values.join('\n'), `${name}: a field still holds ${form}`).not.to.contain(form);
        }
      }
    }

    /**
     * Fills one person's form (number, photo, confirmation) and sends it over a slow uplink (like a
     * phone's). A recorder in the page notes every value its progress bar takes and, as the page is
     * left for the reload, the bar's last value and state; it keeps them in sessionStorage, which
     * outlives the reload, so the test reads what the person saw just before it.
     */
    async function registerWithPhoto(key: string, typed: string, o: { expectOk: boolean }) {
      const card = page.getByTestId(`person-${key}`);
      await card.getByTestId('number-input').fill(typed);
      await card.locator('input[name="files"]').setInputFiles(photo);
      const bar = card.locator('[data-upload-list] progress');
      expect(await bar.count(), 'one progress bar for the one photo').to.equal(1);
      expect(await bar.getAttribute('aria-label')).to.equal('マイナンバーカード.png');
      expect(await card.locator('[data-upload-list]').innerText()).to.contain('マイナンバーカード.png');
      await card.locator('input[name="confirm"]').check();

      await page.evaluate((k) => {
        // Runs in the page (no DOM types here).
        type El = { value: number; textContent: string | null };
        const w = globalThis as unknown as {
          document: { querySelector(s: string): El | null };
          sessionStorage: { setItem(k: string, v: string): void; removeItem(k: string): void };
          addEventListener(t: string, f: () => void): void;
          setInterval(f: () => void, ms: number): number;
        };
        // (no named functions in here: the test's compiler would wrap them in a helper the page lacks)
        const seen: number[] = [];
        const barSelector = `[data-testid="person-${k}"] [data-upload-list] progress`;
        w.sessionStorage.removeItem('e2e-upload');
        w.setInterval(() => {
          const v = w.document.querySelector(barSelector)?.value;
          if (typeof v === 'number' && seen[seen.length - 1] !== v) seen.push(v);
        }, 20);
        w.addEventListener('beforeunload', () => {
          const state = w.document.querySelector(`[data-testid="person-${k}"] [data-upload-list] .upload-state`);
          w.sessionStorage.setItem('e2e-upload', JSON.stringify({ seen, last: w.document.querySelector(barSelector)?.value ?? null, state: state?.textContent ?? null }));
        });
      }, key);

      const cdp = await context!.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 150 * 1024 });
      try {
        const [post] = await Promise.all([
          page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/me/numbers', { timeout: 30_000 }),
          card.getByRole('button', { name: t('vault.self.submit') }).tap(),
        ]);
        if (o.expectOk) {
          expect(post.status(), 'the upload is accepted').to.equal(200);
          // public/js/upload.js fills the bar, says 送信済み and reloads the page, which now shows the masked number.
          await page.getByTestId(`person-${key}`).getByTestId('masked-number').waitFor();
          const raw = await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('e2e-upload'));
          expect(raw, 'the page was left for a reload after the upload').to.be.a('string');
          const rec = JSON.parse(raw!) as { seen: number[]; last: number; state: string };
          expect(rec.last, 'the bar is full when the page reloads').to.equal(100);
          expect(rec.state).to.equal(t('files.progress.done'));
          expect(rec.seen.some((v) => v > 0 && v < 100), `the bar moved on its way to 100 (seen: ${rec.seen.join(', ')})`).to.equal(true);
        } else {
          expect(post.status(), 'a refused number answers 400').to.equal(400);
          const error = card.locator('[data-upload-error]');
          await error.waitFor({ state: 'visible' });
          expect((await error.innerText()).trim()).to.equal(t('vault.number.checkDigit'));
          expect(await bar.evaluate((el) => (el as unknown as { value: number }).value), 'the bar goes back to 0').to.equal(0);
          expect(await card.getByRole('button', { name: t('vault.self.submit') }).isEnabled(), 'the button can be pressed again').to.equal(true);
          const raw = await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('e2e-upload'));
          expect(raw, 'no reload after a refusal').to.equal(null);
        }
      } finally {
        await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 }).catch(() => {});
        await cdp.detach().catch(() => {});
      }
    }

    // Sign in and open じぶんで登録 from the menu.
    await signIn(page, emp, { phone: true });
    await page.locator('header').getByRole('link', { name: t('nav.myNumbers') }).first().tap();
    await page.waitForURL((u) => u.pathname === '/me/numbers');
    expect(await page.locator('h1').first().innerText()).to.equal(t('vault.self.title'));

    // 利用目的のお知らせ: open, with the three purposes, before anything is typed.
    const notice = page.locator('details.purpose-notice');
    expect(await notice.getAttribute('open'), 'the purpose notice is open').to.not.equal(null);
    const noticeText = await notice.innerText();
    for (const k of ['vault.self.purposeTitle', 'vault.self.purposeIntro', 'vault.self.purpose1', 'vault.self.purpose2', 'vault.self.purpose3', 'vault.self.purposeKeep']) {
      expect(noticeText, k).to.contain(t(k));
    }
    expect(await page.getByTestId('person-self').locator('h2').innerText()).to.contain(t('vault.self.me'));
    await phoneOk('self page');

    // Add the spouse.
    await page.getByLabel(t('people.name')).fill('山田 花子');
    await page.getByLabel(t('people.nameKana')).fill('ヤマダ ハナコ');
    await page.getByLabel(t('people.relationship')).selectOption({ label: t('people.relationship.spouse') });
    await page.getByRole('button', { name: t('vault.self.addDependant') }).tap();
    await page.waitForURL((u) => u.pathname === '/me/numbers');
    expect((await page.locator('.banner-ok').innerText()).trim()).to.equal(t('vault.self.dependantAdded'));
    // Said where the page opens (the new card), not at the top a screen above.
    await expectInView(page, '.banner-ok', 'the dependant added');
    const spouse = await Dependant.findOne({ where: { clientId: client.id, employeeId: employee.id } });
    expect(spouse, 'the dependant is stored').to.not.equal(null);
    expect(spouse!.relationship).to.equal('spouse');
    expect(spouse!.name).to.equal('山田 花子');
    const spouseCard = page.getByTestId(`person-${spouse!.id}`);
    // The page opens at the new person's card, where their number is entered next.
    expect(new URL(page.url()).hash).to.equal(`#person-${spouse!.id}`);
    expect(await spouseCard.locator('h2').innerText()).to.contain('山田 花子').and.contain(t('people.relationship.spouse'));
    await phoneOk('with a dependant');

    // A wrong check digit (typed full-width) with a photo: the Japanese message, nothing stored, the photo discarded.
    const selfCard = page.getByTestId('person-self');
    const objectsBefore = await storedObjects(e2e.h);
    await registerWithPhoto('self', fullWidth(WRONG_DIGIT), { expectOk: false });
    expect(await NumberRecord.count({ where: { clientId: client.id } }), 'no number stored').to.equal(0);
    expect(await StoredFile.count({ where: { clientId: client.id } }), 'no file row').to.equal(0);
    expect(await storedObjects(e2e.h), 'the uploaded photo is not left in storage').to.equal(objectsBefore);
    await page.screenshot({ path: artifactPath('vault-self-phone-wrong-digit.png'), fullPage: true });
    await phoneOk('wrong check digit (upload)', [refusedLoad(400, 'Bad Request', '/me/numbers')]);

    // The same without a photo: a plain form post, the page again with the message beside the field.
    await page.reload();
    await selfCard.getByTestId('number-input').fill(WRONG_DIGIT);
    await selfCard.locator('input[name="confirm"]').check();
    const [plain] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/me/numbers'),
      selfCard.getByRole('button', { name: t('vault.self.submit') }).tap(),
    ]);
    expect(plain.status()).to.equal(400);
    await page.waitForLoadState('load');
    expect((await page.getByTestId('person-self').locator('.field-error').innerText()).trim()).to.equal(t('vault.number.checkDigit'));
    // The page opens at the person's card, so the message is on the first screen, not below the purpose notice.
    const message = (await page.getByTestId('person-self').locator('.field-error').boundingBox())!;
    expect(message.y, 'the message is on screen').to.be.at.least(0);
    expect(message.y + message.height, 'the message is on the first screen').to.be.at.most(page.viewportSize()!.height);
    expect(await NumberRecord.count({ where: { clientId: client.id } }), 'still no number stored').to.equal(0);
    await phoneOk('wrong check digit (form)', [refusedLoad(400, 'Bad Request', '/me/numbers')]);
    // Then with the photo (the upload's own answer): the earlier message gives way to the new one instead of both standing.
    await registerWithPhoto('self', WRONG_DIGIT, { expectOk: false });
    expect(await page.getByTestId('person-self').locator('.field-error:visible, [data-upload-error]:visible').count(), 'one message at a time').to.equal(1);
    await phoneOk('wrong check digit (upload after form)', [refusedLoad(400, 'Bad Request', '/me/numbers')]);

    // Their own number, typed in full-width digits, with the card photo.
    await page.goto('/me/numbers');
    await registerWithPhoto('self', fullWidth(SELF_NUMBER), { expectOk: true });
    expect((await page.locator('.banner-ok').innerText()).trim()).to.equal(t('vault.registered'));
    // Loaded anew at their own card (shorter now, its form folded away): the message in view, not the next card.
    await expectInView(page, '[data-testid="person-self"] .banner-ok', 'their own number registered');
    expect(await page.getByTestId('person-self').getByTestId('masked-number').innerText()).to.equal(`**********${SELF_NUMBER.slice(-2)}`);
    expect(await page.getByTestId('person-self').innerText()).to.contain(t('vault.status.person_confirmed'));
    await noFullNumber('after the own number');
    await phoneOk('own number registered');

    // The spouse's number the same way.
    await registerWithPhoto(spouse!.id, SPOUSE_NUMBER, { expectOk: true });
    // The page is loaded anew at the spouse's card, 登録しました in it and in view.
    expect(new URL(page.url()).hash).to.equal(`#person-${spouse!.id}`);
    expect((await page.getByTestId(`person-${spouse!.id}`).locator('.banner-ok').innerText()).trim()).to.equal(t('vault.registered'));
    await expectInView(page, '.banner-ok', 'the spouse\'s number registered');
    expect(await page.getByTestId(`person-${spouse!.id}`).getByTestId('masked-number').innerText()).to.equal(`**********${SPOUSE_NUMBER.slice(-2)}`);
    expect(await page.getByTestId('person-self').getByTestId('masked-number').innerText()).to.equal(`**********${SELF_NUMBER.slice(-2)}`);
    await noFullNumber('after the spouse\'s number');
    await phoneOk('both registered');
    await page.screenshot({ path: artifactPath('vault-self-phone.png'), fullPage: true });

    // In the database: two records of the employee's own registering, each with its photo, an encrypted My Number file.
    const records = await NumberRecord.findAll({ where: { clientId: client.id }, order: [['personKind', 'DESC']] });
    expect(records.map((r) => [r.personKind, r.personId, r.source, r.status, r.lastTwo])).to.deep.equal([
      ['employee', employee.id, 'self', 'person_confirmed', SELF_NUMBER.slice(-2)],
      ['dependant', spouse!.id, 'self', 'person_confirmed', SPOUSE_NUMBER.slice(-2)],
    ]);
    for (const r of records) {
      expect(r.personConfirmedAt, 'confirmed by the person').to.not.equal(null);
      expect(r.registeredBy).to.equal(emp.user.id);
      expect(r.sealedNumber).to.be.a('string');
      expect(r.idFileId, 'the card photo is linked').to.be.a('string');
      const file = await StoredFile.findByPk(r.idFileId!);
      expect(file, 'the linked photo exists').to.not.equal(null);
      expect(file!.containsMyNumber, 'the photo is marked as holding a My Number').to.equal(true);
      expect(file!.clientId).to.equal(client.id);
      expect(file!.employeeId).to.equal(employee.id);
      expect(file!.direction).to.equal('to_firm');
      expect(file!.displayName).to.equal('マイナンバーカード.png');
    }
    expect(records[0]!.idFileId).to.not.equal(records[1]!.idFileId);
    expect(await StoredFile.count({ where: { clientId: client.id } }), 'exactly the two photos').to.equal(2);
    expect(pageProblems(problems)).to.deep.equal([]);
  });

  it('firm staff reveal a number only after re-authentication, with purpose and office; the number is removed from the page after REVEAL_SECONDS', async () => {
    const client = await makeClient(e2e.h, { code: 'REV', name: '株式会社ほへと' });
    const staff: MadeUser = await makeUser(e2e.h, { role: 'firm_staff', name: '担当 次郎' });
    await assign(e2e.h, client.id, staff.user.id);
    const employee = await Employee.create({
      clientId: client.id, employeeCode: 'R001', name: '佐藤 一郎', nameKana: null,
      departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null,
    });
    const person = await findPerson(client.id, 'employee', employee.id);
    const record = await e2e.h.booted.services.vault.register(systemContext('test'), person, { number: SELF_NUMBER, issueDate: null }, { source: 'proxy', registeredBy: null });
    const list = `/firm/clients/${client.id}/numbers`;

    context = await e2e.browser.newContext({ ...VIEWPORTS[0]!.context, baseURL: e2e.portal.baseUrl });
    context.setDefaultTimeout(15_000);
    const page: Page = await context.newPage();
    const problems = await watchProblems(page);

    await signIn(page, staff, { phone: false });

    /** On the masked list: purpose 源泉徴収票, office 税務署, then 表示 on the one row. */
    async function pickAndReveal(o: { reload?: boolean } = {}) {
      if (o.reload !== false) await page.goto(list);
      const row = page.getByTestId('vault-table').locator('tbody tr').filter({ hasText: '佐藤 一郎' });
      expect(await row.getByTestId('masked-number').innerText()).to.equal(`**********${SELF_NUMBER.slice(-2)}`);
      await page.getByLabel(t('vault.purpose')).selectOption({ label: t('purpose.withholding_slip') });
      await page.getByLabel(t('vault.office')).selectOption({ label: t('office.tax_office') });
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `${list}/${record.id}/reveal`),
        row.getByTestId('reveal').click(),
      ]);
      await page.waitForLoadState('load');
      return res;
    }

    // The office list follows the procedure: one office is chosen for the user, unfit ones cannot be chosen.
    await page.goto(list);
    const office = page.getByLabel(t('vault.office'));
    await page.getByLabel(t('vault.purpose')).selectOption({ label: t('purpose.employment_insurance_acquire') });
    expect(await office.inputValue(), 'ハローワーク is the only office for it').to.equal('hello_work');
    await page.getByLabel(t('vault.purpose')).selectOption({ label: t('purpose.withholding_slip') });
    expect(await office.inputValue(), 'ハローワーク no longer fits: the choice is cleared').to.equal('');
    expect(await office.locator('option[value="hello_work"]').isDisabled()).to.equal(true);
    expect(await office.locator('option[value="tax_office"]').isDisabled()).to.equal(false);

    // Without re-authentication: the notice says what to do, and 表示 / 印刷 / CSV wait for it.
    await page.goto(list);
    expect((await page.locator('main').innerText())).to.contain(t('vault.firm.reauthNotice'));
    expect(await page.content()).not.to.contain(SELF_NUMBER).and.not.to.contain(grouped(SELF_NUMBER));
    for (const name of [t('vault.action.reveal'), t('vault.action.print'), t('vault.action.export')]) {
      expect(await page.getByRole('button', { name, exact: true }).isDisabled(), name).to.equal(true);
    }
    // A post made anyway (the page left open while the window closed): refused, and the way on comes back to the list.
    await page.getByTestId('reveal').evaluate((b) => (b as unknown as { disabled: boolean }).disabled = false);
    const refused = await pickAndReveal({ reload: false });
    expect(refused.status()).to.equal(403);
    expect((await page.getByTestId('error-message').innerText()).trim()).to.equal(t('error.reauthRequired'));
    expect(await page.content()).not.to.contain(grouped(SELF_NUMBER)).and.not.to.contain(SELF_NUMBER);
    expect(await page.getByRole('link', { name: t('error.goReauth') }).getAttribute('href')).to.equal(`/reauth?next=${encodeURIComponent(list)}`);
    const expected403 = refusedLoad(403, 'Forbidden', `${list}/${record.id}/reveal`);
    expect(pageProblems(problems).filter((p) => !expected403.test(p)), 'nothing but the 403 itself').to.deep.equal([]);

    // Re-authenticate from the list's link, which comes back to the list.
    await page.goto(list);
    await page.locator('main').getByRole('link', { name: t('vault.firm.reauthLink') }).click();
    await page.waitForURL((u) => u.pathname === '/reauth');
    expect(await page.locator('h1').first().innerText()).to.equal(t('auth.reauth.title'));
    await page.getByLabel(t('auth.password')).fill(staff.password);
    await page.getByLabel(t('auth.code')).fill(await freshCode(staff));
    await page.getByRole('button', { name: t('auth.reauth.submit') }).click();
    await page.waitForURL((u) => u.pathname === list);
    expect(await page.locator('main').innerText()).not.to.contain(t('vault.firm.reauthNotice'));

    // Now 表示 opens the number, grouped in fours, for REVEAL_SECONDS.
    const opened = await pickAndReveal();
    expect(opened.status()).to.equal(200);
    expect(new URL(page.url()).pathname).to.equal(`${list}/${record.id}/reveal`);
    expect(await page.locator('h1').first().innerText()).to.equal(t('vault.reveal.title'));
    const shown = page.getByTestId('revealed-number');
    expect((await shown.innerText()).trim()).to.equal(grouped(SELF_NUMBER));
    expect(grouped(SELF_NUMBER)).to.equal('1234 5678 9018');
    const facts = await page.locator('dl.facts').innerText();
    expect(facts).to.contain('佐藤 一郎').and.contain(t('purpose.withholding_slip')).and.contain(t('office.tax_office'));
    expect(await page.getByTestId('revealed-gone').isVisible()).to.equal(false);
    await page.screenshot({ path: artifactPath('vault-reveal.png'), fullPage: true });

    // After ~3 s the digits are removed from the DOM (not merely hidden) and the page says so.
    const started = Date.now();
    await page.waitForFunction(() => {
      // Runs in the page (no DOM types here).
      const d = (globalThis as unknown as { document: { querySelector(s: string): { hidden: boolean } | null } }).document;
      const gone = d.querySelector('[data-testid="revealed-gone"]');
      return d.querySelector('[data-testid="revealed-number"]') === null && gone !== null && !gone.hidden;
    }, undefined, { timeout: 10_000 });
    expect(Date.now() - started, 'hidden after REVEAL_SECONDS, not at once').to.be.within(1_000, 6_000);
    // The notice must stay where the number was, for the person to read it: the page is not left at the same moment.
    await page.waitForTimeout(1_500);
    expect(new URL(page.url()).pathname, 'the reveal page stays (with its notice) once the number is removed').to.equal(`${list}/${record.id}/reveal`);
    expect(await page.getByTestId('revealed-number').count()).to.equal(0);
    expect(await page.getByTestId('revealed-gone').isVisible()).to.equal(true);
    expect((await page.getByTestId('revealed-gone').innerText()).trim()).to.equal(t('vault.reveal.hidden'));
    expect(await page.content()).not.to.contain(grouped(SELF_NUMBER)).and.not.to.contain(SELF_NUMBER);
    await page.screenshot({ path: artifactPath('vault-reveal-gone.png'), fullPage: true });
    expect(pageProblems(problems)).to.deep.equal([]);

    // The log: one refusal (no re-authentication, with the purpose the form named), then one opening with its purpose and office.
    const rows = await AuditEvent.findAll({ where: { operation: 'vault.reveal', clientId: client.id }, order: [['seq', 'ASC']] });
    expect(rows.map((r) => [r.result, r.actorId, r.purpose, r.office])).to.deep.equal([
      ['denied', staff.user.id, 'withholding_slip', 'tax_office'],
      ['allowed', staff.user.id, 'withholding_slip', 'tax_office'],
    ]);
    expect(rows[0]!.detail).to.equal('no re-authentication');
    expect([rows[1]!.targetKind, rows[1]!.targetId]).to.deep.equal(['employee', employee.id]);
    for (const r of rows) {
      for (const v of Object.values(r.get({ plain: true }))) expect(String(v)).not.to.contain(SELF_NUMBER);
    }
  });
});
