import { StaffAssignment, type StoredFile, type User } from './db/models';

/**
 * Who may do what, in one list. Routes name a rule by its key; services call the same functions
 * for the object-level checks (which client a user may see).
 */
export const roleRules = {
  /** any signed-in user: their own account, sign-out, re-authentication */
  signedIn: ['firm_admin', 'firm_staff', 'client_admin', 'employee'],
  /** the firm's side: client list, assigned clients */
  firm: ['firm_admin', 'firm_staff'],
  /** manage staff, clients, assignments, settings */
  firmAdmin: ['firm_admin'],
  /** a client company's administrator: their own users */
  clientAdmin: ['client_admin'],
  /** who reads the access log: the firm (its clients) and a client's admin (their own company) */
  logViewers: ['firm_admin', 'firm_staff', 'client_admin'],
  /** an employee of a client: their own numbers (じぶんで登録) */
  employee: ['employee'],
} as const;

export type RoleRule = keyof typeof roleRules;

export function roleAllows(rule: RoleRule, user: Pick<User, 'role'>): boolean {
  return (roleRules[rule] as readonly string[]).includes(user.role);
}

/**
 * Whether a user may see a client's data at all: the firm admin every client, staff only the
 * clients assigned to them (checked on every request, so removing an assignment takes effect at
 * once), a client's own users only their own company.
 */
export async function mayAccessClient(user: Pick<User, 'id' | 'role' | 'clientId'>, clientId: string): Promise<boolean> {
  switch (user.role) {
    case 'firm_admin':
      return true;
    case 'firm_staff':
      return (await StaffAssignment.count({ where: { userId: user.id, clientId } })) > 0;
    case 'client_admin':
    case 'employee':
      return user.clientId === clientId;
  }
}

/**
 * Whether a firm member is assigned to the client: who may open its My Numbers (numbers and files
 * holding them alike), the firm admin included.
 */
export async function isAssigned(user: Pick<User, 'id' | 'role'>, clientId: string): Promise<boolean> {
  const firm = user.role === 'firm_admin' || user.role === 'firm_staff';
  return firm && (await StaffAssignment.count({ where: { userId: user.id, clientId } })) > 0;
}

/**
 * Whether a user may delete a file they can see: its sender, and the firm admin. A file a person sent
 * through a one-time link is filed under the admin who issued the link but was not sent by them (a
 * payee's card photo): like an employee's own, it is not theirs to delete; it goes by disposal.
 */
export function mayDeleteFile(user: Pick<User, 'id' | 'role'>, file: Pick<StoredFile, 'senderId' | 'throughLink'>): boolean {
  return user.role === 'firm_admin' || (file.senderId === user.id && !file.throughLink);
}

/** Whether a user must pass TOTP to sign in: always for the firm, per client for client admins. */
export function totpRequired(user: Pick<User, 'role'>, client: { requireAdminTotp: boolean } | null): boolean {
  if (user.role === 'firm_admin' || user.role === 'firm_staff') return true;
  return user.role === 'client_admin' && Boolean(client?.requireAdminTotp);
}
