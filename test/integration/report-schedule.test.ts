import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { assign, makeClient, makeUser, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { AuditEvent, type Client } from '../../server/db/models';

describe('取扱状況報告書 schedule: the firm admin sets how often and who is told', () => {
  let h: Harness;
  let client: Client;
  let admin: MadeUser;
  let staff: MadeUser;
  const formPath = () => `/reports?client=${client.id}`;
  const action = () => `/firm/clients/${client.id}/report-schedule`;

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'RS01', name: '株式会社報告' });
    admin = await makeUser(h, { role: 'firm_admin' });
    staff = await makeUser(h, { role: 'firm_staff' });
    await assign(h, client.id, staff.user.id);
  });
  after(async () => { await h.close(); });

  it('saves the frequency and recipients, logged', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const res = await b.post(action(), { frequency: 'quarterly', recipients: 'hr@report.example、 boss@report.example' }, formPath());
    expect(res.status).to.equal(303);
    expect(await h.booted.services.reports.scheduleOf(client.id)).to.deep.equal({ frequency: 'quarterly', recipients: ['hr@report.example', 'boss@report.example'] });
    const row = await AuditEvent.findOne({ where: { operation: 'report.schedule', clientId: client.id } });
    expect(row!.detail).to.equal('quarterly 2 recipients');
  });

  it('a malformed address comes back to the form with the reason beside the field and what was typed, and nothing is saved', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(admin);
    const events = await AuditEvent.count();
    const res = await b.post(action(), { frequency: 'yearly', recipients: 'hr@report.example, not-an-email' }, formPath());
    expect(res.status).to.equal(400);
    const form = res.text.slice(res.text.indexOf('id="schedule"'));
    expect(form).to.contain('メールアドレスの形式で入力してください。').and.contain('value="hr@report.example, not-an-email"');
    expect(form).to.match(/<option value="yearly" selected>/);
    expect(await h.booted.services.reports.scheduleOf(client.id)).to.deep.equal({ frequency: 'quarterly', recipients: ['hr@report.example', 'boss@report.example'] });
    expect(await AuditEvent.count()).to.equal(events);
  });

  it('is the firm admin\'s: assigned staff are refused', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(staff);
    expect((await b.post(action(), { frequency: 'monthly', recipients: '' }, formPath())).status).to.equal(403);
    expect((await h.booted.services.reports.scheduleOf(client.id)).frequency).to.equal('quarterly');
  });
});
