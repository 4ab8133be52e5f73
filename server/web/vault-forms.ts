import { z } from 'zod';
import { PAYEE_KINDS, NUMBER_STATUSES } from '../db/models';
import { PROCEDURES, OFFICES, officeFits } from '../domain/purposes';
import { email, inviteLang, optionalText, text } from './forms';
import { calendarDate } from '../domain/dates';

/** yyyy-mm-dd as a date input sends it, or nothing. */
export const optionalDate = z.string().trim().optional()
  .transform((v) => (v ? v : null))
  .refine((v) => v === null || (/^\d{4}-\d{2}-\d{2}$/.test(v) && calendarDate(v) === v), 'form.date');

export const RELATIONSHIPS = ['spouse', 'child', 'father', 'mother', 'other'] as const;

export const employeeForm = z.object({
  employeeCode: text(30).regex(/^[A-Za-z0-9_-]+$/, 'people.codeFormat'),
  name: text(100),
  nameKana: optionalText(100),
  departmentId: optionalText(64),
  establishmentId: optionalText(64),
  hireDate: optionalDate,
  leaveDate: optionalDate,
});

/** The employee's details as corrected on their page (the leave date has its own form). */
export const employeeDetailsForm = employeeForm.omit({ leaveDate: true });

export const dependantForm = z.object({
  name: text(100),
  nameKana: optionalText(100),
  relationship: z.enum(RELATIONSHIPS, { message: 'people.relationshipRequired' }),
});

export const payeeForm = z.object({
  code: text(30).regex(/^[A-Za-z0-9_-]+$/, 'people.codeFormat'),
  name: text(100),
  nameKana: optionalText(100),
  kind: z.enum(PAYEE_KINDS, { message: 'form.invalid' }),
});

export const leaveForm = z.object({ leaveDate: optionalDate });

/** The employee's own account: one to link, or `unlink` (anything else than one id is no choice). */
export const accountForm = z.object({ userId: z.string().max(64).catch('').default(''), unlink: z.literal('on').optional().catch(undefined) });
export const inviteEmployeeForm = z.object({ email, lang: inviteLang });

/** The number itself is checked by the vault (one place for the rules and their messages). */
export const numberForm = z.object({
  number: z.string().max(100, 'vault.number.length').default(''),
  issueDate: optionalDate,
});

export const checkForm = z.object({ typed: z.string().max(100).default('') });

export const purposeForm = z.object({
  purpose: z.enum(PROCEDURES, { message: 'vault.purposeRequired' }),
  office: z.enum(OFFICES, { message: 'vault.officeRequired' }),
}).refine((f) => officeFits(f.purpose, f.office), { message: 'vault.officeMismatch', path: ['office'] });

export const listFilter = z.object({
  department: z.string().max(64).optional().catch(undefined),
  code: z.string().trim().max(30).optional().catch(undefined),
  name: z.string().trim().max(100).optional().catch(undefined),
  status: z.enum([...NUMBER_STATUSES, 'missing', 'disposed']).optional().catch(undefined),
  page: z.coerce.number().int().min(1).max(10_000).catch(1),
});
