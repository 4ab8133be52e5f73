import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import request from 'supertest';
import { createHarness, type Harness } from '../support/harness';
import { assign, makeClient, makeUser, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { twelveDigitRunsOutsideIds } from '../support/vault';
import { ApiToken, AuditEvent, AuditHead, type Client, type NumberRecord, SessionRow } from '../../server/db/models';
import { systemContext } from '../../server/audit';
import { sha256Hex } from '../../server/crypto/tokens';
import { OFFICES, PROCEDURES } from '../../server/domain/purposes';
import { checkDigit } from '../../server/vault/my-number';
import { findPerson } from '../../server/vault/people';
import { translate } from '../../server/i18n';

const NUMBER_A = '123456789018';
const NUMBER_B = `98765432101${checkDigit('98765432101')}`;
const ctx = systemContext('test');

/** The token's secret from the page that shows it once. */
const secretIn = (html: string) => /data-testid="api-token-secret">(akp_[A-Za-z0-9_-]+)</.exec(html)?.[1];

/** Every $ref in the document points at something that exists. */
function danglingRefs(doc: Record<string, unknown>): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') {
        const target = x.replace(/^#\//, '').split('/').reduce<unknown>((o, part) => (o as Record<string, unknown> | undefined)?.[part], doc);
        if (target === undefined) out.push(x);
      } else walk(x);
    }
  };
  walk(doc);
  return out;
}

