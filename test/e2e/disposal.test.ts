import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { dialectName } from '../support/harness';
import { pdfText } from '../support/pdf';
import { makeUser, makeClient, type MadeUser } from '../support/factories';
import { VIEWPORTS, artifactPath, horizontalOverflow, smallTouchTargets, watchProblems, type Viewport, jaText } from '../support/chromium';
import { e2eSuite, freshCode, renderPageOne, signIn } from '../support/e2e';
import { AuditEvent, DisposalCertificate, DisposalItem, DisposalRequest, Employee, Firm, NumberRecord, type Client } from '../../server/db/models';
import { findPerson } from '../../server/vault/people';
import { systemContext } from '../../server/audit';
import type { ItemRef } from '../../server/disposal/disposal-service';
import { numberFrom as valid } from '../support/vault';

/** The messages as the people here read them. */
const t = jaText;

/** The text of a PDF file as poppler reads it (poppler-utils, which .ci/run installs). */
const pdftotext = (file: string) => pdfText(fs.readFileSync(file));
/** What poppler says of the file's signatures (pdfsig exits non-zero for some files it still reports on). */
const pdfsig = (file: string) => {
  try {
    return execFileSync('pdfsig', [file], { stdio: ['ignore', 'pipe', 'pipe'] }).toString('utf8');
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer };
    return `${e.stdout?.toString('utf8') ?? ''}${e.stderr?.toString('utf8') ?? ''}`;
  }
};

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

/**
 * Chromium logs every answer of 400 or more as a console error; where the test provokes one on
 * purpose, exactly that one line is expected and nothing else.
 */
const refusedLoad = (status: number, text: string, pathname: string) =>
  // (the paths here are letters, digits, '-' and '/': nothing to escape)
  new RegExp(`^console error: Failed to load resource: the server responded with a status of ${status} \\(${text}\\) \\(http://127\\.0\\.0\\.1:\\d+${pathname}\\)$`);

const FIRM_NAME = '暁社会保険労務士事務所';
const CLIENT_NAME = '株式会社はいき商事';
/** Three people who left on 2016-03-31: kept until 2023-03-31 (leave + 7 years), so due now. */
const PEOPLE = [
  { code: 'D001', name: '退職 一郎' },
  { code: 'D002', name: '退職 二郎' },
  { code: 'D003', name: '退職 三郎' },
];
const REASON = '保存期間満了のため（2016年3月退職者）';

