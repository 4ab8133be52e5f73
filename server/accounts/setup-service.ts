import { Op } from 'sequelize';
import type { AuditLog, ActorContext } from '../audit';
import { Firm, OneTimeToken, User } from '../db/models';
import { BadRequest, NotFound } from '../errors';
import { hashPassword, passwordProblem, personalWords } from '../auth/passwords';
import { consumeToken, findLiveToken, issueToken } from './tokens';
import { normaliseEmail } from './account-service';

const SETUP_TTL_MS = 60 * 60 * 1000;

export interface SetupInput {
  firmName: string;
  adminName: string;
  email: string;
  password: string;
}

/** First run: no default password; a one-time link printed at start-up creates the firm and its first admin. */
export class SetupService {
  constructor(private readonly d: { audit: AuditLog }) {}

  async needsSetup(): Promise<boolean> {
    return (await User.count({ where: { role: 'firm_admin' } })) === 0;
  }

  /** A new link valid for one hour; earlier unused links stop working. */
  async newSetupLink(): Promise<string> {
    return this.d.audit.transaction(async (tx) => {
      await OneTimeToken.update({ usedAt: new Date() }, { where: { purpose: 'setup', usedAt: null }, transaction: tx });
      return issueToken('setup', null, SETUP_TTL_MS, tx);
    });
  }

  async linkIsLive(raw: string): Promise<boolean> {
    return (await this.needsSetup()) && (await findLiveToken(['setup'], raw)) !== null;
  }

  async complete(ctx: ActorContext, raw: string, input: SetupInput): Promise<User> {
    // The link first: the strength check costs up to ~0.15 s of CPU, not to be spent on anyone's guess at a link.
    if (!(await findLiveToken(['setup'], raw))) throw new NotFound();
    const problem = await passwordProblem(input.password, personalWords(input.email, input.adminName, input.firmName));
    if (problem) throw new BadRequest(problem, { password: problem });
    const hash = await hashPassword(input.password);
    return this.d.audit.transaction(async (tx) => {
      const token = await findLiveToken(['setup'], raw, tx);
      if (!token || !(await consumeToken(token, tx))) throw new NotFound();
      if ((await User.count({ where: { role: 'firm_admin' }, transaction: tx })) > 0) throw new NotFound();
      await Firm.destroy({ where: { id: { [Op.ne]: -1 } }, transaction: tx });
      await Firm.create({ id: 1, name: input.firmName.trim() }, { transaction: tx });
      const user = await User.create({
        email: normaliseEmail(input.email), name: input.adminName.trim(), role: 'firm_admin', clientId: null,
        passwordHash: hash, passwordChangedAt: new Date(), totpSecretSealed: null, totpEnabledAt: null,
        totpLastStep: null, disabledAt: null, lang: null,
      }, { transaction: tx });
      await this.d.audit.record(tx, { ...ctx, actorId: user.id, actorName: user.name, actorRole: 'firm_admin' }, {
        operation: 'setup.complete', result: 'allowed', targetKind: 'firm', targetLabel: input.firmName.slice(0, 200),
      });
      return user;
    });
  }
}
