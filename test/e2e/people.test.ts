import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { dialectName } from '../support/harness';
import { makeUser, makeClient } from '../support/factories';
import { VIEWPORTS, artifactPath, horizontalOverflow, smallTouchTargets, watchProblems, jaText } from '../support/chromium';
import { e2eSuite, signIn } from '../support/e2e';
import { Dependant, Employee, NumberRecord } from '../../server/db/models';
import { systemContext } from '../../server/audit';
import { findPerson } from '../../server/vault/people';
import { numberFrom } from '../support/vault';

const t = jaText;

describe(`E2E (Chromium, ${dialectName}): the client admin keeps an employee's dependants and leave date on a phone`, function () {
  const e2e = e2eSuite();
  let context: BrowserContext | undefined;

  // (afterEach, not after: e2eSuite's after, registered first, closes the browser before a later after would run)
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  it('from the list to the employee\'s page, a dependant added and a leave date set, every state fit for a phone', async () => {
    const client = await makeClient(e2e.h, { code: 'PPL', name: '株式会社ひとびと' });
    const admin = await makeUser(e2e.h, { role: 'client_admin', clientId: client.id, totp: false, name: '人事 担当' });
    const sys = systemContext('test');
    const people = e2e.h.booted.services.people;
    const taro = await people.addEmployee(sys, client.id, { employeeCode: 'E001', name: '山田 太郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: '2018-04-01', leaveDate: null });
    await people.addEmployee(sys, client.id, { employeeCode: 'E002', name: '鈴木 一郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null });
    await e2e.h.booted.services.vault.register(sys, await findPerson(client.id, 'employee', taro.id), { number: numberFrom(33334444555), issueDate: null }, { source: 'proxy', registeredBy: null });

    context = await e2e.browser.newContext({ ...VIEWPORTS.find((v) => v.phone)!.context, baseURL: e2e.portal.baseUrl });
    context.setDefaultTimeout(15_000);
    const page: Page = await context.newPage();
    const problems = await watchProblems(page);
    async function phoneOk(name: string) {
      expect(problems.take(), `${name}: console errors / CSP violations`).to.deep.equal([]);
      const o = await horizontalOverflow(page);
      expect(o.scrollWidth, `${name}: scrolls sideways on a phone (too wide: ${o.wide.join(', ')})`).to.be.at.most(o.innerWidth);
      expect(await smallTouchTargets(page), `${name}: touch targets smaller than 44×44 px`).to.deep.equal([]);
    }

    await signIn(page, admin, { phone: true });
    await page.goto('/client/people');
    await phoneOk('people list');
    await page.getByTestId('vault-table').screenshot({ path: artifactPath('people-list-phone.png') });
    // The CSV import page too: its file chooser is finger-sized.
    await page.getByRole('link', { name: t('vault.import.title') }).tap();
    await page.waitForURL((u) => u.pathname === '/client/numbers/import');
    await phoneOk('CSV import page');
    expect(await page.getByTestId('import-guide').isVisible(), 'the column guide is open before the first import').to.equal(true);
    await page.screenshot({ path: artifactPath('import-page-phone.png'), fullPage: true });
    await page.goto('/client/people');

    // The row of 山田 太郎 leads to his page; on a phone each row is a card, its buttons on screen (not off to the right of a table).
    const row = page.getByTestId('vault-table').locator('tr', { hasText: '山田 太郎' });
    for (const name of [t('vault.action.edit'), t('people.manage')]) {
      const box = (await row.getByRole('link', { name }).boundingBox())!;
      expect(box.x + box.width, name).to.be.at.most(VIEWPORTS.find((v) => v.phone)!.context.viewport!.width);
    }
    await row.getByRole('link', { name: t('people.manage') }).tap();
    await page.waitForURL((u) => u.pathname === `/client/people/employees/${taro.id}`);
    expect(await page.locator('h1').innerText()).to.equal('E001 山田 太郎');
    expect(await page.getByTestId('employee-facts').innerText()).to.contain('2018-04-01').and.contain(`**********${numberFrom(33334444555).slice(-2)}`);
    expect(await page.locator('main').innerText()).to.contain(t('people.noDependants'));
    await phoneOk('employee page');

    // A correction refused (another employee's code) comes back open, the field marked invalid and described by the reason.
    await page.locator('#details summary').tap();
    await page.getByTestId('employee-details-form').getByLabel(t('vault.col.employeeCode')).fill('E002');
    await page.getByTestId('employee-details-form').getByRole('button', { name: t('common.save') }).tap();
    const codeField = page.getByTestId('employee-details-form').getByLabel(t('vault.col.employeeCode'));
    await codeField.waitFor();
    expect(await codeField.getAttribute('aria-invalid')).to.equal('true');
    const describedBy = (await codeField.getAttribute('aria-describedby'))!;
    expect(await page.locator(`#${describedBy}`).innerText()).to.equal(t('people.codeTaken'));
    problems.take(); // the refused form's 400 is logged by Chromium
    await phoneOk('a refused correction');
    expect((await Employee.findByPk(taro.id))!.employeeCode).to.equal('E001');
    await page.goto(`/client/people/employees/${taro.id}`);

    // A dependant without a name: the browser's own check stops it; with one, it is stored and listed.
    const addForm = page.getByTestId('add-dependant');
    await addForm.getByLabel(t('people.nameKana')).fill('ヤマダ ハナコ');
    await addForm.getByRole('button', { name: t('people.addDependant') }).tap();
    expect(page.url()).to.match(/\/client\/people\/employees\/[0-9a-f-]{36}$/);
    expect(await Dependant.count({ where: { employeeId: taro.id } })).to.equal(0);
    await addForm.getByLabel(t('people.name')).fill('山田 花子');
    await addForm.getByLabel(t('people.relationship')).selectOption({ label: t('people.relationship.spouse') });
    await addForm.getByRole('button', { name: t('people.addDependant') }).tap();
    await page.locator('.banner-ok').waitFor();
    expect((await page.locator('.banner-ok').innerText()).trim()).to.equal(t('people.dependantAdded'));
    const spouse = await Dependant.findOne({ where: { employeeId: taro.id } });
    expect(spouse!.name).to.equal('山田 花子');
    expect(spouse!.nameKana).to.equal('ヤマダ ハナコ');
    const dependantRow = page.getByTestId('dependants').locator('tr', { hasText: '山田 花子' });
    expect(await dependantRow.innerText()).to.contain(t('people.relationship.spouse')).and.contain(t('vault.status.missing'));
    await phoneOk('with a dependant');

    // The leave date: the numbers' deletion date follows it.
    await page.getByLabel(t('people.leaveDate'), { exact: true }).fill('2026-03-31');
    await page.getByRole('button', { name: t('common.save') }).tap();
    await page.locator('.banner-ok').waitFor();
    expect((await Employee.findByPk(taro.id))!.leaveDate).to.equal('2026-03-31');
    expect((await NumberRecord.findOne({ where: { personId: taro.id } }))!.deletionDate).to.equal('2033-03-31');
    expect(await page.getByTestId('employee-facts').innerText()).to.contain('2026-03-31').and.contain('2033-03-31');
    await phoneOk('leave date set');
    await page.screenshot({ path: artifactPath('employee-page-phone.png'), fullPage: true });

    // The dependant's number is registered from here, and the page comes back with it masked.
    await dependantRow.getByRole('link', { name: t('vault.action.register') }).tap();
    await page.waitForURL((u) => u.pathname === `/client/people/dependant/${spouse!.id}/number`);
    await phoneOk('register the dependant\'s number');
    await page.getByTestId('number-input').fill(numberFrom(55556666777));
    await page.getByRole('button', { name: t('vault.register.submit') }).tap();
    await page.waitForURL((u) => u.pathname === `/client/people/employees/${taro.id}`);
    expect((await page.locator('.banner-ok').innerText()).trim()).to.equal(t('vault.registered'));
    expect(await dependantRow.innerText()).to.contain(`**********${numberFrom(55556666777).slice(-2)}`).and.not.contain(t('vault.status.missing'));
    expect(await page.content()).not.to.contain(numberFrom(55556666777));
    await phoneOk('dependant\'s number registered');
  });
});
