import type { Request, Response } from 'express';
import type { Services } from '../../services';

/** For load balancers and operators: database, storage and sealed state, as JSON. */
export function healthHandler(services: Services) {
  const { storage } = services;
  return async (_req: Request, res: Response) => {
    const [database, store] = await Promise.all([
      services.sequelize.authenticate().then(() => 'ok', () => 'unavailable'),
      storage.check().then(() => 'ok', () => 'unavailable'),
    ]);
    const sealed = services.keys.sealed;
    const ok = database === 'ok' && store === 'ok' && !sealed;
    res.status(ok ? 200 : 503).json({
      status: ok ? 'ok' : 'unavailable',
      database,
      storage: store,
      sealed,
      ...(sealed ? { sealReason: services.keys.sealReason } : {}),
    });
  };
}
