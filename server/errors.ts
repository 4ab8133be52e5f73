/**
 * Typed errors. Each carries its HTTP status and a message key from the locale files; the one
 * error handler (web/middleware/error-handler.ts) turns them into a page or JSON. An unknown error
 * is shown as a plain 500 with no detail.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly messageKey: string,
    readonly params: Record<string, string | number> = {},
  ) {
    super(messageKey);
  }
}

export class BadRequest extends AppError {
  constructor(messageKey = 'error.badRequest', readonly fieldErrors: Record<string, string> = {}) {
    super(400, messageKey);
  }
}
export class Unauthenticated extends AppError {
  constructor(messageKey = 'error.unauthenticated') { super(401, messageKey); }
}
export class Forbidden extends AppError {
  constructor(messageKey = 'error.forbidden') { super(403, messageKey); }
}
export class ReauthRequired extends AppError {
  /** @param returnTo the page to come back to once re-authenticated (the form's own page), if known */
  constructor(readonly returnTo: string | null = null) { super(403, 'error.reauthRequired'); }
}
/** Used for other tenants' objects too, so their existence is not revealed. */
export class NotFound extends AppError {
  constructor(messageKey = 'error.notFound') { super(404, messageKey); }
}
/** A mailed single-use link that was used, replaced by a newer one or has expired: the same 404 as one never issued, in words a person can act on. */
export class DeadLink extends NotFound {
  constructor() { super('error.deadLink'); }
}
export class Conflict extends AppError {
  constructor(messageKey = 'error.conflict') { super(409, messageKey); }
}
export class PayloadTooLarge extends AppError {
  constructor(messageKey = 'error.payloadTooLarge', params: Record<string, string | number> = {}) { super(413, messageKey, params); }
}
export class TooManyRequests extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, 'error.tooManyRequests', { seconds: retryAfterSeconds });
  }
}
export class Sealed extends AppError {
  constructor() { super(503, 'error.sealed'); }
}
export class ServiceUnavailable extends AppError {
  constructor() { super(503, 'error.unavailable'); }
}
/** The storage did not give a stored object back (down, or the object missing): nothing was read. */
export class StorageUnavailable extends AppError {
  constructor() { super(503, 'error.storageUnavailable'); }
}
export class UnsupportedFileType extends AppError {
  /** mismatch: the bytes contradict a type the portal takes (a security event), rather than a type it does not take */
  constructor(name: string, readonly mismatch = false) { super(415, mismatch ? 'files.contentMismatch' : 'files.unsupportedType', { name }); }
}
/** A stored object that fails its integrity checks: never served, always logged. */
export class CorruptFile extends AppError {
  constructor() { super(500, 'files.corrupt'); }
}
export class MailUnavailable extends AppError {
  constructor() { super(503, 'error.mailUnavailable'); }
}
/** A form field holds a value that clashes with stored data (e.g. a My Number already held for someone else). */
export class FieldConflict extends AppError {
  constructor(messageKey: string, readonly fieldErrors: Record<string, string>) { super(409, messageKey); }
}
