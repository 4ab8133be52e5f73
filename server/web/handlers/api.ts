import type { Request, Response } from 'express';
import type { Services } from '../../services';
import { NotFound } from '../../errors';

// Placeholder: being built (API for authorised applications).
export function apiHandlers(_services: Services) {
  const missing = (_req: Request, _res: Response) => { throw new NotFound(); };
  return { openapi: missing, people: missing, number: missing };
}
