import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { dialectName } from '../support/harness';
import { pdfText } from '../support/pdf';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { VIEWPORTS, artifactPath, horizontalOverflow, smallTouchTargets, watchProblems, jaText } from '../support/chromium';
import { e2eSuite, renderPageOne, signIn as signInAs } from '../support/e2e';
import { AccessReport, AuditEvent, Employee, Firm, type Client } from '../../server/db/models';
import { findPerson } from '../../server/vault/people';
import { systemContext, type ActorContext } from '../../server/audit';
import { numberFrom as valid } from '../support/vault';
import { periodContaining, periodLabel, previousPeriod, type Period } from '../../server/reports/periods';

/** The messages as the people here read them. */
const t = jaText;

/** The text of a PDF file as poppler reads it (poppler-utils, which .ci/run installs). */
const pdftotext = (file: string) => pdfText(fs.readFileSync(file));

/**
 * What a page reports as broken, less one thing that is not: the browser's own fetch of the
 * site icon, cancelled when the test moves on before it finished.
 */
const pageProblems = (problems: { take(): string[] }) =>
  problems.take().filter((p) => !/^request failed: GET http:\/\/127\.0\.0\.1:\d+\/favicon\.svg net::ERR_ABORTED$/.test(p));

/**
 * A link answered with Content-Disposition: attachment starts as a navigation that Chromium
 * cancels once it becomes a download: that one request is reported as aborted, nothing broke.
 */
const downloadNavigation = (pathname: string) =>
  new RegExp(`^request failed: GET http://127\\.0\\.0\\.1:\\d+${pathname.replace(/[.?*+^$()[\]{}|\\]/g, '\\$&')} net::ERR_ABORTED$`);

const FIRM_NAME = '暁社会保険労務士事務所';
const CLIENT_NAME = '株式会社レポート商事';
const PEOPLE = [
  { code: 'R001', name: '山田 太郎' },
  { code: 'R002', name: '山本 花子' },
  { code: 'R003', name: '佐藤 一郎' },
];

