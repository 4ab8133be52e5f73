import type { Request, Response } from 'express';
import type { Services } from '../../services';
import { NotFound } from '../../errors';

// Placeholder: being built (firm admin's API token screens).
export function apiTokenHandlers(_services: Services) {
  const missing = (_req: Request, _res: Response) => { throw new NotFound(); };
  return { list: missing, create: missing, revoke: missing };
}
