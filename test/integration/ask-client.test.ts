import { expect } from 'chai';
import { createHarness, dialectName, type Harness } from '../support/harness';
import { assign, makeClient, makeUser, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { makeEmployee, makeDependant, numberFrom } from '../support/vault';
import { AuditEvent, Firm, OutboxMail, User, type Client } from '../../server/db/models';
import { systemContext } from '../../server/audit';

/**
 * 顧問先に登録をお願いする: the firm, seeing numbers missing on a client's list, asks the client's
 * admins by mail (how many, a link; never whose), as the admins ask their employees. Before, the firm
 * had no way to ask but outside the portal.
 */
describe(`The firm asks a client to register the numbers still missing (${dialectName})`, () => {
  let h: Harness;
  let client: Client;
  let staff: MadeUser;
  let other: MadeUser;
  let hr: MadeUser;
  let hrEn: MadeUser;
  let sb: TestBrowser;
  const listPath = () => `/firm/clients/${client.id}/numbers`;
  const askPath = () => `${listPath()}/ask-client`;

  before(async () => {
    h = await createHarness();
    await Firm.create({ id: 1, name: '暁社会保険労務士事務所' });
    client = await makeClient(h, { code: 'ASK1', name: '株式会社たのみ' });
    staff = await makeUser(h, { role: 'firm_staff', name: '担当 花子' });
    other = await makeUser(h, { role: 'firm_admin', name: '所長 次郎' });
    await assign(h, client.id, staff.user.id);
    hr = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, email: 'hr@tanomi.example' });
    hrEn = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, email: 'en@tanomi.example' });
    await User.update({ lang: 'en' }, { where: { id: hrEn.user.id } });
    // Invited but not yet signed up, and disabled: neither can act on a request.
    const invited = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, email: 'invited@tanomi.example' });
    await User.update({ passwordHash: null }, { where: { id: invited.user.id } });
    const disabled = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, email: 'gone@tanomi.example' });
    await User.update({ disabledAt: new Date() }, { where: { id: disabled.user.id } });
    // Three people missing a number (an employee, her child, a colleague); one registered.
    const { employee: a } = await makeEmployee(client.id, { employeeCode: 'A1', name: '未登 花子' });
    await makeDependant(client.id, a.id, '未登 小花');
    await makeEmployee(client.id, { employeeCode: 'A2', name: '未登 太郎' });
    const { person: done } = await makeEmployee(client.id, { employeeCode: 'A3', name: '済 一郎' });
    await h.booted.services.vault.register(systemContext('test'), done, { number: numberFrom(31_000_001), issueDate: null }, { source: 'proxy', registeredBy: null });
    sb = new TestBrowser(h.portal.app);
    await sb.login(staff);
  });
  after(async () => { await h.close(); });

  it('the list offers it with the count; the mail goes to the admins who can sign in, in their language, naming no one; logged once', async () => {
    const list = await sb.get(listPath());
    expect(list.text).to.contain('data-testid="ask-client"').and.contain('マイナンバーが未登録の方が3人います').and.contain('ログインできる方 2人');
    const res = await sb.post(askPath(), {}, listPath());
    expect(res.status, res.text).to.equal(303);
    expect(res.headers.location).to.equal(`${listPath()}?status=missing#ask-client`);
    const back = await sb.get(res.headers.location!);
    expect(back.text).to.match(/data-testid="ask-client-flash">顧問先の管理者2人に、登録をお願いするメールを送りました。</);

    const ja = await h.smtp.lastTo('hr@tanomi.example');
    expect(ja.subject).to.equal('【暁ポータル】マイナンバーのご登録のお願い（暁社会保険労務士事務所より）');
    expect(ja.text).to.contain('株式会社たのみ ご担当者様').and.contain('未登録の方が3人').and.contain('http://portal.test/client/people?status=missing#remind');
    const en = await h.smtp.lastTo('en@tanomi.example');
    expect(en.subject).to.equal('[Akatsuki Portal] Please register My Numbers (from 暁社会保険労務士事務所)');
    expect(en.text).to.contain('3 people on Akatsuki Portal have no My Number registered yet');
    for (const mail of [ja, en]) {
      for (const secret of ['花子', '小花', '太郎', '一郎', 'A1', 'A2', numberFrom(31_000_001)]) expect(`${mail.subject}${mail.text}`).to.not.contain(secret);
    }
    expect((await OutboxMail.findAll()).map((m) => m.toAddress).sort()).to.deep.equal(['en@tanomi.example', 'hr@tanomi.example']);
    const rows = await AuditEvent.findAll({ where: { operation: 'vault.askClient' } });
    expect(rows.map((r) => [r.actorId, r.clientId, r.result, r.detail])).to.deep.equal([[staff.user.id, client.id, 'allowed', '3 missing; 2 client admins']]);
    // The client sees it in its own log, as any operation on its data.
    const hb = new TestBrowser(h.portal.app);
    await hb.login(hr);
    expect((await hb.get('/audit')).text).to.contain('顧問先への登録のお願い');
  });

  it('asked again the same day: no second mail, no second log row, and the page says why', async () => {
    const mails = await OutboxMail.count();
    const res = await sb.post(askPath(), {}, listPath());
    expect(res.status).to.equal(303);
    expect((await sb.get(res.headers.location!)).text).to.contain('今日すでにお願いを送っています（管理者2人）');
    expect(await OutboxMail.count()).to.equal(mails);
    expect(await AuditEvent.count({ where: { operation: 'vault.askClient' } })).to.equal(1);
  });

  it('a firm admin not assigned to the client (who sees its list, masked): not offered, and refused (403) with nothing sent', async () => {
    const ob = new TestBrowser(h.portal.app);
    await ob.login(other);
    const list = await ob.get(listPath());
    expect(list.status).to.equal(200);
    expect(list.text).to.not.contain('data-testid="ask-client"');
    const mails = await OutboxMail.count();
    const res = await ob.post(askPath(), {}, listPath());
    expect(res.status).to.equal(403);
    expect(await OutboxMail.count()).to.equal(mails);
    // Staff not assigned do not see the client at all (404), as on its other pages.
    const stranger = await makeUser(h, { role: 'firm_staff', name: '別担当 三郎' });
    const xb = new TestBrowser(h.portal.app);
    await xb.login(stranger);
    expect((await xb.post(askPath(), {}, '/home')).status).to.equal(404);
    // The client's own admin cannot send it either (a firm route).
    const hb = new TestBrowser(h.portal.app);
    await hb.login(hr);
    expect((await hb.post(askPath(), {}, '/client/people')).status).to.be.oneOf([403, 404]);
    expect(await OutboxMail.count()).to.equal(mails);
  });

  it('sent many times at once (a double click, two tabs, two staff): one mail per admin, one log row', async () => {
    const busy = await makeClient(h, { code: 'ASK4', name: '株式会社いそがし' });
    await assign(h, busy.id, staff.user.id);
    const second = await makeUser(h, { role: 'firm_staff', name: '担当 二郎' });
    await assign(h, busy.id, second.user.id);
    const admins = ['a@isogashi.example', 'b@isogashi.example', 'c@isogashi.example'];
    for (const email of admins) await makeUser(h, { role: 'client_admin', clientId: busy.id, totp: false, email });
    await makeEmployee(busy.id, { employeeCode: 'B1', name: '急 一' });
    const sb2 = new TestBrowser(h.portal.app);
    await sb2.login(second);
    const path = `/firm/clients/${busy.id}/numbers`;
    const tokens = new Map<TestBrowser, string>();
    for (const b of [sb, sb2]) tokens.set(b, csrfIn((await b.get(path)).text));
    const sent = await Promise.all([sb, sb2, sb, sb2, sb, sb].map((b) => b.agent.post(`${path}/ask-client`).type('form').send({ _csrf: tokens.get(b) })));
    expect(sent.map((r) => r.status)).to.deep.equal([303, 303, 303, 303, 303, 303]);
    expect((await OutboxMail.findAll({ where: { toAddress: admins } })).map((m) => m.toAddress).sort()).to.deep.equal(admins);
    expect(await AuditEvent.count({ where: { operation: 'vault.askClient', clientId: busy.id } })).to.equal(1);
    await h.smtp.lastTo(admins[2]!);
    await new Promise((r) => setTimeout(r, 300));
    const delivered = h.smtp.messages.filter((m) => admins.some((a) => (m.to && !Array.isArray(m.to) ? m.to.text : '').includes(a)));
    expect(delivered.length, 'each admin mailed once').to.equal(admins.length);
  });

  it('fails closed: when its log row cannot be written, no mail is queued or sent', async () => {
    const quiet = await makeClient(h, { code: 'ASK5', name: '株式会社しずか' });
    await assign(h, quiet.id, staff.user.id);
    await makeUser(h, { role: 'client_admin', clientId: quiet.id, totp: false, email: 'hr@shizuka.example' });
    await makeEmployee(quiet.id, { employeeCode: 'Q1', name: '静 一' });
    const path = `/firm/clients/${quiet.id}/numbers`;
    const token = csrfIn((await sb.get(path)).text);
    const audit = h.booted.services.audit as unknown as { record: (...args: unknown[]) => Promise<unknown> };
    const record = audit.record;
    // The log refuses only this row, after the mails were queued in the same transaction.
    audit.record = async function (this: unknown, ...args: unknown[]) {
      if ((args[2] as { operation?: string }).operation === 'vault.askClient') throw new Error('audit log unavailable');
      return record.apply(this, args);
    };
    try {
      const res = await sb.agent.post(`${path}/ask-client`).type('form').send({ _csrf: token });
      expect(res.status).to.equal(500);
    } finally {
      audit.record = record;
    }
    expect(await OutboxMail.count({ where: { toAddress: 'hr@shizuka.example' } })).to.equal(0);
    expect(await AuditEvent.count({ where: { operation: 'vault.askClient', clientId: quiet.id } })).to.equal(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.smtp.messages.filter((m) => (m.to && !Array.isArray(m.to) ? m.to.text : '').includes('hr@shizuka.example'))).to.have.length(0);
    // With the log writable again, the request goes: the refusal above came from the log.
    const again = await sb.agent.post(`${path}/ask-client`).type('form').send({ _csrf: token });
    expect(again.status).to.equal(303);
    expect(await OutboxMail.count({ where: { toAddress: 'hr@shizuka.example' } })).to.equal(1);
  });

  it('refused without the form\'s token (CSRF), and an unassigned firm admin\'s refusal is logged', async () => {
    const mails = await OutboxMail.count();
    const forged = await sb.agent.post(askPath()).type('form').send({});
    expect(forged.status).to.equal(403);
    const ob = new TestBrowser(h.portal.app);
    await ob.login(other);
    expect((await ob.post(askPath(), {}, listPath())).status).to.equal(403);
    expect(await AuditEvent.count({ where: { actorId: other.user.id, clientId: client.id, result: 'denied' } })).to.be.greaterThan(0);
    expect(await OutboxMail.count()).to.equal(mails);
  });

  it('a client with every number registered: not offered; a client with no admin who can sign in: says to invite one', async () => {
    const full = await makeClient(h, { code: 'ASK2', name: '株式会社すみ' });
    await assign(h, full.id, staff.user.id);
    await makeUser(h, { role: 'client_admin', clientId: full.id, totp: false });
    expect((await sb.get(`/firm/clients/${full.id}/numbers`)).text).to.not.contain('data-testid="ask-client"');
    const res = await sb.post(`/firm/clients/${full.id}/numbers/ask-client`, {}, `/firm/clients/${full.id}/numbers`);
    expect((await sb.get(res.headers.location!)).text).to.contain('未登録の方はいません。お願いは送りませんでした。');

    const lone = await makeClient(h, { code: 'ASK3', name: '株式会社ひとり' });
    await assign(h, lone.id, staff.user.id);
    await makeEmployee(lone.id, { employeeCode: 'L1', name: '孤 一' });
    const mails = await OutboxMail.count();
    expect((await sb.get(`/firm/clients/${lone.id}/numbers`)).text).to.contain('ログインできる方 0人');
    const refused = await sb.post(`/firm/clients/${lone.id}/numbers/ask-client`, {}, `/firm/clients/${lone.id}/numbers`);
    expect((await sb.get(refused.headers.location!)).text).to.contain('お願いを送れる管理者がいません。顧問先のページで管理者を招待し');
    expect(await OutboxMail.count()).to.equal(mails);
    expect(await AuditEvent.count({ where: { operation: 'vault.askClient', clientId: lone.id } })).to.equal(0);
  });
});
