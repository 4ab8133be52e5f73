import type { Request, Response } from 'express';
import type { Services } from '../../services';
import { page } from '../render';
import { presentClient } from '../../presenters/client';

export function homeHandlers(services: Services) {
  return {
    root(req: Request, res: Response) {
      res.redirect(303, req.user ? '/home' : '/login');
    },

    /** What each role sees first: the firm its clients, a client admin their company, an employee their own page. */
    async home(req: Request, res: Response) {
      const user = req.user!;
      const clients = (await services.clients.listFor(user)).map(presentClient);
      page(req, res, 'home', {
        title: 'home.title',
        isFirm: user.role === 'firm_admin' || user.role === 'firm_staff',
        isClientAdmin: user.role === 'client_admin',
        clients,
      });
    },
  };
}
