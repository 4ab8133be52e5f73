import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { dialectName } from '../support/harness';
import { makeUser, makeClient } from '../support/factories';
import { pngBytes } from '../support/files';
import { horizontalOverflow, smallTouchTargets } from '../support/chromium';
import { e2eSuite, onPhone, scratchFolder } from '../support/e2e';
import { NumberRecord, Payee, StoredFile } from '../../server/db/models';
import { findPerson } from '../../server/vault/people';
import { systemContext } from '../../server/audit';
import { checkDigit } from '../../server/vault/my-number';

const NUMBER = `${'27182818284'}${checkDigit('27182818284')}`;

describe(`E2E (Chromium, ${dialectName}): a payee on a phone sends the number and the card's photo through the one-time link`, function () {
  const e2e = e2eSuite();
  const scratch = scratchFolder('link');

  it('types the code handed over and the number, adds the front and back (a progress bar each), sends, and is thanked; the firm gets both photos', async () => {
    const client = await makeClient(e2e.h, { code: 'LNK', name: '株式会社リンク' });
    const hr = await makeUser(e2e.h, { role: 'client_admin', clientId: client.id, totp: false, name: '人事 秋子' });
    const payee = await Payee.create({ clientId: client.id, code: 'P01', name: '講師 二郎', nameKana: null, kind: 'lecturer' });
    const link = await e2e.h.booted.services.vaultLinks.create(systemContext('test'), await findPerson(client.id, 'payee', payee.id), hr.user.id, null);
    const front = path.join(scratch.path, 'おもて.png');
    const back = path.join(scratch.path, 'うら.png');
    fs.writeFileSync(front, pngBytes(120_000));
    fs.writeFileSync(back, pngBytes(90_000));

    await onPhone(e2e, async (page, problems) => {
      await page.goto(new URL(link.url).pathname);
      await page.getByTestId('code-input').fill(link.code);
      await page.getByTestId('number-input').fill(NUMBER);
      await page.getByTestId('photo-input').setInputFiles([front, back]);
      const bars = page.locator('[data-upload-list] progress');
      expect(await bars.count(), 'a progress bar for each photo').to.equal(2);
      expect(await bars.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')))).to.deep.equal(['おもて.png', 'うら.png']);
      await page.getByRole('checkbox').check();
      const o = await horizontalOverflow(page);
      expect(o.scrollWidth, `scrolls sideways (${o.wide.join(', ')})`).to.be.at.most(o.innerWidth);
      expect(await smallTouchTargets(page), 'touch targets under 44 px').to.deep.equal([]);
      await page.getByRole('button', { name: '登録する' }).tap();
      await page.waitForURL((u) => u.pathname === '/r/done');
      expect(await page.locator('main').innerText()).to.contain('ご提供ありがとうございました');
      expect(problems.take().filter((p) => !/favicon\.svg net::ERR_ABORTED/.test(p)), 'console errors / CSP violations').to.deep.equal([]);
      expect(await page.content()).to.not.contain(NUMBER);
      const rec = (await NumberRecord.findOne({ where: { personId: payee.id } }))!;
      expect(rec.source).to.equal('link');
      const photos = await StoredFile.findAll({ where: { clientId: client.id, cardPhoto: true } });
      expect(photos.map((f) => [f.displayName, f.size]).sort()).to.deep.equal([['うら.png', 90_000], ['おもて.png', 120_000]]);
      expect(rec.idFileId).to.equal(photos.find((f) => f.displayName === 'おもて.png')!.id);
    });
  });
});
