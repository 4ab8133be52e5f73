import type { Request, Response } from 'express';

/** Renders a page with what every page needs (CSRF token, flash message); data comes from presenters. */
export function page(req: Request, res: Response, view: string, data: Record<string, unknown> = {}, status = 200): void {
  const flash = req.session?.flash;
  if (flash) delete req.session.flash;
  res.status(status).render(view, {
    ...data,
    csrfToken: req.csrfToken ? req.csrfToken() : undefined,
    flash,
  });
}

/** Where to go after a form was taken: JSON for the page's upload script (it goes there itself), a redirect for a plain post. */
export function doneGoTo(req: Request, res: Response, to: string, extra: Record<string, unknown> = {}): void {
  if (req.accepts(['html', 'json']) === 'json') {
    res.json({ ok: true, ...extra, redirect: to });
    return;
  }
  res.redirect(303, to);
}

/**
 * A message for the next page. `at`: the person whose row the next page opens at (#person-…): a list
 * that shows that row says it there, where the eye is, instead of at the top a screen above.
 */
export function flash(req: Request, kind: 'ok' | 'error', key: string, count?: number, at?: string): void {
  req.session.flash = { kind, key, ...(count === undefined ? {} : { count }), ...(at === undefined ? {} : { at }) };
}

/** The person id the pending message belongs beside, if this page shows their row (see `flash`). */
export function flashBesideRow(req: Request, personIds: string[]): string | null {
  const at = req.session?.flash?.at;
  return at && personIds.includes(at) ? at : null;
}
