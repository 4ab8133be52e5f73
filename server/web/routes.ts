import type { RequestHandler } from 'express';
import type { Passport } from 'passport';
import type { Services } from '../services';
import type { Request } from 'express';
import type { Access } from './middleware/guards';
import { authHandlers } from './handlers/auth';
import { setupHandlers } from './handlers/setup';
import { passwordHandlers } from './handlers/password';
import { accountHandlers } from './handlers/account';
import { passkeyHandlers } from './handlers/passkeys';
import { homeHandlers } from './handlers/home';
import { healthHandler } from './handlers/health';
import { langHandler } from './handlers/lang';
import { firmClientHandlers, firmStaffHandlers, firmUserPage } from './handlers/firm-clients';
import { clientUserHandlers } from './handlers/client-users';
import { fileHandlers } from './handlers/files';
import { clientVaultHandlers } from './handlers/client-vault';
import { firmVaultHandlers } from './handlers/firm-vault';
import { selfVaultHandlers } from './handlers/self-vault';
import { vaultLinkHandlers } from './handlers/vault-links';
import { apiHandlers } from './handlers/api';
import { apiTokenHandlers } from './handlers/api-tokens';
import { auditLogHandlers } from './handlers/audit-log';
import { reportHandlers } from './handlers/reports';
import { disposalHandlers } from './handlers/disposal';

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
  /** takes a JSON body (a page script's fetch); every other form is url-encoded, so no field can arrive as an object */
  json?: boolean;
  /**
   * for a post: the page its form is on (path with this route's params), where re-authentication and
   * the language switch come back to; without it, the nearest page above the post's path (app.ts)
   */
  formPage?: string | ((req: Request) => string);
  /** for a reauth route: the audit operation under which a refusal for want of re-authentication is logged */
  deniedAs?: string;
  /**
   * a GET that writes the record of the read itself, and nothing else: an audit row (a download of
   * the log, a report, a certificate or a file) and, for a file, its recipient's read receipt (既読)
   */
  logsReads?: boolean;
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
  const passkeys = passkeyHandlers(services);
  const home = homeHandlers(services);
  const firm = firmClientHandlers(services);
  const staff = firmStaffHandlers(services);
  const clientUsers = clientUserHandlers(services);
  const files = fileHandlers(services, csrfValid);
  const clientVault = clientVaultHandlers(services, csrfValid);
  const firmVault = firmVaultHandlers(services);
  const selfVault = selfVaultHandlers(services, csrfValid);
  const links = vaultLinkHandlers(services, csrfValid);
  const api = apiHandlers(services);
  const apiTokens = apiTokenHandlers(services);
  const log = auditLogHandlers(services);
  const reports = reportHandlers(services);
  const disposal = disposalHandlers(services, csrfValid);

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

    // Open during a forced TOTP enrolment too: a first device needs a fresh sign-in or a re-authentication.
    { method: 'get', path: '/reauth', access: 'signedIn', duringEnrolment: true, handler: auth.showReauth },
    { method: 'post', path: '/reauth', access: 'signedIn', duringEnrolment: true, authLimit: true, handler: auth.reauth },

    { method: 'get', path: '/home', access: 'signedIn', handler: home.home },
    { method: 'get', path: '/account', access: 'signedIn', handler: account.show },
    { method: 'get', path: '/account/totp', access: 'signedIn', duringEnrolment: true, handler: account.showTotp },
    { method: 'post', path: '/account/totp', access: 'signedIn', duringEnrolment: true, handler: account.enrolTotp },
    { method: 'post', path: '/account/password', access: 'signedIn', reauth: true, formPage: '/account', handler: account.changePassword },
    { method: 'post', path: '/account/email', access: 'signedIn', reauth: true, formPage: '/account', handler: account.changeEmail },
    // opened from the new mailbox, perhaps on another device: the link is the proof, the change was asked for under re-authentication
    { method: 'get', path: '/account/email/:token', access: 'public', authLimit: true, handler: account.showEmailConfirm },
    { method: 'post', path: '/account/email/:token', access: 'public', authLimit: true, handler: account.confirmEmail },
    // passkeys: adding or removing one needs a live re-authentication; using one is a re-authentication
    { method: 'get', path: '/account/passkeys/options', access: 'signedIn', reauth: true, handler: passkeys.registrationOptions },
    { method: 'post', path: '/account/passkeys', access: 'signedIn', reauth: true, json: true, handler: passkeys.register },
    { method: 'post', path: '/account/passkeys/:passkeyId/delete', access: 'signedIn', reauth: true, handler: passkeys.remove },
    { method: 'get', path: '/reauth/passkey/options', access: 'signedIn', handler: passkeys.reauthOptions },
    { method: 'post', path: '/reauth/passkey', access: 'signedIn', authLimit: true, json: true, handler: passkeys.reauth },

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
    { method: 'post', path: '/firm/users/:userId/disable', access: 'firmAdmin', reauth: true, formPage: firmUserPage, handler: staff.setDisabled(true) },
    { method: 'post', path: '/firm/users/:userId/enable', access: 'firmAdmin', reauth: true, formPage: firmUserPage, handler: staff.setDisabled(false) },

    { method: 'get', path: '/client/users', access: 'clientAdmin', handler: clientUsers.list },
    { method: 'post', path: '/client/users', access: 'clientAdmin', handler: clientUsers.create },
    { method: 'post', path: '/client/users/:userId/disable', access: 'clientAdmin', reauth: true, formPage: '/client/users', handler: clientUsers.setDisabled(true) },
    { method: 'post', path: '/client/users/:userId/enable', access: 'clientAdmin', reauth: true, formPage: '/client/users', handler: clientUsers.setDisabled(false) },

    { method: 'get', path: '/files', access: 'signedIn', handler: files.list },
    { method: 'get', path: '/files/send', access: 'firm', handler: files.showSend },
    { method: 'get', path: '/files/send-employee', access: 'clientAdmin', handler: files.showSendToEmployee },
    { method: 'post', path: '/files', access: 'signedIn', multipart: true, before: [files.checkLength, files.receive], handler: files.commit },
    { method: 'get', path: '/files/:fileId', access: 'signedIn', handler: files.show },
    { method: 'get', path: '/files/:fileId/download', access: 'signedIn', logsReads: true, handler: files.download },
    { method: 'post', path: '/files/:fileId/download', access: 'firm', reauth: true, formPage: '/files/:fileId', deniedAs: 'file.download', handler: files.downloadWithPurpose },
    { method: 'post', path: '/files/:fileId/delete', access: 'signedIn', handler: files.remove },
    { method: 'post', path: '/files/:fileId/retention', access: 'firm', handler: files.retention },

    // The My Number vault: the client's side (people, 代理登録, import, confirmation, one-time links, 照合)
    { method: 'get', path: '/client/people', access: 'clientAdmin', handler: clientVault.list },
    { method: 'post', path: '/client/people/remind', access: 'clientAdmin', handler: clientVault.remind },
    { method: 'post', path: '/client/people/employees', access: 'clientAdmin', handler: clientVault.addEmployee },
    { method: 'get', path: '/client/people/employees/:employeeId', access: 'clientAdmin', handler: clientVault.employee },
    { method: 'post', path: '/client/people/employees/:employeeId/dependants', access: 'clientAdmin', handler: clientVault.addDependant },
    { method: 'post', path: '/client/people/employees/:employeeId/leave', access: 'clientAdmin', handler: clientVault.setLeave },
    { method: 'post', path: '/client/people/employees/:employeeId/details', access: 'clientAdmin', handler: clientVault.updateEmployee },
    { method: 'post', path: '/client/people/employees/:employeeId/dependants/:dependantId', access: 'clientAdmin', handler: clientVault.updateDependant },
    { method: 'post', path: '/client/people/employees/:employeeId/account', access: 'clientAdmin', handler: clientVault.linkAccount },
    { method: 'post', path: '/client/people/employees/:employeeId/invite', access: 'clientAdmin', handler: clientVault.inviteEmployee },
    { method: 'post', path: '/client/people/payees', access: 'clientAdmin', handler: clientVault.addPayee },
    { method: 'get', path: '/client/people/:kind/:personId/number', access: 'clientAdmin', handler: clientVault.showRegister },
    { method: 'post', path: '/client/people/:kind/:personId/number', access: 'clientAdmin', multipart: true, handler: clientVault.register },
    { method: 'post', path: '/client/people/:kind/:personId/link', access: 'clientAdmin', handler: clientVault.createLink },
    { method: 'post', path: '/client/numbers/:recordId/confirm', access: 'clientAdmin', formPage: '/client/people', handler: clientVault.confirm },
    { method: 'post', path: '/client/numbers/:recordId/check', access: 'clientAdmin', formPage: '/client/people', handler: clientVault.check },
    { method: 'get', path: '/client/numbers/import', access: 'clientAdmin', handler: clientVault.showImport },
    { method: 'get', path: '/client/numbers/import/template.csv', access: 'clientAdmin', handler: clientVault.template },
    { method: 'post', path: '/client/numbers/import', access: 'clientAdmin', multipart: true, handler: clientVault.importCsv },
    { method: 'get', path: '/client/people/import', access: 'clientAdmin', handler: clientVault.showPeopleImport },
    { method: 'get', path: '/client/people/import/template.csv', access: 'clientAdmin', handler: clientVault.peopleTemplate },
    { method: 'post', path: '/client/people/import', access: 'clientAdmin', multipart: true, handler: clientVault.importPeopleCsv },

    // じぶんで登録: an employee's own and dependants' numbers, with the card's photo
    { method: 'get', path: '/me/numbers', access: 'employee', handler: selfVault.show },
    { method: 'post', path: '/me/numbers', access: 'employee', multipart: true, handler: selfVault.register },
    { method: 'post', path: '/me/dependants', access: 'employee', formPage: '/me/numbers', handler: selfVault.addDependant },
    { method: 'post', path: '/me/numbers/:recordId/confirm', access: 'employee', handler: selfVault.confirm },

    // one-time links for payees and employees without an account (token in the link, code handed over apart)
    { method: 'get', path: '/r/done', access: 'public', handler: links.done },
    { method: 'get', path: '/r/:token', access: 'public', authLimit: true, handler: links.show },
    { method: 'post', path: '/r/:token', access: 'public', authLimit: true, multipart: true, handler: links.submit },

    // the firm's side: masked list, 照合, reveal / print / export after re-authentication with a purpose
    { method: 'get', path: '/firm/clients/:clientId/numbers', access: 'firm', handler: firmVault.list },
    { method: 'post', path: '/firm/clients/:clientId/numbers/ask-client', access: 'firm', handler: firmVault.askClient },
    { method: 'post', path: '/firm/clients/:clientId/numbers/:recordId/check', access: 'firm', handler: firmVault.check },
    { method: 'post', path: '/firm/clients/:clientId/numbers/:recordId/reveal', access: 'firm', reauth: true, formPage: '/firm/clients/:clientId/numbers', deniedAs: 'vault.reveal', handler: firmVault.reveal },
    { method: 'post', path: '/firm/clients/:clientId/numbers/print', access: 'firm', reauth: true, formPage: '/firm/clients/:clientId/numbers', deniedAs: 'vault.print', handler: firmVault.print },
    { method: 'post', path: '/firm/clients/:clientId/numbers/export', access: 'firm', reauth: true, formPage: '/firm/clients/:clientId/numbers', deniedAs: 'vault.export', handler: firmVault.exportCsv },

    // 操作履歴 and 取扱状況報告書
    { method: 'get', path: '/audit', access: 'logViewers', handler: log.list },
    { method: 'get', path: '/audit.csv', access: 'logViewers', logsReads: true, handler: log.csv },
    { method: 'get', path: '/audit.pdf', access: 'logViewers', logsReads: true, handler: log.pdf },
    { method: 'get', path: '/reports', access: 'logViewers', handler: reports.list },
    { method: 'get', path: '/reports/:reportId/download', access: 'logViewers', logsReads: true, handler: reports.download },
    { method: 'post', path: '/firm/clients/:clientId/report-schedule', access: 'firmAdmin', handler: reports.schedule },

    // 廃棄: retention dates, requests, approval by the firm admin, certificates, public verification
    { method: 'get', path: '/disposal', access: 'logViewers', handler: disposal.list },
    { method: 'post', path: '/disposal/numbers/:recordId/date', access: 'logViewers', handler: disposal.changeDate },
    { method: 'post', path: '/disposal/rules', access: 'firmAdmin', handler: disposal.saveRules },
    { method: 'post', path: '/disposal/requests', access: 'logViewers', handler: disposal.request },
    { method: 'get', path: '/disposal/approvals', access: 'firmAdmin', handler: disposal.approvals },
    { method: 'post', path: '/disposal/requests/:requestId/reject', access: 'firmAdmin', formPage: '/disposal/approvals', handler: disposal.reject },
    { method: 'post', path: '/disposal/requests/:requestId/approve', access: 'firmAdmin', reauth: true, formPage: '/disposal/approvals', deniedAs: 'disposal.approve', handler: disposal.approve },
    { method: 'get', path: '/certificates', access: 'logViewers', handler: disposal.certificates },
    { method: 'get', path: '/certificates/:certificateId/download', access: 'logViewers', logsReads: true, handler: disposal.download },
    { method: 'get', path: '/verify', access: 'public', authLimit: true, handler: disposal.showVerify },
    { method: 'post', path: '/verify', access: 'public', authLimit: true, multipart: true, handler: disposal.verify },

    // authorised applications (payroll, labour software): tokens made by the firm admin
    { method: 'get', path: '/firm/api-tokens', access: 'firmAdmin', handler: apiTokens.list },
    { method: 'post', path: '/firm/api-tokens', access: 'firmAdmin', reauth: true, formPage: '/firm/api-tokens', handler: apiTokens.create },
    { method: 'post', path: '/firm/api-tokens/:tokenId/revoke', access: 'firmAdmin', handler: apiTokens.revoke },
    { method: 'get', path: '/api/openapi.json', access: 'public', sessionless: true, handler: api.openapi },
    { method: 'get', path: '/api/v1/clients/:clientId/people', access: 'apiToken', sessionless: true, handler: api.people },
    { method: 'get', path: '/api/v1/clients/:clientId/numbers/:recordId', access: 'apiToken', sessionless: true, handler: api.number },
  ];
}
