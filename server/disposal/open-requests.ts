import { Op } from 'sequelize';
import { DisposalItem, DisposalRequest } from '../db/models';

/** Items listed per open request on the retention list (the rest counted), as on the approvals page. */
export const OPEN_REQUEST_ITEMS_SHOWN = 100;

export interface OpenRequestItem { employeeCode: string; label: string; dataKind: string; deletionDate: string }

/**
 * What a client's open requests (waiting, approved, being carried out) hold: the ids of every item
 * in one — which DisposalService.request refuses to take again (disposal.alreadyRequested) — and per
 * request, how many and the first of them as the certificate will name them (masked).
 */
export async function openRequestsOf(clientId: string): Promise<{ itemIds: Set<string>; byRequest: Map<string, { count: number; items: OpenRequestItem[] }> }> {
  const open = await DisposalRequest.findAll({ where: { clientId, status: { [Op.in]: ['requested', 'approved', 'executing'] } }, attributes: ['id'] });
  const ids = open.map((r) => r.id);
  const itemIds = new Set<string>();
  const byRequest = new Map<string, { count: number; items: OpenRequestItem[] }>();
  if (ids.length === 0) return { itemIds, byRequest };
  // The service's own test of "already requested": an item of the client not yet verified gone.
  for (const i of await DisposalItem.findAll({ where: { clientId, state: { [Op.ne]: 'verified' } }, attributes: ['itemId'] })) itemIds.add(i.itemId);
  const counts = new Map((await DisposalItem.count({ where: { requestId: { [Op.in]: ids } }, group: ['requestId'] })).map((c) => [String(c.requestId), Number(c.count)]));
  for (const id of ids) {
    const items = await DisposalItem.findAll({ where: { requestId: id }, order: [['employeeCode', 'ASC'], ['maskedLabel', 'ASC']], limit: OPEN_REQUEST_ITEMS_SHOWN, attributes: ['employeeCode', 'maskedLabel', 'dataKind', 'deletionDate'] });
    byRequest.set(id, {
      count: counts.get(id) ?? 0,
      items: items.map((i) => ({ employeeCode: i.employeeCode ?? '', label: i.maskedLabel, dataKind: i.dataKind, deletionDate: i.deletionDate ?? '' })),
    });
  }
  return { itemIds, byRequest };
}
