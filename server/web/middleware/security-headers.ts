import helmet from 'helmet';
import type { RequestHandler } from 'express';

/**
 * Strict CSP: scripts and styles only from our own files (no inline), no framing, no plugins.
 * HSTS only when the portal is reached over TLS.
 */
export function securityHeaders(tls: boolean): RequestHandler[] {
  return [
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          fontSrc: ["'self'"],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          upgradeInsecureRequests: tls ? [] : null,
        },
      },
      strictTransportSecurity: tls ? { maxAge: 63072000, includeSubDomains: true } : false,
      referrerPolicy: { policy: 'no-referrer' },
      crossOriginEmbedderPolicy: false,
      xFrameOptions: { action: 'deny' },
    }),
    // Pages may show personal data: nothing dynamic is kept by browsers or proxies.
    (_req, res, next) => {
      res.set('Cache-Control', 'no-store');
      next();
    },
  ];
}
