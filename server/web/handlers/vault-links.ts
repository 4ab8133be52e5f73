import type { Request, Response } from 'express';
import type { Services } from '../../services';
import { NotFound } from '../../errors';

// Placeholder: being built.
export function vaultLinkHandlers(_services: Services) {
  const missing = (_req: Request, _res: Response) => { throw new NotFound(); };
  return { show: missing, submit: missing };
}
