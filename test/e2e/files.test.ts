import { expect } from 'chai';
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { dialectName } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { pdfBytes, pngBytes } from '../support/files';
import { VIEWPORTS, artifactPath, horizontalOverflow, watchProblems } from '../support/chromium';
import { e2eSuite, signIn } from '../support/e2e';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe(`E2E (Chromium, ${dialectName}): a client sends two files from a phone, the firm downloads one`, function () {
  let hr: MadeUser;
  let staff: MadeUser;
  const e2e = e2eSuite({
    seed: async (h) => {
      const client = await makeClient(h, { code: 'E2E', name: '株式会社いろは' });
      hr = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: '人事 花子' });
      staff = await makeUser(h, { role: 'firm_staff', name: '担当 太郎' });
      await assign(h, client.id, staff.user.id);
    },
  });

  it('uploads with a progress bar per file on a phone, and the firm downloads one intact', async () => {
    const phone = VIEWPORTS.find((v) => v.phone)!;
    const context = await e2e.browser.newContext({ ...phone.context, baseURL: e2e.portal.baseUrl });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const problems = await watchProblems(page);
    await signIn(page, hr, { phone: true });

    await page.goto('/files');
    expect(await page.locator('h1').first().innerText()).to.equal('ファイルのやりとり');
    const a = pdfBytes(400_000);
    const b = pngBytes(300_000);
    await page.setInputFiles('[data-file-input]', [
      { name: '雇用契約書.pdf', mimeType: 'application/pdf', buffer: a },
      { name: '在留カード.png', mimeType: 'image/png', buffer: b },
    ]);
    await page.selectOption('select[name="category"]', 'procedure');
    await page.fill('textarea[name="comment"]', '4月入社の2名分です');
    const bars = page.locator('[data-upload-list] progress');
    expect(await bars.count()).to.equal(2);
    expect(await page.locator('[data-upload-list]').innerText()).to.contain('雇用契約書.pdf').and.contain('在留カード.png');
    const o = await horizontalOverflow(page);
    expect(o.scrollWidth, `too wide: ${o.wide.join(', ')}`).to.be.at.most(o.innerWidth);
    await page.screenshot({ path: artifactPath('phone-upload-chosen.png'), fullPage: true });

    // A slow uplink (like a phone's), so the bars can be seen moving one file after the other.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 300 * 1024 });
    await page.getByRole('button', { name: '送信する' }).tap();
    // The first file's bar fills while the second has not started.
    await page.waitForFunction(() => {
      // Runs in the page (no DOM types here): the first bar has moved, the second not yet.
      const p = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ value: number }> } })
        .document.querySelectorAll('[data-upload-list] progress');
      return p.length === 2 && p[0]!.value > 0 && p[1]!.value === 0;
    });
    await page.screenshot({ path: artifactPath('phone-upload-progress.png'), fullPage: true });
    await page.waitForURL((u) => u.pathname === '/files' && u.searchParams.get('box') === 'sent', { timeout: 30_000 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const list = await page.locator('[data-testid="file-list"]').innerText();
    expect(list).to.contain('雇用契約書.pdf').and.contain('在留カード.png');
    expect(await page.locator('.banner-ok').innerText()).to.equal('ファイルを送信しました。');
    await page.screenshot({ path: artifactPath('phone-upload-done.png'), fullPage: true });
    expect(problems.take()).to.deep.equal([]);
    await context.close();

    // The firm's side, on a desktop: sign in with TOTP, open the file, download it.
    const desk = await e2e.browser.newContext({ ...VIEWPORTS[0]!.context, baseURL: e2e.portal.baseUrl, acceptDownloads: true });
    desk.setDefaultTimeout(15_000);
    const p2 = await desk.newPage();
    await signIn(p2, staff, { phone: false });
    await p2.goto('/files?box=received');
    await p2.getByRole('link', { name: '雇用契約書.pdf' }).click();
    expect(await p2.locator('main').innerText()).to.contain('4月入社の2名分です').and.contain('人事 花子');
    const [download] = await Promise.all([p2.waitForEvent('download'), p2.locator('[data-testid="download"]').click()]);
    expect(download.suggestedFilename()).to.equal('雇用契約書.pdf');
    const saved = fs.readFileSync((await download.path())!);
    expect(sha(saved)).to.equal(sha(a));
    await p2.screenshot({ path: artifactPath('desktop-file-detail.png'), fullPage: true });
    await desk.close();
  });
  it('files dragged onto the form on a desktop join those chosen, each with its bar, and go in one sending', async () => {
    const context = await e2e.browser.newContext({ ...VIEWPORTS[0]!.context, baseURL: e2e.portal.baseUrl });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const problems = await watchProblems(page);
    await signIn(page, hr, { phone: false });
    await page.goto('/files');
    await page.setInputFiles('[data-file-input]', [{ name: '選択した.pdf', mimeType: 'application/pdf', buffer: pdfBytes(3000) }]);
    // A drop as the browser delivers it: a DataTransfer holding two files.
    const dropped = await page.evaluateHandle(`(() => {
      const dt = new DataTransfer();
      const pdf = '%PDF-1.4\\n1 0 obj\\n<<>>\\nendobj\\ntrailer\\n<<>>\\n%%EOF\\n';
      dt.items.add(new File([pdf], 'ドロップ1.pdf', { type: 'application/pdf' }));
      dt.items.add(new File([pdf], 'ドロップ2.pdf', { type: 'application/pdf' }));
      return dt;
    })()`);
    await page.dispatchEvent('[data-drop-zone]', 'dragenter', { dataTransfer: dropped });
    await page.dispatchEvent('[data-drop-zone]', 'drop', { dataTransfer: dropped });
    const names = await page.locator('[data-upload-list] progress').evaluateAll((bars) => bars.map((b) => b.getAttribute('aria-label')));
    expect(names).to.deep.equal(['選択した.pdf', 'ドロップ1.pdf', 'ドロップ2.pdf']);
    await page.selectOption('select[name="category"]', 'other');
    await page.getByRole('button', { name: '送信する' }).click();
    await page.waitForURL((u) => u.pathname === '/files' && u.searchParams.get('box') === 'sent', { timeout: 30_000 });
    const list = await page.locator('[data-testid="file-list"]').innerText();
    for (const n of ['選択した.pdf', 'ドロップ1.pdf', 'ドロップ2.pdf']) expect(list).to.contain(n);
    expect(problems.take()).to.deep.equal([]);
    await context.close();
  });
});
