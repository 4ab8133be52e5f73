import { randomBytes } from 'node:crypto';
import FakeTimers from '@sinonjs/fake-timers';
import { Op } from 'sequelize';
import { pino } from 'pino';
import { boot, configFromEnvironment } from '../server/boot';
import { systemContext } from '../server/audit';
import { hashPassword } from '../server/auth/passwords';
import { newTotpSecret } from '../server/auth/totp';
import { Client, Department, Dependant, Employee, Establishment, Firm, NumberRecord, Payee, User, type Role } from '../server/db/models';
import type { ActorContext } from '../server/audit';
import { checkDigit } from '../server/vault/my-number';
import { listPeople } from '../server/vault/people';
import { periodContaining, previousPeriod } from '../server/reports/periods';

/**
 * `npm run demo`: a demo firm in DATA_DIR (two client companies with establishments, departments,
 * employees and dependants; staff; assignments), then how to sign in. Passwords and TOTP seeds are
 * made up on the spot and printed once; nothing is hard-coded.
 */
const FIRM_NAME = '暁社会保険労務士事務所（デモ）';

interface DemoClient {
  code: string; name: string; kana: string;
  /** The company's HR person (its client admin): a person's name, as the mails address them by it. */
  hr: string;
  establishments: { name: string; address: string }[];
  departments: { code: string; name: string }[];
  employees: { code: string; name: string; kana: string; dept: string; hire: string; leave?: string; dependants?: { name: string; kana: string; rel: string }[] }[];
}

const CLIENTS: DemoClient[] = [
  {
    code: 'MINATO', name: '株式会社みなと商事', kana: 'カブシキガイシャミナトショウジ', hr: '佐藤 恵子',
    establishments: [{ name: '本社', address: '東京都港区芝浦1-1-1' }, { name: '横浜営業所', address: '神奈川県横浜市中区山下町2-2' }],
    departments: [{ code: '100', name: '総務部' }, { code: '200', name: '営業部' }, { code: '300', name: '物流部' }],
    employees: [
      { code: 'M0001', name: '山田 太郎', kana: 'ヤマダ タロウ', dept: '100', hire: '2015-04-01', dependants: [{ name: '山田 花子', kana: 'ヤマダ ハナコ', rel: 'spouse' }, { name: '山田 一郎', kana: 'ヤマダ イチロウ', rel: 'child' }] },
      { code: 'M0002', name: '鈴木 次郎', kana: 'スズキ ジロウ', dept: '200', hire: '2018-10-01' },
      { code: 'M0003', name: '高橋 美咲', kana: 'タカハシ ミサキ', dept: '200', hire: '2020-04-01', dependants: [{ name: '高橋 健', kana: 'タカハシ ケン', rel: 'child' }] },
      { code: 'M0004', name: '伊藤 誠', kana: 'イトウ マコト', dept: '300', hire: '2012-07-01', leave: '2024-03-31' },
    ],
  },
  {
    code: 'SAKURA', name: '有限会社さくら製作所', kana: 'ユウゲンガイシャサクラセイサクショ', hr: '小林 直樹',
    establishments: [{ name: '本社工場', address: '埼玉県川口市本町3-3-3' }],
    departments: [{ code: 'A', name: '製造課' }, { code: 'B', name: '管理課' }],
    employees: [
      { code: 'S001', name: '渡辺 健一', kana: 'ワタナベ ケンイチ', dept: 'A', hire: '2010-04-01', dependants: [{ name: '渡辺 由美', kana: 'ワタナベ ユミ', rel: 'spouse' }] },
      { code: 'S002', name: '中村 さくら', kana: 'ナカムラ サクラ', dept: 'B', hire: '2022-01-10' },
    ],
  },
];

const password = () => `demo-${randomBytes(9).toString('base64url')}`;

/** A made-up number with a valid check digit; random, never printed. */
function demoNumber(): string {
  const first = Array.from(randomBytes(11), (b) => String(b % 10)).join('');
  return `${first}${checkDigit(first)}`;
}

const asUser = (u: User, channel: string): ActorContext => ({
  actorId: u.id, actorName: u.name, actorRole: u.role, ip: '127.0.0.1', userAgent: 'demo', channel,
});

/**
 * The demo firm has used the portal since the 10th of last month (Japan time): what it did then is
 * dated then, so last month's access report, built at the end, has something to tell. Only the
 * clock of this process is moved back (Date alone; timers run as usual), and only until the history
 * is written; the audit chain stays in order because the database starts empty.
 */
