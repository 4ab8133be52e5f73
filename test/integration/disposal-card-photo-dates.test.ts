import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeClient, makeUser, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { pngBytes } from '../support/files';
import { Employee, NumberRecord, StoredFile, type Client } from '../../server/db/models';
import { systemContext } from '../../server/audit';
import { numberFrom as validNumber } from '../support/vault';

/**
 * A card photo shows its person's number and goes with that number (DisposalService.describeMany):
 * the retention list names whose card it is and gives the number's date, not the photo's own
 * (upload + the identity category's years, which outlived the number by years).
 */
describe('The retention list: a card photo goes on its number\'s date', () => {
  let h: Harness;
  let client: Client;
  let clientAdmin: MadeUser;
  let admin: TestBrowser;

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'CP01', name: '株式会社カード' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    admin = new TestBrowser(h.portal.app);
    await admin.login(clientAdmin);
  });
  after(async () => { await h.close(); });

  const registerWithPhoto = async (employeeId: string, number: string, name: string) => {
    const path = `/client/people/employee/${employeeId}/number`;
    const res = await admin.agent.post(path).set('X-CSRF-Token', await admin.csrf(path)).set('Accept', 'application/json')
      .field('number', number).attach('files', pngBytes(4000), { filename: name, contentType: 'image/png' });
    expect(res.status, res.text).to.equal(200);
    return (await NumberRecord.findOne({ where: { personId: employeeId } }))!;
  };

  it('a leaver\'s card photo shows their name and the number\'s deletion date; a current employee\'s shows 退職後に確定', async () => {
    const leaver = await Employee.create({ clientId: client.id, employeeCode: 'C1', name: '伊藤 誠', nameKana: null, departmentId: null, establishmentId: null, hireDate: '2012-07-01', leaveDate: null, userId: null });
    const current = await Employee.create({ clientId: client.id, employeeCode: 'C2', name: '鈴木 次郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: '2018-10-01', leaveDate: null, userId: null });
    await registerWithPhoto(leaver.id, validNumber(77_001_234), 'leaver-card.png');
    await registerWithPhoto(current.id, validNumber(77_005_678), 'current-card.png');
    await h.booted.services.people.setLeaveDate(systemContext('test'), client.id, leaver.id, '2024-03-31');
    const numberDate = (await NumberRecord.findOne({ where: { personId: leaver.id } }))!.deletionDate!;
    const photo = (await StoredFile.findOne({ where: { displayName: 'leaver-card.png' } }))!;
    expect(photo.retentionDate, 'the photo\'s own date is later than the number\'s').to.not.equal(numberDate);

    const page = await admin.get('/disposal');
    expect(page.status).to.equal(200);
    const item = (name: string) => page.text.split(name)[1]!.split('</li>')[0]!;
    expect(item('leaver-card.png')).to.contain('伊藤 誠 さんのカード').and.contain(`削除予定日 ${numberDate}`).and.not.contain(photo.retentionDate!);
    expect(item('current-card.png')).to.contain('鈴木 次郎 さんのカード').and.contain('退職後に確定');
  });
});
