import type { Request, Response } from 'express';
import type { Services } from '../../services';
import { NotFound } from '../../errors';

// Placeholder: being built.
export function selfVaultHandlers(_services: Services, _csrfValid: unknown) {
  const missing = (_req: Request, _res: Response) => { throw new NotFound(); };
  return { show: missing, register: missing, addDependant: missing, confirm: missing };
}