describe(`E2E (Chromium, ${dialectName}): 廃棄 — requested by the client admin on a phone, approved by the re-authenticated firm admin, the certificate downloaded and checked`, function () {
  // A signed certificate PDF, poppler on it, and four browser contexts: more than mocha's default when the machine is busy.
  this.timeout(90_000);
  let client: Client;
  let clientAdmin: MadeUser;
  let firmAdmin: MadeUser;
  let tmp: string;
  const contexts: BrowserContext[] = [];
  const numbers: string[] = [];
  const recordIds: string[] = [];
  /** Filled in as the flow goes on: each step needs the one before. */
  let requestId: string | undefined;
  let certFile: string | undefined;
  let certNumber: string | undefined;

  const phone = VIEWPORTS.find((v) => v.phone)!;
  const desktop = VIEWPORTS.find((v) => !v.phone)!;

  const e2e = e2eSuite({
    seed: async (h) => {
      await Firm.create({ id: 1, name: FIRM_NAME });
      client = await makeClient(h, { code: 'DSP', name: CLIENT_NAME });
      clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: '人事 秋子' });
      firmAdmin = await makeUser(h, { role: 'firm_admin', name: '所長 暁' });
      for (const [i, p] of PEOPLE.entries()) {
        const e = await Employee.create({ clientId: client.id, employeeCode: p.code, name: p.name, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: '2016-03-31', userId: null });
        numbers.push(valid(73640000000 + i * 613));
        const r = await h.booted.services.vault.register(systemContext('test'), await findPerson(client.id, 'employee', e.id), { number: numbers[i]!, issueDate: null }, { source: 'proxy', registeredBy: null });
        recordIds.push(r.id);
      }
    },
  });

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-e2e-disposal-'));
  });

  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** A fresh browser in one viewport, its problems watched; a step that goes wrong fails well before mocha gives up. */
  async function open(vp: Viewport): Promise<{ page: Page; problems: { take(): string[] }; press(l: Locator): Promise<void>; ok(name: string, expected?: RegExp[]): Promise<void> }> {
    const context = await e2e.browser.newContext({ ...vp.context, baseURL: e2e.portal.baseUrl, acceptDownloads: true });
    contexts.push(context);
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    const problems = await watchProblems(page);
    return {
      page,
      problems,
      /** On a phone, a tap (touch events); on the desktop, a mouse click. */
      press: (l: Locator) => (vp.phone ? l.tap() : l.click()),
      /** What every state of the page must satisfy: no errors, and on a phone no sideways scrolling and finger-sized targets. */
      async ok(name: string, expected: RegExp[] = []) {
        expect(pageProblems(problems).filter((p) => !expected.some((e) => e.test(p))), `${name}: console errors / CSP violations`).to.deep.equal([]);
        const o = await horizontalOverflow(page);
        expect(o.scrollWidth, `${name}: scrolls sideways (too wide: ${o.wide.join(', ')})`).to.be.at.most(o.innerWidth);
        if (vp.phone) expect(await smallTouchTargets(page), `${name}: touch targets smaller than 44×44 px`).to.deep.equal([]);
      },
    };
  }

  /** The client admin (no TOTP required of them), signed in on the phone, on /home. */
  async function clientAdminOnPhone() {
    const b = await open(phone);
    await signIn(b.page, clientAdmin, { phone: true });
    return b;
  }

  /** No registered My Number anywhere in the page's HTML. */
  async function noNumber(page: Page, name: string) {
    const html = await page.content();
    for (const n of numbers) expect(html, `${name}: the page shows a full My Number`).not.to.contain(n);
  }

  it('on a phone the client admin opens 廃棄 from the menu, ticks two due numbers, gives a reason and requests their disposal', async () => {
    const { page, press, ok } = await clientAdminOnPhone();
    const nav = page.locator('header').getByRole('link', { name: t('nav.disposal'), exact: true });
    await press(nav);
    await page.waitForURL((u) => u.pathname === '/disposal');
    expect(await page.locator('h1').first().innerText()).to.contain(t('disposal.title')).and.contain(CLIENT_NAME);
    expect(await nav.getAttribute('aria-current')).to.equal('page');

    // One row per number: masked, left 2016-03-31, to be deleted 2023-03-31 (leave + 7 years), marked as due.
    const table = page.getByTestId('retention-table');
    const rows = table.locator('tbody tr');
    expect(await rows.count()).to.equal(PEOPLE.length);
    for (const [i, p] of PEOPLE.entries()) {
      const row = rows.filter({ hasText: p.name });
      const text = await row.innerText();
      expect(text).to.contain(p.code).and.contain('2016-03-31').and.contain('2023-03-31').and.contain(t('disposal.due'));
      expect(await row.locator('code').innerText()).to.equal(`**********${numbers[i]!.slice(-2)}`);
      expect(await row.getAttribute('class')).to.equal('due');
    }
    await noNumber(page, 'retention list');
    await ok('retention list');
    // The dates (the point of the page) are read without scrolling the table sideways either.
    const wrap = await page.locator('.table-wrap').first().evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
    expect(wrap.scroll, 'the retention table fits the phone').to.be.at.most(wrap.client);
    for (const cell of await rows.locator('td:nth-child(7)').all()) {
      expect(await cell.isVisible()).to.equal(true);
      expect((await cell.boundingBox())!.x + (await cell.boundingBox())!.width, '削除予定日 on screen').to.be.at.most(phone.context.viewport!.width);
    }
    // smallTouchTargets passes check boxes over (their label is the target); these have none, so the box is what one taps.
    for (const box of await table.locator('input[type="checkbox"]').all()) {
      const hasLabel = await box.evaluate((el) => el.closest('label') !== null);
      const r = hasLabel ? (await box.locator('xpath=ancestor::label[1]').boundingBox())! : (await box.boundingBox())!;
      expect(Math.min(r.width, r.height), `check box ${await box.getAttribute('aria-label')}: its tap target is at least 44×44 px (${Math.round(r.width)}×${Math.round(r.height)})`).to.be.at.least(44);
    }
    await page.screenshot({ path: artifactPath('disposal-list-phone.png'), fullPage: true });

    // Tick the first two, type the reason, press 廃棄を申請する.
    for (const p of PEOPLE.slice(0, 2)) {
      const box = page.getByRole('checkbox', { name: `${t('vault.col.select')} ${p.name}`, exact: true });
      await press(box);
      expect(await box.isChecked(), `${p.name} is ticked`).to.equal(true);
    }
    expect(await page.getByRole('checkbox', { name: `${t('vault.col.select')} ${PEOPLE[2]!.name}`, exact: true }).isChecked()).to.equal(false);
    await page.getByLabel(t('disposal.reason'), { exact: true }).fill(REASON);
    const [post] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/disposal/requests'),
      press(page.getByRole('button', { name: t('disposal.requestButton'), exact: true })),
    ]);
    expect(post.status(), 'the request is accepted (303 to the list)').to.equal(303);
    await page.waitForURL((u) => u.pathname === '/disposal' && u.searchParams.get('client') === client.id);
    await page.waitForLoadState('load');
    expect((await page.locator('.banner-ok').innerText()).trim()).to.equal(t('disposal.requested'));

    // The request waits for the firm admin, with the reason and who asked; the page says so.
    const pending = page.getByTestId('pending-requests');
    expect(await pending.locator(':scope > li').count()).to.equal(1);
    expect(await pending.innerText()).to.contain(REASON).and.contain('人事 秋子').and.contain(t('disposal.status.requested'));
    expect(await pending.innerText()).not.to.contain(t('disposal.early'));
    const requests = await DisposalRequest.findAll({ where: { clientId: client.id } });
    expect(requests.map((r) => [r.status, r.scope, r.reason, r.early, r.requestedBy])).to.deep.equal([['requested', 'items', REASON, false, clientAdmin.user.id]]);
    requestId = requests[0]!.id;
    const items = await DisposalItem.findAll({ where: { requestId } });
    expect(items.map((i) => [i.itemKind, i.itemId]).sort()).to.deep.equal(recordIds.slice(0, 2).map((id) => ['number', id]).sort());
    const logged = await AuditEvent.findOne({ where: { operation: 'disposal.request', actorId: clientAdmin.user.id } });
    expect([logged?.result, logged?.clientId, logged?.targetId]).to.deep.equal(['allowed', client.id, requestId]);
    await noNumber(page, 'after the request');
    await ok('after the request');
    await page.screenshot({ path: artifactPath('disposal-requested-phone.png'), fullPage: true });
  });

  it('the firm admin (TOTP) is refused 承認して実行 without re-authentication, re-authenticates and the disposal runs', async () => {
    expect(requestId, 'the request of the step before').to.be.a('string');
    const { page, problems, ok } = await open(desktop);
    await signIn(page, firmAdmin, { phone: false });

    // 廃棄の承認 from the menu: the one request, with its client, two items, reason and who asked.
    const nav = page.locator('header').getByRole('link', { name: t('nav.approvals'), exact: true });
    await nav.click();
    await page.waitForURL((u) => u.pathname === '/disposal/approvals');
    expect(await page.locator('h1').first().innerText()).to.equal(t('disposal.approvals'));
    expect(await nav.getAttribute('aria-current')).to.equal('page');
    const rows = page.getByTestId('approval-table').locator('tbody tr');
    expect(await rows.count()).to.equal(1);
    const cells = await rows.first().locator('td').allInnerTexts();
    const firstLine = (c: string) => c.trim().split('\n')[0]!.trim();
    expect(cells.slice(0, 6).map(firstLine)).to.deep.equal([
      `DSP ${CLIENT_NAME}`, t('disposal.scope.items'), '2', REASON, '人事 秋子', t('disposal.status.requested'),
    ]);
    // What would be erased, before anything is approved: the two people, by code and masked name.
    const listed = rows.first().getByTestId('request-items');
    await listed.locator('summary').click();
    const listedText = await listed.innerText();
    for (const p of PEOPLE.slice(0, 2)) expect(listedText).to.contain(p.code);
    expect(listedText).not.to.contain(PEOPLE[2]!.code);
    for (const p of PEOPLE.slice(0, 2)) expect(listedText, 'names masked').not.to.contain(p.name);
    await noNumber(page, 'approvals');
    await ok('approvals');
    await page.screenshot({ path: artifactPath('disposal-approvals-desktop.png'), fullPage: true });

    // 承認して実行 asks first, naming the client and how many items (the test answers OK).
    const asked: string[] = [];
    page.on('dialog', (d) => { asked.push(d.message()); void d.accept(); });

    /** 承認して実行 on the one row; the answer to the POST. */
    async function approve() {
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/disposal/requests/${requestId}/approve`),
        page.getByTestId('approval-table').getByRole('button', { name: t('disposal.approve'), exact: true }).click(),
      ]);
      await page.waitForLoadState('load');
      return res;
    }

    // Without re-authentication the button waits (the notice says what to do).
    const approveButton = page.getByTestId('approval-table').getByRole('button', { name: t('disposal.approve'), exact: true });
    expect(await approveButton.isDisabled(), '承認して実行 waits for re-authentication').to.equal(true);
    expect(await page.locator('main').innerText()).to.contain(t('disposal.reauthNotice'));
    // A post made anyway (a page left open while the window closed): 403, nothing erased, and the way on comes back here.
    await approveButton.evaluate((b) => (b as unknown as { disabled: boolean }).disabled = false);
    const refused = await approve();
    expect(refused.status()).to.equal(403);
    expect((await page.getByTestId('error-message').innerText()).trim()).to.equal(t('error.reauthRequired'));
    expect(await page.getByRole('link', { name: t('error.goReauth') }).getAttribute('href')).to.equal('/reauth?next=%2Fdisposal%2Fapprovals');
    expect((await DisposalRequest.findByPk(requestId))!.status).to.equal('requested');
    for (const id of recordIds) expect((await NumberRecord.findByPk(id))!.sealedNumber, 'nothing erased before approval').to.be.a('string');
    await ok('refused without re-authentication', [refusedLoad(403, 'Forbidden', `/disposal/requests/${requestId}/approve`)]);

    // Re-authenticate from the error page (password and a fresh code), back to the approvals.
    await page.getByRole('link', { name: t('error.goReauth') }).click();
    await page.waitForURL((u) => u.pathname === '/reauth');
    expect(await page.locator('h1').first().innerText()).to.equal(t('auth.reauth.title'));
    await page.getByLabel(t('auth.password')).fill(firmAdmin.password);
    await page.getByLabel(t('auth.code')).fill(await freshCode(firmAdmin));
    await page.getByRole('button', { name: t('auth.reauth.submit') }).click();
    await page.waitForURL((u) => u.pathname === '/disposal/approvals');
    await ok('approvals after re-authentication');

    // Now 承認して実行 erases the two numbers at once and issues the certificate.
    const done = await approve();
    expect(asked.at(-1)).to.equal(t('disposal.approveConfirm').replace('{{client}}', `DSP ${CLIENT_NAME}`).replace('{{count}}', '2'));
    expect(done.status(), 'approved: 303 back to the approvals').to.equal(303);
    expect(new URL(page.url()).pathname).to.equal('/disposal/approvals');
    expect((await page.locator('.banner-ok').innerText()).trim()).to.equal(t('disposal.executed'));
    expect(await page.locator('main').innerText()).to.contain(t('disposal.noneWaiting'));
    expect(await page.getByTestId('approval-table').count()).to.equal(0);
    await ok('after the approval');
    await page.screenshot({ path: artifactPath('disposal-executed-desktop.png'), fullPage: true });

    const req = (await DisposalRequest.findByPk(requestId))!;
    expect([req.status, req.approvedBy]).to.deep.equal(['executed', firmAdmin.user.id]);
    for (const id of recordIds.slice(0, 2)) expect((await NumberRecord.findByPk(id))?.sealedNumber ?? null, 'the ticked numbers are erased').to.equal(null);
    expect((await NumberRecord.findByPk(recordIds[2]))!.sealedNumber, 'the number not ticked is kept').to.be.a('string');
    const cert = await DisposalCertificate.findOne({ where: { requestId } });
    expect(cert, 'one certificate for the request').to.not.equal(null);
    expect(cert!.number).to.match(/^DC-\d{4}-\d{6}$/);
    certNumber = cert!.number;
    const ops = (await AuditEvent.findAll({ where: { targetId: requestId, operation: ['disposal.approve', 'disposal.erase', 'disposal.verify'] }, order: [['seq', 'ASC']] }))
      .map((e) => [e.operation, e.result]);
    expect(ops).to.deep.equal([['disposal.approve', 'allowed'], ['disposal.erase', 'allowed'], ['disposal.verify', 'allowed']]);
    expect(pageProblems(problems)).to.deep.equal([]);
  });

  it('on a phone the client admin downloads the certificate: signed, 廃棄・削除証明書 with its number, no My Number; page 1 kept as a PNG', async () => {
    expect(certNumber, 'the certificate of the step before').to.be.a('string');
    const { page, press, ok } = await clientAdminOnPhone();
    // Nothing is due any more on the list but the third person; the way to the certificates is its button.
    await press(page.locator('header').getByRole('link', { name: t('nav.disposal'), exact: true }));
    await page.waitForURL((u) => u.pathname === '/disposal');
    expect(await page.getByTestId('retention-table').locator('tbody tr').count(), 'only the number not disposed of is listed').to.equal(1);
    expect(await page.getByTestId('retention-table').innerText()).to.contain(PEOPLE[2]!.name);
    expect(await page.getByTestId('pending-requests').count(), 'nothing pending').to.equal(0);
    await ok('retention list after the disposal');
    await press(page.locator('main').getByRole('link', { name: t('disposal.certificates'), exact: true }));
    await page.waitForURL((u) => u.pathname === '/certificates');
    expect(await page.locator('h1').first().innerText()).to.equal(t('disposal.certificates'));
    const list = page.getByTestId('certificate-list');
    expect(await list.locator('li').count()).to.equal(1);
    const cert = (await DisposalCertificate.findOne({ where: { number: certNumber! } }))!;
    expect(await list.innerText()).to.contain(certNumber).and.contain(CLIENT_NAME).and.contain(cert.fingerprint);
    await noNumber(page, 'certificates');
    await ok('certificates');
    await page.screenshot({ path: artifactPath('disposal-certificates-phone.png'), fullPage: true });

    // The PDF, through the browser's own download.
    const downloadsBefore = await AuditEvent.count({ where: { operation: 'certificate.download', actorId: clientAdmin.user.id } });
    const link = list.getByTestId('certificate-download');
    expect((await link.innerText()).trim()).to.equal(certNumber);
    const [download] = await Promise.all([page.waitForEvent('download'), press(link)]);
    expect(download.suggestedFilename()).to.equal(`${certNumber}.pdf`);
    expect(await download.failure()).to.equal(null);
    certFile = path.join(tmp, download.suggestedFilename());
    await download.saveAs(certFile);
    const pdf = fs.readFileSync(certFile);
    expect(pdf.subarray(0, 5).toString('latin1')).to.equal('%PDF-');
    expect(pdf.length).to.equal(cert.size);

    // Signed (poppler checks the signature over the file), what it is, its number, no My Number.
    const sig = pdfsig(certFile);
    expect(sig, sig).to.contain('Signature is Valid.');
    const text = pdftotext(certFile);
    expect(text).to.contain('廃棄・削除証明書');
    expect(text).to.contain(certNumber);
    expect(text).to.contain(CLIENT_NAME).and.contain(FIRM_NAME);
    expect(text).to.contain(cert.fingerprint);
    // The two numbers disposed of, each by employee code and masked name (a due one's reason is 保存期間満了); who did it and who approved.
    expect(text).to.contain('D001').and.contain('D002').and.not.contain('D003');
    expect(text).to.contain('退＊ 一＊').and.contain('退＊ 二＊');
    for (const p of PEOPLE) expect(text, 'people are masked in the certificate').not.to.contain(p.name);
    expect(text).to.contain(t('disposal.reason.due'));
    expect(text).to.contain('人事 秋子').and.contain('所長 暁');
    const squeezed = text.replace(/\s/g, '');
    for (const n of numbers) expect(squeezed, 'no registered My Number in the certificate').not.to.contain(n);

    // The download is an audit row of its own: who, which client, which certificate.
    const logged = await AuditEvent.findAll({ where: { operation: 'certificate.download', actorId: clientAdmin.user.id }, order: [['seq', 'ASC']] });
    expect(logged).to.have.length(downloadsBefore + 1);
    const row = logged[logged.length - 1]!;
    expect([row.result, row.clientId, row.targetKind, row.targetId, row.targetLabel]).to.deep.equal(['allowed', client.id, 'certificate', cert.id, certNumber]);

    renderPageOne(certFile, 'certificate-page1');

    // Still on the list (a download does not navigate), and nothing went wrong on the way.
    expect(new URL(page.url()).pathname).to.equal('/certificates');
    await ok('after the download', [downloadNavigation(new URL(download.url()).pathname)]);
  });

  for (const vp of VIEWPORTS) {
    it(`${vp.name}: anyone, signed out, checks the downloaded PDF on /verify (genuine) and a copy with one byte changed (not genuine)`, async () => {
      expect(certFile, 'the certificate of the step before').to.be.a('string');
      const tampered = path.join(tmp, `${vp.name}-tampered.pdf`);
      const bytes = fs.readFileSync(certFile!);
      bytes[300] = bytes[300]! ^ 0x01;
      fs.writeFileSync(tampered, bytes);

      const { page, press, ok } = await open(vp);
      /** The page, a file chosen, PDFで確認する: the one answer it gives. */
      async function check(file: string): Promise<string> {
        await page.goto('/verify');
        expect(await page.locator('h1').first().innerText()).to.equal(t('verify.title'));
        expect(await page.getByTestId('verify-answer').count(), 'no answer before asking').to.equal(0);
        await page.getByLabel(t('verify.file')).setInputFiles(file);
        expect(await page.locator('progress.upload-progress').count()).to.equal(1);
        const [res] = await Promise.all([
          page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/verify'),
          press(page.getByRole('button', { name: t('verify.checkFile'), exact: true })),
        ]);
        expect(res.status()).to.equal(200);
        // Sent by the page's script, with its progress bar (a plain post would ask for any type and carry no header).
        expect([res.request().headers().accept, Boolean(res.request().headers()['x-csrf-token'])]).to.deep.equal(['text/html', true]);
        await page.waitForLoadState('load');
        return (await page.getByTestId('verify-answer').innerText()).trim();
      }

      await page.goto('/verify');
      await ok('verify form');
      expect(await check(certFile!)).to.equal(t('verify.answer.genuine'));
      expect(t('verify.answer.genuine')).to.equal('真正な証明書です。');
      expect(await page.getByTestId('verify-answer').getAttribute('class')).to.contain('verify-genuine');
      await ok('verify: genuine');
      await page.screenshot({ path: artifactPath(`disposal-verify-genuine-${vp.name}.png`), fullPage: true });

      const answer = await check(tampered);
      expect(answer).to.not.equal(t('verify.answer.genuine'));
      expect(answer, 'a signed file of ours with a changed byte').to.equal(t('verify.answer.not_genuine'));
      await ok('verify: tampered');
      await page.screenshot({ path: artifactPath(`disposal-verify-tampered-${vp.name}.png`), fullPage: true });
    });
  }

  it('on a phone, a request of 80 numbers: the item list scrolls in its own box and 承認して実行 / 却下 stay within reach', async () => {
    const ids: ItemRef[] = [];
    for (let i = 0; i < 80; i++) {
      const e = await Employee.create({ clientId: client.id, employeeCode: `L${String(i).padStart(3, '0')}`, name: `長期 ${i}郎`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: '2015-03-31', userId: null });
      const r = await e2e.h.booted.services.vault.register(systemContext('test'), await findPerson(client.id, 'employee', e.id), { number: valid(51230000000 + i * 977), issueDate: null }, { source: 'proxy', registeredBy: null });
      ids.push({ kind: 'number', id: r.id });
    }
    const ctx = { actorId: clientAdmin.user.id, actorName: clientAdmin.user.name, actorRole: clientAdmin.user.role, ip: '127.0.0.1', userAgent: 't', channel: 'test' as const };
    const big = await e2e.h.booted.services.disposal.request(ctx, clientAdmin.user, client.id, ids, '2015年3月退職者の一括廃棄');

    const { page, press, ok } = await open(phone);
    await signIn(page, firmAdmin, { phone: true });
    await page.goto('/disposal/approvals');
    const row = page.getByTestId(`request-${big.id}`);
    expect(await row.locator('td').nth(1).innerText(), 'the scope names what a request of items is').to.contain(t('disposal.scope.items'));
    const listed = row.getByTestId('request-items');
    await press(listed.locator('summary'));
    const list = listed.locator('ul');
    expect(await list.locator('li').count()).to.equal(80);
    const box = await list.evaluate((el) => {
      const e = el as unknown as { scrollHeight: number; clientHeight: number };
      return { scrollHeight: e.scrollHeight, clientHeight: e.clientHeight };
    });
    expect(box.scrollHeight, 'the 80 items are taller than their box').to.be.greaterThan(box.clientHeight);
    // From the opened list to the row's buttons is less than one screen (740 px), not 80 lines.
    const top = (await listed.locator('summary').boundingBox())!.y;
    for (const name of [t('disposal.approve'), t('disposal.reject')]) {
      const control = row.locator('button, summary').filter({ hasText: name }).first();
      const at = (await control.boundingBox())!.y;
      expect(at - top, `${name} is within a screen of the opened list`).to.be.lessThan(740);
    }
    await ok('approvals with a long request on a phone');
    await page.screenshot({ path: artifactPath('disposal-approvals-long-phone.png'), fullPage: true });
  });
});
