import { Op } from 'sequelize';
import { expect } from 'chai';
import type { Harness } from '../support/harness';
import { makeClient, makeUser, type MadeUser } from '../support/factories';
import { SecBrowser, tableDump, fillPath, inlineProblems, ja, proxiedHarness, renderedPages, tableCounts } from '../support/security';
import { AuditEvent, Client, FileRead, Firm, RecoveryCode, StaffAssignment, StoredFile, User, OneTimeToken, Establishment, Department } from '../../server/db/models';
import { pdfBytes, uploadFiles } from '../support/files';
import { roleRules, type RoleRule } from '../../server/policies';
import { ROLES, type Role } from '../../server/db/models';
import type { RouteDef } from '../../server/web/routes';

/**
 * The routes anyone may reach without signing in. Adding a public route must be a deliberate
 * change here, next to the reason it is safe.
 */
const EXPECTED_PUBLIC = [
  'GET /', // redirects to /login or /home
  'GET /healthz', // status only, no data
  'POST /lang', // language cookie
  'GET /setup/:token', // one-time first-run link
  'POST /setup/:token',
  'GET /login',
  'POST /login',
  'GET /login/totp', // only with a pending password step in the session
  'POST /login/totp',
  'GET /password/forgot',
  'POST /password/forgot',
  'GET /password/reset/:token', // single-use mailed link
  'POST /password/reset/:token',
  'GET /password/set/:token', // invitation link
  'POST /password/set/:token',
  'GET /account/email/:token', // opened from the new mailbox, perhaps on another device: asked for under re-authentication, the single-use link is the proof
  'POST /account/email/:token',
  'GET /r/:token', // one-time registration link for a person without an account: token in the link, code handed over apart
  'POST /r/:token',
  'GET /r/done', // the thanks after a link's numbers are in: the same page for everyone, no data
  'GET /api/openapi.json', // the API's description only, no data
  'GET /verify', // certificate check: answers genuine / not genuine / unknown, nothing else (rate-limited)
  'POST /verify',
].sort();

const key = (r: { method: string; path: string }) => `${r.method.toUpperCase()} ${r.path}`;

