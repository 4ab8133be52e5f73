import type { Request, Response } from 'express';
import multer from 'multer';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { doneGoTo, flash, flashBesideRow, page } from '../render';
import { parseForm, email, type FieldErrors } from '../forms';
import { accountForm, inviteEmployeeForm, checkForm, dependantForm, employeeDetailsForm, employeeForm, leaveForm, numberForm, payeeForm, RELATIONSHIPS } from '../vault-forms';
import { listQueryOf, querySuffix, vaultListData } from '../vault-list';
import { AppError, BadRequest, FieldConflict, MailUnavailable } from '../../errors';
import { Establishment, PAYEE_KINDS, PERSON_KINDS, User, type Client, type PersonKind } from '../../db/models';
import { departmentsOf, findPerson, hasLeft, type Person } from '../../vault/people';
import { importPeople, PEOPLE_GUIDE, PEOPLE_TEMPLATE } from '../../vault/people-import';
import { inviteEmployee } from '../../vault/employee-invite';
import { rulesOf } from '../../disposal/retention-rules';
import { importNumbers, IMPORT_GUIDE, IMPORT_TEMPLATE } from '../../vault/number-import';
import { presentListedPerson, presentRecord } from '../../presenters/vault';
import { presentClient } from '../../presenters/client';
import { formatDateTime, inParens } from '../../presenters/format';
import { z } from 'zod';
import { CARD_PHOTO_ACCEPT, cardPhotoReceiver, cardPhotoTargetFor, checkCardPhotos, refuseNumberForm, storeCardPhotos } from '../card-photo-upload';

const IMPORT_MAX_BYTES = 2 * 1024 * 1024;
/** What the import page always shows: its limit and the column guide. */
const importPage = { title: 'vault.import.title', maxMb: IMPORT_MAX_BYTES / 1024 / 1024, guide: IMPORT_GUIDE };
const peopleImportPage = { title: 'people.import.title', maxMb: IMPORT_MAX_BYTES / 1024 / 1024, guide: PEOPLE_GUIDE };
const linkForm = z.object({ email: z.union([z.literal(''), email]).optional().transform((v) => v || null) });

