import { FIRM_ROLES, type Client, type Department, type Establishment, type User } from '../db/models';
import { presentUser } from './user';

/** A client as lists across clients name it: code and name. */
export function clientLabel(c: Pick<Client, 'code' | 'name'>): string {
  return `${c.code} ${c.name}`;
}

/**
 * The way back to a client's page from the firm's pages for that client (files, numbers, reports, log,
 * disposal), which the firm reaches from that page; a client's own users have no such page.
 */
export function clientCrumb(role: User['role'], c: Pick<Client, 'id' | 'code' | 'name'> | null | undefined): { href: string; label: string } | null {
  if (!c || !FIRM_ROLES.includes(role)) return null;
  return { href: `/firm/clients/${encodeURIComponent(c.id)}`, label: clientLabel(c) };
}

export function presentClient(c: Client) {
  return { id: c.id, code: c.code, name: c.name, nameKana: c.nameKana ?? '', requireAdminTotp: c.requireAdminTotp };
}

export function presentClientDetails(d: {
  establishments: Establishment[]; departments: Department[]; staff: User[]; users: User[]; employeeCount: number; leaverCount: number;
}, allStaff: User[]) {
  const assigned = new Set(d.staff.map((s) => s.id));
  return {
    establishments: d.establishments.map((e) => ({ id: e.id, name: e.name, address: e.address ?? '' })),
    departments: d.departments.map((dep) => ({ id: dep.id, code: dep.code, name: dep.name })),
    staff: d.staff.map(presentUser),
    users: d.users.map(presentUser),
    employeeCount: d.employeeCount,
    leaverCount: d.leaverCount,
    assignable: allStaff.filter((s) => !assigned.has(s.id)).map(presentUser),
  };
}
