import { z } from 'zod';

export type FieldErrors = Record<string, string>;
export type FormResult<T> = { ok: true; data: T } | { ok: false; errors: FieldErrors };

/** Parses a submitted form; errors are message keys per field, for the page to show beside each field. */
export function parseForm<T>(schema: z.ZodType<T>, body: unknown): FormResult<T> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return { ok: true, data: parsed.data };
  const errors: FieldErrors = {};
  for (const issue of parsed.error.issues) {
    const field = String(issue.path[0] ?? '_form');
    errors[field] ??= issue.message.startsWith('form.') || issue.message.includes('.') ? issue.message : 'form.invalid';
  }
  return { ok: false, errors };
}

/** A required single-line text field, trimmed, with a maximum length. */
/** Fields any one form post may carry (the form body parser's limit, and the link page's multipart one). */
export const FORM_FIELDS_MAX = 200;

export const text = (max: number) =>
  z.string({ message: 'form.required' }).trim().min(1, 'form.required').max(max, 'form.tooLong');

export const optionalText = (max: number) =>
  z.string().trim().max(max, 'form.tooLong').optional().transform((v) => (v ? v : null));

/** The language an invitation is written in (the invitee's screens and mails follow it until they choose). */
export const inviteLang = z.enum(['ja', 'en']).optional().catch(undefined);

export const email = z.string({ message: 'form.required' }).trim().min(1, 'form.required').max(190, 'form.tooLong')
  .pipe(z.email({ message: 'form.email' }));

/** The values of a group of checkboxes: absent when none is ticked, a string for one, an array for several. */
export function asList(v: unknown): string[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

/**
 * Ticked values that match `pattern`, at most `max` (anything else is dropped, never an error), as a
 * set: an id sent twice by a hand-made request is one person, printed and logged once.
 */
export const tickedValues = (pattern: RegExp, max: number) =>
  z.unknown().optional().transform((v) => [...new Set(asList(v).filter((x) => pattern.test(x)))].slice(0, max));

export const checkbox = z.union([z.literal('on'), z.literal('1'), z.literal('true')]).optional().transform((v) => v !== undefined);

/** The re-authentication page, sending the person on to `next` (a path on this site, with its query and #fragment) once done. */
export function reauthThen(next: string): string {
  return `/reauth?next=${encodeURIComponent(next)}`;
}

/** Only a path on this site: an open redirect would let a link send users to a look-alike site. */
export function safeNext(value: unknown): string | null {
  return typeof value === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(value) ? value : null;
}
