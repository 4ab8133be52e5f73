import { expect } from 'chai';
import { dialectName } from '../support/harness';
import { makeUser, makeClient, type MadeUser } from '../support/factories';
import { e2eSuite, onPhone, signIn } from '../support/e2e';
import { TestBrowser } from '../support/browser';
import { pdfBytes, uploadFiles } from '../support/files';
import { smallTouchTargets } from '../support/chromium';
import { Employee } from '../../server/db/models';

/**
 * From a product walk: on a phone, the home page's 「未読のファイル 1件」 — the one link there that
 * says something is waiting — was a line of text 19 px high, the only thing on the page under 44 px.
 */
describe(`E2E (Chromium, ${dialectName}): the home page's notices on a phone`, function () {
  this.timeout(120_000);
  let admin: MadeUser;
  let employeeUser: MadeUser;
  const e2e = e2eSuite({
    seed: async (h) => {
      const client = await makeClient(h, { code: 'HNOT', name: '株式会社お知らせ歩き' });
      admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
      employeeUser = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
      const employee = await Employee.create({ clientId: client.id, employeeCode: 'N1', name: '通知 花子', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: employeeUser.user.id });
      const staff = await makeUser(h, { role: 'firm_admin' });
      const firm = new TestBrowser(h.portal.app);
      await firm.login(staff);
      // one file for the company's admin and one for the employee, neither opened yet
      expect((await uploadFiles(firm, { clientId: client.id, direction: 'to_client', category: 'procedure' }, [{ name: '受付通知.pdf', data: pdfBytes() }])).status).to.equal(200);
      expect((await uploadFiles(firm, { clientId: client.id, direction: 'to_employee', employeeId: employee.id, category: 'payroll' }, [{ name: '給与明細.pdf', data: pdfBytes() }])).status).to.equal(200);
    },
  });

  for (const [who, user] of [['the employee', () => employeeUser], ['the client admin', () => admin]] as const) {
    it(`${who}: 未読のファイル is there, and everything one taps is at least 44 px`, async () => {
      await onPhone(e2e, async (page) => {
        await signIn(page, user(), { phone: true });
        expect(await page.getByTestId('home-unread').innerText()).to.contain('未読のファイル 1件');
        expect(await smallTouchTargets(page)).to.deep.equal([]);
      });
    });
  }
});
