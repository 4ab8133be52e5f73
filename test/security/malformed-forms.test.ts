import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import type { Harness } from '../support/harness';
import { assign, makeClient, makeUser, type MadeUser } from '../support/factories';
import { SecBrowser, fillPath, proxiedHarness, JAPANESE, ja } from '../support/security';
import { CATEGORIES, Employee, Firm, ROLES, type Client, type Role } from '../../server/db/models';
import { roleRules } from '../../server/policies';
import { findPerson } from '../../server/vault/people';
import { systemContext } from '../../server/audit';
import { numberFrom } from '../support/vault';
import type { RouteDef } from '../../server/web/routes';

/** Every field name a form of the portal has (the templates' name="…", and the retention rules' per-category fields). */
function formFieldNames(): string[] {
  const names = new Set<string>(CATEGORIES.map((c) => `file_${c}`));
  const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  for (const f of walk(path.resolve(import.meta.dirname, '../../views'))) {
    for (const m of fs.readFileSync(f, 'utf8').matchAll(/name="([A-Za-z_]\w*)"/g)) if (m[1] !== '_csrf') names.add(m[1]!);
  }
  return [...names].sort();
}

/**
 * Whatever a form is sent — nothing at all, every field twice (an array where a string is
 * expected), every field far too long — the portal answers with a refusal (4xx, a message in
 * Japanese on a page) or does the harmless thing, never a server error.
 */