function lastMonthsTenth(): Date {
  const last = previousPeriod(periodContaining('monthly', new Date()));
  return new Date(last.start.getTime() + 9 * 86400_000 + 10 * 3600_000);
}

async function main() {
  const config = configFromEnvironment();
  const history = FakeTimers.install({ now: lastMonthsTenth(), toFake: ['Date'] });
  /** Time passes in the demo's history between its steps. */
  let inHistory = true;
  const later = (minutes: number) => { if (inHistory) history.tick(minutes * 60_000); };
  const backToToday = () => { if (inHistory) { history.uninstall(); inHistory = false; } };
  const booted = await boot(config, { logger: pino({ level: 'silent' }) });
  const { services } = booted;
  try {
    if (services.keys.sealed) throw new Error('the portal is sealed (wrong or missing master key); the demo needs a working key');
    if ((await User.count()) > 0) {
      throw new Error(`${config.dataDir} already holds users. Run the demo into a fresh folder, e.g. DATA_DIR=data-demo npm run demo`);
    }
    const ctx = systemContext('cli:demo');
    const certificates: string[] = [];
    const logins: { role: string; email: string; password: string; totp: string | null }[] = [];

    async function person(role: Role, name: string, email: string, clientId: string | null, withTotp: boolean) {
      const pw = password();
      const user = await User.create({
        email, name, role, clientId, passwordHash: await hashPassword(pw), passwordChangedAt: new Date(),
        totpSecretSealed: null, totpEnabledAt: null, totpLastStep: null, disabledAt: null, lang: null,
      });
      let secret: string | null = null;
      if (withTotp) {
        secret = newTotpSecret();
        await user.update({ totpSecretSealed: services.keys.ring().sealSecret('totp', user.id, Buffer.from(secret)), totpEnabledAt: new Date() });
      }
      logins.push({ role, email, password: pw, totp: secret });
      return user;
    }

    /**
     * Every demo person gets a number (one payee left to register through a one-time link), some
     * confirmed; then a few past accesses by the assigned staff member, so the log is not empty.
     */
    async function demoVault(client: Client, staffUser: User, employeeUser: User) {
      const people = await listPeople(client.id);
      const records = [];
      for (const [n, p] of people.entries()) {
        if (p.kind === 'payee' && n === people.length - 1 && client.code === 'SAKURA') continue;
        const self = p.employee?.userId === employeeUser.id && p.kind === 'employee';
        const record = await services.vault.register(self ? asUser(employeeUser, 'web:/me/numbers') : ctx, p, { number: demoNumber(), issueDate: '2016-01-01' }, {
          source: self ? 'self' : 'proxy', confirmedByPerson: self, registeredBy: self ? employeeUser.id : null,
        });
        if (n % 2 === 0) await services.vault.confirm(ctx, client.id, record.id, 'admin');
        records.push(record);
      }
      later(3 * 24 * 60 + 90);
      const staffCtx = asUser(staffUser, 'web:/firm/clients/:clientId/numbers/:recordId/reveal');
      await services.vault.open(staffCtx, client.id, records.slice(0, 2).map((r) => r.id), { purpose: 'withholding_slip', office: 'tax_office' }, 'vault.reveal');
      later(25);
      await services.vault.open({ ...staffCtx, channel: 'web:/firm/clients/:clientId/numbers/print' }, client.id, records.filter((r) => r.personKind === 'employee').slice(0, 3).map((r) => r.id), { purpose: 'social_insurance_acquire', office: 'pension_office' }, 'vault.print');
    }

    await Firm.create({ id: 1, name: FIRM_NAME });
    const firmAdmin = await person('firm_admin', '暁 所長', 'admin@akatsuki.example', null, true);
    const staff = [
      await person('firm_staff', '佐藤 職員', 'sato@akatsuki.example', null, true),
      await person('firm_staff', '田中 職員', 'tanaka@akatsuki.example', null, true),
    ];

    for (const [i, c] of CLIENTS.entries()) {
      const client = await services.clients.create(ctx, { code: c.code, name: c.name, nameKana: c.kana, requireAdminTotp: false });
      for (const e of c.establishments) await services.clients.addEstablishment(ctx, client, { name: e.name, address: e.address });
      for (const d of c.departments) await services.clients.addDepartment(ctx, client, d);
      const depts = new Map((await Department.findAll({ where: { clientId: client.id } })).map((d) => [d.code, d.id]));
      const firstEstablishment = (await Establishment.findOne({ where: { clientId: client.id } }))!;
      for (const e of c.employees) {
        const emp = await Employee.create({
          clientId: client.id, employeeCode: e.code, name: e.name, nameKana: e.kana, departmentId: depts.get(e.dept) ?? null,
          establishmentId: firstEstablishment.id, hireDate: e.hire, leaveDate: e.leave ?? null, userId: null,
        });
        for (const d of e.dependants ?? []) {
          await Dependant.create({ clientId: client.id, employeeId: emp.id, name: d.name, nameKana: d.kana, relationship: d.rel });
        }
      }
      await services.clients.assignStaff(ctx, client, staff[i]!.id);
      const domain = c.code.toLowerCase();
      const clientAdmin = await person('client_admin', c.hr, `hr@${domain}.example`, client.id, false);
      const first = c.employees[0]!;
      const empUser = await person('employee', first.name, `${first.code.toLowerCase()}@${domain}.example`, client.id, false);
      await Employee.update({ userId: empUser.id }, { where: { clientId: client.id, employeeCode: first.code } });
      await Payee.create({ clientId: client.id, code: `P${i + 1}01`, name: i === 0 ? '小林 弁護士' : '加藤 講師', nameKana: null, kind: i === 0 ? 'expert' : 'lecturer' });
      later(2 * 60);
      await demoVault(client, staff[i]!, empUser);
      later(5 * 24 * 60);
      // One executed disposal with its certificate: the number of the employee who left, brought forward.
      const leaver = c.employees.find((e) => e.leave);
      if (leaver) {
        const emp = (await Employee.findOne({ where: { clientId: client.id, employeeCode: leaver.code } }))!;
        const record = (await NumberRecord.findOne({ where: { clientId: client.id, personKind: 'employee', personId: emp.id } }))!;
        const req = await services.disposal.request(asUser(clientAdmin, 'web:/disposal/requests'), clientAdmin, client.id, [{ kind: 'number', id: record.id }], '退職後の手続きがすべて完了したため');
        await services.disposal.approve(asUser(firmAdmin, 'web:/disposal/requests/:requestId/approve'), firmAdmin, req.id);
        const cert = await services.disposal.execute(req.id);
        certificates.push(cert!.number);
      }
      later(24 * 60);
    }
    // Today: the assigned staff member opens a number again (this month's log), and last month's
    // access reports are built, finished and signed, telling what was done then.
    backToToday();
    for (const [i, c] of CLIENTS.entries()) {
      const client = (await Client.findOne({ where: { code: c.code } }))!;
      const record = (await NumberRecord.findOne({ where: { clientId: client.id, personKind: 'employee', sealedNumber: { [Op.ne]: null } }, order: [['createdAt', 'ASC']] }))!;
      await services.vault.open(asUser(staff[i]!, 'web:/firm/clients/:clientId/numbers/:recordId/reveal'), client.id, [record.id], { purpose: 'withholding_slip', office: 'tax_office' }, 'vault.reveal');
      await services.reports.build(client.id, previousPeriod(periodContaining('monthly', new Date())));
    }
    await services.outbox.deliverDue();

    console.log(`\n暁ポータル demo loaded into ${config.dataDir}`);
    console.log(`Start it with:  DATA_DIR=${process.env.DATA_DIR ?? 'data'} npm start   then open ${config.publicUrl}/login\n`);
    console.log(`Firm: ${FIRM_NAME}`);
    console.log(`Client codes: ${CLIENTS.map((c) => `${c.code} (${c.name})`).join(', ')}\n`);
    console.log('Sign-ins (passwords shown only now):');
    for (const l of logins) {
      console.log(`  ${l.role.padEnd(12)} ${l.email.padEnd(28)} ${l.password}`);
      if (l.totp) console.log(`  ${''.padEnd(12)} TOTP key for your authenticator app: ${l.totp}`);
    }
    console.log('\nMy Numbers: made-up numbers with valid check digits are registered for every demo person (never printed);');
    console.log('the assigned staff member can reveal them after re-authentication, with a purpose and submission office.');
    console.log(`Disposal: one executed disposal with its certificate (${certificates.join(', ')}); see 廃棄 and 廃棄・削除証明書.`);
    console.log('History: the demo firm has used the portal since the 10th of last month; what it did then is dated then.');
    console.log('Access reports: last month\'s report for each client, telling that history, is ready under 報告書 (the client admin) and the client page (the firm).');
    console.log('\nFirm roles sign in with password + the 6-digit code from an authenticator app holding the TOTP key above.');
  } finally {
    backToToday();
    await booted.close();
  }
}

main().catch((err: unknown) => {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
