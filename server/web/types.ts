import type { User as UserModel } from '../db/models';
import type { Lang } from '../i18n';

declare global {
  namespace Express {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends UserModel {}
    interface Request {
      lang: Lang;
    }
  }
}

declare module 'express-session' {
  interface SessionData {
    /** when this sign-in began (ms), for the absolute lifetime */
    startedAt: number;
    /** last request (ms), for the idle timeout; written at most once a minute */
    lastSeenAt: number;
    /**
     * the user's passwordChangedAt (ms) this sign-in was made with: a later password change or reset
     * ends the session, even if a request that was in flight wrote its row back after the change
     */
    passwordAt: number;
    /** the address whose password was just set: the sign-in form shows it once */
    loginEmail: string;
    /** the language picked with the switch before signing in: made the account's own at sign-in */
    langPicked: Lang;
    /** password accepted, second factor still to come */
    pendingLogin: { userId: string; at: number; next: string | null; langPicked?: Lang };
    /** re-authentication holds until then (ms), in this session only */
    reauthUntil: number;
    /** `at`: the person whose row the message belongs beside, where a list opens at that row (#person-…) */
    flash: { kind: 'ok' | 'error'; key: string; count?: number; at?: string };
    /** the WebAuthn challenge this session was last given (registration or re-authentication) */
    passkeyChallenge: string;
    /** the one-time registration link (invitation id) whose code this visitor typed right */
    vaultLinkCodeChecked: string;
    /**
     * the one-time link this visitor has just used (the token's hash) and what it registered, masked:
     * the thanks page says what came in, and the same link sent or opened again here leads back to it;
     * `at`: when, as it is shown only for a while (LINK_DONE_SHOWN_MS)
     */
    vaultLinkDone: { link: string; at: number; registered: Array<{ name: string; relationshipKey: string | null; masked: string }> };
    /** in the stored data only: the session has been stored, so its row is only ever updated (see sessionMiddleware) */
    stored: true;
  }
}

export {};
