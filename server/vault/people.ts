import { Op, type Transaction } from 'sequelize';
import { Department, Dependant, Employee, Payee, type PersonKind, type User } from '../db/models';
import { NotFound } from '../errors';
import { japanDay } from '../domain/dates';

/** A person a number belongs to, resolved within one client. */
export interface Person {
  kind: PersonKind;
  id: string;
  clientId: string;
  /** `社員名`, `社員名 > 扶養家族名` or the payee's name: how lists and the log name the person */
  label: string;
  employeeCode: string | null;
  employee: Employee | null;
  dependant: Dependant | null;
  payee: Payee | null;
  departmentId: string | null;
  leaveDate: string | null;
}

/** The person's own name (Person.label names a dependant after their employee). */
export const ownName = (person: Pick<Person, 'dependant' | 'payee' | 'employee'>): string => person.dependant?.name ?? person.payee?.name ?? person.employee?.name ?? '';

/** Whether the person (a dependant: their employee) has left by today. */
export const hasLeft = (person: Pick<Person, 'leaveDate'>): boolean => Boolean(person.leaveDate && person.leaveDate <= japanDay());

const UUID = /^[0-9a-f-]{36}$/i;

export function personLabel(employee: Pick<Employee, 'name'> | null, dependant: Pick<Dependant, 'name'> | null, payee: Pick<Payee, 'name'> | null): string {
  if (payee) return payee.name;
  if (dependant) return `${employee?.name ?? ''} > ${dependant.name}`;
  return employee?.name ?? '';
}

function fromEmployee(e: Employee): Person {
  return { kind: 'employee', id: e.id, clientId: e.clientId, label: personLabel(e, null, null), employeeCode: e.employeeCode,
    employee: e, dependant: null, payee: null, departmentId: e.departmentId, leaveDate: e.leaveDate };
}

function fromDependant(e: Employee, d: Dependant): Person {
  return { kind: 'dependant', id: d.id, clientId: d.clientId, label: personLabel(e, d, null), employeeCode: e.employeeCode,
    employee: e, dependant: d, payee: null, departmentId: e.departmentId, leaveDate: e.leaveDate };
}

function fromPayee(p: Payee): Person {
  return { kind: 'payee', id: p.id, clientId: p.clientId, label: personLabel(null, null, p), employeeCode: p.code,
    employee: null, dependant: null, payee: p, departmentId: null, leaveDate: null };
}

/** `社員コード 名前` for the log: the person, never the number. */
export function logLabelOf(person: Pick<Person, 'employeeCode' | 'label'>): string {
  return [person.employeeCode, person.label].filter(Boolean).join(' ');
}

/** One person of a client, or NotFound: a person of another client looks exactly like a missing one. */
export async function findPerson(clientId: string, kind: PersonKind, id: string, tx?: Transaction): Promise<Person> {
  if (!UUID.test(id)) throw new NotFound();
  if (kind === 'employee') {
    const e = await Employee.findOne({ where: { id, clientId }, transaction: tx });
    if (e) return fromEmployee(e);
  } else if (kind === 'dependant') {
    const d = await Dependant.findOne({ where: { id, clientId }, transaction: tx });
    const e = d ? await Employee.findOne({ where: { id: d.employeeId, clientId }, transaction: tx }) : null;
    if (d && e) return fromDependant(e, d);
  } else if (kind === 'payee') {
    const p = await Payee.findOne({ where: { id, clientId }, transaction: tx });
    if (p) return fromPayee(p);
  }
  throw new NotFound();
}

/** An employee of a client followed by their dependants (oldest first), or NotFound. */
export async function employeeAndDependants(clientId: string, employeeId: string): Promise<Person[]> {
  const e = UUID.test(employeeId) ? await Employee.findOne({ where: { id: employeeId, clientId } }) : null;
  if (!e) throw new NotFound();
  const dependants = await Dependant.findAll({ where: { clientId, employeeId: e.id }, order: [['createdAt', 'ASC']] });
  return [fromEmployee(e), ...dependants.map((d) => fromDependant(e, d))];
}

/** The employee record a portal account is tied to (じぶんで登録), or null. */
export async function employeeOfUser(user: Pick<User, 'id' | 'clientId'>): Promise<Employee | null> {
  return user.clientId ? Employee.findOne({ where: { userId: user.id, clientId: user.clientId } }) : null;
}

/** Everyone of a client who can hold a number, in list order: each employee followed by their dependants, then payees. */
export async function listPeople(clientId: string, filter: { departmentId?: string; employeeCode?: string; name?: string } = {}): Promise<Person[]> {
  const where: Record<string | symbol, unknown> = { clientId };
  if (filter.departmentId) where.departmentId = filter.departmentId;
  if (filter.employeeCode) where.employeeCode = filter.employeeCode;
  const employees = await Employee.findAll({ where, order: [['employeeCode', 'ASC']] });
  const dependants = employees.length
    ? await Dependant.findAll({ where: { clientId, employeeId: { [Op.in]: employees.map((e) => e.id) } }, order: [['createdAt', 'ASC']] })
    : [];
  const byEmployee = new Map<string, Dependant[]>();
  for (const d of dependants) byEmployee.set(d.employeeId, [...(byEmployee.get(d.employeeId) ?? []), d]);
  const people: Person[] = [];
  for (const e of employees) {
    people.push(fromEmployee(e));
    for (const d of byEmployee.get(e.id) ?? []) people.push(fromDependant(e, d));
  }
  if (!filter.departmentId) {
    const payeeWhere: Record<string, unknown> = { clientId };
    if (filter.employeeCode) payeeWhere.code = filter.employeeCode;
    for (const p of await Payee.findAll({ where: payeeWhere, order: [['code', 'ASC']] })) people.push(fromPayee(p));
  }
  const name = filter.name?.trim();
  return name ? people.filter((p) => p.label.includes(name)) : people;
}

/** The people named by kind and id (all of one client), in the order given; ones not found are left out. */
export async function peopleByIds(clientId: string, ids: { kind: PersonKind; id: string }[]): Promise<Person[]> {
  const idsOf = (kind: PersonKind) => ids.filter((p) => p.kind === kind).map((p) => p.id);
  const dependantIds = idsOf('dependant');
  const payeeIds = idsOf('payee');
  const dependants = dependantIds.length ? await Dependant.findAll({ where: { clientId, id: { [Op.in]: dependantIds } } }) : [];
  const employeeIds = [...new Set([...idsOf('employee'), ...dependants.map((d) => d.employeeId)])];
  const employees = employeeIds.length ? await Employee.findAll({ where: { clientId, id: { [Op.in]: employeeIds } } }) : [];
  const payees = payeeIds.length ? await Payee.findAll({ where: { clientId, id: { [Op.in]: payeeIds } } }) : [];
  const employee = new Map(employees.map((e) => [e.id, e]));
  const found = new Map<string, Person>();
  for (const e of employees) found.set(`employee:${e.id}`, fromEmployee(e));
  for (const d of dependants) {
    const e = employee.get(d.employeeId);
    if (e) found.set(`dependant:${d.id}`, fromDependant(e, d));
  }
  for (const p of payees) found.set(`payee:${p.id}`, fromPayee(p));
  return ids.flatMap((p) => found.get(`${p.kind}:${p.id}`) ?? []);
}

export async function departmentsOf(clientId: string): Promise<Department[]> {
  return Department.findAll({ where: { clientId }, order: [['code', 'ASC']] });
}
