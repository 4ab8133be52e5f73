import { translate, type Lang } from '../i18n';

/** Who did it, as the log and the access report name them: the portal's own jobs (logged as 'system') in the reader's language. */
export function operatorLabel(e: { actorRole: string | null; actorName: string | null }, lang: Lang): string {
  return e.actorRole === 'system' ? translate(lang, 'log.systemActor') : e.actorName ?? '';
}
