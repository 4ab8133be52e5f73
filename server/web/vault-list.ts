import type { Request } from 'express';
import type { Services } from '../services';
import { departmentsOf } from '../vault/people';
import { VAULT_PAGE_SIZE } from '../vault/vault-service';
import { presentListedPerson } from '../presenters/vault';
import { listFilter } from './vault-forms';
import { purposeChoices } from '../presenters/purposes';
import { NUMBER_STATUSES } from '../db/models';

/**
 * A list's filters and page as a query string, rebuilt from known fields only: carried through the
 * forms on the list so that an action comes back to the list as it was (filtered, on its page).
 */
export function listQueryOf(source: unknown): string {
  const q = listFilter.parse(source ?? {});
  return new URLSearchParams({
    ...(q.department ? { department: q.department } : {}), ...(q.code ? { code: q.code } : {}),
    ...(q.name ? { name: q.name } : {}), ...(q.status ? { status: q.status } : {}), ...(q.page > 1 ? { page: String(q.page) } : {}),
  }).toString();
}

/** `?query`, or nothing for a list without filters. */
export const querySuffix = (query: string): string => (query ? `?${query}` : '');

/** The masked list of a client's people and numbers with its filters and paging, for either side. */
export async function vaultListData(services: Services, req: Request, clientId: string) {
  const q = listFilter.parse(req.query);
  const listQuery = listQueryOf(q);
  const departments = await departmentsOf(clientId);
  const byId = new Map(departments.map((d) => [d.id, d]));
  const { rows, total } = await services.vault.list(clientId, {
    departmentId: q.department && byId.has(q.department) ? q.department : undefined,
    employeeCode: q.code || undefined, name: q.name || undefined, status: q.status,
  }, q.page);
  // The pager names its page always (page 1 included: an empty query would read as "no link").
  const filters = listQueryOf({ ...q, page: 1 });
  const query = (page: number) => (filters ? `${filters}&page=${page}` : `page=${page}`);
  return {
    rows: rows.map((r) => presentListedPerson(r, byId, req.lang)),
    total,
    filter: q,
    departments: departments.map((d) => ({ id: d.id, label: `${d.code} ${d.name}`, selected: d.id === q.department })),
    statuses: ['missing', ...NUMBER_STATUSES, 'disposed'].map((s) => ({ value: s, labelKey: `vault.status.${s}`, selected: s === q.status })),
    // What the list's forms append to their actions, so that an action returns to the list as it was.
    listSuffix: querySuffix(listQuery),
    listParam: encodeURIComponent(listQuery),
    prevQuery: q.page > 1 ? query(q.page - 1) : null,
    nextQuery: q.page * VAULT_PAGE_SIZE < total ? query(q.page + 1) : null,
    ...purposeChoices(),
  };
}
