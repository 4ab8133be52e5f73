import { expect } from 'chai';
import iconv from 'iconv-lite';
import { createHarness, type Harness } from '../support/harness';
import { makeClient, makeUser, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { Op } from 'sequelize';
import { AuditEvent, Department, Dependant, Employee, User, type Client } from '../../server/db/models';
import { ja } from '../support/security';

describe('Employees and dependants from a CSV file (a client\'s first set-up)', () => {
  let h: Harness;
  let client: Client;
  let other: Client;
  let hr: TestBrowser;
  let hrUser: MadeUser;

  const send = async (csv: Buffer | string, b: TestBrowser = hr) => {
    const token = await b.csrf('/client/people/import');
    return b.agent.post('/client/people/import').set('X-CSRF-Token', token)
      .attach('file', typeof csv === 'string' ? Buffer.from(csv) : csv, { filename: 'people.csv', contentType: 'text/csv' });
  };
  const employees = async (c: Client) => (await Employee.findAll({ where: { clientId: c.id }, order: [['employeeCode', 'ASC']] })).map((e) => [e.employeeCode, e.name, e.nameKana, e.hireDate]);

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'PI01', name: '株式会社とりこみ' });
    other = await makeClient(h, { code: 'PI02', name: '株式会社よそ' });
    await Department.create({ clientId: client.id, code: '100', name: '総務部' });
    await Department.create({ clientId: other.id, code: '900', name: 'よその部' });
    hrUser = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    hr = new TestBrowser(h.portal.app);
    await hr.login(hrUser);
  });
  after(async () => { await h.close(); });

  it('the page explains the columns and offers a template; the list links to it', async () => {
    expect((await hr.get('/client/people')).text).to.contain('href="/client/people/import"');
    const page = await hr.get('/client/people/import');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('<code>社員コード</code>').and.contain('<code>続柄</code>').and.contain('マイナンバーはこのファイルには書かないでください');
    const template = await hr.get('/client/people/import/template.csv');
    expect(template.headers['content-disposition']).to.contain('people-import.csv');
    expect(template.text.replace(/^\uFEFF/, '')).to.equal('社員コード,氏名,フリガナ,部門コード,入社日,メールアドレス,扶養家族名,扶養家族フリガナ,続柄\r\n');
  });

  it('adds employees and their dependants, reports each refused line with why, and leaves people already held as they are', async () => {
    const csv = [
      '社員コード,氏名,フリガナ,部門コード,入社日,扶養家族名,扶養家族フリガナ,続柄',
      'A001,山田 太郎,ヤマダ タロウ,100,2020/04/01,,,',
      'A001,,,,,山田 花子,ヤマダ ハナコ,妻',
      'A001,,,,,山田 一郎,,長男',
      'A002,鈴木 次郎,,,,,,', // no department, no date: fine
      'A003,佐藤 三郎,,999,,,,', // unknown department
      'A004,高橋 四郎,,,2020/02/30,,,', // no such day
      'A005,,,,,,,', // no name
      'A0 06,伊藤 五郎,,,,,,', // a space in the code
      'A009,,,,,渡辺 六子,,子', // dependant of nobody
      'A002,,,,,鈴木 七子,,いとこ', // relationship not understood
    ].join('\r\n');
    const res = await send(csv);
    expect(res.status).to.equal(200);
    expect(res.text).to.contain('従業員 2人、扶養家族 2人を登録しました。アカウントに招待した方 0人。登録済みで変更しなかった行 0行、取り込めなかった行 6行。');
    const rejected = res.text.slice(res.text.indexOf('data-testid="import-rejected"'));
    for (const [line, why] of [[6, 'この部門コードの部門がありません'], [7, '入社日が読み取れないか'], [8, '氏名がないか'], [9, '社員コードがないか'], [10, 'この社員コードの社員が登録されていません'], [11, '続柄がないか']] as const) {
      expect(rejected, `line ${line}`).to.match(new RegExp(`<td[^>]*>${line}</td>[\\s\\S]*?${why}`));
    }
    expect(await employees(client)).to.deep.equal([['A001', '山田 太郎', 'ヤマダ タロウ', '2020-04-01'], ['A002', '鈴木 次郎', null, null]]);
    const taro = (await Employee.findOne({ where: { clientId: client.id, employeeCode: 'A001' } }))!;
    expect((await Dependant.findAll({ where: { employeeId: taro.id }, order: [['name', 'ASC']] })).map((d) => [d.name, d.nameKana, d.relationship]))
      .to.deep.equal([['山田 一郎', null, 'child'], ['山田 花子', 'ヤマダ ハナコ', 'spouse']]);
    expect(taro.departmentId).to.equal((await Department.findOne({ where: { clientId: client.id, code: '100' } }))!.id);
    const row = (await AuditEvent.findOne({ where: { operation: 'people.import', clientId: client.id } }))!;
    expect(row.detail).to.equal('2 employees, 2 dependants added, 0 invited, 0 unchanged, 6 rejected');
    expect(await AuditEvent.count({ where: { operation: 'person.create', clientId: client.id } })).to.equal(4);

    // The same file again (Shift_JIS, as Excel saves it, names typed with a full-width space): nothing doubled;
    // a different name under a held code is refused, not overwritten.
    const again = iconv.encode(['社員コード,氏名,扶養家族名,続柄', 'A001,山田　太郎,,', 'A001,,山田　花子,配偶者', 'A002,鈴木 二郎,,'].join('\r\n'), 'shift_jis');
    const res2 = await send(again);
    expect(res2.text).to.contain('従業員 0人、扶養家族 0人を登録しました。アカウントに招待した方 0人。登録済みで変更しなかった行 2行、取り込めなかった行 1行。');
    expect(res2.text).to.contain('この社員コードは、別の氏名で登録済みです');
    expect(await employees(client)).to.have.length(2);
    expect((await Employee.findOne({ where: { clientId: client.id, employeeCode: 'A002' } }))!.name).to.equal('鈴木 次郎');
  });

  it('never puts a dependant under someone else: after a refused employee line, or when the line names another employee; codes match whatever their case', async () => {
    const csv = [
      '社員コード,氏名,扶養家族名,続柄',
      'A001,別人 太郎,,', // A001 is 山田 太郎: refused
      'A001,,別人 花子,妻', // so this dependant is refused too, not given to 山田 太郎
      'A002,山田 太郎,鈴木 三子,子', // names an employee other than A002's
      'a002,鈴木 次郎,,', // A002 in another case
      'A010,新人 一郎,,',
      'A010,新人 一郎,新人 二郎,子', // naming the right employee is fine
    ].join('\r\n');
    const res = await send(csv);
    expect(res.text).to.contain('従業員 1人、扶養家族 1人を登録しました。');
    const rejected = res.text.slice(res.text.indexOf('data-testid="import-rejected"'));
    for (const [line, why] of [[2, '別の氏名で登録済み'], [3, 'この社員コードの従業員の行が取り込めなかった'], [4, '氏名の列の従業員が'], [5, '大文字・小文字だけが違う']] as const) {
      expect(rejected, `line ${line}`).to.match(new RegExp(`<td[^>]*>${line}</td>[\\s\\S]*?${why}`));
    }
    expect(await Dependant.count({ where: { name: ['別人 花子', '鈴木 三子'] } })).to.equal(0);
    expect(await Employee.count({ where: { clientId: client.id } })).to.equal(3);
  });

  it('a file over the limit comes back on the import page with what to do (not an error page), nothing added', async () => {
    const before = await Employee.count({ where: { clientId: client.id } });
    const big = Buffer.concat([Buffer.from('社員コード,氏名\r\n'), Buffer.alloc(3 * 1024 * 1024, 'A')]);
    const res = await send(big);
    expect(res.status).to.equal(413);
    expect(res.text).to.contain(ja('vault.import.tooLarge', { mb: 2 })).and.contain('action="/client/people/import"');
    expect(await Employee.count({ where: { clientId: client.id } })).to.equal(before);
  });

  it('a double tap sends the file twice at once: everyone is added once', async () => {
    const csv = ['社員コード,氏名,扶養家族名,続柄', ...Array.from({ length: 15 }, (_, i) => [`D${100 + i},同時 ${i}号,,`, `D${100 + i},,同時 ${i}号の子,子`]).flat()].join('\r\n');
    const [one, two] = await Promise.all([send(csv), send(csv)]);
    expect([one.status, two.status]).to.deep.equal([200, 200]);
    expect(await Employee.count({ where: { clientId: client.id, employeeCode: { [Op.like]: 'D1%' } } })).to.equal(15);
    expect(await Dependant.count({ where: { clientId: client.id, name: { [Op.like]: '同時 %号の子' } } })).to.equal(15);
    const reports = [one.text, two.text].map((t) => /従業員 (\d+)人、扶養家族 (\d+)人を登録しました。アカウントに招待した方 0人。登録済みで変更しなかった行 (\d+)行/.exec(t)!.slice(1).map(Number));
    expect(reports.map(([e, d, u]) => e! + d! + u!)).to.deep.equal([30, 30]);
    expect(reports.map(([e, d]) => e! + d!).sort()).to.deep.equal([0, 30]);
  });

  it('refuses a line holding something like a My Number (a code, a name), storing and logging nothing of it', async () => {
    const events = await AuditEvent.count();
    const res = await send(['社員コード,氏名', '123456789018,番号 太郎', 'N001,1234 5678 9018', 'N002,番号 次郎'].join('\r\n'));
    expect(res.text).to.contain('従業員 1人、扶養家族 0人を登録しました。').and.contain('マイナンバーのような12桁の数字が含まれています');
    expect(res.text).to.not.contain('123456789018').and.not.contain('1234 5678 9018');
    expect(await Employee.count({ where: { clientId: client.id, employeeCode: ['123456789018', 'N001'] } })).to.equal(0);
    const logged = (await AuditEvent.findAll({ where: { seq: { [Op.gt]: events } } })).map((e) => JSON.stringify(e.toJSON())).join('');
    expect(logged).to.not.contain('123456789018').and.not.contain('5678');
  });

  it('an address invites the employee to the portal (mail from the outbox) with the account tied to them; a taken or malformed address refuses the line', async () => {
    const taken = await makeUser(h, { role: 'employee', clientId: other.id, totp: false, email: 'taken@import.example' });
    const csv = [
      '社員コード,氏名,メールアドレス',
      'M001,招待 一郎,Ichiro@Import.example', // a new employee, invited
      'A002,鈴木 次郎,jiro@import.example', // held already, no account yet: invited now
      'M003,招待 三郎,taken@import.example', // another account has it
      'M004,招待 四郎,not-an-address', // malformed
    ].join('\r\n');
    const res = await send(csv);
    expect(res.text).to.contain('従業員 1人、扶養家族 0人を登録しました。アカウントに招待した方 2人。登録済みで変更しなかった行 1行、取り込めなかった行 2行。');
    const rejected = res.text.slice(res.text.indexOf('data-testid="import-rejected"'));
    expect(rejected).to.match(/<td[^>]*>4<\/td>[\s\S]*?このメールアドレスはすでに使われています/).and.match(/<td[^>]*>5<\/td>[\s\S]*?メールアドレスの形式/);
    for (const [code, address] of [['M001', 'ichiro@import.example'], ['A002', 'jiro@import.example']] as const) {
      const e = (await Employee.findOne({ where: { clientId: client.id, employeeCode: code } }))!;
      const u = (await User.findOne({ where: { email: address } }))!;
      expect([u.role, u.clientId, u.passwordHash, e.userId]).to.deep.equal(['employee', client.id, null, u.id]);
      const mail = await h.smtp.lastTo(address);
      expect(mail.subject).to.contain('株式会社とりこみ');
      expect(mail.text).to.contain('/password/set/');
    }
    expect(await Employee.count({ where: { clientId: client.id, employeeCode: ['M003', 'M004'] } })).to.equal(0);
    expect((await User.findByPk(taken.user.id))!.clientId).to.equal(other.id);
    expect(await AuditEvent.count({ where: { operation: 'person.account', clientId: client.id } })).to.equal(2);
  });

  it('an address longer than an account can hold refuses its line (the rest of the file goes in)', async () => {
    const long = `${'a'.repeat(180)}@import.example`;
    const res = await send(['社員コード,氏名,メールアドレス', `L001,長い 住所,${long}`, 'L002,短い 住所,'].join('\r\n'));
    expect(res.status).to.equal(200);
    expect(res.text).to.contain('従業員 1人、扶養家族 0人を登録しました。').and.contain('メールアドレスの形式が正しくありません');
    expect(await Employee.count({ where: { clientId: client.id, employeeCode: ['L001', 'L002'] } })).to.equal(1);
  });

  it('refuses a file without the needed headings, an empty one and a department of another client; nothing is stored', async () => {
    const before = await Employee.count();
    let res = await send('code,name\r\nB001,名前\r\n');
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('1行目に「社員コード」と「氏名」の列見出しが必要です');
    res = await send('');
    expect(res.status).to.equal(400);
    res = await send('社員コード,氏名,部門コード\r\nB002,他部 員,900\r\n');
    expect(res.text).to.contain('この部門コードの部門がありません');
    expect(await Employee.count()).to.equal(before);
  });

  it('is the client admin\'s, and only ever for their own company', async () => {
    const employee = await makeUser(h, { role: 'employee', clientId: client.id, totp: false });
    const e = new TestBrowser(h.portal.app);
    await e.login(employee);
    expect((await e.get('/client/people/import')).status).to.equal(403);
    const otherHr = await makeUser(h, { role: 'client_admin', clientId: other.id, totp: false });
    const b = new TestBrowser(h.portal.app);
    await b.login(otherHr);
    const res = await send('社員コード,氏名,client\r\nC001,よそ 太郎,' + client.code + '\r\n', b);
    expect(res.status).to.equal(200);
    expect(await Employee.count({ where: { clientId: other.id, employeeCode: 'C001' } })).to.equal(1);
    expect(await Employee.count({ where: { clientId: client.id, employeeCode: 'C001' } })).to.equal(0);
  });
});
