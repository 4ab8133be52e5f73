import { randomUUID } from 'node:crypto';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import type { IncomingMessage } from 'node:http';

/**
 * What a request log line may hold: method, path (with link tokens cut out and no query string),
 * status, time. Never headers, cookies, bodies or query strings, which can carry secrets.
 */
export function redactPath(url: string): string {
  const path = url.split('?')[0] ?? '';
  // Any long run of token characters, not only a whole segment: a link pasted with a trailing `。` or space is cut out too.
  return path.replace(/[A-Za-z0-9_-]{20,}/g, ':token');
}

export function requestLog(logger: Logger) {
  return pinoHttp({
    logger,
    genReqId: () => randomUUID(),
    serializers: {
      req: (req: IncomingMessage & { id?: string; raw?: IncomingMessage }) => ({ id: req.id, method: req.method, path: redactPath(req.url ?? '') }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/css/') || (req.url ?? '').startsWith('/js/') },
  });
}
