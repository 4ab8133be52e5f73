import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import type { ActorContext } from '../../audit';
import type { TokenScope } from '../../vault/api-tokens';
import { VAULT_PAGE_SIZE, type Purpose, type Revealed } from '../../vault/vault-service';
import { OFFICES, PROCEDURES } from '../../domain/purposes';
import { maskNumber } from '../../vault/my-number';
import { AppError, BadRequest, Forbidden } from '../../errors';
import { openApiDocument } from '../api/openapi';
import { actorOf } from '../context';

const UUID = /^[0-9a-f-]{36}$/i;

// Fixed names per endpoint: the log groups API reads by endpoint, whatever the ids in the path.
const CHANNEL = { people: 'api:/api/v1/clients/*/people', number: 'api:/api/v1/clients/*/numbers/*' } as const;
const OPERATION = { people: 'vault.api.list', number: 'vault.api.read' } as const;

const pageQuery = z.object({ page: z.coerce.number().int().min(1).max(1_000_000).default(1) });
const purposeQuery = z.object({
  purpose: z.enum(PROCEDURES, { message: 'api.purposeInvalid' }),
  office: z.enum(OFFICES, { message: 'api.officeInvalid' }),
});

/** The application behind the bearer token, named in the audit log as the actor. */
function apiActor(req: Request, scope: TokenScope, channel: string): ActorContext {
  return { ...actorOf(req), actorId: scope.token.id, actorName: `API: ${scope.token.name}`, actorRole: 'api', channel };
}

/** The API for the firm's authorised applications; every route behind requireApiToken except the document. */
export function apiHandlers(services: Services) {
  const document = openApiDocument(services.config.publicUrl);

  /**
   * Logs a refusal and hands back the error to throw. A refusal stands even if its row cannot be
   * written (nothing is handed out either way); that failure is logged without the request's details.
   */
  async function refused(ctx: ActorContext, clientId: string, operation: string, reason: string, purpose: Partial<Purpose> | null, err: AppError): Promise<AppError> {
    await services.vault.recordDenied(ctx, UUID.test(clientId) ? clientId : null, operation, reason, purpose)
      .catch((e: unknown) => services.logger.error({ err: { message: (e as Error).message } }, 'API refusal could not be logged'));
    return err;
  }

  function scopeOf(res: Response): TokenScope {
    return res.locals.apiScope as TokenScope;
  }

  return {
    openapi(_req: Request, res: Response) {
      res.json(document);
    },

    async people(req: Request, res: Response) {
      const scope = scopeOf(res);
      const ctx = apiActor(req, scope, CHANNEL.people);
      const clientId = String(req.params.clientId);
      if (!scope.clientIds.has(clientId)) throw await refused(ctx, clientId, OPERATION.people, 'client not in token scope', null, new Forbidden('api.clientNotAllowed'));
      const query = pageQuery.safeParse(req.query);
      if (!query.success) throw new BadRequest('api.pageInvalid');
      const { page } = query.data;
      // A token is only as good as its maker: still enabled and still assigned to the client.
      if (!(await services.apiTokens.makerMayStillRead(scope.token, clientId))) {
        throw await refused(ctx, clientId, OPERATION.people, 'token maker not assigned', null, new Forbidden('vault.notAssigned'));
      }
      const { rows, total } = await services.vault.list(clientId, {}, page);
      // The list names people (numbers masked): the read is logged before it is sent, as every API read is.
      await services.audit.recordAlone(ctx, { operation: OPERATION.people, result: 'allowed', clientId, detail: `page ${page}: ${rows.length} of ${total}` });
      res.set('Cache-Control', 'no-store');
      res.json({
        clientId, page, pageSize: VAULT_PAGE_SIZE, total,
        people: rows.map(({ person, record, disposed }) => ({
          personKind: person.kind,
          personId: person.id,
          employeeCode: person.employeeCode,
          label: person.label,
          recordId: record?.id ?? null,
          maskedNumber: record?.lastTwo ? maskNumber(record.lastTwo) : null,
          status: record?.status ?? (disposed ? 'disposed' : 'missing'),
        })),
      });
    },

    async number(req: Request, res: Response) {
      const scope = scopeOf(res);
      const ctx = apiActor(req, scope, CHANNEL.number);
      const clientId = String(req.params.clientId);
      if (!scope.clientIds.has(clientId)) throw await refused(ctx, clientId, OPERATION.number, 'client not in token scope', null, new Forbidden('api.clientNotAllowed'));
      const query = purposeQuery.safeParse(req.query);
      if (!query.success) {
        const problem = query.error.issues[0]!.message;
        // Only values the lists know reach the log: the rest is whatever the caller typed.
        const known = {
          purpose: (PROCEDURES as readonly string[]).includes(String(req.query.purpose)) ? req.query.purpose as Purpose['purpose'] : undefined,
          office: (OFFICES as readonly string[]).includes(String(req.query.office)) ? req.query.office as Purpose['office'] : undefined,
        };
        throw await refused(ctx, clientId, OPERATION.number, problem === 'api.officeInvalid' ? 'no valid office' : 'no valid purpose', known, new BadRequest(problem));
      }
      const purpose = query.data;
      if (!scope.purposes.has(purpose.purpose)) throw await refused(ctx, clientId, OPERATION.number, 'purpose not in token scope', purpose, new Forbidden('api.purposeNotAllowed'));
      // A token is only as good as its maker: still enabled and still assigned to the client.
      if (!(await services.apiTokens.makerMayStillRead(scope.token, clientId))) {
        throw await refused(ctx, clientId, OPERATION.number, 'token maker not assigned', purpose, new Forbidden('vault.notAssigned'));
      }
      // open() commits the audit row before it returns the number: no row, no number.
      const [{ record, person, number }] = await services.vault.open(ctx, clientId, [String(req.params.recordId)], purpose, 'vault.api.read') as [Revealed];
      res.set('Cache-Control', 'no-store');
      res.json({
        clientId,
        recordId: record.id,
        personKind: person.kind,
        personId: person.id,
        employeeCode: person.employeeCode,
        label: person.label,
        number,
        purpose: purpose.purpose,
        office: purpose.office,
      });
    },
  };
}