describe('Vault API for authorised applications', () => {
  let h: Harness;
  const logLines: string[] = [];
  let admin: MadeUser;
  let b: TestBrowser;
  let clientA: Client;
  let clientB: Client;
  let recordA: NumberRecord;
  let recordB: NumberRecord;
  let secret: string;
  let token: ApiToken;

  const api = (path: string, bearer: string | null = secret) => {
    const req = request(h.portal.app).get(path);
    return bearer ? req.set('Authorization', `Bearer ${bearer}`) : req;
  };
  const numberUrl = (clientId: string, recordId: string, query = 'purpose=withholding_slip&office=tax_office') =>
    `/api/v1/clients/${clientId}/numbers/${recordId}${query ? `?${query}` : ''}`;
  const lastAudit = async () => (await AuditEvent.findOne({ order: [['seq', 'DESC']] }))!;

  /** Posts the create form the way a browser sends ticked checkboxes (the same name repeated). */
  async function postCreate(form: { name: string; clientIds: string[]; purposes: string[]; days: string }) {
    const body = new URLSearchParams({ _csrf: await b.csrf('/firm/api-tokens'), name: form.name, days: form.days });
    for (const id of form.clientIds) body.append('clientIds', id);
    for (const p of form.purposes) body.append('purposes', p);
    return b.agent.post('/firm/api-tokens').type('form').send(body.toString());
  }

  async function employeeWithNumber(client: Client, code: string, number: string | null) {
    const e = await h.booted.services.people.addEmployee(ctx, client.id, {
      employeeCode: code, name: `社員 ${code}`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null,
    });
    if (!number) return null;
    const person = await findPerson(client.id, 'employee', e.id);
    return h.booted.services.vault.register(ctx, person, { number, issueDate: null }, { source: 'proxy', registeredBy: null });
  }

  before(async () => {
    const sink = new Writable({ write(chunk, _enc, cb) { logLines.push(chunk.toString()); cb(); } });
    h = await createHarness({}, { logger: pino({ level: 'info' }, sink) });
    admin = await makeUser(h, { role: 'firm_admin' });
    b = new TestBrowser(h.portal.app);
    await b.login(admin);
    clientA = await makeClient(h, { name: '株式会社あおば' });
    clientB = await makeClient(h, { name: '株式会社しらかば' });
    // The maker of a token must be assigned to every client it names.
    await assign(h, clientA.id, admin.user.id);
    await assign(h, clientB.id, admin.user.id);
    recordA = (await employeeWithNumber(clientA, 'E001', NUMBER_A))!;
    await employeeWithNumber(clientA, 'E002', null);
    recordB = (await employeeWithNumber(clientB, 'B001', NUMBER_B))!;
  });
  after(async () => { await h.close(); });

  it('serves its OpenAPI 3.1 document to anyone, naming both endpoints, bearer auth and the purpose and office lists', async () => {
    const res = await request(h.portal.app).get('/api/openapi.json');
    expect(res.status).to.equal(200);
    expect(res.type).to.equal('application/json');
    const doc = JSON.parse(res.text) as Record<string, any>;
    expect(doc.openapi).to.equal('3.1.0');
    expect(Object.keys(doc.paths).sort()).to.deep.equal(['/api/v1/clients/{clientId}/numbers/{recordId}', '/api/v1/clients/{clientId}/people']);
    expect(doc.components.securitySchemes.bearerAuth).to.include({ type: 'http', scheme: 'bearer' });
    expect(doc.security).to.deep.equal([{ bearerAuth: [] }]);
    expect(doc.components.schemas.Purpose.enum).to.deep.equal([...PROCEDURES]);
    expect(doc.components.schemas.Office.enum).to.deep.equal([...OFFICES]);
    expect(doc.components.schemas.Error.properties.error.required).to.deep.equal(['code', 'message']);
    const params = doc.paths['/api/v1/clients/{clientId}/numbers/{recordId}'].get.parameters.map((p: { name?: string; $ref?: string }) => p.name ?? p.$ref);
    expect(params).to.include.members(['recordId', 'purpose', 'office']);
    expect(danglingRefs(doc)).to.deep.equal([]);
  });

  it('a firm admin creates a token only after re-authentication; the secret is shown once and only its SHA-256 is stored', async () => {
    const form = { name: '給与計算ソフト', clientIds: [clientA.id], purposes: ['withholding_slip', 'salary_payment_report'], days: '30' };
    const refused = await postCreate(form);
    expect(refused.status).to.equal(403);
    expect(refused.text).to.contain(translate('ja', 'error.reauthRequired'));
    expect(await ApiToken.count()).to.equal(0);

    expect((await b.reauth(admin)).status).to.equal(303);
    const bad = await postCreate({ ...form, clientIds: [] });
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain(translate('ja', 'api.clientsRequired'));
    expect(await ApiToken.count()).to.equal(0);

    const created = await postCreate(form);
    expect(created.status).to.equal(200);
    expect(created.headers['cache-control']).to.equal('no-store');
    secret = secretIn(created.text)!;
    expect(secret).to.match(/^akp_[A-Za-z0-9_-]{40,}$/);

    token = (await ApiToken.findOne())!;
    expect(token.tokenHash).to.equal(sha256Hex(secret));
    expect(token.prefix).to.equal(secret.slice(0, 12));
    expect(token.clientIds).to.equal(clientA.id);
    expect(token.purposes.split(',').sort()).to.deep.equal(['salary_payment_report', 'withholding_slip']);
    expect(JSON.stringify(await ApiToken.findAll({ raw: true }))).to.not.contain(secret.slice(12));
    const row = await AuditEvent.findOne({ where: { operation: 'api.token.create' } });
    expect(row!.actorId).to.equal(admin.user.id);
    expect(JSON.stringify(row!.toJSON())).to.not.contain(secret.slice(12));

    // Never again: not on the list, not in the session.
    const list = await b.get('/firm/api-tokens');
    expect(list.status).to.equal(200);
    expect(list.text).to.contain(token.prefix).and.to.contain('給与計算ソフト');
    expect(list.text).to.contain('data-confirm="このトークンを失効させます。元に戻すことはできません。よろしいですか？"');
    expect(list.text).to.not.contain(secret);
    for (const s of await SessionRow.findAll()) expect(s.data).to.not.contain(secret.slice(12));
  });

  it('the token reads a number of its client for its purpose (JSON, no-store), and the audit row names the application, purpose and office', async () => {
    const res = await api(numberUrl(clientA.id, recordA.id));
    expect(res.status).to.equal(200);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(res.body).to.include({ clientId: clientA.id, recordId: recordA.id, number: NUMBER_A, purpose: 'withholding_slip', office: 'tax_office', employeeCode: 'E001', personKind: 'employee' });
    const row = await lastAudit();
    expect(row).to.include({
      operation: 'vault.api.read', result: 'allowed', clientId: clientA.id, actorId: token.id, actorName: 'API: 給与計算ソフト',
      actorRole: 'api', purpose: 'withholding_slip', office: 'tax_office', targetId: recordA.personId,
    });
    expect(row.channel).to.match(/^api:\/api\/v1\//);
    expect(JSON.stringify(row.toJSON())).to.not.contain(NUMBER_A);
    expect((await ApiToken.findByPk(token.id))!.lastUsedAt).to.be.instanceOf(Date);
  });

  it('the people list holds masked numbers only', async () => {
    const res = await api(`/api/v1/clients/${clientA.id}/people`);
    expect(res.status).to.equal(200);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(res.body.total).to.equal(2);
    const [withNumber, without] = res.body.people as Record<string, unknown>[];
    expect(withNumber).to.include({ recordId: recordA.id, maskedNumber: '**********18', employeeCode: 'E001', label: '社員 E001', status: 'registered', personKind: 'employee' });
    expect(without).to.include({ recordId: null, maskedNumber: null, employeeCode: 'E002', status: 'missing' });
    expect(res.text).to.not.contain(NUMBER_A);
    expect(twelveDigitRunsOutsideIds(res.text)).to.deep.equal([]);
    // The read is logged (who, which client, which page), as every API read is.
    expect(await lastAudit()).to.include({ operation: 'vault.api.list', result: 'allowed', clientId: clientA.id, actorId: token.id, actorRole: 'api', detail: 'page 1: 2 of 2' });
  });

  it('another client is 403 with a denied row, for numbers and for the people list', async () => {
    const before = await AuditEvent.count({ where: { result: 'allowed' } });
    const res = await api(numberUrl(clientB.id, recordB.id));
    expect(res.status).to.equal(403);
    expect(res.body.error.code).to.equal('api.clientNotAllowed');
    expect(res.text).to.not.contain(NUMBER_B);
    expect(await lastAudit()).to.include({ operation: 'vault.api.read', result: 'denied', clientId: clientB.id, actorId: token.id, actorRole: 'api' });

    const people = await api(`/api/v1/clients/${clientB.id}/people`);
    expect(people.status).to.equal(403);
    expect(people.text).to.not.contain('B001');
    expect(await lastAudit()).to.include({ operation: 'vault.api.list', result: 'denied', clientId: clientB.id, actorId: token.id });
    expect(await AuditEvent.count({ where: { result: 'allowed' } })).to.equal(before);
  });

  it('a purpose outside the token is 403 with a denied row naming it', async () => {
    const res = await api(numberUrl(clientA.id, recordA.id, 'purpose=employment_insurance_acquire&office=hello_work'));
    expect(res.status).to.equal(403);
    expect(res.body.error.code).to.equal('api.purposeNotAllowed');
    expect(res.text).to.not.contain(NUMBER_A);
    expect(await lastAudit()).to.include({ operation: 'vault.api.read', result: 'denied', clientId: clientA.id, purpose: 'employment_insurance_acquire', office: 'hello_work' });
  });

  it('a missing or unknown purpose or office is 400 with a denied row', async () => {
    for (const [query, code] of [
      ['purpose=withholding_slip', 'api.officeInvalid'],
      ['purpose=withholding_slip&office=moon', 'api.officeInvalid'],
      ['office=tax_office', 'api.purposeInvalid'],
      ['purpose=curiosity&office=tax_office', 'api.purposeInvalid'],
      ['purpose=withholding_slip&purpose=payment_record&office=tax_office', 'api.purposeInvalid'],
    ] as const) {
      const seq = (await lastAudit()).seq;
      const res = await api(numberUrl(clientA.id, recordA.id, query));
      expect(res.status, query).to.equal(400);
      expect(res.body.error.code, query).to.equal(code);
      expect(res.text, query).to.not.contain(NUMBER_A);
      const row = await lastAudit();
      expect(row.seq, query).to.equal(seq + 1);
      expect(row, query).to.include({ operation: 'vault.api.read', result: 'denied', clientId: clientA.id });
      // Only known values reach the log.
      expect([null, ...PROCEDURES], query).to.include(row.purpose);
      expect([null, ...OFFICES], query).to.include(row.office);
    }
  });

  it('a record of another client under an allowed client id is 404, and nothing is opened', async () => {
    const before = await AuditEvent.count({ where: { result: 'allowed' } });
    for (const id of [recordB.id, 'not-a-uuid']) {
      const res = await api(numberUrl(clientA.id, id));
      expect(res.status, id).to.equal(404);
      expect(res.text).to.not.contain(NUMBER_B);
    }
    expect(await AuditEvent.count({ where: { result: 'allowed' } })).to.equal(before);
  });

  it('no token, a wrong one, an expired one and a revoked one are all 401 JSON with WWW-Authenticate', async () => {
    const made = (days: number, name: string) => h.booted.services.apiTokens.create(ctx, admin.user.id, { name, clientIds: [clientA.id], purposes: ['withholding_slip'], days });
    const expired = await made(1, 'expired');
    await expired.token.update({ expiresAt: new Date(Date.now() - 1000) });
    const revoked = await made(1, 'revoked');
    expect((await api(numberUrl(clientA.id, recordA.id), revoked.secret)).status).to.equal(200);
    const revokedRes = await b.agent.post(`/firm/api-tokens/${revoked.token.id}/revoke`).type('form').send({ _csrf: await b.csrf('/firm/api-tokens') });
    expect(revokedRes.status).to.equal(303);
    expect((await ApiToken.findByPk(revoked.token.id))!.revokedAt).to.be.instanceOf(Date);
    expect(await lastAudit()).to.include({ operation: 'api.token.revoke', result: 'allowed', actorId: admin.user.id, targetId: revoked.token.id });

    for (const [label, bearer] of [['none', null], ['wrong', `akp_${'x'.repeat(43)}`], ['expired', expired.secret], ['revoked', revoked.secret]] as const) {
      for (const path of [numberUrl(clientA.id, recordA.id), `/api/v1/clients/${clientA.id}/people`]) {
        const res = await api(path, bearer);
        expect(res.status, label).to.equal(401);
        expect(res.headers['www-authenticate'], label).to.match(/^Bearer realm=/);
        expect(res.body.error.code, label).to.equal('api.tokenRequired');
        expect(res.body.error.message, label).to.contain('APIトークン').and.not.contain('ログイン');
        expect(res.text, label).to.not.contain(NUMBER_A);
      }
    }
    // The list tells the admin which is which.
    const list = await b.get('/firm/api-tokens');
    expect(list.text).to.contain(translate('ja', 'api.revokedLabel')).and.to.contain(translate('ja', 'api.expiredLabel'));
  });

  it('if the audit row cannot be written, the number is not returned', async () => {
    const head = (await AuditHead.findByPk(1))!.get({ plain: true });
    const allowed = await AuditEvent.count({ where: { result: 'allowed' } });
    await AuditHead.destroy({ where: { id: 1 } });
    try {
      const res = await api(numberUrl(clientA.id, recordA.id));
      expect(res.status).to.be.at.least(500);
      expect(twelveDigitRunsOutsideIds(res.text)).to.deep.equal([]);
      expect(res.text).to.not.contain(NUMBER_A.slice(-4));
    } finally {
      await AuditHead.create(head);
    }
    expect(await AuditEvent.count({ where: { result: 'allowed' } })).to.equal(allowed);
    // With the head back, the same request works and the chain still holds.
    expect((await api(numberUrl(clientA.id, recordA.id))).body.number).to.equal(NUMBER_A);
    expect((await h.booted.services.audit.verify()).ok).to.equal(true);
  });

  it('a token is only as good as its maker: clients the maker is not assigned to are refused, at creation and at every read', async () => {
    const clientC = await makeClient(h, { name: '株式会社みずなら' });
    await b.reauth(admin);
    const refused = await postCreate({ name: '別ソフト', clientIds: [clientC.id], purposes: ['withholding_slip'], days: '30' });
    expect(refused.status).to.equal(400);
    expect(refused.text).to.contain(translate('ja', 'api.clientsNotAssigned'));
    expect(await ApiToken.count({ where: { name: '別ソフト' } })).to.equal(0);
    // The form offers only what its user may hand out, and says so.
    const form = await b.get('/firm/api-tokens');
    const offered = [...form.text.matchAll(/name="clientIds" value="([^"]+)"/g)].map((m) => m[1]).sort();
    expect(offered).to.deep.equal([clientA.id, clientB.id].sort());
    expect(form.text).to.contain(translate('ja', 'api.createHint'));
    const newcomer = await makeUser(h, { role: 'firm_admin' });
    const nb = new TestBrowser(h.portal.app);
    await nb.login(newcomer);
    const empty = await nb.get('/firm/api-tokens');
    expect(empty.text).to.not.contain('name="clientIds"');
    expect(empty.text).to.contain(translate('ja', 'api.noAssignedClients')).and.contain('href="/firm/clients"');
    expect(empty.text).to.contain('disabled data-testid="api-token-create"');

    const ctx = { actorId: null, actorName: 'test', actorRole: 'system' as const, ip: null, userAgent: null, channel: 'test' };
    await h.booted.services.clients.unassignStaff(ctx, clientA, admin.user.id);
    try {
      const res = await api(numberUrl(clientA.id, recordA.id));
      expect(res.status).to.equal(403);
      expect(res.text).to.not.contain(NUMBER_A);
      expect(await lastAudit()).to.include({ operation: 'vault.api.read', result: 'denied', detail: 'token maker not assigned' });
      // The people list too (names and codes are the client's personal data).
      const people = await api(`/api/v1/clients/${clientA.id}/people`);
      expect(people.status).to.equal(403);
      expect(people.text).to.not.contain('E001');
      expect(await lastAudit()).to.include({ operation: 'vault.api.list', result: 'denied', detail: 'token maker not assigned' });
    } finally {
      await assign(h, clientA.id, admin.user.id);
    }
    expect((await api(numberUrl(clientA.id, recordA.id))).status).to.equal(200);
  });

  it('no number and no token secret reached the log', () => {
    const all = logLines.join('\n');
    expect(all).to.contain('/api/v1/clients/');
    for (const s of [NUMBER_A, NUMBER_B, secret.slice(4)]) expect(all).to.not.contain(s);
  });
});