describe('Security: access control and tenancy', () => {
  let h: Harness;
  let routes: RouteDef[];
  const users = {} as Record<Role, MadeUser>;
  const browsers = {} as Record<Role, SecBrowser>;
  /** each signed-in browser's CSRF token (stable for the session) */
  const tokens = {} as Record<Role, string>;
  let clientA: Client;
  let clientB: Client;

  before(async () => {
    h = await proxiedHarness();
    await Firm.create({ id: 1, name: '暁社会保険労務士事務所' });
    routes = h.portal.routes;
    clientA = await makeClient(h, { name: '株式会社A' });
    clientB = await makeClient(h, { name: '株式会社B' });
    for (const role of ROLES) {
      users[role] = await makeUser(h, { role, clientId: role === 'client_admin' || role === 'employee' ? clientA.id : null });
      browsers[role] = new SecBrowser(h.portal.app);
      await browsers[role].login(users[role]);
      tokens[role] = await browsers[role].csrf('/account');
    }
  });
  after(async () => { await h.close(); });

  const fresh = () => new SecBrowser(h.portal.app);
  /** A role the rule allows (to get past the route guard). */
  const allowedRole = (rule: RoleRule): Role => roleRules[rule][0];

  describe('the route table is the router', () => {
    it('lists exactly the routes Express has, and nothing is mounted outside it', () => {
      type Layer = { route?: { path: string; methods: Record<string, boolean> } };
      const stack = (h.portal.app as unknown as { router: { stack: Layer[] } }).router.stack;
      const mounted = stack.filter((l) => l.route).flatMap((l) => Object.keys(l.route!.methods).filter((m) => l.route!.methods[m] && m !== '_all').map((m) => `${m.toUpperCase()} ${l.route!.path}`));
      expect(mounted.length).to.be.greaterThan(20);
      expect([...mounted].sort()).to.deep.equal(routes.map(key).sort());
      expect(new Set(mounted).size).to.equal(mounted.length);
      // Every route names a known access rule.
      for (const r of routes) expect(r.access === 'public' || r.access === 'apiToken' || r.access in roleRules, key(r)).to.equal(true);
    });

    it('the public routes are exactly the expected list', () => {
      expect(routes.filter((r) => r.access === 'public').map(key).sort()).to.deep.equal(EXPECTED_PUBLIC);
    });
  });

  describe('without a session', () => {
    it('every non-public GET redirects to /login (303) and every non-public POST is 401, before the CSRF check', async () => {
      const b = fresh();
      const guarded = routes.filter((r) => r.access !== 'public' && r.access !== 'apiToken');
      expect(guarded.length).to.be.greaterThan(20);
      for (const r of guarded) {
        const path = fillPath(r.path);
        if (r.method === 'get') {
          const res = await b.get(path);
          expect(res.status, key(r)).to.equal(303);
          expect(res.headers.location, key(r)).to.equal(`/login?next=${encodeURIComponent(path)}`);
        } else {
          // No session and no token: the sign-in check answers first.
          const res = await b.agent.post(path).type('form').send({});
          expect(res.status, key(r)).to.equal(401);
          expect(res.text, key(r)).to.contain(ja('error.unauthenticated'));
        }
      }
    });

    it('every API route answers 401 JSON with WWW-Authenticate without a bearer token, even to a signed-in browser', async () => {
      const api = routes.filter((r) => r.access === 'apiToken');
      expect(api.length).to.be.greaterThan(0);
      for (const b of [fresh(), browsers.firm_admin]) {
        for (const r of api) {
          const res = await b.agent[r.method](fillPath(r.path, { clientId: clientA.id })).set('Authorization', 'Basic Zm9vOmJhcg==');
          expect(res.status, key(r)).to.equal(401);
          expect(res.headers['www-authenticate'], key(r)).to.match(/^Bearer /);
          expect(res.body.error.code, key(r)).to.equal('api.tokenRequired');
        }
      }
    });
  });

  describe('roles', () => {
    it('every route with a role rule answers 403 to each role the rule does not allow (GET, and POST with a valid CSRF token)', async () => {
      let checked = 0;
      const auditBefore = await AuditEvent.count({ where: { result: 'allowed' } });
      const refusalsBefore = await AuditEvent.count({ where: { operation: 'security.forbidden', result: 'denied' } });
      for (const r of routes) {
        if (r.access === 'public' || r.access === 'apiToken') continue;
        const allowed = roleRules[r.access] as readonly Role[];
        for (const role of ROLES.filter((x) => !allowed.includes(x))) {
          const b = browsers[role];
          const path = fillPath(r.path, { clientId: clientA.id, userId: users.employee.user.id });
          const res = r.method === 'get' ? await b.get(path) : await b.agent.post(path).type('form').send({ _csrf: tokens[role] });
          expect(res.status, `${role} ${key(r)}`).to.equal(403);
          expect(res.text, `${role} ${key(r)}`).to.contain(ja('error.forbidden'));
          checked += 1;
        }
      }
      // firm: 2 client roles × 3 routes; firmAdmin: 3 roles × many; clientAdmin: 3 roles × 4
      expect(checked).to.be.greaterThan(40);
      expect(await AuditEvent.count({ where: { result: 'allowed' } })).to.equal(auditBefore);
      // Each refusal is one security event.
      expect(await AuditEvent.count({ where: { operation: 'security.forbidden', result: 'denied' } })).to.equal(refusalsBefore + checked);
      // The tokens were valid: the same POST by an allowed role gets past the guard and CSRF.
      const ok = await browsers.client_admin.agent.post('/client/users').type('form').send({ _csrf: tokens.client_admin, name: '', email: '', role: 'employee' });
      expect(ok.status).to.equal(400);
      // And every signed-in browser is still signed in.
      for (const role of ROLES) expect((await browsers[role].get('/home')).status, role).to.equal(200);
    });
  });

  describe('firm staff see only their assigned clients', () => {
    it('an unassigned client is 404 like a missing one; assigned 200; unassigned again 404 at once', async () => {
      const staff = browsers.firm_staff;
      const admin = browsers.firm_admin;
      const url = `/firm/clients/${clientB.id}`;

      const unassigned = await staff.get(url);
      const missing = await staff.get(fillPath('/firm/clients/:clientId'));
      expect(unassigned.status).to.equal(404);
      expect(missing.status).to.equal(404);
      expect(unassigned.text).to.contain(ja('error.notFound'));
      expect(unassigned.text).to.not.contain(clientB.name);
      expect(unassigned.text).to.not.contain(clientB.code);
      // Not even the list shows it.
      expect((await staff.get('/firm/clients')).text).to.not.contain(clientB.code);

      const assigned = await admin.agent.post(`${url}/assignments`).type('form').send({ _csrf: tokens.firm_admin, userId: users.firm_staff.user.id });
      expect(assigned.status).to.equal(303);
      const now = await staff.get(url);
      expect(now.status).to.equal(200);
      expect(now.text).to.contain(clientB.name);
      expect((await staff.get('/firm/clients')).text).to.contain(clientB.code);

      const removed = await admin.agent.post(`${url}/assignments/${users.firm_staff.user.id}/delete`).type('form').send({ _csrf: tokens.firm_admin });
      expect(removed.status).to.equal(303);
      expect(await StaffAssignment.count({ where: { userId: users.firm_staff.user.id } })).to.equal(0);
      const again = await staff.get(url);
      expect(again.status).to.equal(404);
      expect(again.text).to.contain(ja('error.notFound'));
    });

    it('client users cannot open any client page of the firm, not even their own company\'s', async () => {
      for (const role of ['client_admin', 'employee'] as const) {
        expect((await browsers[role].get(`/firm/clients/${clientA.id}`)).status, role).to.equal(403);
      }
    });
  });

  describe('client admins see only their own company', () => {
    let otherUser: MadeUser;
    before(async () => {
      otherUser = await makeUser(h, { role: 'employee', clientId: clientB.id, totp: false });
      expect((await browsers.client_admin.reauth(users.client_admin)).status).to.equal(303);
      tokens.client_admin = await browsers.client_admin.csrf('/account');
    });

    it('disabling another client\'s user is 404, and nothing changes', async () => {
      const b = browsers.client_admin;
      for (const action of ['disable', 'enable']) {
        const res = await b.agent.post(`/client/users/${otherUser.user.id}/${action}`).type('form').send({ _csrf: tokens.client_admin });
        expect(res.status, action).to.equal(404);
        expect(res.text).to.contain(ja('error.notFound'));
      }
      // A firm user is not "another client's user" either, and just as unknown.
      const firm = await b.agent.post(`/client/users/${users.firm_staff.user.id}/disable`).type('form').send({ _csrf: tokens.client_admin });
      expect(firm.status).to.equal(404);
      expect((await User.findByPk(otherUser.user.id))!.disabledAt).to.equal(null);
      expect((await User.findByPk(users.firm_staff.user.id))!.disabledAt).to.equal(null);
      expect(await AuditEvent.count({ where: { operation: 'user.disable' } })).to.equal(0);
    });

    it('the user list shows only the own company', async () => {
      const res = await browsers.client_admin.get('/client/users');
      expect(res.status).to.equal(200);
      expect(res.text).to.contain(users.employee.email);
      expect(res.text).to.not.contain(otherUser.email);
    });

    it('(control) the same request for an own employee works', async () => {
      const own = await makeUser(h, { role: 'employee', clientId: clientA.id, totp: false });
      const res = await browsers.client_admin.agent.post(`/client/users/${own.user.id}/disable`).type('form').send({ _csrf: tokens.client_admin });
      expect(res.status).to.equal(303);
      expect((await User.findByPk(own.user.id))!.disabledAt).to.not.equal(null);
    });
  });

  describe('mass assignment', () => {
    it('POST /client/users with role=firm_admin is refused and creates nobody', async () => {
      const before = await User.count();
      const admins = await User.count({ where: { role: 'firm_admin' } });
      const res = await browsers.client_admin.agent.post('/client/users').type('form')
        .send({ _csrf: tokens.client_admin, name: '乗っ取り', email: 'escalate@example.jp', role: 'firm_admin' });
      expect(res.status).to.equal(400);
      expect(await User.count()).to.equal(before);
      expect(await User.count({ where: { role: 'firm_admin' } })).to.equal(admins);
      expect(await User.count({ where: { email: 'escalate@example.jp' } })).to.equal(0);
    });

    it('a clientId (or client_id) of another client in the body is ignored: the user lands in the admin\'s own company', async () => {
      const inB = await User.count({ where: { clientId: clientB.id } });
      const res = await browsers.client_admin.agent.post('/client/users').type('form')
        .send({ _csrf: tokens.client_admin, name: '越境 花子', email: 'crossing@example.jp', role: 'employee', clientId: clientB.id, client_id: clientB.id, id: clientB.id });
      // Taken, with the smuggled fields dropped: the invitation lands in the admin's own company.
      expect(res.status, res.text).to.equal(303);
      expect(await User.count({ where: { clientId: clientB.id } })).to.equal(inB);
      const made = (await User.findOne({ where: { email: 'crossing@example.jp' } }))!;
      expect([made.clientId, made.role, made.id === clientB.id]).to.deep.equal([clientA.id, 'employee', false]);
      // Ids are random (UUID version 4, 122 random bits), not counters one could walk.
      expect(made.id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });

    it('JSON bodies cannot smuggle fields either', async () => {
      const res = await browsers.client_admin.agent.post('/client/users').set('X-CSRF-Token', tokens.client_admin)
        .send({ name: '越境 次郎', email: 'crossing2@example.jp', role: 'client_admin', clientId: clientB.id, totpEnabledAt: null, passwordHash: 'x' });
      // A form route reads no JSON: the body is empty to it, so the form is refused for want of its fields and nobody is made.
      expect(res.status).to.equal(400);
      expect(await User.count({ where: { email: 'crossing2@example.jp' } })).to.equal(0);
      expect(await User.count({ where: { clientId: clientB.id, role: 'client_admin' } })).to.equal(0);
    });

    it('the firm admin\'s "add user to client" form cannot create firm roles', async () => {
      const admins = await User.count({ where: { role: 'firm_admin' } });
      for (const role of ['firm_admin', 'firm_staff']) {
        const res = await browsers.firm_admin.agent.post(`/firm/clients/${clientA.id}/users`).type('form')
          .send({ _csrf: tokens.firm_admin, name: '偽管理者', email: `fake-${role}@example.jp`, role });
        expect(res.status, role).to.equal(400);
        expect(await User.count({ where: { email: `fake-${role}@example.jp` } })).to.equal(0);
      }
      expect(await User.count({ where: { role: 'firm_admin' } })).to.equal(admins);
    });
  });

  describe('re-authentication', () => {
    it('every route marked for re-authentication answers 403 without it, changes nothing, and logs exactly one refusal (the operation itself where the route names one)', async () => {
      const marked = routes.filter((r) => (r as { reauth?: boolean }).reauth);
      expect(marked.map(key)).to.include.members(['POST /firm/clients/:clientId/numbers/print', 'POST /firm/clients/:clientId/numbers/export', 'POST /files/:fileId/download']);
      const signedIn = new Map<Role, SecBrowser>();
      for (const r of marked) {
        if (r.access === 'public' || r.access === 'apiToken') throw new Error(`${key(r)}: re-authentication on a route without a session`);
        const role = allowedRole(r.access);
        if (!signedIn.has(role)) {
          const b = fresh();
          await b.login(users[role]);
          signedIn.set(role, b);
        }
        const b = signedIn.get(role)!;
        const before = await tableCounts(h.booted.sequelize);
        const seq = Number((await AuditEvent.max('seq')) ?? 0);
        const path = fillPath(r.path, { clientId: clientA.id, userId: users.employee.user.id });
        const res = r.method === 'get' ? await b.get(path) : await b.agent.post(path).type('form').send({ _csrf: await b.csrf('/account'), purpose: 'withholding_slip', office: 'tax_office', ids: '00000000-0000-4000-8000-000000000000' });
        const after = await tableCounts(h.booted.sequelize);
        expect({ ...after, AuditEvent: before.AuditEvent }, key(r)).to.deep.equal(before);
        const rows = (await AuditEvent.findAll({ where: { seq: { [Op.gt]: seq } } })).map((row) => `${row.operation} ${row.result} ${row.actorId === users[role].user.id}`);
        if (r.method === 'get') {
          // A page asks for re-authentication and comes back: nothing was attempted yet.
          expect([res.status, res.headers.location], key(r)).to.deep.equal([303, `/reauth?next=${encodeURIComponent(path)}`]);
          expect(rows, key(r)).to.deep.equal([]);
          continue;
        }
        expect(res.status, key(r)).to.equal(403);
        expect(rows, key(r)).to.deep.equal([`${(r as { deniedAs?: string }).deniedAs ?? 'security.reauth'} denied true`]);
      }
    });
  });

  describe('GET never changes state', () => {
    // Every row of every table (the log itself is checked apart: refused GETs of signed-in people are security events, and only those).
    const snapshot = () => tableDump(h.booted.sequelize, ['AuditEvent', 'AuditHead']);

    it('every GET route, as a firm admin (also re-authenticated), as every other role and signed out, changes nothing; the log gains only the refusals of signed-in people', async function () {
      this.timeout(120_000); // several hundred requests: over 30 s on MariaDB on a busy 2-core machine
      // Downloads of the log and of reports record the read itself (below); every other GET writes nothing.
      const gets = routes.filter((r) => r.method === 'get' && !r.logsReads);
      expect(gets.length).to.be.greaterThan(10);
      await browsers.firm_admin.reauth(users.firm_admin);
      const sweepers: [string, SecBrowser][] = [['firm_admin', browsers.firm_admin], ...ROLES.filter((r) => r !== 'firm_admin').map((r) => [r, browsers[r]] as [string, SecBrowser]), ['anonymous', fresh()]];
      const before = await snapshot();
      const seqBefore = Number((await AuditEvent.max('seq')) ?? 0);
      let answered = 0;
      for (const [who, b] of sweepers) {
        for (const r of gets) {
          for (const params of [{ clientId: clientA.id, token: 'a'.repeat(43) }, {}] as Record<string, string>[]) {
            const res = await b.get(fillPath(r.path, params));
            expect(res.status, `${who} ${key(r)}`).to.be.below(500);
            answered += 1;
          }
        }
      }
      expect(answered).to.equal(sweepers.length * gets.length * 2);
      expect(await snapshot()).to.deep.equal(before);
      const added = await AuditEvent.findAll({ where: { seq: { [Op.gt]: seqBefore } } });
      expect(added.length, 'refusals recorded').to.be.greaterThan(0);
      for (const row of added) {
        expect([row.operation.startsWith('security.'), row.result, row.actorId !== null], `${row.operation} ${row.detail}`).to.deep.equal([true, 'denied', true]);
      }
      expect(await h.booted.services.audit.verify()).to.include({ ok: true });
      // The firm admin really saw the pages (not just redirects).
      expect((await browsers.firm_admin.get(`/firm/clients/${clientA.id}`)).status).to.equal(200);
    });
  });

  describe('GETs that log the read', () => {
    it('write audit rows of the read only (nothing else changes), and only for a signed-in reader', async () => {
      const logged = routes.filter((r) => r.logsReads);
      expect(logged.map(key).sort()).to.deep.equal(['GET /audit.csv', 'GET /audit.pdf', 'GET /certificates/:certificateId/download', 'GET /files/:fileId/download', 'GET /reports/:reportId/download']);
      // The firm's signing identity is made on first use; make it before counting.
      await h.booted.services.renderLogPdf(['x'], [], [], 'ja');
      const before = await tableCounts(h.booted.sequelize);
      const anonymous = fresh();
      for (const r of logged) expect((await anonymous.get(fillPath(r.path))).status, key(r)).to.equal(303);
      expect(await tableCounts(h.booted.sequelize)).to.deep.equal(before);
      for (const r of logged.filter((x) => x.path.startsWith('/audit'))) {
        expect((await browsers.client_admin.get(r.path)).status, key(r)).to.equal(200);
      }
      const after = await tableCounts(h.booted.sequelize);
      expect({ ...after, AuditEvent: before.AuditEvent }).to.deep.equal(before);
      expect(after.AuditEvent).to.equal(before.AuditEvent! + 2);
    });

    it('a file\'s download writes its audit row and its recipient\'s read receipt, nothing else; a stranger\'s writes nothing', async () => {
      const sent = await uploadFiles(browsers.firm_admin, { direction: 'to_client', clientId: clientA.id, category: 'other' }, [{ name: '給与明細.pdf', data: pdfBytes(3000) }]);
      expect(sent.status).to.equal(200);
      const file = (await StoredFile.findOne({ where: { clientId: clientA.id, displayName: '給与明細.pdf' } }))!;
      const before = await tableCounts(h.booted.sequelize);
      expect((await fresh().get(`/files/${file.id}/download`)).status).to.equal(303);
      expect((await browsers.client_admin.get(`/files/${file.id}/download`)).status).to.equal(200);
      const once = await tableCounts(h.booted.sequelize);
      expect({ ...once, AuditEvent: before.AuditEvent, FileRead: before.FileRead }).to.deep.equal(before);
      expect([once.AuditEvent, once.FileRead]).to.deep.equal([before.AuditEvent! + 1, before.FileRead! + 1]);
      // Read again: one more audit row, the same receipt (its count and time move on).
      expect((await browsers.client_admin.get(`/files/${file.id}/download`)).status).to.equal(200);
      const twice = await tableCounts(h.booted.sequelize);
      expect([twice.AuditEvent, twice.FileRead]).to.deep.equal([before.AuditEvent! + 2, before.FileRead! + 1]);
      expect((await FileRead.findOne({ where: { fileId: file.id } }))!.count).to.equal(2);
    });
  });

  describe('CSRF', () => {
    it('every POST route without a CSRF token is 403 with the Japanese CSRF message, and does nothing', async () => {
      const posts = routes.filter((r) => r.method === 'post');
      const before = await tableCounts(h.booted.sequelize);
      expect(before.User).to.be.greaterThan(0);
      const seqBefore = Number((await AuditEvent.max('seq')) ?? 0);
      let signedInRefusals = 0;
      for (const r of posts) {
        const b = r.access === 'public' || r.access === 'apiToken' ? fresh() : browsers[allowedRole(r.access)];
        if (!(r.access === 'public' || r.access === 'apiToken')) signedInRefusals += 2;
        if (r.access === 'public' || r.access === 'apiToken') await b.get('/login'); // a session exists, just no token sent
        const path = fillPath(r.path, { clientId: clientA.id, userId: users.employee.user.id });
        const body = { email: users.employee.email, password: users.employee.password, lang: 'en', name: 'x', role: 'employee', code: '123456' };
        // A multipart route gets what a cross-site form would send it: a file.
        const send = (extra: Record<string, string>) => {
          if (!(r as { multipart?: boolean }).multipart) return b.agent.post(path).type('form').send({ ...body, ...extra });
          let req = b.agent.post(path);
          for (const [k, v] of Object.entries({ ...extra, clientId: clientA.id, category: 'other', direction: 'to_client' })) req = req.field(k, v);
          return req.attach('files', Buffer.from('%PDF-1.4\n%%EOF\n'), 'evil.pdf');
        };
        for (const res of [await send({}), await send({ _csrf: 'not-the-token' })]) {
          expect(res.status, key(r)).to.equal(403);
          expect(res.text, key(r)).to.contain(ja('error.csrf'));
        }
      }
      // Nothing changed but the log, which holds one security event for each refused request of a signed-in person.
      const after = await tableCounts(h.booted.sequelize);
      expect({ ...after, AuditEvent: before.AuditEvent }).to.deep.equal(before);
      const added = await AuditEvent.findAll({ where: { seq: { [Op.gt]: seqBefore } } });
      expect(added.map((row) => `${row.operation} ${row.result}`)).to.deep.equal(Array(signedInRefusals).fill('security.csrf denied'));
      // Still signed in: a refused POST /logout did not sign anyone out.
      expect((await browsers.employee.get('/home')).status).to.equal(200);
    });

    it('a token from another session is refused', async () => {
      const res = await browsers.employee.agent.post('/logout').type('form').send({ _csrf: tokens.client_admin });
      expect(res.status).to.equal(403);
      expect(res.text).to.contain(ja('error.csrf'));
      expect((await browsers.employee.get('/home')).status).to.equal(200);
    });

    it('the token is also accepted in the X-CSRF-Token header, and only the right one', async () => {
      const b = browsers.employee;
      const lang = await b.agent.post('/lang').set('X-CSRF-Token', 'wrong').type('form').send({ lang: 'ja' });
      expect(lang.status).to.equal(403);
      const ok = await b.agent.post('/lang').set('X-CSRF-Token', tokens.employee).type('form').send({ lang: 'ja' });
      expect(ok.status).to.equal(303);
    });
  });

  describe('pages rendered by this suite', () => {
    it('have no inline script or style', () => {
      expect(renderedPages.length).to.be.greaterThan(50);
      for (const p of renderedPages) expect(inlineProblems(p.html), `${p.status} ${p.url}`).to.deep.equal([]);
    });
  });
});
