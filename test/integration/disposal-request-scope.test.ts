import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { assign, makeUser, makeClient, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { pdfBytes, uploadFiles } from '../support/files';
import { NotFound, Forbidden } from '../../server/errors';
import { systemContext } from '../../server/audit';
import { AuditEvent, DisposalItem, DisposalRequest, Employee, StaffAssignment, StoredFile, type Client } from '../../server/db/models';

/**
 * 廃棄の依頼 names only what the requester could open or see under the file list's rules: the
 * assigned clients for staff, and never what a company's admins sent one of its employees (that
 * stays between them, the firm admin included). Anything else answers as an unknown id (404),
 * stores nothing, and is logged as a refusal.
 */
describe('廃棄の依頼: only items the requester may see', function () {
  this.timeout(60_000);
  let h: Harness;
  let client: Client;
  let other: Client;
  let hr: MadeUser;
  let otherHr: MadeUser;
  let staff: MadeUser;
  let firmAdmin: MadeUser;
  let inHouseSlip: string;
  let toFirm: string;
  let otherFile: string;
  const signedIn = new Map<MadeUser, TestBrowser>();
  const as = async (u: MadeUser): Promise<TestBrowser> => {
    let b = signedIn.get(u);
    if (!b) { b = new TestBrowser(h.portal.app); await b.login(u); signedIn.set(u, b); }
    return b;
  };
  const ask = async (u: MadeUser, clientId: string, items: string[]) => {
    const b = await as(u);
    const token = await b.csrf(u.user.role === 'client_admin' ? '/disposal' : `/disposal?client=${other.id === clientId ? client.id : clientId}`);
    const form = [`_csrf=${encodeURIComponent(token)}`, `reason=${encodeURIComponent('保存不要')}`, `clientId=${clientId}`, ...items.map((i) => `items=${i}`)].join('&');
    return b.agent.post('/disposal/requests').type('form').send(form);
  };
  const deniedRows = () => AuditEvent.count({ where: { result: 'denied', operation: 'security.notFound' } });

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'RS01', name: '株式会社はんい' });
    other = await makeClient(h, { code: 'RS02', name: '株式会社べつ' });
    hr = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    otherHr = await makeUser(h, { role: 'client_admin', clientId: other.id, totp: false });
    staff = await makeUser(h, { role: 'firm_staff' });
    firmAdmin = await makeUser(h, { role: 'firm_admin' });
    await assign(h, client.id, staff.user.id);
    const employeeId = (await Employee.create({ clientId: client.id, employeeCode: 'E1', name: '社員 一郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null })).id;
    const sent = async (u: MadeUser, fields: Record<string, string>, name: string) => {
      const res = await uploadFiles(await as(u), fields, [{ name, data: pdfBytes(1500) }]);
      expect(res.status, res.text).to.equal(200);
      return (await StoredFile.findOne({ where: { displayName: name } }))!.id;
    };
    inHouseSlip = await sent(hr, { direction: 'to_employee', employeeId, category: 'payroll' }, '給与明細_社内.pdf');
    toFirm = await sent(hr, { direction: 'to_firm', category: 'procedure' }, '入社書類.pdf');
    otherFile = await sent(otherHr, { direction: 'to_firm', category: 'procedure' }, '別会社の書類.pdf');
  });
  after(async () => { await h.close(); });

  it('firm staff: a file the company sent one employee (not in the firm\'s list) → 404, nothing stored, logged', async () => {
    const before = await deniedRows();
    const res = await ask(staff, client.id, [`file:${inHouseSlip}`]);
    expect(res.status).to.equal(404);
    expect(await DisposalRequest.count()).to.equal(0);
    expect(await DisposalItem.count()).to.equal(0);
    expect(await deniedRows()).to.equal(before + 1);
  });

  it('the firm admin: the same file → 404 (the firm admin does not see it either)', async () => {
    const res = await ask(firmAdmin, client.id, [`file:${inHouseSlip}`]);
    expect(res.status).to.equal(404);
    expect(await DisposalRequest.count()).to.equal(0);
  });

  it('firm staff: another client (not assigned) → 404, whether named as the client or mixed into an assigned client\'s request', async () => {
    expect((await ask(staff, other.id, [`file:${otherFile}`])).status).to.equal(404);
    const b = await as(staff);
    const token = await b.csrf(`/disposal?client=${client.id}`);
    const mixed = await b.agent.post(`/disposal/requests?client=${client.id}`).type('form')
      .send(`_csrf=${encodeURIComponent(token)}&reason=x&clientId=${other.id}&items=file:${otherFile}`);
    expect(mixed.status).to.equal(404);
    expect(await DisposalRequest.count()).to.equal(0);
  });

  it('an assignment removed takes effect at once: the staff member\'s request is refused', async () => {
    const b = await as(staff);
    const token = await b.csrf(`/disposal?client=${client.id}`);
    await StaffAssignment.destroy({ where: { userId: staff.user.id, clientId: client.id } });
    try {
      const res = await b.agent.post('/disposal/requests').type('form').send(`_csrf=${encodeURIComponent(token)}&reason=x&clientId=${client.id}&items=file:${toFirm}`);
      expect(res.status).to.equal(404);
      expect(await DisposalRequest.count()).to.equal(0);
    } finally {
      await assign(h, client.id, staff.user.id);
    }
  });

  it('the service holds the rule itself (a second caller cannot skip it): an unassigned staff member, staff asking for the whole client', async () => {
    const stranger = await makeUser(h, { role: 'firm_staff' });
    const refused = async (p: Promise<unknown>) => p.then(() => null, (err: unknown) => err);
    expect(await refused(h.booted.services.disposal.request(systemContext('test'), stranger.user, client.id, [{ kind: 'file', id: toFirm }], '保存不要'))).to.be.instanceOf(NotFound);
    expect(await refused(h.booted.services.disposal.request(systemContext('test'), staff.user, client.id, 'client', '契約終了'))).to.be.instanceOf(Forbidden);
    expect(await DisposalRequest.count()).to.equal(0);
  });

  it('what the requester sees is requested as before: staff a file the company sent the firm, the client admin its in-house payslip', async () => {
    expect((await ask(staff, client.id, [`file:${toFirm}`])).status).to.equal(303);
    expect((await ask(hr, client.id, [`file:${inHouseSlip}`])).status).to.equal(303);
    expect(await DisposalRequest.count()).to.equal(2);
  });
});
