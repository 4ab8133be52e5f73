import { UniqueConstraintError } from 'sequelize';
import type { AuditLog, ActorContext } from '../audit';
import type { AccountService } from '../accounts/account-service';
import type { PeopleService } from './people-service';
import type { Lang } from '../i18n';
import { BadRequest, Conflict, FieldConflict } from '../errors';
import { findPerson, hasLeft } from './people';

/**
 * 招待して結び付け: an employee's own account, invited by mail and tied to them in one step (as an
 * import line with an address does), so that they can register their numbers from their phone at
 * once. The invitation is queued with the rows and goes after commit.
 */
export async function inviteEmployee(
  d: { audit: AuditLog; accounts: AccountService; people: PeopleService },
  ctx: ActorContext, clientId: string, employeeId: string, input: { email: string; lang?: Lang },
): Promise<void> {
  const person = await findPerson(clientId, 'employee', employeeId);
  const employee = person.employee!;
  if (employee.userId) throw new BadRequest('people.accountAlreadyLinked', { email: 'people.accountAlreadyLinked' });
  if (hasLeft(person)) throw new BadRequest('people.inviteLeaver', { email: 'people.inviteLeaver' });
  try {
    await d.audit.transaction(async (tx) => {
      const user = await d.accounts.createUser(ctx, { email: input.email, name: employee.name, role: 'employee', clientId, lang: input.lang ?? null }, tx);
      await d.people.linkAccount(ctx, clientId, employeeId, user.id, tx);
    });
  } catch (err) {
    if (err instanceof Conflict || err instanceof UniqueConstraintError) throw new FieldConflict('account.emailTaken', { email: 'account.emailTaken' });
    throw err;
  }
  d.accounts.sendQueued();
}
