import path from 'node:path';
import express, { type Express, type Request, type RequestHandler } from 'express';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { rateLimit, type Options as RateLimitOptions } from 'express-rate-limit';
import { csrfSync } from 'csrf-sync';
import type { Services } from './services';
import { User } from './db/models';
import { NotFound, TooManyRequests } from './errors';
import { translate, type Lang } from './i18n';
import { routeTable, type RouteDef } from './web/routes';
import { requireAccess, requireApiToken, requireKeys, requireReauth, requireReauthLogged } from './web/middleware/guards';
import { saveBeforeAnswer, sessionLifetime, sessionMiddleware } from './web/middleware/session';
import { errorHandler } from './web/middleware/error-handler';
import { requestLog } from './web/middleware/request-log';
import { securityHeaders } from './web/middleware/security-headers';
import { chooseLang, viewLocals } from './web/middleware/locals';
import { viewEngine } from './web/view-engine';
import { inParens } from './presenters/format';
import { FORM_FIELDS_MAX } from './web/forms';
import './web/types';

export const ROOT = path.resolve(import.meta.dirname, '..');
/** What public/ holds: stylesheets, scripts, the icon. */
const ASSET_PATH = /^\/(?:css\/|js\/|favicon\.svg$)/;

/** Over a per-IP request limit: the portal's own 429 page (UI language, Retry-After), not the limiter's English text. */
const overLimit: RateLimitOptions['handler'] = (req, _res, next, options) => {
  const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
  const ms = reset ? reset.getTime() - Date.now() : options.windowMs;
  next(new TooManyRequests(Math.max(1, Math.ceil(ms / 1000))));
};

export interface PortalApp {
  app: Express;
  routes: RouteDef[];
  close(): void;
}

/** A route path with this request's params in it (`/files/:fileId` → `/files/…`). */
const withParams = (pattern: string) => (req: Request) =>
  pattern.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(String(req.params[name] ?? '')));

/**
 * The page a post's form is on: its route's formPage, else its own path when that is a page too
 * (/login, /r/:token), else the nearest page above it (/me/numbers/:recordId/confirm → /me/numbers).
 */
export function formPages(routes: RouteDef[]): (def: RouteDef) => (req: Request) => string {
  const pages = new Set(routes.filter((d) => d.method === 'get').map((d) => d.path));
  return (def) => {
    if (typeof def.formPage === 'function') return def.formPage;
    if (def.formPage) return withParams(def.formPage);
    let p = def.path;
    while (p && !pages.has(p)) p = p.slice(0, p.lastIndexOf('/'));
    return withParams(p || '/');
  };
}

