/**
 * The data the load and soak scripts need, made by booting the portal's code in-process once on the
 * DATA_DIR (or database) the server process will use, then closing it before the server starts.
 */
import { pino } from 'pino';
import { loadConfig } from '../../server/config';
import { boot } from '../../server/boot';
import { hashPassword } from '../../server/auth/passwords';
import { newTotpSecret } from '../../server/auth/totp';
import { systemContext } from '../../server/audit';
import { AuditEvent, Employee, User } from '../../server/db/models';
import { checkDigit } from '../../server/vault/my-number';
import { findPerson } from '../../server/vault/people';

export const PASSWORD = 'load test password 123';

export interface Seeded {
  clientId: string;
  /** client admins (no TOTP) */
  admins: string[];
  staff: { email: string; totpSecret: string };
  recordIds: string[];
}

/** A valid My Number made from a seed: 11 digits, then the check digit. */
function validNumber(seed: number): string {
  const first11 = String((31_415_926_535 + seed * 7_919) % 100_000_000_000).padStart(11, '0');
  return `${first11}${checkDigit(first11)}`;
}

export async function seed(env: Record<string, string>, o: { admins: number; numbers: number }): Promise<Seeded> {
  const booted = await boot(loadConfig(env), { logger: pino({ level: 'silent' }) });
  try {
    const sys = systemContext('load');
    const { services } = booted;
    const client = await services.clients.create(sys, { code: 'LOAD', name: '負荷試験株式会社', nameKana: null, requireAdminTotp: false });
    const passwordHash = await hashPassword(PASSWORD);
    const base = { passwordHash, passwordChangedAt: new Date(), totpSecretSealed: null, totpEnabledAt: null, totpLastStep: null, disabledAt: null, lang: null };
    const admins: string[] = [];
    for (let i = 0; i < o.admins; i++) {
      const email = `admin${i}@load.example.jp`;
      await User.create({ ...base, email, name: `担当者 ${i}`, role: 'client_admin', clientId: client.id });
      admins.push(email);
    }
    // The firm staff member who reveals: TOTP enrolled (firm roles must have it), assigned to the client.
    const staffEmail = 'staff@load.example.jp';
    const staff = await User.create({ ...base, email: staffEmail, name: '事務所 職員', role: 'firm_staff', clientId: null });
    const totpSecret = newTotpSecret();
    await staff.update({ totpSecretSealed: services.keys.ring().sealSecret('totp', staff.id, Buffer.from(totpSecret)), totpEnabledAt: new Date() });
    const forAdmin = await services.clients.getFor({ role: 'firm_admin' } as User, client.id);
    await services.clients.assignStaff(sys, forAdmin, staff.id);
    const recordIds: string[] = [];
    for (let i = 0; i < o.numbers; i++) {
      const e = await Employee.create({ clientId: client.id, employeeCode: `L${String(i).padStart(4, '0')}`, name: `社員 ${i}`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null, userId: null });
      const r = await services.vault.register(sys, await findPerson(client.id, 'employee', e.id), { number: validNumber(1000 + i), issueDate: null }, { source: 'proxy', registeredBy: null });
      recordIds.push(r.id);
    }
    return { clientId: client.id, admins, staff: { email: staffEmail, totpSecret }, recordIds };
  } finally {
    await booted.close();
  }
}

/** Audit rows of allowed reveals, read by booting the portal's code again once the server has stopped. */
export async function countAllowedReveals(env: Record<string, string>): Promise<number> {
  const booted = await boot(loadConfig(env), { logger: pino({ level: 'silent' }) });
  try {
    return await AuditEvent.count({ where: { operation: 'vault.reveal', result: 'allowed' } });
  } finally {
    await booted.close();
  }
}