describe('Security: malformed form posts are refused, never a server error', function () {
  this.timeout(120_000);
  let h: Harness;
  let client: Client;
  const users = {} as Record<Role, MadeUser>;
  const browsers = {} as Record<Role, SecBrowser>;
  const tokens = {} as Record<Role, string>;
  let params: Record<string, string>;
  let routes: RouteDef[];

  before(async () => {
    h = await proxiedHarness();
    await Firm.create({ id: 1, name: '暁社会保険労務士事務所' });
    client = await makeClient(h, { name: '株式会社ふせい' });
    for (const role of ROLES) {
      users[role] = await makeUser(h, { role, clientId: role === 'client_admin' || role === 'employee' ? client.id : null });
      browsers[role] = new SecBrowser(h.portal.app);
      await browsers[role].login(users[role]);
    }
    await assign(h, client.id, users.firm_staff.user.id);
    // Re-authenticated (a new session id), then the token of that session.
    for (const role of ['firm_admin', 'firm_staff', 'client_admin'] as Role[]) await browsers[role].reauth(users[role]);
    for (const role of ROLES) tokens[role] = await browsers[role].csrf('/account');
    const employee = await Employee.create({ clientId: client.id, employeeCode: 'F001', name: '不正 太郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: users.employee.user.id });
    const record = await h.booted.services.vault.register(systemContext('test'), await findPerson(client.id, 'employee', employee.id), { number: numberFrom(44445555666), issueDate: null }, { source: 'proxy', registeredBy: null });
    // Real ids wherever a route names one, so the form itself is read (a made-up id is refused before it).
    const spare = await makeUser(h, { role: 'employee', clientId: client.id });
    params = { clientId: client.id, employeeId: employee.id, kind: 'employee', personId: employee.id, recordId: record.id, userId: spare.user.id, token: 'a'.repeat(43) };
    // Multipart posts have their own malformed-body tests (uploads); signing out would end the sweep's session.
    routes = h.portal.routes.filter((r) => r.method === 'post' && !r.multipart && r.path !== '/logout');
  });
  after(async () => { await h.close(); });

  const fields = formFieldNames();
  // Which client a form is about stays right (a wrong one is refused first, before the rest is read: tested elsewhere).
  const ids = () => ({ clientId: client.id, client: client.id });
  const bodies: [string, 'form' | 'json', () => Record<string, unknown>][] = [
    ['nothing', 'form', () => ({})],
    ['every field twice', 'form', () => ({ ...Object.fromEntries(fields.map((f) => [f, ['1', 'x']])), ...ids() })],
    ['every field 600 characters', 'form', () => ({ ...Object.fromEntries(fields.map((f) => [f, 'x'.repeat(600)])), ...ids() })],
    // The JSON parser is on for every route (the API, the passkey steps): objects and numbers where strings belong.
    ['every field an object (JSON)', 'json', () => ({ ...Object.fromEntries(fields.map((f) => [f, { length: 1, toString: 'x' }])), ...ids() })],
    ['every field a number (JSON)', 'json', () => ({ ...Object.fromEntries(fields.map((f) => [f, 12])), ...ids() })],
  ];

  it('knows the forms it sends (the templates name their fields)', () => {
    expect(fields).to.include.members(['email', 'items', 'ids', 'reason', 'number', 'leaveDate', 'purpose', 'userId', 'file_contract'.replace('contract', CATEGORIES[0]!)]);
    expect(routes.length).to.be.greaterThan(40);
    expect(routes.filter((r) => r.json).map((r) => r.path).sort()).to.deep.equal(['/account/passkeys', '/reauth/passkey']);
  });

  it('every page, asked with every field twice or too long in its query string, answers below 500', async () => {
    const gets = h.portal.routes.filter((r) => r.method === 'get');
    const queries = [
      new URLSearchParams([...fields.flatMap((f): [string, string][] => [[f, '1'], [f, 'x']]), ['client', client.id]]).toString(),
      // (150 characters each: the whole URL stays under Node's 16 KB header limit, so the page itself answers)
      new URLSearchParams([...fields.map((f): [string, string] => [f, 'x'.repeat(150)]), ['client', client.id]]).toString(),
    ];
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    for (const query of queries) {
      for (const r of gets) {
        const role: Role | null = r.access === 'public' || r.access === 'apiToken' ? null : r.access === 'signedIn' ? 'client_admin' : r.access === 'firm' ? 'firm_staff' : roleRules[r.access as keyof typeof roleRules][0];
        const b = role ? browsers[role] : new SecBrowser(h.portal.app);
        const res = await b.get(`${fillPath(r.path, params)}?${query}`);
        if (res.status >= 500 || res.status === 431) problems.push(`${role ?? 'anonymous'} GET ${r.path}?${query.slice(0, 40)}… → ${res.status}`);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    }
    expect(problems).to.deep.equal([]);
    expect(gets.length).to.be.greaterThan(30);
    // Most pages were shown, not merely refused.
    expect(statuses.get(200) ?? 0, JSON.stringify([...statuses])).to.be.greaterThan(gets.length);
  });

  it('a path whose id cannot be decoded (a cut %-escape) is refused in Japanese (400, or 404 where ids are looked up first) on every page that takes one', async () => {
    const withParams = h.portal.routes.filter((r) => r.method === 'get' && r.path.includes(':'));
    const answers: string[] = [];
    const statuses = new Map<number, number>();
    for (const r of withParams) {
      const role: Role | null = r.access === 'public' || r.access === 'apiToken' ? null : r.access === 'signedIn' ? 'client_admin' : r.access === 'firm' ? 'firm_staff' : roleRules[r.access as keyof typeof roleRules][0];
      const b = role ? browsers[role] : new SecBrowser(h.portal.app);
      const res = await b.get(fillPath(r.path, Object.fromEntries(Object.keys(params).map((k) => [k, '%E0%A4%A']))));
      // Never a server error, whatever the role (an API route answers in JSON).
      if (![400, 404].includes(res.status) || !JAPANESE.test(res.text)) answers.push(`${role ?? 'anonymous'} GET ${r.path} → ${res.status}`);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    expect(withParams.length).to.be.greaterThan(10);
    expect(answers).to.deep.equal([]);
    expect(statuses.get(400) ?? 0).to.be.greaterThan(10);
  });

  for (const [label, type, body] of bodies) {
    it(`${label}: every form post answers below 500, a refusal with its message in Japanese`, async () => {
      const answered: string[] = [];
      const problems: string[] = [];
      for (const r of routes) {
        const role: Role | null = r.access === 'public' ? null : r.access === 'signedIn' ? 'client_admin' : r.access === 'firm' ? 'firm_staff' : roleRules[r.access as keyof typeof roleRules][0];
        const b = role ? browsers[role] : new SecBrowser(h.portal.app);
        const token = role ? tokens[role] : await b.csrf('/login');
        const res = await b.agent.post(fillPath(r.path, params)).type(type).send({ _csrf: token, ...body() });
        const what = `${label}: ${role ?? 'anonymous'} POST ${r.path} → ${res.status}`;
        // Only the routes that take JSON read it: for any other form a JSON body is no body (its token unread: 403).
        const unread = type === 'json' && !r.json;
        if (res.status >= 500) problems.push(what);
        else if (unread) { if (res.status !== 403 || !res.text.includes(ja('error.csrf'))) problems.push(`${what}: a form route read a JSON body`); }
        else if (res.text.includes(ja('error.csrf'))) problems.push(`${what}: the form's own token was refused`);
        else if (res.status >= 400 && /text\/html/.test(String(res.headers['content-type'])) && !JAPANESE.test(res.text)) problems.push(`${what}: no message in Japanese`);
        answered.push(what);
        if (process.env.SHOW) console.log(what);
      }
      expect(problems).to.deep.equal([]);
      expect(answered).to.have.length(routes.length);
      // The sweep ran signed in: each role still has its session.
      for (const role of ['firm_admin', 'client_admin'] as Role[]) expect((await browsers[role].get('/account')).status, role).to.equal(200);
    });
  }
});
