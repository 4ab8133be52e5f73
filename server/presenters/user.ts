import type { User } from '../db/models';
import { roleAllows, type RoleRule } from '../policies';

export interface UserView {
  id: string;
  name: string;
  email: string;
  role: string;
  roleKey: string;
  disabled: boolean;
  totpEnabled: boolean;
  passwordSet: boolean;
}

export function presentUser(u: User): UserView {
  return {
    id: u.id,
    name: u.name,
    email: u.email,
    role: u.role,
    roleKey: `role.${u.role}`,
    disabled: Boolean(u.disabledAt),
    totpEnabled: Boolean(u.totpEnabledAt),
    passwordSet: Boolean(u.passwordHash),
  };
}

interface NavItem { href: string; labelKey: string; rule: RoleRule }

const NAV: NavItem[] = [
  { href: '/home', labelKey: 'nav.home', rule: 'signedIn' },
  { href: '/firm/clients', labelKey: 'nav.clients', rule: 'firm' },
  { href: '/firm/staff', labelKey: 'nav.staff', rule: 'firmAdmin' },
  { href: '/firm/api-tokens', labelKey: 'nav.apiTokens', rule: 'firmAdmin' },
  { href: '/files', labelKey: 'nav.files', rule: 'signedIn' },
  { href: '/audit', labelKey: 'nav.log', rule: 'logViewers' },
  { href: '/reports', labelKey: 'nav.reports', rule: 'clientAdmin' },
  { href: '/disposal', labelKey: 'nav.disposal', rule: 'clientAdmin' },
  { href: '/disposal/approvals', labelKey: 'nav.approvals', rule: 'firmAdmin' },
  { href: '/client/people', labelKey: 'nav.people', rule: 'clientAdmin' },
  { href: '/me/numbers', labelKey: 'nav.myNumbers', rule: 'employee' },
  { href: '/client/users', labelKey: 'nav.clientUsers', rule: 'clientAdmin' },
  { href: '/account', labelKey: 'nav.account', rule: 'signedIn' },
];

export function navFor(user: User, path: string) {
  return NAV.filter((item) => roleAllows(item.rule, user)).map((item) => ({
    href: item.href, labelKey: item.labelKey, current: path === item.href || path.startsWith(`${item.href}/`),
  }));
}
