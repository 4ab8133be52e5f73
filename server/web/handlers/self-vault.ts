import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { doneGoTo, flash, flashBesideRow, page } from '../render';
import { parseForm, checkbox, type FieldErrors } from '../forms';
import { checkForm, dependantForm, numberForm, RELATIONSHIPS } from '../vault-forms';
import { formErrors, toldToThePerson } from './client-vault';
import { AppError, BadRequest, NotFound } from '../../errors';
import { Employee, type User } from '../../db/models';
import type { UploadTarget } from '../../files/upload-target';
import { CARD_PHOTO_ACCEPT, cardPhotoReceiver, cardPhotoTarget, checkCardPhotos, refuseNumberForm, storeCardPhotos } from '../card-photo-upload';
import { employeeOfUser, findPerson, hasLeft, type Person } from '../../vault/people';
import { presentRecord } from '../../presenters/vault';
import { translate } from '../../i18n';

const selfForm = numberForm.extend({
  person: z.string().max(64).default('self'),
  confirm: checkbox,
});


/**
 * じぶんで登録: an employee, usually on a phone, reads the purpose of use, types their own and
 * their dependants' numbers, adds a photo of the card (stored as an encrypted file of the client)
 * and confirms. A number and its photo land together or not at all.
 */
export function selfVaultHandlers(services: Services, csrfValid: (req: Request) => boolean) {
  const { vault } = services;
  const receivePhotos = cardPhotoReceiver(services, csrfValid);
  const photoTargetOf = (req: Request) => async (): Promise<UploadTarget> => {
    const employee = await employeeOfUser(req.user!);
    if (!employee) throw new NotFound();
    return cardPhotoTarget(employee.clientId, employee.id);
  };

  async function show(req: Request, res: Response, extra: Record<string, unknown> = {}, status = 200) {
    const employee = await employeeOfUser(req.user!);
    if (!employee) return page(req, res, 'vault/self', { title: 'vault.self.title', noEmployee: true }, status);
    const withRecords = (await vault.household(employee.clientId, employee.id)).map(({ person: p, record, disposed }) => ({
      key: p.kind === 'employee' ? 'self' : p.id,
      label: p.kind === 'employee' ? translate(req.lang, 'vault.self.me') : p.dependant!.name,
      relationshipKey: p.dependant ? `people.relationship.${p.dependant.relationship}` : null,
      record: record ? presentRecord(record, req.lang) : null,
      needsMyConfirmation: Boolean(record && !record.personConfirmedAt),
      // Destroyed after leaving: nothing to enter here (the company decides whether it is needed again).
      disposedLeaver: !record && Boolean(disposed) && hasLeft(p),
    }));
    page(req, res, 'vault/self', {
      title: 'vault.self.title',
      people: withRecords,
      // The page opens at the card of the person just added, registered or confirmed: the message stands in it.
      flashBesideRow: flashBesideRow(req, withRecords.map((p) => p.key)),
      left: hasLeft(employee),
      relationships: RELATIONSHIPS.map((r) => ({ value: r, labelKey: `people.relationship.${r}` })),
      accept: CARD_PHOTO_ACCEPT,
      ...extra,
    }, status);
  }

  // The card comes back with the date and the tick as they were sent (never the number).
  const refuse = (req: Request, res: Response, errors: FieldErrors, status: number, personKey: string) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const kept = { issueDate: /^\d{4}-\d{2}-\d{2}$/.test(String(body.issueDate ?? '')) ? String(body.issueDate) : '', confirm: body.confirm === 'on' };
    return refuseNumberForm(req, res, errors, status, () => show(req, res, { errors, errorFor: personKey, kept }, status));
  };

  async function personFor(employee: Employee, key: string): Promise<Person> {
    if (key === 'self') return findPerson(employee.clientId, 'employee', employee.id);
    const person = await findPerson(employee.clientId, 'dependant', key);
    if (person.dependant?.employeeId !== employee.id) throw new NotFound();
    return person;
  }

  return {
    show: (req: Request, res: Response) => show(req, res),

    async register(req: Request, res: Response) {
      const received = await receivePhotos(req, res, photoTargetOf(req));
      const f = parseForm(selfForm, req.body);
      const personKey = f.ok ? f.data.person : String((req.body as Record<string, unknown>)?.person ?? 'self');
      let person: Person | null = null;
      try {
        const employee = await employeeOfUser(req.user!);
        if (!employee) throw new NotFound();
        if (!f.ok) throw new BadRequest('form.invalid', f.errors);
        if (!f.data.confirm) throw new BadRequest('vault.self.confirmRequired', { confirm: 'vault.self.confirmRequired' });
        checkCardPhotos(received);
        const who = await personFor(employee, f.data.person);
        person = who;
        const ctx = actorOf(req);
        await services.audit.transaction(async (tx) => {
          const idFileId = await storeCardPhotos(services, tx, ctx, req.user!, received);
          await vault.register(ctx, who, f.data, { source: 'self', confirmedByPerson: true, idFileId, registeredBy: req.user!.id }, tx);
        });
      } catch (err) {
        await services.files.discardUploads(received.uploads);
        const errors = formErrors(err);
        if (!errors) throw err;
        if (person) await vault.recordRefusedAsDuplicate(actorOf(req), person, 'self', errors);
        // The company's admin sees the refusal in the log; the employee is told only what is theirs to know.
        return refuse(req, res, toldToThePerson(errors, 'vault.self.numberRefused'), (err as AppError).status, personKey);
      }
      // Back at this person's card (the form's own anchor; the page's script goes there too), the message in it.
      flash(req, 'ok', 'vault.registered', undefined, personKey);
      doneGoTo(req, res, `/me/numbers#person-${personKey}`);
    },

    async addDependant(req: Request, res: Response) {
      const employee = await employeeOfUser(req.user!);
      if (!employee) throw new NotFound();
      const f = parseForm(dependantForm, req.body);
      if (!f.ok) return show(req, res, { dependantErrors: f.errors, dependantValues: req.body }, 400);
      const added = await services.people.addDependant(actorOf(req), employee.clientId, employee.id, f.data);
      // The next step is that person's number: the page opens at their card.
      flash(req, 'ok', 'vault.self.dependantAdded', undefined, added.id);
      res.redirect(303, `/me/numbers#person-${added.id}`);
    },

    /**
     * 本人確認 of a number the client admin typed in: the employee types their number again and it
     * is confirmed only if it matches (a masked number cannot be checked by looking at it).
     */
    async confirm(req: Request, res: Response) {
      const employee = await employeeOfUser(req.user!);
      if (!employee) throw new NotFound();
      const recordId = String(req.params.recordId);
      const { person } = await vault.getRecord(employee.clientId, recordId);
      const mine = person.kind === 'employee' ? person.id === employee.id : person.dependant?.employeeId === employee.id;
      if (!mine) throw new NotFound();
      const typed = checkForm.safeParse(req.body ?? {});
      const personKey = person.kind === 'employee' ? 'self' : person.id;
      try {
        if (!typed.success) throw new BadRequest('vault.number.length', { typed: 'vault.number.length' });
        const confirmed = await vault.confirmTyped(actorOf(req), employee.clientId, recordId, typed.data.typed, 'person');
        if (!confirmed) return show(req, res, { confirmErrors: { typed: 'vault.self.confirmMismatch' }, confirmFor: personKey }, 400);
      } catch (err) {
        const errors = formErrors(err);
        if (!errors) throw err;
        return show(req, res, { confirmErrors: { typed: errors.typed ?? errors._form }, confirmFor: personKey }, (err as AppError).status);
      }
      flash(req, 'ok', 'vault.confirmed', undefined, personKey);
      res.redirect(303, `/me/numbers#person-${personKey}`);
    },
  };
}
