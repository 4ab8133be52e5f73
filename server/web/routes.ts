import type { RequestHandler } from 'express';
import type { Passport } from 'passport';
import type { Services } from '../services';
import type { Request } from 'express';
import type { Access } from './middleware/guards';
import { authHandlers } from './handlers/auth';
import { setupHandlers } from './handlers/setup';
import { passwordHandlers } from './handlers/password';
import { accountHandlers } from './handlers/account';
import { homeHandlers } from './handlers/home';
import { healthHandler } from './handlers/health';
import { langHandler } from './handlers/lang';
import { firmClientHandlers, firmStaffHandlers } from './handlers/firm-clients';
import { clientUserHandlers } from './handlers/client-users';
import { fileHandlers } from './handlers/files';

export interface RouteDef {
  method: 'get' | 'post';
  path: string;
  /** 'public' or the name of a role rule in policies.ts */
  access: Access;
  /** a sensitive action: only within this session's re-authentication window */
  reauth?: boolean;
  /** still answers while the portal is sealed (no master key); all others answer 503 then */
  whenSealed?: boolean;
  /** reachable while a required TOTP enrolment is still owed */
  duringEnrolment?: boolean;
  /** the stricter rate limit for sign-in and link forms */
  authLimit?: boolean;
  /** served before sessions are loaded, so it answers even when the session store cannot */
  sessionless?: boolean;
  /** a multipart upload: the handler checks the CSRF token once the form's first fields are read */
  multipart?: boolean;
  /** middleware run after the access checks and before the handler (e.g. a Content-Length check) */
  before?: RequestHandler[];
  handler: RequestHandler;
}

/** Every route of the portal, in one table: path → access → handler. */
export function routeTable(services: Services, passport: InstanceType<typeof Passport>, csrfValid: (req: Request) => boolean): RouteDef[] {
  const auth = authHandlers(services, passport);
  const setup = setupHandlers(services);
  const password = passwordHandlers(services);
  const account = accountHandlers(services);
  const home = homeHandlers(services);
  const firm = firmClientHandlers(services);
  const staff = firmStaffHandlers(services);
  const clientUsers = clientUserHandlers(services);
  const files = fileHandlers(services, csrfValid);

  return [
    { method: 'get', path: '/healthz', access: 'public', whenSealed: true, sessionless: true, handler: healthHandler(services) },
    { method: 'post', path: '/lang', access: 'public', whenSealed: true, handler: langHandler(services) },
    { method: 'get', path: '/', access: 'public', whenSealed: true, handler: home.root },

    { method: 'get', path: '/setup/:token', access: 'public', authLimit: true, handler: setup.show },
    { method: 'post', path: '/setup/:token', access: 'public', authLimit: true, handler: setup.complete },

    { method: 'get', path: '/login', access: 'public', whenSealed: true, handler: auth.showLogin },
    { method: 'post', path: '/login', access: 'public', authLimit: true, handler: auth.login },
    { method: 'get', path: '/login/totp', access: 'public', handler: auth.showTotp },
    { method: 'post', path: '/login/totp', access: 'public', authLimit: true, handler: auth.totp },
    { method: 'post', path: '/logout', access: 'signedIn', whenSealed: true, duringEnrolment: true, handler: auth.logout },

    { method: 'get', path: '/password/forgot', access: 'public', handler: password.showForgot },
    { method: 'post', path: '/password/forgot', access: 'public', authLimit: true, handler: password.forgot },
    { method: 'get', path: '/password/reset/:token', access: 'public', authLimit: true, handler: password.showSet },
    { method: 'post', path: '/password/reset/:token', access: 'public', authLimit: true, handler: password.set },
    { method: 'get', path: '/password/set/:token', access: 'public', authLimit: true, handler: password.showSet },
    { method: 'post', path: '/password/set/:token', access: 'public', authLimit: true, handler: password.set },

    { method: 'get', path: '/reauth', access: 'signedIn', handler: auth.showReauth },
    { method: 'post', path: '/reauth', access: 'signedIn', authLimit: true, handler: auth.reauth },

    { method: 'get', path: '/home', access: 'signedIn', handler: home.home },
    { method: 'get', path: '/account', access: 'signedIn', handler: account.show },
    { method: 'get', path: '/account/totp', access: 'signedIn', duringEnrolment: true, handler: account.showTotp },
    { method: 'post', path: '/account/totp', access: 'signedIn', duringEnrolment: true, handler: account.enrolTotp },
    { method: 'post', path: '/account/password', access: 'signedIn', reauth: true, handler: account.changePassword },

    { method: 'get', path: '/firm/clients', access: 'firm', handler: firm.list },
    { method: 'post', path: '/firm/clients', access: 'firmAdmin', handler: firm.create },
    { method: 'get', path: '/firm/clients/:clientId', access: 'firm', handler: firm.show },
    { method: 'post', path: '/firm/clients/:clientId', access: 'firmAdmin', handler: firm.update },
    { method: 'post', path: '/firm/clients/:clientId/establishments', access: 'firmAdmin', handler: firm.addEstablishment },
    { method: 'post', path: '/firm/clients/:clientId/departments', access: 'firmAdmin', handler: firm.addDepartment },
    { method: 'post', path: '/firm/clients/:clientId/users', access: 'firmAdmin', handler: firm.addUser },
    { method: 'post', path: '/firm/clients/:clientId/assignments', access: 'firmAdmin', handler: firm.assign },
    { method: 'post', path: '/firm/clients/:clientId/assignments/:userId/delete', access: 'firmAdmin', handler: firm.unassign },

    { method: 'get', path: '/firm/staff', access: 'firmAdmin', handler: staff.list },
    { method: 'post', path: '/firm/staff', access: 'firmAdmin', handler: staff.create },
    { method: 'post', path: '/firm/users/:userId/disable', access: 'firmAdmin', reauth: true, handler: staff.setDisabled(true) },
    { method: 'post', path: '/firm/users/:userId/enable', access: 'firmAdmin', reauth: true, handler: staff.setDisabled(false) },

    { method: 'get', path: '/client/users', access: 'clientAdmin', handler: clientUsers.list },
    { method: 'post', path: '/client/users', access: 'clientAdmin', handler: clientUsers.create },
    { method: 'post', path: '/client/users/:userId/disable', access: 'clientAdmin', reauth: true, handler: clientUsers.setDisabled(true) },
    { method: 'post', path: '/client/users/:userId/enable', access: 'clientAdmin', reauth: true, handler: clientUsers.setDisabled(false) },

    { method: 'get', path: '/files', access: 'signedIn', handler: files.list },
    { method: 'get', path: '/files/send', access: 'firm', handler: files.showSend },
    { method: 'post', path: '/files', access: 'signedIn', multipart: true, before: [files.checkLength, files.receive], handler: files.commit },
    { method: 'get', path: '/files/:fileId', access: 'signedIn', handler: files.show },
    { method: 'get', path: '/files/:fileId/download', access: 'signedIn', handler: files.download },
    { method: 'post', path: '/files/:fileId/download', access: 'firm', reauth: true, handler: files.downloadWithPurpose },
    { method: 'post', path: '/files/:fileId/delete', access: 'signedIn', handler: files.remove },
    { method: 'post', path: '/files/:fileId/retention', access: 'firm', handler: files.retention },
  ];
}