/** Builds the Express app from its parts; nothing happens at import. */
export function createApp(services: Services, opts: { sessionSecret: Buffer }): PortalApp {
  const { config } = services;
  const app = express();
  app.disable('x-powered-by');
  // Pages are never cached (no-store), so an ETag would only cost a hash of every page; assets keep theirs (express.static).
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy ? 1 : false);
  app.engine('hbs', viewEngine(ROOT, {
    t(key: string, options: { data: { root: { lang: Lang } }; hash: Record<string, unknown> }) {
      return translate(options.data.root.lang ?? 'ja', key, options.hash);
    },
    eq: (a: unknown, b: unknown) => a === b,
    paren: (text: unknown, options: { data: { root: { lang: Lang } } }) => inParens(String(text), options.data.root.lang ?? 'ja'),
  }));
  app.set('view engine', 'hbs');
  // Express caches compiled templates only when NODE_ENV=production; without it every page re-reads
  // and recompiles its layout, partials and view. Only a developer editing templates wants that.
  app.set('view cache', process.env.NODE_ENV !== 'development');
  app.set('views', path.join(ROOT, 'views'));

  const passport = new Passport();
  passport.use(new LocalStrategy({ usernameField: 'email', passReqToCallback: true }, (req, email, password, done) => {
    services.accounts.checkPassword(email, password, req.ip ?? '').then((u) => done(null, u ?? false), done);
  }));
  passport.serializeUser((user, done) => done(null, (user as User).id));
  passport.deserializeUser((id: string, done) => {
    // A disabled user's session stops working on the next request, even before its row is gone.
    User.findByPk(id).then((u) => done(null, u && !u.disabledAt ? u : false), done);
  });

  const sessions = sessionMiddleware({ sequelize: services.sequelize, config, secret: opts.sessionSecret });
  const { csrfSynchronisedProtection, generateToken, isRequestValid } = csrfSync({
    // 256 random bits; the default 128 bytes made every form's hidden field 256 characters long.
    size: 32,
    getTokenFromRequest: (req) => (req.body?._csrf as string | undefined) ?? req.get('x-csrf-token'),
    errorConfig: { statusCode: 403, code: 'EBADCSRFTOKEN', message: 'invalid csrf token' },
  });

  app.use(requestLog(services.logger));
  const [helmetMw, noStore] = securityHeaders(config.publicUrl.startsWith('https://'));
  app.use(helmetMw!);
  // Only asset paths reach the static handler: for any other path it would ask the disk first (a stat on every page).
  const assets = express.static(path.join(ROOT, 'public'), { index: false, maxAge: '1h', dotfiles: 'ignore' });
  app.use((req, res, next) => (ASSET_PATH.test(req.path) ? assets(req, res, next) : next()));
  // The passkey pages' browser helper, served from the package itself (no copy to keep in step).
  app.use('/vendor/simplewebauthn', express.static(path.join(ROOT, 'node_modules/@simplewebauthn/browser/dist/bundle'), { index: false, maxAge: '1h', dotfiles: 'ignore' }));
  app.use(noStore!);
  app.use(express.urlencoded({ extended: false, limit: '64kb', parameterLimit: FORM_FIELDS_MAX }));
  const jsonBody = express.json({ limit: '64kb' });
  app.use(rateLimit({ windowMs: 60_000, limit: 600, standardHeaders: 'draft-8', legacyHeaders: false, handler: overLimit }));
  const routes = routeTable(services, passport, (req) => isRequestValid(req));
  const sealedGuard = requireKeys(services);
  const apiToken = requireApiToken(services);
  const authLimit = rateLimit({ windowMs: 60_000, limit: 30, standardHeaders: 'draft-8', legacyHeaders: false, handler: overLimit });
  const pageOf = formPages(routes);
  const mount = (def: RouteDef) => {
    const chain: RequestHandler[] = [];
    // A page answering a post (a refused form, a link sheet, a reveal) is come back to from its form's page:
    // the language switch goes there, as a GET of the post's own path is no page at all (404).
    const page = def.method === 'post' ? pageOf(def) : null;
    // (Whether that page is public: its address may carry a link's token, which the error page must not copy into a sign-in's address.)
    if (page) chain.push((req, res, next) => { res.locals.here = page(req); res.locals.herePublic = def.access === 'public'; next(); });
    if (!def.whenSealed) chain.push(sealedGuard);
    if (def.authLimit) chain.push(authLimit);
    chain.push(requireAccess(def.access, { duringEnrolment: def.duringEnrolment }));
    if (def.access === 'apiToken') chain.push(apiToken);
    if (def.json) chain.push(jsonBody);
    if (def.before) chain.push(...def.before);
    // Multipart bodies are read by the upload engine, which checks the token itself before storing anything.
    if (def.method === 'post' && !def.multipart) chain.push(csrfSynchronisedProtection);
    if (def.reauth) {
      const returnTo = def.formPage ? pageOf(def) : undefined;
      chain.push(def.deniedAs ? requireReauthLogged(services, def.deniedAs, returnTo) : requireReauth(returnTo));
    }
    chain.push(def.handler);
    app[def.method](def.path, ...chain);
  };
  routes.filter((def) => def.sessionless).forEach(mount);

  app.use(sessions.handler);
  app.use(passport.initialize());
  app.use(passport.session());
  app.use(sessionLifetime(config));
  app.use(saveBeforeAnswer);
  app.use(chooseLang);
  app.use((req, _res, next) => {
    req.csrfToken = (overwrite?: boolean) => generateToken(req, overwrite);
    next();
  });
  app.use(viewLocals(services));

  routes.filter((def) => !def.sessionless).forEach(mount);
  app.use(() => { throw new NotFound(); });
  app.use(errorHandler(services.logger, services.audit, config.publicUrl));

  return { app, routes, close: sessions.stop };
}
