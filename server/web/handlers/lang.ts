import type { Request, Response } from 'express';
import type { Services } from '../../services';
import { isLang } from '../../i18n';
import { safeNext } from '../forms';
import { LANG_COOKIE, LANG_COOKIE_OPTIONS } from '../middleware/locals';

/** Switches the UI language (a cookie, and the user's setting when signed in). */
export function langHandler(services: Services) {
  return async (req: Request, res: Response) => {
    const lang = req.body?.lang;
    if (isLang(lang)) {
      res.cookie(LANG_COOKIE, lang, LANG_COOKIE_OPTIONS);
      if (req.user) await services.accounts.setLang(req.user, lang);
      // Picked before signing in (on the sign-in or password page): the account takes it at sign-in.
      else if (req.session) req.session.langPicked = lang;
    }
    const back = safeNext(req.body?.back) ?? '/';
    // The sign-in page keeps the address typed before the switch (through the session, never the URL).
    const typed = req.body?.keepEmail;
    if (!req.user && req.session && back.split('?')[0] === '/login' && typeof typed === 'string' && typed.length <= 190) {
      req.session.loginEmail = typed.trim();
    }
    res.redirect(303, back);
  };
}
