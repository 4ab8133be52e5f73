import type { Department, NumberRecord } from '../db/models';
import type { Lang } from '../i18n';
import { maskNumber } from '../vault/my-number';
import type { ListedPerson } from '../vault/vault-service';
import { hasLeft } from '../vault/people';
import { formatDateTime } from './format';

/** A row of the masked lists (CCI style): department, code, person, issue date, masked number, confirmations. */
export function presentListedPerson(row: ListedPerson, departments: Map<string, Department>, lang: Lang) {
  const { person, record } = row;
  const dept = person.departmentId ? departments.get(person.departmentId) : undefined;
  // Destroyed because they left: no 登録 or one-time link is offered (a rehire clears the leave date first).
  const disposedLeaver = !record && Boolean(row.disposed) && hasLeft(person);
  return {
    kind: person.kind,
    personId: person.id,
    kindKey: `vault.kind.${person.kind}`,
    departmentCode: dept?.code ?? '',
    departmentName: dept?.name ?? '',
    employeeCode: person.employeeCode ?? '',
    // A payee's code is theirs, not an employee's: on a phone each card names its values.
    codeLabelKey: person.kind === 'payee' ? 'people.payeeCode' : 'vault.col.employeeCode',
    label: person.label,
    isDependant: person.kind === 'dependant',
    relationshipKey: person.dependant ? `people.relationship.${person.dependant.relationship}` : null,
    leaveDate: person.leaveDate ?? '',
    /** left by today (a leave date still to come is not yet) */
    left: hasLeft(person),
    canLink: person.kind !== 'dependant' && !disposedLeaver,
    record: record ? presentRecord(record, lang) : null,
    disposed: !record && Boolean(row.disposed),
    disposedLeaver,
  };
}

export function presentRecord(r: NumberRecord, lang: Lang) {
  return {
    id: r.id,
    masked: maskNumber(r.lastTwo ?? '**'),
    issueDate: r.issueDate ?? '',
    statusKey: `vault.status.${r.status}`,
    // The status says the last step; a number both confirmed says both.
    confirmationKey: r.personConfirmedAt && r.adminConfirmedAt ? 'vault.status.both' : `vault.status.${r.status}`,
    sourceKey: `vault.source.${r.source}`,
    personConfirmed: Boolean(r.personConfirmedAt),
    adminConfirmed: Boolean(r.adminConfirmedAt),
    hasImage: Boolean(r.idFileId),
    idFileId: r.idFileId,
    deletionDate: r.deletionDate ?? '',
    registeredAt: formatDateTime(r.createdAt, lang),
  };
}

/** 1234 5678 9018: how a revealed number is read aloud and typed into a form. */
export function groupDigits(n: string): string {
  return n.replace(/(\d{4})(?=\d)/g, '$1 ');
}
