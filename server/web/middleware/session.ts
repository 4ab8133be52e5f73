import session from 'express-session';
import connectSessionSequelize from 'connect-session-sequelize';
import type { RequestHandler } from 'express';
import type { Sequelize } from 'sequelize';
import type { Config } from '../../config';

export const SESSION_COOKIE = 'akatsuki.sid';

const extendDefaultFields = (defaults: { data: string; expires: Date }, s: { passport?: { user?: string } } | session.SessionData) => ({
  data: defaults.data, expires: defaults.expires, userId: (s as { passport?: { user?: string } })?.passport?.user ?? null,
});

/**
 * Sessions live in the database (table `sessions`, with the user id beside each row so that
 * disabling a user or changing a password can end all of that user's sessions at once).
 */
export function sessionMiddleware(d: { sequelize: Sequelize; config: Config; secret: Buffer }): { handler: RequestHandler; stop: () => void } {
  const SequelizeStore = connectSessionSequelize(session.Store);
  /**
   * A session once stored is only ever updated, never stored again once its row is gone. The store's
   * own set finds or creates the row: a request of a session that logout, re-authentication (a new id)
   * or disabling ended while it ran would, as it ends, write the ended session back, signed in, and a
   * copied cookie would work again. Whether a session was stored before is kept in its own data.
   */
  class OnceStoredStore extends SequelizeStore {
    override set(sid: string, data: session.SessionData, fn?: (err?: unknown) => void) {
      if (!data.stored) return super.set(sid, { ...data, stored: true }, fn);
      const expires = (this as unknown as { expiration(d: session.SessionData): Date }).expiration(data);
      // No row to update: the session ended meanwhile, and stays ended (its next request comes as a stranger).
      d.sequelize.models.Session!.update(extendDefaultFields({ data: JSON.stringify(data), expires }, data), { where: { sid } })
        .then(() => fn?.(), (err: unknown) => fn?.(err));
    }
  }
  const store = new OnceStoredStore({
    db: d.sequelize,
    table: 'Session',
    // Our own idle check writes lastSeenAt at most once a minute; the store need not write on every request.
    disableTouch: true,
    checkExpirationInterval: 15 * 60 * 1000,
    extendDefaultFields,
  });
  const secure = d.config.publicUrl.startsWith('https://');
  const handler = session({
    name: SESSION_COOKIE,
    secret: d.secret.toString('base64'),
    store,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    proxy: d.config.trustProxy,
    // The cookie outlives the idle timeout (sessionLifetime enforces that on the server): a browser that
    // dropped it after 30 idle minutes would come back as a stranger, never told why it was signed out.
    cookie: { httpOnly: true, sameSite: 'lax', secure, maxAge: d.config.sessionAbsoluteHours * 3600 * 1000, path: '/' },
  });
  return { handler, stop: () => (store as unknown as { stopExpiringSessions(): void }).stopExpiringSessions() };
}

/** The password version a session must carry (see SessionData.passwordAt). */
export function passwordVersion(user: { passwordChangedAt: Date | null }): number {
  return user.passwordChangedAt ? new Date(user.passwordChangedAt).getTime() : 0;
}

/**
 * Idle timeout and absolute lifetime, checked on the server for every request (the store itself
 * would hand back an expired row it has not swept yet). An expired session is destroyed, and so is
 * one signed in with a password that has since been changed or reset; the request goes on as a stranger's.
 */
export function sessionLifetime(config: Pick<Config, 'sessionIdleMinutes' | 'sessionAbsoluteHours'>): RequestHandler {
  const idleMs = config.sessionIdleMinutes * 60 * 1000;
  const absoluteMs = config.sessionAbsoluteHours * 60 * 60 * 1000;
  return (req, res, next) => {
    if (!req.user) return next();
    const now = Date.now();
    const s = req.session;
    const expired = !s.startedAt || now - s.startedAt > absoluteMs || now - (s.lastSeenAt ?? s.startedAt) > idleMs
      || passwordVersion(req.user) > (s.passwordAt ?? 0);
    if (!expired) {
      if (!s.lastSeenAt || now - s.lastSeenAt > 60_000) s.lastSeenAt = now;
      return next();
    }
    res.locals.sessionExpired = true;
    // Ended, and a fresh anonymous session in its place (stored only if used): a public page goes on
    // to render its form, whose token needs a session (the sign-in page, a one-time link, the language switch).
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.user = undefined;
      res.clearCookie(SESSION_COOKIE, { path: '/' });
      next();
    });
  };
}

/**
 * Every answer waits until a changed session is stored. express-session stores it only as the
 * response ends: after the headers of a redirect, which a browser follows at once, and after all but
 * the last byte of a page, whose form a browser (or a quick person) can already send. The next
 * request could read the session from before: a sign-in bounced from the code step to the login
 * page, the code page's form refused as expired (its token not stored yet), a flash shown twice.
 * An unchanged session is not written (as express-session would not), nor one holding only its cookie.
 */
export const saveBeforeAnswer: RequestHandler = (req, res, next) => {
  const idBefore = req.sessionID;
  const before = req.session ? contentOf(req.session) : '';
  // Once the store has failed, the error page goes out without another try (it would fail the same way, and again).
  let storeFailed = false;
  const changed = () => {
    if (storeFailed) return false;
    const s = req.session;
    const content = s ? contentOf(s) : '';
    return Boolean(s) && content !== '{}' && (req.sessionID !== idBefore || content !== before);
  };
  const afterSaving = <A extends unknown[]>(answer: (...args: A) => unknown) => (...args: A) => {
    if (!changed()) return answer(...args);
    const s = req.session;
    s.save((err) => {
      if (res.headersSent) return; // something else answered meanwhile
      if (err) {
        storeFailed = true;
        return next(err);
      }
      storedOnce(s);
      try { answer(...args); } catch (e) { next(e); }
    });
  };
  res.redirect = afterSaving(res.redirect.bind(res) as (...args: unknown[]) => void) as typeof res.redirect;
  // res.render and res.json answer through res.send.
  const send = res.send.bind(res) as (...args: unknown[]) => typeof res;
  res.send = ((...args: unknown[]) => { afterSaving(send)(...args); return res; }) as typeof res.send;
  next();
};

/**
 * The session just stored is not stored again as the answer ends, unless it changed since. express-session
 * would store a new or regenerated session a second time then: a copy landing after the next request
 * had stored its own change (the code page's form token, after the password step's redirect) undid it.
 */
function storedOnce(s: session.Session): void {
  const storedAs = contentOf(s);
  const save = s.save;
  Object.defineProperty(s, 'save', {
    configurable: true, enumerable: false, writable: true,
    value(this: session.Session, done?: (err?: unknown) => void) {
      if (contentOf(this) !== storedAs) return save.call(this, done);
      done?.();
      return this;
    },
  });
}

const contentOf = (s: object) => JSON.stringify(s, (key, value: unknown) => (key === 'cookie' ? undefined : value));
