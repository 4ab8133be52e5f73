import { OFFICES, PROCEDURES } from '../../domain/purposes';
import { NUMBER_STATUSES, PERSON_KINDS } from '../../db/models';
import { MAX_TOKEN_DAYS, TOKEN_PREFIX } from '../../vault/api-tokens';
import { VAULT_PAGE_SIZE } from '../../vault/vault-service';

/** The two endpoints, in OpenAPI's path notation (the route table uses :param). */
export const API_PATHS = {
  people: '/api/v1/clients/{clientId}/people',
  number: '/api/v1/clients/{clientId}/numbers/{recordId}',
} as const;

const uuid = { type: 'string', format: 'uuid' } as const;

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

// Every refusal an application can meet, in the same shape (the one error handler writes them).
const refusals = {
  401: errorResponse('No bearer token, or an unknown, expired or revoked one (with WWW-Authenticate: Bearer).'),
  403: errorResponse('The client (or, for numbers, the purpose) is outside the token\'s scope. The refusal is logged.'),
  429: errorResponse('Too many requests (or too many numbers opened in a short time by this token).'),
  503: errorResponse('The portal is sealed (no master key) or the database is unavailable.'),
};

/**
 * The OpenAPI 3.1 description of the API for authorised applications. Enums come from the same
 * lists the portal checks against, so the document cannot drift from what is accepted.
 */
export function openApiDocument(publicUrl: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Akatsuki Portal API for authorised applications',
      version: '1.0.0',
      description: [
        'Read access to the My Number vault for the firm\'s own applications (payroll, labour and social-insurance software).',
        `A firm admin creates a token (${TOKEN_PREFIX}…, valid for at most ${MAX_TOKEN_DAYS} days) naming the clients and purposes it may read numbers for.`,
        'Every number read is written to the tamper-evident audit log, with purpose and submission office, before the number is returned.',
        'Responses are never cacheable (Cache-Control: no-store).',
      ].join(' '),
    },
    servers: [{ url: publicUrl }],
    security: [{ bearerAuth: [] }],
    paths: {
      [API_PATHS.people]: {
        get: {
          operationId: 'listPeople',
          summary: 'The client\'s people, with masked numbers only',
          parameters: [{ $ref: '#/components/parameters/clientId' }, { $ref: '#/components/parameters/page' }],
          responses: {
            200: { description: 'One page of people', content: { 'application/json': { schema: { $ref: '#/components/schemas/PeoplePage' } } } },
            400: errorResponse('An invalid page number.'),
            ...refusals,
          },
        },
      },
      [API_PATHS.number]: {
        get: {
          operationId: 'readNumber',
          summary: 'One person\'s My Number in clear, for a stated purpose and submission office',
          parameters: [
            { $ref: '#/components/parameters/clientId' },
            { name: 'recordId', in: 'path', required: true, description: 'The record id from the people list.', schema: uuid },
            { name: 'purpose', in: 'query', required: true, description: 'Why the number is needed (利用目的); must be one of the token\'s purposes.', schema: { $ref: '#/components/schemas/Purpose' } },
            { name: 'office', in: 'query', required: true, description: 'Where the filing goes (提出先).', schema: { $ref: '#/components/schemas/Office' } },
          ],
          responses: {
            200: { description: 'The number; the access is already in the audit log', content: { 'application/json': { schema: { $ref: '#/components/schemas/Number' } } } },
            400: errorResponse('A missing or invalid purpose or office. The refusal is logged.'),
            404: errorResponse('No such record for this client.'),
            500: errorResponse('The access could not be logged, so the number is not returned.'),
            ...refusals,
          },
        },
      },
    },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: `${TOKEN_PREFIX}…`, description: 'Authorization: Bearer <token>. The token is shown once, when it is created.' },
      },
      parameters: {
        clientId: { name: 'clientId', in: 'path', required: true, description: 'A client company named in the token.', schema: uuid },
        page: { name: 'page', in: 'query', required: false, schema: { type: 'integer', minimum: 1, default: 1 } },
      },
      schemas: {
        Purpose: { type: 'string', enum: [...PROCEDURES] },
        Office: { type: 'string', enum: [...OFFICES] },
        PersonKind: { type: 'string', enum: [...PERSON_KINDS] },
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', description: 'A stable message key, e.g. api.tokenRequired or api.purposeNotAllowed.' },
                message: { type: 'string', description: 'The message in Japanese.' },
              },
            },
          },
        },
        Person: {
          type: 'object',
          required: ['personKind', 'personId', 'employeeCode', 'label', 'recordId', 'maskedNumber', 'status'],
          properties: {
            personKind: { $ref: '#/components/schemas/PersonKind' },
            personId: uuid,
            employeeCode: { type: ['string', 'null'], description: 'The employee code (for a payee: the payee code).' },
            label: { type: 'string', description: 'The name: employee, "employee > dependant", or payee.' },
            recordId: { type: ['string', 'null'], format: 'uuid', description: 'null while no number is registered.' },
            maskedNumber: { type: ['string', 'null'], examples: ['**********18'] },
            status: { type: 'string', enum: [...NUMBER_STATUSES, 'missing', 'disposed'] },
          },
        },
        PeoplePage: {
          type: 'object',
          required: ['clientId', 'page', 'pageSize', 'total', 'people'],
          properties: {
            clientId: uuid,
            page: { type: 'integer', minimum: 1 },
            pageSize: { type: 'integer', const: VAULT_PAGE_SIZE },
            total: { type: 'integer', minimum: 0 },
            people: { type: 'array', items: { $ref: '#/components/schemas/Person' } },
          },
        },
        Number: {
          type: 'object',
          required: ['clientId', 'recordId', 'personKind', 'personId', 'employeeCode', 'label', 'number', 'purpose', 'office'],
          properties: {
            clientId: uuid,
            recordId: uuid,
            personKind: { $ref: '#/components/schemas/PersonKind' },
            personId: uuid,
            employeeCode: { type: ['string', 'null'] },
            label: { type: 'string' },
            number: { type: 'string', pattern: '^[0-9]{12}$', description: 'The My Number (個人番号). Do not store it longer than the procedure needs.' },
            purpose: { $ref: '#/components/schemas/Purpose' },
            office: { $ref: '#/components/schemas/Office' },
          },
        },
      },
    },
  };
}
