/**
 * Every operation the log records, in the groups the log page's filter offers them in. A unit test
 * holds this list and the `op.*` labels of both languages in step, so a new operation cannot be
 * recorded without being findable by the filter.
 */
export const LOG_OPERATION_GROUPS = [
  {
    key: 'vault',
    operations: [
      'vault.reveal', 'vault.print', 'vault.export', 'vault.check', 'vault.api.read', 'vault.api.list', 'vault.burst',
      'vault.register.self', 'vault.register.proxy', 'vault.register.link', 'vault.register.import', 'vault.import', 'vault.update',
      'vault.confirm.person', 'vault.confirm.admin', 'vault.link.create', 'vault.link.fail', 'vault.remind', 'vault.askClient',
      'person.create', 'person.update', 'person.leave', 'person.account', 'people.import',
    ],
  },
  { key: 'files', operations: ['file.upload', 'file.download', 'file.delete', 'file.retention'] },
  { key: 'reports', operations: ['report.build', 'report.download', 'report.schedule', 'log.export.csv', 'log.export.pdf'] },
  {
    key: 'disposal',
    operations: [
      'retention.change', 'retention.cancel', 'retention.rules', 'disposal.request', 'disposal.approve', 'disposal.reject',
      'disposal.erase', 'disposal.keys', 'disposal.delete', 'disposal.verify', 'disposal.reapply', 'disposal.certificate', 'certificate.download',
    ],
  },
  {
    key: 'access',
    operations: [
      'auth.login', 'auth.logout', 'auth.totp', 'auth.totp.enrol', 'auth.reauth', 'auth.password.change', 'auth.password.reset_request',
      'auth.password.reset', 'auth.password.set', 'account.passkey.add', 'account.passkey.remove',
      'account.email.request', 'account.email.change', 'api.token.create', 'api.token.revoke',
      'security.forbidden', 'security.reauth', 'security.csrf', 'security.notFound', 'security.tooLarge', 'security.fileType', 'security.malformed',
    ],
  },
  {
    key: 'setup',
    operations: [
      'setup.complete', 'user.create', 'user.disable', 'user.enable', 'client.create', 'client.update',
      'establishment.create', 'department.create', 'assignment.create', 'assignment.delete', 'keys.rotate',
    ],
  },
] as const;

export type LogOperation = (typeof LOG_OPERATION_GROUPS)[number]['operations'][number];
export const LOG_OPERATIONS: readonly LogOperation[] = LOG_OPERATION_GROUPS.flatMap((g) => g.operations);
