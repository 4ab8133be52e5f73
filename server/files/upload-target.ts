import { z } from 'zod';
import { maskNumberRuns } from '../vault/my-number';
import { CATEGORIES, DIRECTIONS, Employee, type Category, type Direction, type User } from '../db/models';
import { BadRequest, Forbidden, NotFound } from '../errors';
import { mayAccessClient } from '../policies';
import { parseForm, checkbox } from '../web/forms';

/** Where one sending goes, decided from the form and the sender's role before any file is accepted. */
export interface UploadTarget {
  direction: Direction;
  /** the client whose key encrypts the files; null for firm → all clients (the firm's own key) */
  clientId: string | null;
  employeeId: string | null;
  category: Category;
  comment: string | null;
  containsMyNumber: boolean;
  /** photos of a card sent with its number (see card-photo-upload.ts) */
  cardPhoto?: boolean;
  /** sent by a person through a one-time link, under the account of the admin who issued it */
  throughLink?: boolean;
}

const form = z.object({
  direction: z.enum(DIRECTIONS, { message: 'files.directionInvalid' }),
  clientId: z.string().max(64).optional(),
  employeeId: z.string().max(64).optional(),
  category: z.enum(CATEGORIES, { message: 'files.categoryInvalid' }),
  // A My Number typed into the comment is kept masked, as one in a file name is: numbers travel only through the vault.
  comment: z.string().trim().max(1000, 'form.tooLong').optional().transform((v) => (v ? maskNumberRuns(v) : null)),
  containsMyNumber: checkbox,
});

/** Categories an employee may use for what they send themselves. */
const EMPLOYEE_CATEGORIES: Category[] = ['identity', 'procedure', 'other'];

/** Categories of a sending to every client (forms and tools, notices), the first offered first. */
export const ALL_CLIENT_CATEGORIES: Category[] = ['templates', 'procedure', 'other'];

export async function resolveUploadTarget(user: User, body: unknown): Promise<UploadTarget> {
  const parsed = parseForm(form, body);
  if (!parsed.ok) throw new BadRequest(Object.values(parsed.errors)[0] ?? 'error.badRequest', parsed.errors);
  const f = parsed.data;
  const base = { category: f.category, comment: f.comment, containsMyNumber: f.containsMyNumber };

  if (user.role === 'client_admin' && f.direction === 'to_employee') {
    // HR sends one of the company's own employees a file (a payslip made in-house); never another company's.
    return { ...base, direction: 'to_employee', clientId: user.clientId, employeeId: await employeeOf(user.clientId!, f.employeeId) };
  }
  if (user.role === 'client_admin' || user.role === 'employee') {
    // The company is the sender's own; whatever the form says about clients is ignored.
    if (f.direction !== 'to_firm') throw new Forbidden();
    if (user.role === 'employee' && !EMPLOYEE_CATEGORIES.includes(f.category)) throw new BadRequest('files.categoryInvalid', { category: 'files.categoryInvalid' });
    return { ...base, direction: 'to_firm', clientId: user.clientId, employeeId: null };
  }

  if (f.direction === 'to_firm') throw new Forbidden();
  if (f.direction === 'to_all') {
    // What every client receives can hold nobody's personal data: refused before any byte is read.
    if (f.containsMyNumber || !ALL_CLIENT_CATEGORIES.includes(f.category)) throw new BadRequest('files.toAllPersonal', { containsMyNumber: 'files.toAllPersonal' });
    return { ...base, direction: 'to_all', clientId: null, employeeId: null };
  }
  const clientId = f.clientId ?? '';
  if (!/^[0-9a-f-]{36}$/i.test(clientId) || !(await mayAccessClient(user, clientId))) throw new NotFound();
  if (f.direction === 'to_client') return { ...base, direction: 'to_client', clientId, employeeId: null };
  return { ...base, direction: 'to_employee', clientId, employeeId: await employeeOf(clientId, f.employeeId) };
}

/** The id of the client's employee a sending is for; one of another client, or none, is refused. */
async function employeeOf(clientId: string, employeeId: string | undefined): Promise<string> {
  const employee = employeeId && /^[0-9a-f-]{36}$/i.test(employeeId) ? await Employee.findOne({ where: { id: employeeId, clientId } }) : null;
  if (!employee) throw new BadRequest('files.employeeRequired', { employeeId: 'files.employeeRequired' });
  return employee.id;
}
