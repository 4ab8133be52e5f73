import type { Request, Response } from 'express';
import type { Services } from '../../services';
import { page } from '../render';
import { presentClient } from '../../presenters/client';
import type { User } from '../../db/models';
import { employeeOfUser } from '../../vault/people';

export function homeHandlers(services: Services) {
  /** A client admin's open work on the numbers: who has none yet, which are not confirmed. */
  async function clientAdminTodo(user: User) {
    const counts = await services.vault.countByStatus(user.clientId!);
    const [missing, unconfirmed, awaitingAdmin] = [counts.missing ?? 0, counts.registered ?? 0, counts.person_confirmed ?? 0];
    return { missing, unconfirmed, awaitingAdmin, any: missing + unconfirmed + awaitingAdmin > 0 };
  }

  /** An employee's own: whose number (theirs, their dependants') is missing or waits for them to confirm it. */
  async function employeeTodo(user: User) {
    const employee = await employeeOfUser(user);
    if (!employee) return null;
    const rows = await services.vault.household(employee.clientId, employee.id);
    const missing = rows.filter((r) => !r.record && !r.disposed).length;
    const toConfirm = rows.filter((r) => r.record && !r.record.personConfirmedAt).length;
    return { missing, toConfirm, any: missing + toConfirm > 0 };
  }

  /**
   * The firm's clients, each with what waits: numbers not yet registered or confirmed, files the
   * client sent that nobody at the firm has opened; and for the firm admin, disposals to approve.
   */
  async function firmOverview(user: User) {
    const clients = await services.clients.listFor(user);
    const ids = clients.map((c) => c.id);
    // The user's 未読 per client: by the rule the file list's 未読 badge follows (its link shows exactly those as 未読).
    const [unread, byClient] = await Promise.all([services.files.unreadCounts(user, ids), services.vault.countByStatusOfClients(ids)]);
    const rows = clients.map((c) => {
      const counts = byClient.get(c.id) ?? {};
      return { ...presentClient(c), missing: counts.missing ?? 0, unconfirmed: (counts.registered ?? 0) + (counts.person_confirmed ?? 0), unreadFiles: unread.get(c.id) ?? 0 };
    });
    const approvals = user.role === 'firm_admin' ? await services.disposal.waitingForApproval() : 0;
    return { clients: rows, approvals };
  }

  return {
    root(req: Request, res: Response) {
      res.redirect(303, req.user ? '/home' : '/login');
    },

    /** What each role sees first: the firm its clients, a client admin what is left to do, an employee their own numbers. */
    async home(req: Request, res: Response) {
      const user = req.user!;
      const isFirm = user.role === 'firm_admin' || user.role === 'firm_staff';
      const isEmployee = user.role === 'employee';
      page(req, res, 'home', {
        title: 'home.title',
        isFirm,
        isClientAdmin: user.role === 'client_admin',
        firm: isFirm ? await firmOverview(user) : null,
        adminTodo: user.role === 'client_admin' ? await clientAdminTodo(user) : null,
        ownTodo: isEmployee ? await employeeTodo(user) : null,
        // A client's people: files waiting for them to open (what /files?box=received shows as 未読).
        unreadFiles: isFirm ? 0 : [...(await services.files.unreadCounts(user)).values()].reduce((a, b) => a + b, 0),
        // Re-authentication guards the firm's and the client admin's sensitive steps; an employee has none.
        showReauth: !isEmployee,
      });
    },
  };
}
