import type { DisposalRequest } from '../db/models';
import { translate, type Lang } from '../i18n';

/*
 * An automatic disposal is requested and approved by no person: its request row keeps the Japanese
 * words it was made with (the certificate is in Japanese), and the screens say them in the reader's language.
 */
type Decided = Pick<DisposalRequest, 'requestedBy' | 'requestedByName' | 'approvedBy' | 'approvedByName' | 'reason'>;

const automatic = (r: Decided) => r.requestedBy === null;

export function requesterName(r: Decided, lang: Lang): string {
  return automatic(r) ? translate(lang, 'disposal.automatic') : r.requestedByName;
}

export function approverName(r: Decided, lang: Lang): string {
  if (r.approvedByName === null) return '';
  return automatic(r) && r.approvedBy === null ? translate(lang, 'disposal.standingApproval') : r.approvedByName;
}

export function requestReason(r: Decided, lang: Lang): string {
  return automatic(r) && r.reason === translate('ja', 'disposal.reason.due') ? translate(lang, 'disposal.reason.due') : r.reason;
}
