import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { assign, makeClient, makeUser, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { pdfBytes, uploadFiles } from '../support/files';
import { systemContext } from '../../server/audit';
import { AuditEvent, Employee, OutboxMail, StoredFile, type Client } from '../../server/db/models';
import { collectReportData } from '../../server/reports/report-data';
import { parsePeriod } from '../../server/reports/periods';
import { japanDay } from '../../server/domain/dates';

/**
 * A client admin can take an employee's account off their record and link another: the new
 * account then sees what the firm sent that employee before (a payslip), which is the point when
 * the employee's address changed and HR re-invited them. Whoever held the link is told, at the
 * previous account's address, queued with the change (a mail server that refuses loses nothing),
 * and the change is in the log the client's access report reads.
 */
describe('An employee record relinked to another account: the previous account is told', function () {
  this.timeout(60_000);
  let h: Harness;
  let client: Client;
  let hr: MadeUser;
  let admin: TestBrowser;
  let taro: Employee;
  let own: MadeUser;
  let other: MadeUser;
  let slipId: string;
  const pageOf = (e: Employee) => `/client/people/employees/${e.id}`;
  const mailsTo = (address: string) => h.smtp.messages.filter((m) => (m.to && !Array.isArray(m.to) ? m.to.text : '').includes(address));
  const notices = (address: string) => mailsTo(address).filter((m) => m.subject?.includes('結び付け'));
  /** Waits for the nth notice to an address (sending follows the commit). */
  const nthNotice = async (address: string, n: number) => {
    for (let i = 0; i < 100 && notices(address).length < n; i++) await new Promise((r) => setTimeout(r, 30));
    expect(notices(address)).to.have.length(n);
    return notices(address)[n - 1]!;
  };
  const link = (userId: string | null) => admin.post(`${pageOf(taro)}/account`, userId ? { userId } : { unlink: 'on' }, pageOf(taro));

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'RL01', name: '株式会社むすび' });
    hr = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    own = await makeUser(h, { role: 'employee', clientId: client.id, totp: false, email: 'taro.own@example.jp', name: '結城 太郎' });
    other = await makeUser(h, { role: 'employee', clientId: client.id, totp: false, email: 'taro.other@example.jp', name: '結城 太郎' });
    taro = await h.booted.services.people.addEmployee(systemContext('test'), client.id, { employeeCode: 'E300', name: '結城 太郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: '2020-04-01', leaveDate: null });
    admin = new TestBrowser(h.portal.app);
    await admin.login(hr);
    // First link: nobody held it, nobody is told.
    expect((await link(own.user.id)).status).to.equal(303);
    // The firm sends him a payslip.
    const staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
    const firm = new TestBrowser(h.portal.app);
    await firm.login(staff);
    const res = await uploadFiles(firm, { clientId: client.id, direction: 'to_employee', employeeId: taro.id, category: 'payroll' }, [{ name: '給与明細_2026年4月.pdf', data: pdfBytes(1500) }]);
    expect(res.status, res.text).to.equal(200);
    slipId = (await StoredFile.findOne({ where: { displayName: '給与明細_2026年4月.pdf' } }))!.id;
    await h.booted.services.outbox.deliverNow();
  });
  after(async () => { await h.close(); });

  const sees = (u: MadeUser) => h.booted.services.files.getFor(u.user, slipId).then(() => true, () => false);

  it('the first link tells no one; the linked account sees the payslip', async () => {
    expect(notices(own.email)).to.have.length(0);
    expect(await sees(own)).to.equal(true);
  });

  it('unlinked and another account linked: the previous address gets a notice naming the company only; the new account sees the earlier payslip; both changes are logged and in the access report', async () => {
    expect((await link(null)).status).to.equal(303);
    expect((await link(other.user.id)).status).to.equal(303);
    expect(await sees(other)).to.equal(true);
    expect(await sees(own)).to.equal(false);
    const notice = await nthNotice(own.email, 1);
    expect(notice.subject).to.equal('【暁ポータル】株式会社むすびでのアカウントの結び付けが変更されました');
    expect(notice.text).to.contain('お心当たりのない場合は、株式会社むすびの人事・総務のご担当者、または顧問の事務所');
    for (const secret of ['結城', '太郎', 'E300', '給与明細_2026年4月', other.email, 'http']) expect(`${notice.subject}${notice.text}`).to.not.contain(secret);
    // Once, for the unlinking: the second step linked an account to a record nobody held.
    expect(notices(own.email)).to.have.length(1);
    expect(mailsTo(other.email)).to.have.length(0);
    const rows = await AuditEvent.findAll({ where: { operation: 'person.account', clientId: client.id }, order: [['seq', 'ASC']] });
    expect(rows.map((r) => r.detail)).to.deep.equal([`linked ${own.email}`, `unlinked (was ${own.email}; told)`, `linked ${other.email}`]);
    const report = await collectReportData(client.id, parsePeriod(japanDay().slice(0, 7))!);
    expect(report.rows.filter((r) => r.operation === 'person.account').map((r) => r.person)).to.deep.equal(['E300 結＊ 太＊', 'E300 結＊ 太＊', 'E300 結＊ 太＊']);
  });

  it('the same account linked again, or replaced directly by another: only a real change is told', async () => {
    await h.booted.services.people.linkAccount(systemContext('test'), client.id, taro.id, other.user.id);
    expect(await OutboxMail.count({ where: { toAddress: other.email } })).to.equal(0);
    await h.booted.services.people.linkAccount(systemContext('test'), client.id, taro.id, own.user.id);
    await nthNotice(other.email, 1);
    expect((await AuditEvent.findOne({ where: { operation: 'person.account' }, order: [['seq', 'DESC']] }))!.detail).to.equal(`linked ${own.email} (was ${other.email}; told)`);
  });

  it('a mail server that refuses: the unlinking is stored, its notice waits in the outbox and goes once when the server answers', async () => {
    h.smtp.refusing = true;
    try {
      expect((await link(null)).status).to.equal(303);
      expect((await Employee.findByPk(taro.id))!.userId).to.equal(null);
      const row = async () => (await OutboxMail.findOne({ where: { toAddress: own.email, sentAt: null } }))!;
      for (let i = 0; i < 100 && !(await row())?.lastError; i++) await new Promise((r) => setTimeout(r, 30));
      expect((await row()).attempts).to.equal(1);
    } finally {
      h.smtp.refusing = false;
    }
    expect(notices(own.email)).to.have.length(1);
    expect(await h.booted.services.outbox.deliverDue(new Date(Date.now() + 3600_000))).to.equal(1);
    expect(await h.booted.services.outbox.deliverDue(new Date(Date.now() + 24 * 3600_000))).to.equal(0);
    await nthNotice(own.email, 2);
  });

  it('the employee page says the previous address will be told', async () => {
    await link(other.user.id);
    expect((await admin.get(pageOf(taro))).text).to.contain('結び付けを解除・変更すると、それまでのアカウントのメールアドレスにお知らせが届きます');
  });
});