describe(`E2E (Chromium, ${dialectName}): 取扱状況報告書 and 操作履歴 for the client admin, on a desktop and a phone`, function () {
  // Two PDF renders and two portals' worth of pages: more than mocha's default when the machine is busy.
  this.timeout(90_000);
  let client: Client;
  let tmp: string;
  let current: Period;
  let previous: Period;
  const numbers: string[] = [];
  /** One client admin per viewport, so each download's audit row is told apart. */
  const admins = new Map<string, MadeUser>();
  /** The staff member who revealed the numbers, who reads the log with the client column too. */
  let staff: MadeUser;

  const e2e = e2eSuite({
    env: { REVEAL_BURST_MAX: '1000' },
    seed: async (h) => {
      const svc = h.booted.services;
      await Firm.create({ id: 1, name: FIRM_NAME });
      client = await makeClient(h, { code: 'RPE', name: CLIENT_NAME });
      for (const vp of VIEWPORTS) {
        admins.set(vp.name, await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: `人事 ${vp.name === 'phone' ? '春子' : '夏子'}` }));
      }
      staff = await makeUser(h, { role: 'firm_staff', name: '担当 次郎' });
      const other = await makeUser(h, { role: 'firm_staff', name: '田中 職員' });
      await assign(h, client.id, staff.user.id);
      await assign(h, client.id, other.user.id);
      const ctxOf = (u: MadeUser): ActorContext => ({ actorId: u.user.id, actorName: u.user.name, actorRole: 'firm_staff', ip: '127.0.0.1', userAgent: 'e2e', channel: 'web:test' });
      // Three people with their numbers; 担当 reveals each once (tax office), 田中 the first one once more (pension office).
      for (const [i, p] of PEOPLE.entries()) {
        const e = await Employee.create({ clientId: client.id, employeeCode: p.code, name: p.name, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
        numbers.push(valid(71000000000 + i * 307));
        const rec = await svc.vault.register(systemContext('test'), await findPerson(client.id, 'employee', e.id), { number: numbers[i]!, issueDate: null }, { source: 'proxy', registeredBy: null });
        await svc.vault.open(ctxOf(staff), client.id, [rec.id], { purpose: 'withholding_slip', office: 'tax_office' }, 'vault.reveal');
        if (i === 0) await svc.vault.open(ctxOf(other), client.id, [rec.id], { purpose: 'social_insurance_acquire', office: 'pension_office' }, 'vault.reveal');
      }
      // This month's report (with the accesses above) and last month's (empty), so the list has a row to choose.
      current = periodContaining('monthly', new Date());
      previous = previousPeriod(current);
      expect(await svc.reports.build(client.id, previous)).to.equal(true);
      // (built as on the first day after it: a period is reported once it is over)
      expect(await svc.reports.build(client.id, current, new Date(current.end.getTime() + 60_000))).to.equal(true);
    },
  });

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-e2e-reports-'));
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  for (const vp of VIEWPORTS) {
    describe(`${vp.name} (${vp.context.viewport!.width}×${vp.context.viewport!.height})`, () => {
      let context: BrowserContext | undefined;
      let page: Page;
      let problems: { take(): string[] };
      let admin: MadeUser;

      afterEach(async () => {
        await context?.close();
        context = undefined;
      });

      /** On a phone, a tap (touch events); on the desktop, a mouse click. */
      const press = (l: Locator) => (vp.phone ? l.tap() : l.click());

      /** What every state of the page must satisfy: no errors, and on a phone no sideways scrolling and finger-sized targets. */
      async function pageOk(name: string, expected: RegExp[] = []) {
        expect(pageProblems(problems).filter((p) => !expected.some((e) => e.test(p))), `${name}: console errors / CSP violations`).to.deep.equal([]);
        const o = await horizontalOverflow(page);
        expect(o.scrollWidth, `${name}: scrolls sideways (too wide: ${o.wide.join(', ')})`).to.be.at.most(o.innerWidth);
        if (vp.phone) expect(await smallTouchTargets(page), `${name}: touch targets smaller than 44×44 px`).to.deep.equal([]);
      }

      /** A fresh browser, signed in as this viewport's client admin (no TOTP required of them), on /home. */
      async function signIn(who?: MadeUser) {
        admin = who ?? admins.get(vp.name)!;
        context = await e2e.browser.newContext({ ...vp.context, baseURL: e2e.portal.baseUrl, acceptDownloads: true });
        // A step that goes wrong fails well before mocha gives up (slow only when the machine is busy).
        context.setDefaultTimeout(20_000);
        page = await context.newPage();
        problems = await watchProblems(page);
        await signInAs(page, admin, { phone: vp.phone });
      }

      it('opens 報告書 from the menu, downloads this month\'s PDF (signed text, no number), and the download is logged', async () => {
        await signIn();
        await press(page.locator('header').getByRole('link', { name: t('nav.reports'), exact: true }));
        await page.waitForURL((u) => u.pathname === '/reports');
        expect(await page.locator('h1').first().innerText()).to.contain(t('reports.title')).and.contain(CLIENT_NAME);
        expect(await page.locator('header').getByRole('link', { name: t('nav.reports'), exact: true }).getAttribute('aria-current')).to.equal('page');

        // The two reports, newest first, each with its period as people say it.
        const rows = page.getByTestId('report-list').locator('tbody tr');
        expect(await rows.count()).to.equal(2);
        const label = periodLabel(current, 'ja');
        expect(label).to.match(/^\d{4}年\d{1,2}月$/);
        expect(await rows.nth(0).innerText()).to.contain(label).and.contain(`${current.startDate} – ${current.endDate}`);
        expect(await rows.nth(1).innerText()).to.contain(periodLabel(previous, 'ja'));
        const report = (await AccessReport.findOne({ where: { clientId: client.id, period: current.key } }))!;
        expect(await rows.nth(0).locator('td').nth(1).innerText()).to.equal(String(report.events));
        // Nothing of the people or their numbers on the list itself.
        const html = await page.content();
        for (const n of numbers) expect(html).not.to.contain(n);
        await pageOk('report list');
        await page.screenshot({ path: artifactPath(`reports-list-${vp.name}.png`), fullPage: true });
        if (vp.phone) {
          // The list is small enough to be read without scrolling its table sideways either.
          const wrap = await page.locator('.table-wrap').first().evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
          expect(wrap.scroll, 'the report table fits the phone').to.be.at.most(wrap.client);
        }

        // The PDF of this month, through the browser's own download.
        const downloadsBefore = await AuditEvent.count({ where: { operation: 'report.download', actorId: admin.user.id } });
        const link = rows.filter({ hasText: label }).getByTestId('report-download');
        expect(await link.innerText()).to.match(/^PDF（.+）$/);
        const [download] = await Promise.all([page.waitForEvent('download'), press(link)]);
        expect(download.suggestedFilename()).to.equal(`access-report-RPE-${current.key}.pdf`);
        expect(await download.failure()).to.equal(null);
        const file = path.join(tmp, `${vp.name}-${download.suggestedFilename()}`);
        await download.saveAs(file);
        const pdf = fs.readFileSync(file);
        expect(pdf.subarray(0, 5).toString('latin1')).to.equal('%PDF-');
        expect(pdf.length).to.equal(report.size);

        const text = pdftotext(file);
        expect(text).to.contain('マイナンバー等取扱状況報告書');
        expect(text).to.contain(CLIENT_NAME);
        expect(text).to.contain(FIRM_NAME);
        expect(text).to.contain('担当 次郎').and.contain('田中 職員');
        expect(text).to.contain('R001 山＊ 太＊');
        expect(text).to.contain(report.headHash!);
        const squeezed = text.replace(/\s/g, '');
        for (const n of numbers) expect(squeezed, 'no registered My Number in the report').not.to.contain(n);
        for (const p of PEOPLE) expect(text, 'people are masked in the report').not.to.contain(p.name);

        // The download is an audit row of its own: who, which client, which report.
        const logged = await AuditEvent.findAll({ where: { operation: 'report.download', actorId: admin.user.id }, order: [['seq', 'ASC']] });
        expect(logged).to.have.length(downloadsBefore + 1);
        const row = logged[logged.length - 1]!;
        expect([row.result, row.clientId, row.targetKind, row.targetId, row.targetLabel]).to.deep.equal(['allowed', client.id, 'report', report.id, current.key]);

        renderPageOne(file, 'report-page1');

        // Still on the list (a download does not navigate), and nothing went wrong on the way.
        expect(new URL(page.url()).pathname).to.equal('/reports');
        await pageOk('after the download', [downloadNavigation(new URL(download.url()).pathname)]);
      });

      it('操作履歴: filters by 閲覧 through the form, sees only those rows with masked people, downloads them as CSV', async () => {
        await signIn();
        await press(page.locator('header').getByRole('link', { name: t('nav.log'), exact: true }));
        await page.waitForURL((u) => u.pathname === '/audit');
        expect(await page.locator('h1').first().innerText()).to.equal(t('log.title'));
        const table = page.getByTestId('log-table');
        const opCells = table.locator('tbody tr td:nth-child(4)');
        const unfiltered = new Set(await opCells.allInnerTexts());
        expect(unfiltered.size, 'more than one kind of operation before filtering').to.be.greaterThan(1);
        await pageOk('log');
        if (vp.phone) {
          // The sort links share their line with a label, so smallTouchTargets passes them over; they are still what one taps.
          const sortLinks = page.locator('form.filters + p.row a');
          expect(await sortLinks.count()).to.be.greaterThan(0);
          for (const l of await sortLinks.all()) {
            const box = (await l.boundingBox())!;
            expect(Math.min(box.width, box.height), `sort link ${await l.innerText()} is at least 44×44 px`).to.be.at.least(44);
          }
        }

        // 操作 = 閲覧, through the form.
        const reveals = await AuditEvent.count({ where: { clientId: client.id, operation: 'vault.reveal' } });
        expect(reveals).to.equal(PEOPLE.length + 1);
        // (the select's accessible name is its label plus the chosen option, so it is found by its field name and its label checked)
        const operation = page.locator('form.filters select[name="operation"]');
        expect((await page.locator('form.filters label').filter({ has: page.locator('select[name="operation"]') }).evaluate((el) => el.firstChild?.textContent ?? '')).trim()).to.equal(t('log.col.operation'));
        await operation.selectOption({ label: t('op.vault.reveal') });
        await press(page.locator('form.filters').getByRole('button', { name: t('vault.filter.apply') }));
        await page.waitForURL((u) => u.pathname === '/audit' && u.searchParams.get('operation') === 'vault.reveal');
        await page.waitForLoadState('load');
        expect(await operation.inputValue(), 'the choice stays in the form').to.equal('vault.reveal');
        expect(await table.locator('tbody tr').count()).to.equal(reveals);
        expect([...new Set(await opCells.allInnerTexts())]).to.deep.equal([t('op.vault.reveal')]);
        expect(await page.locator('.pager').innerText()).to.contain(t('log.total').replace('{{count}}', String(reveals)));
        const persons = await table.locator('tbody tr td:nth-child(3)').allInnerTexts();
        expect(persons).to.include('R001 山＊ 太＊').and.include('R002 山＊ 花＊').and.include('R003 佐＊ 一＊');
        const html = await page.content();
        for (const p of PEOPLE) expect(html).not.to.contain(p.name);
        for (const n of numbers) expect(html).not.to.contain(n);
        await pageOk('log filtered by 閲覧');
        await page.screenshot({ path: artifactPath(`audit-reveals-${vp.name}.png`), fullPage: true });

        // The CSV of what is shown: the same rows, masked, with a Japanese header.
        const [download] = await Promise.all([page.waitForEvent('download'), press(page.getByTestId('log-csv'))]);
        expect(download.suggestedFilename()).to.equal('access-log.csv');
        const file = path.join(tmp, `${vp.name}-access-log.csv`);
        await download.saveAs(file);
        const csv = fs.readFileSync(file, 'utf8');
        expect(csv).to.contain('日時');
        expect(csv).to.contain('山＊');
        for (const p of PEOPLE) expect(csv).not.to.contain(p.name);
        for (const n of numbers) expect(csv).not.to.contain(n);
        const [header, ...lines] = parseCsv(csv, { bom: true }) as string[][];
        expect(header![0]).to.equal(t('log.col.at'));
        expect(header![4]).to.equal(t('log.col.operation'));
        expect(lines).to.have.length(reveals);
        expect([...new Set(lines.map((l) => l[4]))]).to.deep.equal([t('op.vault.reveal')]);
        expect([...new Set(lines.map((l) => l[1]))]).to.deep.equal([`RPE ${CLIENT_NAME}`]);
        const exported = await AuditEvent.findOne({ where: { operation: 'log.export.csv', actorId: admin.user.id }, order: [['seq', 'DESC']] });
        expect(exported, 'the CSV download is logged').to.not.equal(null);
        expect([exported!.clientId, exported!.detail]).to.deep.equal([client.id, `${reveals} rows`]);
        expect(new URL(page.url()).pathname).to.equal('/audit');
        const csvUrl = new URL(download.url());
        expect(csvUrl.pathname).to.equal('/audit.csv');
        expect(csvUrl.searchParams.get('operation'), 'the CSV link carries the filter').to.equal('vault.reveal');
        await pageOk('after the CSV download', [downloadNavigation(csvUrl.pathname + csvUrl.search)]);
      });

      // (on a phone the table scrolls in its own box, which pageOk allows)
      if (!vp.phone) it('the firm\'s staff read the whole log table without scrolling sideways (client, purpose and office, where from), and may filter by sign-in', async () => {
        await signIn(staff);
        await page.goto(`/audit?client=${client.id}`);
        const table = page.getByTestId('log-table');
        await table.waitFor();
        const fit = await page.locator('.table-wrap').evaluate((el) => ({ scroll: el.scrollWidth, width: el.clientWidth }));
        expect(fit.scroll, 'the log table fits its box at 1280 px').to.be.at.most(fit.width);
        const headers = await table.locator('thead th').allInnerTexts();
        expect(headers).to.deep.equal([t('log.col.at'), t('log.col.client'), t('log.col.operator'), t('log.col.person'), t('log.col.operation'), t('log.col.why'), t('log.col.result'), t('log.col.howWhere')]);
        const reveal = table.locator('tbody tr').filter({ hasText: t('op.vault.reveal') }).first();
        expect(await reveal.locator('td').nth(5).innerText()).to.equal(`${t('purpose.withholding_slip')}\n${t('office.tax_office')}`);
        expect(await reveal.locator('td').nth(7).innerText()).to.equal(`${t('log.how.screen')}\n127.0.0.1`);
        await pageOk('log as staff');
        await page.screenshot({ path: artifactPath(`audit-staff-${vp.name}.png`), fullPage: true });

        // Sign-ins are in the filter, under their own group; the staff member's own sign-in was just logged (no client: not in this client's log).
        const operation = page.locator('form.filters select[name="operation"]');
        expect(await operation.locator(`optgroup[label="${t('log.opGroup.access')}"] option`).allInnerTexts()).to.include(t('op.auth.login'));
        await operation.selectOption({ label: t('op.vault.reveal') });
        await press(page.locator('form.filters').getByRole('button', { name: t('vault.filter.apply') }));
        await page.waitForURL((u) => u.searchParams.get('operation') === 'vault.reveal');
        expect(await table.locator('tbody tr').count()).to.equal(PEOPLE.length + 1);
      });
    });
  }
});
