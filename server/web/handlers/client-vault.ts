import type { Request, Response } from 'express';
import type { Services } from '../../services';
import { NotFound } from '../../errors';

// Placeholder: being built.
export function clientVaultHandlers(_services: Services, _csrfValid: unknown) {
  const missing = (_req: Request, _res: Response) => { throw new NotFound(); };
  return { list: missing, addEmployee: missing, addDependant: missing, setLeave: missing, addPayee: missing, showRegister: missing, register: missing, createLink: missing, confirm: missing, check: missing, showImport: missing, template: missing, importCsv: missing };
}
