import { expect } from 'chai';
import { createHarness, type Harness } from '../support/harness';
import { makeUser, makeClient, assign, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { makeDependant, makeEmployee, makePayee, numberFrom } from '../support/vault';
import { systemContext } from '../../server/audit';
import { AuditEvent, VaultInvitation, type Client } from '../../server/db/models';
import { formatDateTime } from '../../server/presenters/format';
import type { Person } from '../../server/vault/people';

const DAY_MS = 24 * 3600_000;

/** How many times `needle` occurs in `text`. */
const occurrences = (text: string, needle: string) => text.split(needle).length - 1;

/** A number as the reveal and the print view show it: groups of four digits. */
const grouped = (n: string) => n.replace(/(\d{4})(?=\d)/g, '$1 ');

/**
 * A payee's one-time link made by the client admin (mailed), then its lifetime checked: the stored
 * expiry, what the mail and the sheet say, and the link itself just before and at the end of its days.
 */
async function payeeLinkLives(h: Harness, days: number) {
  const client = await makeClient(h, { code: `L${days}`, name: '株式会社リンク' });
  const admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
  const { payee } = await makePayee(client.id, { code: 'P001', name: '小林 税理士' });
  const b = new TestBrowser(h.portal.app);
  await b.login(admin);

  const before = Date.now();
  const sheet = await b.post(`/client/people/payee/${payee.id}/link`, { email: 'kobayashi@example.jp' }, '/client/people');
  const after = Date.now();
  expect(sheet.status, sheet.text).to.equal(200);
  const invitations = await VaultInvitation.findAll({ where: { clientId: client.id, personKind: 'payee', personId: payee.id } });
  expect(invitations).to.have.length(1);
  const expiresAt = invitations[0]!.expiresAt;
  expect(expiresAt.getTime()).to.be.within(before + days * DAY_MS, after + days * DAY_MS);
  // What the people involved are told agrees: the sheet shows that moment, the mail the number of days.
  expect(sheet.text).to.contain(`<dd>${formatDateTime(expiresAt, 'ja')}</dd>`);
  const mail = await h.smtp.lastTo('kobayashi@example.jp');
  expect(mail.text).to.contain(`（${days}日間、1回のみ有効）`);

  // The link works until its days are up, and not after: its expiry moved back as if that much time had passed.
  const path = new URL(/data-testid="link-url">([^<]+)</.exec(sheet.text)![1]!).pathname;
  const visitor = new TestBrowser(h.portal.app);
  await VaultInvitation.update({ expiresAt: new Date(expiresAt.getTime() - days * DAY_MS + 60_000) }, { where: { id: invitations[0]!.id } });
  expect((await visitor.get(path)).status, 'a minute before the end').to.equal(200);
  await VaultInvitation.update({ expiresAt: new Date(expiresAt.getTime() - days * DAY_MS) }, { where: { id: invitations[0]!.id } });
  expect((await visitor.get(path)).status, `${days} days after it was made`).to.equal(404);
}

describe('One-time vault links for a payee: how long they live', () => {
  describe('by default', () => {
    let h: Harness;
    before(async () => { h = await createHarness(); });
    after(async () => { await h.close(); });

    it('expire 14 days after they are made', async () => {
      expect(h.config.vaultLinkDays).to.equal(14);
      await payeeLinkLives(h, 14);
    });
  });

  describe('with VAULT_LINK_DAYS=3', () => {
    let h: Harness;
    before(async () => { h = await createHarness({ VAULT_LINK_DAYS: '3' }); });
    after(async () => { await h.close(); });

    it('expire 3 days after they are made', async () => {
      await payeeLinkLives(h, 3);
    });
  });
});

describe("The firm's print view for a procedure's set of people", () => {
  let h: Harness;
  let client: Client;
  let staff: MadeUser;
  let b: TestBrowser;
  const people: { person: Person; number: string; recordId: string }[] = [];
  const listPath = () => `/firm/clients/${client.id}/numbers`;

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'PR01', name: '株式会社プリント' });
    staff = await makeUser(h, { role: 'firm_staff', name: '印刷 担当' });
    await assign(h, client.id, staff.user.id);
    const sato = await makeEmployee(client.id, { employeeCode: 'E001', name: '佐藤 一郎' });
    const satoChild = await makeDependant(client.id, sato.employee.id, '佐藤 二郎');
    const kato = await makeEmployee(client.id, { employeeCode: 'E002', name: '加藤 三郎' });
    const seeds = [10203040506, 60504030201, 11122233344];
    for (const [i, { person }] of [sato, satoChild, kato].entries()) {
      const number = numberFrom(seeds[i]!);
      const record = await h.booted.services.vault.register(systemContext('test'), person, { number, issueDate: '2020-04-01' }, { source: 'proxy', registeredBy: null });
      people.push({ person, number, recordId: record.id });
    }
    b = new TestBrowser(h.portal.app);
    await b.login(staff);
    expect((await b.reauth(staff)).status).to.equal(303);
  });
  after(async () => { await h.close(); });

  it("shows each chosen person's number once, grouped as the reveal shows it, and writes one vault.print row per person", async () => {
    const [chosenA, chosenB, notChosen] = people as [typeof people[0], typeof people[0], typeof people[0]];
    const token = await b.csrf(listPath());
    const res = await b.agent.post(`${listPath()}/print`).type('form')
      .send(`_csrf=${encodeURIComponent(token)}&purpose=withholding_slip&office=tax_office&ids=${chosenA.recordId}&ids=${chosenB.recordId}`);
    expect(res.status, res.text).to.equal(200);
    for (const { number, person } of [chosenA, chosenB]) {
      expect(occurrences(res.text, grouped(number)), person.label).to.equal(1);
      expect(res.text, `${person.label}: never ungrouped`).to.not.contain(number);
    }
    expect(res.text).to.not.contain(grouped(notChosen.number)).and.not.contain(notChosen.number);
    // The two printed numbers are the only numbers on the page, one table row each.
    const cells = [...res.text.matchAll(/<td class="number">([^<]*)<\/td>/g)].map((m) => m[1]);
    expect(cells.sort()).to.deep.equal([grouped(chosenA.number), grouped(chosenB.number)].sort());
    expect(res.text.match(/\d{4} \d{4} \d{4}/g)?.sort(), 'no other number on the page').to.deep.equal(cells);
    expect(res.text).to.contain('<td>E001</td><td>佐藤 一郎</td>').and.contain('<td>佐藤 一郎 &gt; 佐藤 二郎</td>').and.not.contain('加藤 三郎');

    const rows = await AuditEvent.findAll({ where: { operation: 'vault.print' }, order: [['seq', 'ASC']] });
    expect(rows.map((r) => [r.result, r.actorId, r.clientId, r.purpose, r.office]))
      .to.deep.equal([chosenA, chosenB].map(() => ['allowed', staff.user.id, client.id, 'withholding_slip', 'tax_office']));
    expect(rows.map((r) => r.targetId).sort()).to.deep.equal([chosenA.person.id, chosenB.person.id].sort());
    expect(rows.some((r) => r.targetId === notChosen.person.id)).to.equal(false);
  });

  // A crafted form (the list's own has one box per person) sends one id twice: ticked boxes are a set.
  it('a person whose id is sent twice is still printed once and logged once', async () => {
    const [chosenA, chosenB] = people as [typeof people[0], typeof people[0]];
    const seq = Number((await AuditEvent.max('seq')) ?? 0);
    const token = await b.csrf(listPath());
    const res = await b.agent.post(`${listPath()}/print`).type('form')
      .send(`_csrf=${encodeURIComponent(token)}&purpose=withholding_slip&office=tax_office&ids=${chosenA.recordId}&ids=${chosenA.recordId}&ids=${chosenB.recordId}`);
    expect(res.status).to.equal(200);
    const cells = [...res.text.matchAll(/<td class="number">([^<]*)<\/td>/g)].map((m) => m[1]);
    expect(cells).to.have.length(2);
    expect(occurrences(res.text, grouped(chosenA.number))).to.equal(1);
    const rows = (await AuditEvent.findAll({ where: { operation: 'vault.print' }, order: [['seq', 'ASC']] })).filter((r) => Number(r.seq) > seq);
    expect(rows.map((r) => r.targetId).sort()).to.deep.equal([chosenA.person.id, chosenB.person.id].sort());
  });
});
