import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { Op } from 'sequelize';
import { AuditEvent, DisposalItem, DisposalRequest, Employee, NumberRecord, type Client } from '../../server/db/models';
import { findPerson } from '../../server/vault/people';
import { systemContext } from '../../server/audit';
import { numberFrom } from '../support/vault';
import { VAULT_PAGE_SIZE } from '../../server/vault/vault-service';
import { ja } from '../support/security';

/** The retention list of a client with more numbers than a page: paged in SQL, and "all of these" across pages. */
describe('廃棄: the retention list in pages, and a request for every number a filter matches', function () {
  this.timeout(90_000);
  let h: Harness;
  let client: Client;
  let clientAdmin: MadeUser;
  let staff: MadeUser;
  const due: string[] = [];
  const notDue: string[] = [];
  const rows = (html: string) => (html.match(/name="items" value="number:/g) ?? []).length;
  const unescape = (href: string) => href.replace(/&amp;/g, '&').replace(/&#x3D;/g, '=');
  const linkNamed = (html: string, text: string) => {
    const m = new RegExp(`<a href="(/disposal\\?[^"]+)">${text}</a>`).exec(html);
    return m ? unescape(m[1]!) : null;
  };

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'DP01', name: '株式会社たくさん' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    staff = await makeUser(h, { role: 'firm_staff', name: '担当 職員' });
    await assign(h, client.id, staff.user.id);
    // 55 left in 2016 (deletion date 2023: due), 6 still employed (no date), 3 left in 2024 (2031: not due).
    const plan = [...Array(55).fill('2016-03-31'), ...Array(6).fill(null), ...Array(3).fill('2024-03-31')] as (string | null)[];
    for (const [i, leaveDate] of plan.entries()) {
      const e = await Employee.create({ clientId: client.id, employeeCode: `R${String(i).padStart(3, '0')}`, name: `保存 ${i}`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate, userId: null });
      const r = await h.booted.services.vault.register(systemContext('test'), await findPerson(client.id, 'employee', e.id), { number: numberFrom(61000000000 + i), issueDate: null }, { source: 'proxy', registeredBy: null });
      (leaveDate === '2016-03-31' ? due : notDue).push(r.id);
    }
  });
  after(async () => { await h.close(); });

  it('shows a page at a time with the total, and the pager keeps the filter', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(clientAdmin);
    const first = await b.get('/disposal');
    expect(rows(first.text)).to.equal(VAULT_PAGE_SIZE);
    expect(first.text).to.contain('64件');
    expect(linkNamed(first.text, '前へ')).to.equal(null);
    const second = await b.get(linkNamed(first.text, '次へ')!);
    expect(rows(second.text)).to.equal(64 - VAULT_PAGE_SIZE);
    expect(linkNamed(second.text, '次へ')).to.equal(null);
    expect(linkNamed(second.text, '前へ')).to.equal('/disposal?page=1');

    const dueFirst = await b.get('/disposal?due=1');
    expect(rows(dueFirst.text)).to.equal(VAULT_PAGE_SIZE);
    expect(dueFirst.text).to.contain('55件');
    const dueNext = linkNamed(dueFirst.text, '次へ')!;
    expect(dueNext).to.equal('/disposal?due=1&page=2');
    expect(rows((await b.get(dueNext)).text)).to.equal(5);
    // Past the end: an empty page, not an error; a page that is no number: the first.
    expect(rows((await b.get('/disposal?page=9')).text)).to.equal(0);
    expect(rows((await b.get('/disposal?page=abc')).text)).to.equal(VAULT_PAGE_SIZE);
  });

  it('a date change refused on the second page comes back on that page, the message and what was typed on its row', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(clientAdmin);
    const second = await b.get('/disposal?page=2');
    const id = /name="items" value="number:([0-9a-f-]{36})"/.exec(second.text)![1]!;
    // The row's own form carries the list's page (and filter), as the request form does.
    const form = new RegExp(`<form method="post" id="date-${id}"[^>]*>([\\s\\S]*?)</form>`).exec(second.text)![1]!;
    expect(form).to.contain('name="page" value="2"');
    const token = await b.csrf('/disposal');
    const res = await b.agent.post(`/disposal/numbers/${id}/date`).type('form').send({ _csrf: token, clientId: client.id, page: '2', date: '2020-01-01', reason: '前倒し' });
    expect(res.status).to.equal(400);
    const row = new RegExp(`<tr[^>]*>(?:(?!</tr>)[\\s\\S])*value="number:${id}"(?:(?!</tr>)[\\s\\S])*</tr>`).exec(res.text)?.[0] ?? '';
    expect(row).to.contain(ja('disposal.datePast')).and.contain('value="2020-01-01"');
    // Sent from a page that no longer holds the row (page 1 here): the message at the top instead, never nowhere.
    const elsewhere = await b.agent.post(`/disposal/numbers/${id}/date`).type('form').send({ _csrf: token, clientId: client.id, page: '1', date: '2020-01-01', reason: '前倒し' });
    expect(elsewhere.status).to.equal(400);
    expect(elsewhere.text.split(ja('disposal.datePast')).length).to.equal(2);
    // Accepted (a row not yet due, its date given again): back to that page of the list, at the row.
    const later = [...second.text.matchAll(/<tr id="row-([0-9a-f-]{36})"[^>]*>(?:(?!<\/tr>)[\s\S])*?2031-03-31/g)].map((m) => m[1]!)[0]!;
    const saved = await b.agent.post(`/disposal/numbers/${later}/date`).type('form').send({ _csrf: token, clientId: client.id, page: '2', date: '2031-03-31', reason: '確認' });
    expect([saved.status, saved.headers.location]).to.deep.equal([303, `/disposal?client=${client.id}&page=2#row-${later}`]);
  });

  it('keeps the client for firm staff: in the filter form and in the pager', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(staff);
    const first = await b.get(`/disposal?client=${client.id}&noDate=1`);
    expect(first.status).to.equal(200);
    expect(rows(first.text)).to.equal(6);
    expect(first.text).to.contain(`<input type="hidden" name="client" value="${client.id}">`);
    expect(first.text).to.contain(`href="/certificates?client=${client.id}"`);
    const all = await b.get(`/disposal?client=${client.id}`);
    const next = linkNamed(all.text, '次へ')!;
    expect(next).to.equal(`/disposal?client=${client.id}&page=2`);
    expect(rows((await b.get(next)).text)).to.equal(64 - VAULT_PAGE_SIZE);
  });

  it('nothing ticked, or "all of these" under a filter that matches nothing: refused with the message, nothing stored', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(clientAdmin);
    for (const form of [{ reason: '保存期間満了' }, { allMatching: 'on', code: 'NONE', shownTotal: '0', reason: '保存期間満了' }] as Record<string, string>[]) {
      const res = await b.post('/disposal/requests', form, '/disposal');
      expect(res.status, JSON.stringify(form)).to.equal(400);
      expect(res.text).to.contain('廃棄するものを選んでください。');
    }
    expect(await DisposalRequest.count()).to.equal(0);
    expect(await DisposalItem.count()).to.equal(0);
  });

  it('"all of these" under the due filter requests exactly the due numbers of every page, none early', async () => {
    const b = new TestBrowser(h.portal.app);
    await b.login(clientAdmin);
    const list = await b.get('/disposal?due=1&page=2');
    expect(list.text).to.contain('この条件で期限が来ている55件すべてを対象にする').and.contain('name="shownTotal" value="55"');
    // The page said 54 (a number became due since): nothing is requested, the person is asked to look again.
    const changed = await b.post('/disposal/requests', { allMatching: 'on', due: '1', shownTotal: '54', reason: '保存期間満了' }, '/disposal');
    expect(changed.status).to.equal(409);
    expect(changed.text).to.contain('この条件で期限が来ている件数が、一覧を表示したときから変わりました。');
    expect(await DisposalRequest.count()).to.equal(0);
    const res = await b.post('/disposal/requests', { allMatching: 'on', due: '1', page: '2', shownTotal: '55', reason: '保存期間満了' }, '/disposal?due=1&page=2');
    expect(res.status, res.text).to.equal(303);
    const req = (await DisposalRequest.findOne({ where: { clientId: client.id } }))!;
    expect(req.early).to.equal(false);
    const items = await DisposalItem.findAll({ where: { requestId: req.id } });
    expect(items.map((i) => i.itemId).sort()).to.deep.equal([...due].sort());
    expect(await NumberRecord.count({ where: { id: notDue } })).to.equal(notDue.length);
    // The same again: already requested, refused as such.
    const again = await b.post('/disposal/requests', { allMatching: 'on', due: '1', shownTotal: '55', reason: '保存期間満了' }, '/disposal');
    expect(again.status).to.equal(409);
    expect(await DisposalRequest.count()).to.equal(1);
  });

  it('the whole client (end of contract): the firm admin only, in its own section, with the client code typed again', async () => {
    const leaving = await makeClient(h, { code: 'BYE1', name: '株式会社おわり' });
    const e = await Employee.create({ clientId: leaving.id, employeeCode: 'Z001', name: '終 太郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
    await h.booted.services.vault.register(systemContext('test'), await findPerson(leaving.id, 'employee', e.id), { number: numberFrom(62000000001), issueDate: null }, { source: 'proxy', registeredBy: null });
    const admin = new TestBrowser(h.portal.app);
    await admin.login(await makeUser(h, { role: 'firm_admin', name: '所長 二' }));
    const page = await admin.get(`/disposal?client=${leaving.id}`);
    const section = page.text.slice(page.text.indexOf('data-testid="whole-client"'));
    expect(section).to.contain('顧問先コード「BYE1」を入力してください');
    // Not among the everyday form's boxes any more.
    expect(page.text.slice(page.text.indexOf('id="disposal-request"'), page.text.indexOf('data-testid="whole-client"'))).not.to.contain('name="whole"');

    const before = await DisposalRequest.count();
    let res = await admin.post('/disposal/requests', { clientId: leaving.id, whole: 'on', reason: '顧問契約の終了', confirmCode: 'BYE2' }, `/disposal?client=${leaving.id}`);
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('顧問先コードが一致しません。');
    const staffBrowser = new TestBrowser(h.portal.app);
    await staffBrowser.login(staff);
    await assign(h, leaving.id, staff.user.id);
    res = await staffBrowser.post('/disposal/requests', { clientId: leaving.id, whole: 'on', reason: '顧問契約の終了', confirmCode: 'BYE1' }, `/disposal?client=${leaving.id}`);
    expect(res.status).to.equal(403);
    expect(await DisposalRequest.count()).to.equal(before);

    res = await admin.post('/disposal/requests', { clientId: leaving.id, whole: 'on', reason: '顧問契約の終了', confirmCode: 'BYE1' }, `/disposal?client=${leaving.id}`);
    expect(res.status).to.equal(303);
    const req = (await DisposalRequest.findOne({ where: { clientId: leaving.id } }))!;
    expect([req.scope, req.status, req.early]).to.deep.equal(['client', 'requested', true]);
  });

  it('the firm admin sees what a request holds (masked) and can turn it down with a reason; its numbers can be requested again', async () => {
    const req = (await DisposalRequest.findOne({ where: { clientId: client.id, status: 'requested' } }))!;
    const firmAdmin = await makeUser(h, { role: 'firm_admin', name: '所長' });
    const b = new TestBrowser(h.portal.app);
    await b.login(firmAdmin);
    const page = await b.get('/disposal/approvals');
    const row = page.text.slice(page.text.indexOf(`data-testid="request-${req.id}"`));
    expect(row).to.contain('対象を確認する（55件）').and.contain('R000 保＊').and.contain('R054 保＊');
    expect(row).not.to.contain('保存 0');
    expect(row).to.contain(`data-confirm="${client.code} ${client.name} の55件を廃棄します。`);

    // The client admin cannot turn it down; the firm admin must say why.
    const requester = new TestBrowser(h.portal.app);
    await requester.login(clientAdmin);
    expect((await requester.post(`/disposal/requests/${req.id}/reject`, { reason: '誤り' }, '/disposal')).status).to.equal(403);
    let res = await b.post(`/disposal/requests/${req.id}/reject`, { reason: '  ' }, '/disposal/approvals');
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('却下の理由を入力してください');
    expect((await DisposalRequest.findByPk(req.id))!.status).to.equal('requested');

    res = await b.post(`/disposal/requests/${req.id}/reject`, { reason: '対象に在籍者が含まれているため' }, '/disposal/approvals');
    expect(res.status).to.equal(303);
    expect((await DisposalRequest.findByPk(req.id))!.status).to.equal('rejected');
    expect(await DisposalItem.count({ where: { requestId: req.id } })).to.equal(0);
    expect(await NumberRecord.count({ where: { id: due, sealedNumber: { [Op.ne]: null } } })).to.equal(due.length);
    const logged = (await AuditEvent.findOne({ where: { operation: 'disposal.reject' } }))!;
    expect([logged.actorName, logged.detail, logged.targetId]).to.deep.equal(['所長', '対象に在籍者が含まれているため', req.id]);
    // The requester learns it, and why, on their own disposal page.
    const told = await requester.get('/disposal');
    const pending = told.text.slice(told.text.indexOf('data-testid="pending-requests"'), told.text.indexOf('</ul>', told.text.indexOf('data-testid="pending-requests"')));
    expect(pending).to.contain('却下').and.contain('所長が却下: 対象に在籍者が含まれているため');
    // The firm admins see it among the requests decided lately, with who and why (no count: its items were released).
    const approvals = await b.get('/disposal/approvals');
    const decided = approvals.text.slice(approvals.text.indexOf(`data-testid="decided-${req.id}"`), approvals.text.indexOf('</tr>', approvals.text.indexOf(`data-testid="decided-${req.id}"`)));
    expect(decided).to.contain(`${client.code} ${client.name}`).and.contain('却下').and.contain('却下の理由: 対象に在籍者が含まれているため').and.contain('所長');
    expect(decided).to.match(/data-label="件数">—</);
    expect(approvals.text).not.to.contain(`data-testid="request-${req.id}"`);
    expect((await b.post(`/disposal/requests/${req.id}/reject`, { reason: 'もう一度' }, '/disposal/approvals')).status).to.equal(409);
    expect((await b.post(`/disposal/requests/${req.id}/approve`, {}, '/disposal/approvals')).status, 'a rejected request is never approved').to.be.oneOf([403, 409]);

    // Free again: the same numbers can be requested anew.
    res = await requester.post('/disposal/requests', { allMatching: 'on', due: '1', shownTotal: '55', reason: '保存期間満了（再申請）' }, '/disposal');
    expect(res.status).to.equal(303);
    expect(await DisposalRequest.count({ where: { clientId: client.id, status: 'requested' } })).to.equal(1);
  });
});