/** An import's template: UTF-8 with a BOM, so Excel opens the Japanese headings as such. */
function sendTemplate(res: Response, filename: string, text: string): void {
  res.set({ 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="${filename}"` });
  res.send(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]));
}

function kindOf(value: unknown): PersonKind {
  return (PERSON_KINDS as readonly string[]).includes(String(value)) ? (value as PersonKind) : 'employee';
}

/** A refusal the form can show beside its field (400 or 409), or null for anything else. */
/**
 * A refusal as told to the person whose number it is (じぶんで登録, a one-time link), not to the
 * company: not that the number is someone else's in it (`duplicateKey` says only that it could not
 * be registered), nor the company's own steps for a leaver's destroyed number, only whom to ask.
 */
export function toldToThePerson(errors: FieldErrors, duplicateKey: string): FieldErrors {
  const told: Record<string, string> = { 'vault.number.duplicate': duplicateKey, 'vault.number.disposedLeaver': 'vault.number.disposedAskCompany' };
  for (const [field, key] of Object.entries(errors)) if (key && told[key]) errors[field] = told[key]!;
  return errors;
}

export function formErrors(err: unknown): FieldErrors | null {
  if (err instanceof BadRequest || err instanceof FieldConflict) {
    return Object.keys(err.fieldErrors).length ? err.fieldErrors : { _form: err.messageKey };
  }
  return null;
}

type ShowList = (req: Request, res: Response, extra?: Record<string, unknown>, status?: number) => Promise<unknown>;

/** 照合 for either side's list: the answer (or why the typed value is refused) is shown on the list; the stored number never is. */
export async function checkOnList(services: Services, req: Request, res: Response, clientId: string, showList: ShowList): Promise<void> {
  const f = checkForm.safeParse(req.body ?? {});
  const recordId = String(req.params.recordId);
  try {
    // Anything too long to be a number is refused the same way as a malformed one.
    const matches = await services.vault.check(actorOf(req), clientId, recordId, f.success ? f.data.typed : 'x');
    await showList(req, res, { checkResult: { recordId, matches } });
  } catch (err) {
    const errors = formErrors(err);
    if (!errors) throw err;
    await showList(req, res, { checkResult: { recordId, error: errors.typed ?? errors._form } }, (err as AppError).status);
  }
}

/**
 * The client admin's vault screens: the masked list, people, 代理登録 one at a time or by CSV,
 * 管理者確認, one-time links for payees and employees without an account, and 照合.
 */
export function clientVaultHandlers(services: Services, csrfValid: (req: Request) => boolean) {
  const { vault, people } = services;
  const importUpload = multer({ storage: multer.memoryStorage(), limits: { fileSize: IMPORT_MAX_BYTES, files: 1, fields: 5 } }).single('file');

  const clientOf = async (req: Request): Promise<Client> => services.clients.getFor(req.user!, req.user!.clientId!);
  const receivePhotos = cardPhotoReceiver(services, csrfValid);

  async function showList(req: Request, res: Response, extra: Record<string, unknown> = {}, status = 200) {
    const client = await clientOf(req);
    const establishments = await Establishment.findAll({ where: { clientId: client.id }, order: [['name', 'ASC']] });
    const list = await vaultListData(services, req, client.id);
    page(req, res, 'vault/client-list', {
      title: 'vault.title',
      client: presentClient(client),
      ...list,
      // A message about one person (登録しました) stands with their row, where the page opens.
      // 登録のお願い's answer stands beside its button (`remind`).
      flashBesideRow: flashBesideRow(req, ['remind', ...list.rows.map((r) => r.personId)]),
      establishments: establishments.map((e) => ({ id: e.id, name: e.name })),
      payeeKinds: PAYEE_KINDS.map((k) => ({ value: k, labelKey: `people.payeeKind.${k}` })),
      ...extra,
    }, status);
  }

  /** One employee with their dependants: adding a dependant and the leave date are done here. */
  async function showEmployee(req: Request, res: Response, extra: Record<string, unknown> = {}, status = 200) {
    const client = await clientOf(req);
    const [employeeRow, ...dependantRows] = await vault.household(client.id, String(req.params.employeeId));
    const departments = new Map((await departmentsOf(client.id)).map((d) => [d.id, d]));
    const employee = employeeRow!.person.employee!;
    const linked = employee.userId ? await User.findOne({ where: { id: employee.userId, clientId: client.id } }) : null;
    // A message about what was just done stands where the page opens (see toEmployee).
    const flashAt = flashBesideRow(req, ['details', 'leave', 'account', ...dependantRows.map((r) => `dependant-${r.person.id}`)]);
    page(req, res, 'vault/employee', {
      flashBesideRow: flashAt,
      title: 'people.employeePage',
      employee: { ...presentListedPerson(employeeRow!, departments, req.lang), hireDate: employee.hireDate ?? '', name: employee.name },
      account: linked ? { name: linked.name, email: linked.email } : null,
      accounts: linked ? [] : (await people.unlinkedAccounts(client.id)).map((u) => ({ id: u.id, label: `${u.name}${inParens(u.email, req.lang)}` })),
      dependants: dependantRows.map((r) => {
        const d = r.person.dependant!;
        // The one whose correction was refused shows what was typed; the others what is stored.
        const editing = extra.dependantEditFor === d.id;
        const typed = editing ? (extra.dependantEditValues ?? {}) as Record<string, unknown> : {};
        const text = (v: unknown, stored: string) => (editing ? (typeof v === 'string' ? v.slice(0, 100) : '') : stored);
        const relationship = editing && typeof typed.relationship === 'string' ? typed.relationship : d.relationship;
        return {
          ...presentListedPerson(r, departments, req.lang), name: d.name, editing, flashHere: flashAt === `dependant-${d.id}`,
          edit: { name: text(typed.name, d.name), nameKana: text(typed.nameKana, d.nameKana ?? '') },
          relationships: RELATIONSHIPS.map((rel) => ({ value: rel, labelKey: `people.relationship.${rel}`, selected: rel === relationship })),
        };
      }),
      // The details form starts from what is stored, or from what was typed when it was refused.
      details: (extra.detailsValues as Record<string, string> | undefined) ?? {
        employeeCode: employee.employeeCode, name: employee.name, nameKana: employee.nameKana ?? '', departmentId: employee.departmentId ?? '',
        establishmentId: employee.establishmentId ?? '', hireDate: employee.hireDate ?? '',
      },
      departmentChoices: [...departments.values()].map((d) => ({ id: d.id, label: `${d.code} ${d.name}` })),
      establishments: (await Establishment.findAll({ where: { clientId: client.id }, order: [['name', 'ASC']] })).map((e) => ({ id: e.id, name: e.name })),
      relationships: RELATIONSHIPS.map((r) => ({ value: r, labelKey: `people.relationship.${r}` })),
      // The hint names the client's own rule, not the default seven years.
      numberYears: (await rulesOf(client.id)).numberYears,
      ...extra,
    }, status);
  }

  /**
   * Runs a form's action; on a refusal the page it was sent from is shown again with the errors
   * and the typed values beside the form, otherwise back to that page with a message.
   */
  async function orShowErrors<T>(req: Request, res: Response, formName: string, action: () => Promise<T>, back: { path: string | ((done: T) => string); show: ShowList; at?: (done: T) => string }, okKey = 'people.saved') {
    let done: T;
    try {
      done = await action();
    } catch (err) {
      const errors = formErrors(err);
      if (!errors) throw err;
      return back.show(req, res, { [`${formName}Errors`]: errors, [`${formName}Values`]: req.body }, (err as AppError).status);
    }
    flash(req, 'ok', okKey, undefined, back.at?.(done));
    res.redirect(303, typeof back.path === 'function' ? back.path(done) : back.path);
  }
  /**
   * An import page's upload: the file is read into memory only (never written to disk) and wiped
   * once parsed; the page comes back with the report, or with why the file as a whole was refused.
   */
  async function importFrom(req: Request, res: Response, view: string, pageData: Record<string, unknown>, run: (clientId: string, bytes: Buffer) => Promise<unknown>): Promise<void> {
    const refused = await new Promise<unknown>((resolve) => importUpload(req, res, (err: unknown) => resolve(err ?? null)));
    if (refused) {
      // A request without a valid token is refused as such, whatever else is wrong with its body.
      if (!csrfValid(req)) throw new AppError(403, 'error.csrf');
      // Too big: the page again, saying what to do (a file of the whole company: split it).
      if ((refused as { code?: string }).code === 'LIMIT_FILE_SIZE') return page(req, res, view, { ...pageData, errors: { file: 'vault.import.tooLarge' } }, 413);
      throw refused;
    }
    const file = (req as Request & { file?: Express.Multer.File }).file;
    try {
      if (!csrfValid(req)) throw new AppError(403, 'error.csrf');
      if (!file) throw new BadRequest('vault.import.noFile', { file: 'vault.import.noFile' });
      const client = await clientOf(req);
      page(req, res, view, { ...pageData, report: await run(client.id, file.buffer) });
    } catch (err) {
      const errors = formErrors(err);
      if (!errors) throw err;
      page(req, res, view, { ...pageData, errors }, (err as AppError).status);
    } finally {
      file?.buffer.fill(0);
    }
  }

  const toList = { path: '/client/people', show: showList };
  const employeePage = (req: Request) => `/client/people/employees/${String(req.params.employeeId)}`;
  /**
   * Back to the employee's page, opened at the part just done (details, leave, account, or a
   * dependant's row: `at`, an id on that page), its message standing there: on a phone the banner
   * at the top is screens away.
   */
  const toEmployee = <T>(req: Request, at: string | ((done: T) => string)) => {
    const atOf = (done: T) => (typeof at === 'function' ? at(done) : at);
    return { path: (done: T) => `${employeePage(req)}#${atOf(done)}`, show: showEmployee, at: atOf };
  };

  /** The people list as it was left (`query`: its filters and page), opened at that person's row. */
  const peopleListAt = (query: string, personId: string) => `/client/people${querySuffix(query)}#person-${personId}`;

  /**
   * Where 代理登録 goes back to: the employee's page when it was opened from there (only ever that
   * page of this person's employee, never an address taken from the request), else the list.
   */
  function registerReturn(req: Request, person: Person): { path: string; fromEmployee: boolean; list: string } {
    const source = (req.method === 'GET' ? req.query : req.body ?? {}) as Record<string, unknown>;
    if (source.from === 'employee' && person.employee) return { path: `/client/people/employees/${person.employee.id}`, fromEmployee: true, list: '' };
    // Back to the list as it was left: its filters and page, at this person's row.
    const list = listQueryOf(Object.fromEntries(new URLSearchParams(typeof source.list === 'string' ? source.list.slice(0, 500) : '')));
    return { path: peopleListAt(list, person.id), fromEmployee: false, list };
  }

  async function showRegisterForm(req: Request, res: Response, errors: FieldErrors = {}, status = 200) {
    const client = await clientOf(req);
    const person = await findPerson(client.id, kindOf(req.params.kind), String(req.params.personId));
    // A disposed record keeps its row (a tombstone) but nothing of it is shown or reused.
    const found = await vault.recordOf(person);
    const record = found?.sealedNumber ? found : null;
    page(req, res, 'vault/register', {
      title: 'vault.register.title',
      back: registerReturn(req, person),
      person: { kind: person.kind, id: person.id, label: person.label, employeeCode: person.employeeCode, kindKey: `vault.kind.${person.kind}` },
      record: record ? presentRecord(record, req.lang) : null,
      // The typed number is never echoed back into the page: a refused number is typed again.
      values: { issueDate: (req.body as Record<string, string> | undefined)?.issueDate ?? record?.issueDate ?? '' },
      hasPhoto: Boolean(record?.idFileId),
      // A leaver's number disposed of is not taken again until the leave date is cleared (a rehire): the page leads there.
      leaveDatePath: found && !record && person.employee && hasLeft(person) ? `/client/people/employees/${person.employee.id}#leave` : null,
      accept: CARD_PHOTO_ACCEPT,
      errors,
    }, status);
  }

  return {
    list: (req: Request, res: Response) => showList(req, res),

    /** 登録のお願い by mail to every employee with an account whose number (or a dependant's) is missing. */
    async remind(req: Request, res: Response) {
      const client = await clientOf(req);
      const { asked, askedToday } = await services.reminders.remind(actorOf(req), client.id);
      // Those still to take up their invitation cannot be asked (no account yet): the page says how many, not "nobody".
      const invited = asked || askedToday ? 0 : await services.reminders.awaitingInvitation(client.id);
      // The answer stands beside the button, where the page opens (#remind), above those still missing.
      if (asked) flash(req, 'ok', 'vault.remind.sent', asked, 'remind');
      else if (askedToday) flash(req, 'ok', 'vault.remind.alreadyToday', askedToday, 'remind');
      else if (invited) flash(req, 'ok', 'vault.remind.onlyInvited', invited, 'remind');
      else flash(req, 'ok', 'vault.remind.nobody', undefined, 'remind');
      res.redirect(303, '/client/people?status=missing#remind');
    },
    employee: (req: Request, res: Response) => showEmployee(req, res),

    async addEmployee(req: Request, res: Response) {
      const client = await clientOf(req);
      await orShowErrors(req, res, 'employee', async () => {
        const f = parseForm(employeeForm, req.body);
        if (!f.ok) throw new BadRequest('form.invalid', f.errors);
        return people.addEmployee(actorOf(req), client.id, f.data);
      // The next steps (dependants, the number, the invitation) are on the new employee's page.
      }, { path: (e) => `/client/people/employees/${e.id}`, show: showList }, 'people.employeeAdded');
    },

    async addDependant(req: Request, res: Response) {
      const client = await clientOf(req);
      await orShowErrors(req, res, 'dependant', async () => {
        const f = parseForm(dependantForm, req.body);
        if (!f.ok) throw new BadRequest('form.invalid', f.errors);
        return people.addDependant(actorOf(req), client.id, String(req.params.employeeId), f.data);
      }, toEmployee(req, (d) => `dependant-${d.id}`), 'people.dependantAdded');
    },

    async updateEmployee(req: Request, res: Response) {
      const client = await clientOf(req);
      await orShowErrors(req, res, 'details', async () => {
        const f = parseForm(employeeDetailsForm, req.body);
        if (!f.ok) throw new BadRequest('form.invalid', f.errors);
        await people.updateEmployee(actorOf(req), client.id, String(req.params.employeeId), f.data);
      }, toEmployee(req, 'details'), 'people.corrected');
    },

    /** A refused correction comes back with that dependant's form open, what was typed in it and the reason beside it. */
    async updateDependant(req: Request, res: Response) {
      const client = await clientOf(req);
      const dependantId = String(req.params.dependantId);
      try {
        const f = parseForm(dependantForm, req.body);
        if (!f.ok) throw new BadRequest('form.invalid', f.errors);
        await people.updateDependant(actorOf(req), client.id, String(req.params.employeeId), dependantId, f.data);
      } catch (err) {
        const errors = formErrors(err);
        if (!errors) throw err;
        return showEmployee(req, res, { dependantEditFor: dependantId, dependantEditErrors: errors, dependantEditValues: req.body }, (err as AppError).status);
      }
      flash(req, 'ok', 'people.corrected', undefined, `dependant-${dependantId}`);
      res.redirect(303, `${employeePage(req)}#dependant-${dependantId}`);
    },

    async setLeave(req: Request, res: Response) {
      const client = await clientOf(req);
      await orShowErrors(req, res, 'leave', async () => {
        const f = parseForm(leaveForm, req.body);
        if (!f.ok) throw new BadRequest('form.invalid', f.errors);
        await people.setLeaveDate(actorOf(req), client.id, String(req.params.employeeId), f.data.leaveDate);
      }, toEmployee(req, 'leave'), 'people.leaveSaved');
    },

    async linkAccount(req: Request, res: Response) {
      const client = await clientOf(req);
      await orShowErrors(req, res, 'account', async () => {
        const f = accountForm.parse(req.body ?? {});
        // The unlink button sends no account; the link button must name one.
        if (!f.unlink && !f.userId) throw new BadRequest('people.accountUnknown', { userId: 'people.accountUnknown' });
        await people.linkAccount(actorOf(req), client.id, String(req.params.employeeId), f.unlink ? null : f.userId);
      }, toEmployee(req, 'account'), 'people.accountSaved');
    },

    /** 招待して結び付け: the employee's own account, invited and tied to them in one step. */
    async inviteEmployee(req: Request, res: Response) {
      const client = await clientOf(req);
      await orShowErrors(req, res, 'invite', async () => {
        const f = parseForm(inviteEmployeeForm, req.body);
        if (!f.ok) throw new BadRequest('form.invalid', f.errors);
        await inviteEmployee(services, actorOf(req), client.id, String(req.params.employeeId), f.data);
      }, toEmployee(req, 'account'), 'people.invited');
    },

    async addPayee(req: Request, res: Response) {
      const client = await clientOf(req);
      await orShowErrors(req, res, 'payee', async () => {
        const f = parseForm(payeeForm, req.body);
        if (!f.ok) throw new BadRequest('form.invalid', f.errors);
        return people.addPayee(actorOf(req), client.id, f.data);
      // A payee has no page: the list opens at their row (登録, ワンタイムURL), found by their code.
      }, { path: (p) => `/client/people?code=${encodeURIComponent(p.code)}#person-${p.id}`, at: (p) => p.id, show: showList }, 'people.payeeAdded');
    },

    showRegister: (req: Request, res: Response) => showRegisterForm(req, res),

    /**
     * 代理登録: the client admin types a person's number, with the photo or scan of the card they
     * were handed (本人確認 for the firm), if any. The number and its photo land together or not at all.
     */
    async register(req: Request, res: Response) {
      const client = await clientOf(req);
      // Looked up only once the form's token has passed (the receiver checks it first): a forged post learns nothing.
      let found: Promise<Person> | undefined;
      const personOf = () => (found ??= findPerson(client.id, kindOf(req.params.kind), String(req.params.personId)));
      const received = await receivePhotos(req, res, async () => cardPhotoTargetFor(await personOf()));
      const person = await personOf().catch(async (err: unknown) => { await services.files.discardUploads(received.uploads); throw err; });
      try {
        const f = parseForm(numberForm, req.body);
        if (!f.ok) throw new BadRequest('form.invalid', f.errors);
        checkCardPhotos(received);
        const ctx = actorOf(req);
        await services.audit.transaction(async (tx) => {
          const idFileId = await storeCardPhotos(services, tx, ctx, req.user!, received);
          await vault.register(ctx, person, f.data, { source: 'proxy', registeredBy: req.user!.id, idFileId }, tx);
        });
      } catch (err) {
        await services.files.discardUploads(received.uploads);
        const errors = formErrors(err);
        if (!errors) throw err;
        await vault.recordRefusedAsDuplicate(actorOf(req), person, 'proxy', errors);
        const status = (err as AppError).status;
        return refuseNumberForm(req, res, errors, status, () => showRegisterForm(req, res, errors, status));
      }
      flash(req, 'ok', 'vault.registered', undefined, person.id);
      doneGoTo(req, res, registerReturn(req, person).path);
    },

    /** A one-time link (and its code) for a payee or an employee: shown once, as a sheet to print or hand over. */
    async createLink(req: Request, res: Response) {
      const client = await clientOf(req);
      const person = await findPerson(client.id, kindOf(req.params.kind), String(req.params.personId));
      const f = parseForm(linkForm, req.body);
      // Refused (an address the browser took but we do not, or a mail server that refuses): the list again, the form open on its row.
      const refused = (error: string, status: number) => showList(req, res, { linkRefused: { personId: person.id, email: String(req.body?.email ?? '').slice(0, 190), error } }, status);
      if (!f.ok) return refused(f.errors.email ?? 'form.email', 400);
      let made;
      try {
        made = await services.vaultLinks.create(actorOf(req), person, req.user!.id, f.data.email ? { to: f.data.email } : null, req.lang);
      } catch (err) {
        if (err instanceof MailUnavailable) return refused(err.messageKey, err.status);
        throw err;
      }
      page(req, res, 'vault/link-sheet', {
        title: 'vault.link.title',
        client: presentClient(client),
        person: { label: person.label, kindKey: `vault.kind.${person.kind}` },
        // 戻る: the list as it was left (the form keeps its filter in its address), at this person's row.
        back: peopleListAt(listQueryOf(req.query), person.id),
        url: made.url,
        code: made.code,
        mailed: Boolean(f.data.email),
        expiresAt: formatDateTime(made.expiresAt, req.lang),
        qr: await (await import('qrcode')).default.toDataURL(made.url, { margin: 1, width: 200 }),
      });
    },

    /** 管理者確認 is earned by typing the number from the document, as 照合: the list shows only its last two digits. */
    async confirm(req: Request, res: Response) {
      const client = await clientOf(req);
      const recordId = String(req.params.recordId);
      const f = checkForm.safeParse(req.body ?? {});
      let personId: string | null;
      try {
        personId = await vault.confirmTyped(actorOf(req), client.id, recordId, f.success ? f.data.typed : 'x', 'admin');
        if (!personId) return showList(req, res, { checkResult: { recordId, error: 'vault.adminConfirm.mismatch' } }, 400);
      } catch (err) {
        const errors = formErrors(err);
        if (!errors) throw err;
        return showList(req, res, { checkResult: { recordId, error: errors.typed ?? errors._form } }, (err as AppError).status);
      }
      flash(req, 'ok', 'vault.confirmed', undefined, personId);
      res.redirect(303, peopleListAt(listQueryOf(req.query), personId));
    },

    async check(req: Request, res: Response) {
      await checkOnList(services, req, res, (await clientOf(req)).id, showList);
    },

    async showImport(req: Request, res: Response) {
      page(req, res, 'vault/import', importPage);
    },

    template: (_req: Request, res: Response) => sendTemplate(res, 'mynumber-import.csv', IMPORT_TEMPLATE),

    showPeopleImport(req: Request, res: Response) {
      page(req, res, 'vault/import-people', peopleImportPage);
    },

    peopleTemplate: (_req: Request, res: Response) => sendTemplate(res, 'people-import.csv', PEOPLE_TEMPLATE),

    /** The employee list from a file (no numbers in it). */
    importPeopleCsv: (req: Request, res: Response) => importFrom(req, res, 'vault/import-people', peopleImportPage,
      (clientId, bytes) => importPeople({ people, accounts: services.accounts, audit: services.audit }, actorOf(req), clientId, bytes)),

    importCsv: (req: Request, res: Response) => importFrom(req, res, 'vault/import', importPage,
      (clientId, bytes) => importNumbers({ audit: services.audit, vault }, actorOf(req), clientId, req.user!.id, bytes)),
  };
}

