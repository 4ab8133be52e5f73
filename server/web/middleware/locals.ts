import type { Request, RequestHandler, Response } from 'express';
import { DEFAULT_LANG, isLang, type Lang } from '../../i18n';
import type { Services } from '../../services';
import { navFor, presentUser } from '../../presenters/user';
import { reauthActive } from './guards';
import { formatDateTime } from '../../presenters/format';

export const LANG_COOKIE = 'lang';

/** The language cookie as the switch sets it (and a page opened from a mail, below). */
export const LANG_COOKIE_OPTIONS = { httpOnly: true, sameSite: 'lax', maxAge: 365 * 24 * 3600 * 1000, path: '/' } as const;

/**
 * A page opened from a mail written in a language (an invitation, a one-time link) opens in that
 * language, unless this browser chose one (the cookie) or its reader is signed in with their own;
 * it is kept on this browser like a choice, so the sign-in that follows reads the same.
 */
export function openInMailLang(req: Request, res: Response, lang: string | null | undefined): void {
  if (!isLang(lang) || req.user || isLang(langCookieOf(req))) return;
  req.lang = lang;
  res.locals.lang = lang;
  res.cookie(LANG_COOKIE, lang, LANG_COOKIE_OPTIONS);
}

const langCookieOf = (req: Request): string | undefined =>
  (req as { cookies?: Record<string, string> }).cookies?.[LANG_COOKIE] ?? readCookie(req.get('cookie'), LANG_COOKIE);

/**
 * The language of a request refused before its session was read (a body too large or malformed, the
 * per-address limit): this browser's choice, else Japanese. The user's own setting is not known yet.
 */
export const langBeforeSession = (req: Request): Lang => langChosenHere(req) ?? DEFAULT_LANG;

/** The language this browser chose (the switch, or a page opened from a mail), if any. */
export function langChosenHere(req: Request): Lang | undefined {
  const fromCookie = langCookieOf(req);
  return isLang(fromCookie) ? fromCookie : undefined;
}

/** The UI language: the user's choice, else the language cookie, else Japanese. */
export const chooseLang: RequestHandler = (req, res, next) => {
  const fromUser = req.user?.lang;
  const fromCookie = langCookieOf(req);
  req.lang = isLang(fromUser) ? fromUser : isLang(fromCookie) ? fromCookie : DEFAULT_LANG;
  res.locals.lang = req.lang;
  next();
};

/** What the layout shows about the signed-in user; whether TOTP enrolment is still owed. */
export function viewLocals(services: Services): RequestHandler {
  return async (req, res, next) => {
    res.locals.path = req.path;
    // Where the language switch comes back to: the page as asked for, filters and page number included
    // (a page answering a POST is come back to at its form's page, set by the route: app.ts).
    res.locals.here = req.method === 'GET' && req.originalUrl.length <= 2000 ? req.originalUrl : req.path;
    res.locals.sealed = services.keys.sealed;
    const user = req.user;
    if (!user) return next();
    res.locals.mustEnrolTotp = !user.totpEnabledAt && (await services.accounts.needsTotp(user));
    res.locals.currentUser = presentUser(user);
    res.locals.nav = res.locals.mustEnrolTotp ? [] : navFor(user, req.path);
    if (reauthActive(req)) {
      const until = new Date(req.session.reauthUntil!);
      // The script turns this into a countdown; without it the end time shows in Japan time.
      res.locals.reauth = { untilMs: until.getTime(), untilIso: until.toISOString(), untilText: formatDateTime(until, req.lang) };
    }
    next();
  };
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k !== name) continue;
    // A value that is no valid percent-encoding is no language: the cookie is ignored, never thrown on
    // (it is read for every page, and by the error page itself, which must not fail in turn).
    try {
      return decodeURIComponent(v.join('='));
    } catch {
      return undefined;
    }
  }
  return undefined;
}
