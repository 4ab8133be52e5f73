import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { dialectName } from '../support/harness';
import { makeUser, makeClient } from '../support/factories';
import { pngBytes } from '../support/files';
import { horizontalOverflow, smallTouchTargets } from '../support/chromium';
import { e2eSuite, onPhone, scratchFolder, signIn } from '../support/e2e';
import { NumberRecord, Payee, StoredFile } from '../../server/db/models';
import { checkDigit } from '../../server/vault/my-number';

const NUMBER = `${'31415926535'}${checkDigit('31415926535')}`;

describe(`E2E (Chromium, ${dialectName}): 代理登録 on a phone, with the photo of the card the client admin was handed`, function () {
  const e2e = e2eSuite();
  const scratch = scratchFolder('proxy');

  it('the admin types a payee\'s number, adds the card\'s photo (a progress bar names it), sends, and the list shows the number masked with its image', async () => {
    const client = await makeClient(e2e.h, { code: 'PXY', name: '株式会社代理' });
    const hr = await makeUser(e2e.h, { role: 'client_admin', clientId: client.id, totp: false, name: '人事 花子' });
    const payee = await Payee.create({ clientId: client.id, code: 'P01', name: '講師 一郎', nameKana: null, kind: 'lecturer' });
    const photo = path.join(scratch.path, '講師のカード.png');
    fs.writeFileSync(photo, pngBytes(150_000));

    await onPhone(e2e, async (page, problems) => {
      await signIn(page, hr, { phone: true });
      await page.goto(`/client/people/payee/${payee.id}/number`);
      await page.getByTestId('number-input').fill(NUMBER);
      await page.getByTestId('photo-input').setInputFiles(photo);
      const bar = page.locator('[data-upload-list] progress');
      expect(await bar.count(), 'one progress bar for the one photo').to.equal(1);
      expect(await bar.getAttribute('aria-label')).to.equal('講師のカード.png');
      const o = await horizontalOverflow(page);
      expect(o.scrollWidth, `scrolls sideways (${o.wide.join(', ')})`).to.be.at.most(o.innerWidth);
      expect(await smallTouchTargets(page), 'touch targets under 44 px').to.deep.equal([]);
      await page.getByRole('button', { name: '登録する' }).tap();
      await page.waitForURL(/\/client\/people(\?|#|$)/);
      expect(problems.take().filter((p) => !/favicon\.svg net::ERR_ABORTED/.test(p)), 'console errors / CSP violations').to.deep.equal([]);
      const row = page.getByTestId('id-image');
      expect(await row.count()).to.equal(1);
      expect(await page.content()).to.not.contain(NUMBER);
      const rec = (await NumberRecord.findOne({ where: { personId: payee.id } }))!;
      const file = (await StoredFile.findByPk(rec.idFileId!))!;
      expect([file.displayName, file.category, file.containsMyNumber, file.size]).to.deep.equal(['講師のカード.png', 'identity', true, 150_000]);
    });
  });
});
