import type { Request, Response } from 'express';
import type { Services } from '../../services';
import { NotFound } from '../../errors';

// Placeholder: being built.
export function firmVaultHandlers(_services: Services) {
  const missing = (_req: Request, _res: Response) => { throw new NotFound(); };
  return { list: missing, check: missing, reveal: missing, print: missing, exportCsv: missing };
}
