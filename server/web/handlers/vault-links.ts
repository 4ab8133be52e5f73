import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { doneGoTo, page } from '../render';
import { FORM_FIELDS_MAX, checkbox, type FieldErrors } from '../forms';
import { optionalDate } from '../vault-forms';
import { formErrors, toldToThePerson } from './client-vault';
import { AppError, BadRequest, NotFound } from '../../errors';
import { Client, User } from '../../db/models';
import type { NumberInput } from '../../vault/vault-service';
import { VaultLinks, type LinkRegistered, type LiveLink } from '../../vault/links';
import { maskName } from '../../reports/report-data';
import { maskNumber } from '../../vault/my-number';
import { ownName } from '../../vault/people';
import { sha256Hex } from '../../crypto/tokens';
import { translate } from '../../i18n';
import { CARD_PHOTO_ACCEPT, cardPhotoReceiver, cardPhotoTargetFor, checkCardPhotos, refuseNumberForm, storeCardPhotos, type ReceivedPhotos } from '../card-photo-upload';
import type { ActorContext } from '../../audit';
import { openInMailLang } from '../middleware/locals';

const linkForm = z.object({
  code: z.string().max(20).default(''),
  number: z.string().max(100).default(''),
  issueDate: z.string().max(20).optional(),
  confirm: checkbox,
}).passthrough();

/** The name of the person a link is for (a payee, or an employee on a printed sheet). */
const nameOf = (link: LiveLink) => (link.person.kind === 'payee' ? link.person.payee!.name : link.person.employee!.name);

/**
 * Who acts through a link once its code has passed, for the log, by the link (shown as such in the
 * log's "how"): someone signed in as themselves; else, with no account, the person the link is for
 * (their name masked, as the page shows it). Before the code, a visitor is nobody known.
 */
function linkActor(req: Request, link: LiveLink, codeKnown: boolean): ActorContext {
  const who = actorOf(req);
  return { ...who, actorName: who.actorId || !codeKnown ? who.actorName : maskName(nameOf(link)), channel: 'link:/r/:token' };
}

/** How long the thanks for a link just used (what came in, masked) stay with its visitor. */
export const LINK_DONE_SHOWN_MS = 15 * 60 * 1000;

/**
 * The public page of a one-time link (支払先, or an employee's printed sheet): the purpose of use,
 * the code handed over apart from the link, the numbers. Unknown, used and expired links all
 * answer the same 404, so a link's state is not revealed.
 */
export function vaultLinkHandlers(services: Services, csrfValid: (req: Request) => boolean) {
  // An employee's sheet has a field per dependant besides the form's own: as many as any form post takes.
  const receivePhotos = cardPhotoReceiver(services, csrfValid, { fields: FORM_FIELDS_MAX });

  /**
   * Files in the portal are always sent by an account. Photos sent through a link come in under the
   * client admin who issued it, who answers for what it collects, named for the person who sent them.
   */
  async function linkSender(link: LiveLink): Promise<{ id: string; name: string }> {
    const issuer = link.invitation.createdBy ? await User.findByPk(link.invitation.createdBy) : null;
    const answers = issuer && !issuer.disabledAt && issuer.role === 'client_admin' && issuer.clientId === link.person.clientId;
    if (!answers) throw new BadRequest('vault.link.noPhotos', { files: 'vault.link.noPhotos' });
    return { id: issuer.id, name: nameOf(link).slice(0, 100) };
  }

  async function show(req: Request, res: Response, link: LiveLink, errors: FieldErrors = {}, status = 200) {
    const client = await Client.findByPk(link.person.clientId);
    page(req, res, 'vault/link', {
      title: 'vault.link.pageTitle',
      clientName: client?.name ?? '',
      // Whoever holds the link, the code not yet typed: names masked (山＊ 太＊), enough for the
      // person to recognise their own family, nothing for someone who only intercepted the mail.
      personName: maskName(nameOf(link)),
      accept: CARD_PHOTO_ACCEPT,
      dependants: link.dependants.map((d) => ({ id: d.id, name: maskName(d.name), relationshipKey: `people.relationship.${d.relationship}`, error: errors[`dep_${d.id}`] })),
      // The purposes told are the ones this person's number is collected for: a payee's payment records, an employee's payroll and insurance.
      forPayee: link.person.kind === 'payee',
      token: req.params.token,
      // The code once passed in this session is not asked again (a refused number is typed again, not the code).
      codeChecked: req.session.vaultLinkCodeChecked === link.invitation.id,
      triesLeft: errors.code ? VaultLinks.triesLeft(link) : null,
      // The tick and the issue date survive a refusal; the code and the numbers are typed again (never echoed into a page).
      values: { confirm: (req.body as Record<string, unknown> | undefined)?.confirm === 'on', issueDate: typeof req.body?.issueDate === 'string' ? req.body.issueDate.slice(0, 10) : '' },
      errors,
    }, status);
  }

  const liveLink = async (req: Request): Promise<LiveLink> => {
    const link = await services.vaultLinks.find(String(req.params.token));
    if (!link) throw new AppError(404, 'vault.link.dead');
    return link;
  };

  /**
   * A link that no longer works (unknown, used, expired, worn out by wrong codes): a page of its own,
   * headed so, that tells whoever holds it to ask the company that sent it for a new one. Still the
   * same 404 for all of them (a link's state is not revealed), and no way to the sign-in page: the
   * person may have no account. A script asking for JSON gets the error as before.
   */
  function deadLink(req: Request, res: Response, reasonKey: 'vault.link.dead' | 'vault.link.wornOut'): void {
    if (req.accepts(['html', 'json']) === 'json') throw new AppError(404, reasonKey);
    res.set('Cache-Control', 'no-store');
    // The page asks for a new link once, below the reason; the error messages ask for it themselves.
    const reasonOnPage = reasonKey === 'vault.link.wornOut' ? 'vault.link.wornOutBody' : 'vault.link.deadBody';
    page(req, res, 'vault/link-dead', { title: 'vault.link.deadTitle', reasonKey: reasonOnPage }, 404);
  }

  /**
   * Whether this visitor has just used this very link. A second tap on the button of a slow phone
   * sends the form again, and the browser shows the answer to the second: the thanks, not "this link
   * no longer works" for numbers that came in (nor when the page is opened again from the history).
   */
  const usedHere = (req: Request, token: string) => doneHere(req)?.link === sha256Hex(token);

  /**
   * What this visitor's link registered, while it is fresh: the thanks are for the one who just sent the
   * form (a second tap, the page reopened from the history), not for whoever uses this browser hours later
   * (a shared phone or an office tablet, whose session lives on).
   */
  const doneHere = (req: Request) => {
    const done = req.session.vaultLinkDone;
    if (!done) return null;
    if (typeof done.at !== 'number' || Date.now() - done.at >= LINK_DONE_SHOWN_MS) {
      delete req.session.vaultLinkDone;
      return null;
    }
    return done;
  };

  /** What the thanks page confirms: whose numbers came in, names and numbers masked as the link's page shows them. */
  const doneSummary = (token: string, registered: LinkRegistered[]) => ({
    link: sha256Hex(token),
    at: Date.now(),
    registered: registered.map(({ person, lastTwo }) => ({
      name: maskName(ownName(person)),
      relationshipKey: person.dependant ? `people.relationship.${person.dependant.relationship}` : null,
      masked: maskNumber(lastTwo),
    })),
  });

  return {
    async show(req: Request, res: Response) {
      res.set('Referrer-Policy', 'no-referrer');
      // A link mailed or printed in English (?lang=en) opens in English, unless this browser chose a language.
      openInMailLang(req, res, typeof req.query.lang === 'string' ? req.query.lang : null);
      const link = await services.vaultLinks.find(String(req.params.token));
      if (!link && usedHere(req, String(req.params.token))) return res.redirect(303, '/r/done');
      if (!link) return deadLink(req, res, 'vault.link.dead');
      await show(req, res, link);
    },

    async submit(req: Request, res: Response) {
      const token = String(req.params.token);
      // Looked up once the form's token has passed (the photo receiver checks it), as every post's token is checked first.
      let found = null as LiveLink | null;
      const theLink = async () => (found ??= await liveLink(req));
      const codePassed = (link: LiveLink) => req.session.vaultLinkCodeChecked === link.invitation.id;
      let received: ReceivedPhotos = { uploads: [], target: null };
      let sender = null as { id: string; name: string } | null;
      /** Set once the service is asked to register: it checks the code first, so any other refusal comes after the code passed. */
      let registering = false;
      let registered: LinkRegistered[] = [];
      try {
        // The card's photos are taken only from someone who holds the code too: it comes before them
        // in the form, and is checked when the first photo arrives.
        received = await receivePhotos(req, res, async () => {
          const link = await theLink();
          if (!codePassed(link)) {
            await services.vaultLinks.checkCode(linkActor(req, link, false), link, String((req.body as Record<string, unknown> | undefined)?.code ?? ''));
            req.session.vaultLinkCodeChecked = link.invitation.id;
          }
          sender = await linkSender(link);
          return { ...cardPhotoTargetFor(link.person), throughLink: true };
        });
        const link = await theLink();
        checkCardPhotos(received);
        const parsed = linkForm.safeParse(req.body ?? {});
        if (!parsed.success) throw new BadRequest('form.invalid', { _form: 'form.invalid' });
        const f = parsed.data;
        const issueDate = optionalDate.safeParse(f.issueDate);
        if (!issueDate.success) throw new BadRequest('form.date', { issueDate: 'form.date' });
        if (!f.confirm) throw new BadRequest('vault.self.confirmRequired', { confirm: 'vault.self.confirmRequired' });
        const dependants = new Map<string, NumberInput>();
        for (const d of link.dependants) {
          const typed = (req.body as Record<string, unknown>)[`dep_${d.id}`];
          if (typeof typed === 'string' && typed.trim()) dependants.set(d.id, { number: typed.slice(0, 100), issueDate: null });
        }
        const proof = codePassed(link) ? { codeCheckedFor: link.invitation.id } : { code: f.code };
        const ctx = linkActor(req, link, true);
        registering = true;
        registered = await services.vaultLinks.submit(ctx, token, proof, { number: f.number, issueDate: issueDate.data }, dependants,
          async (tx) => (sender ? storeCardPhotos(services, tx, ctx, sender, received) : null));
      } catch (err) {
        await services.files.discardUploads(received.uploads);
        if (err instanceof NotFound || (err instanceof AppError && err.messageKey === 'vault.link.dead')) {
          return usedHere(req, token) ? doneGoTo(req, res, '/r/done') : deadLink(req, res, 'vault.link.dead');
        }
        const errors = formErrors(err);
        if (!errors || !found) throw err;
        if (registering && !errors.code) req.session.vaultLinkCodeChecked = found.invitation.id;
        if (registering && !errors.code) await services.vault.recordRefusedAsDuplicate(linkActor(req, found, true), found.person, 'link', errors);
        // Whoever holds a link is outside the company: they are not told that a number belongs to someone in it.
        toldToThePerson(errors, 'vault.link.numberRefused');
        // A wrong code may have worn the link out: then say so (and why) instead of showing the form again.
        const still = await services.vaultLinks.find(token);
        if (!still) return deadLink(req, res, errors.code ? 'vault.link.wornOut' : 'vault.link.dead');
        const triesLeft = errors.code ? translate(req.lang, 'vault.link.triesLeft', { count: VaultLinks.triesLeft(still) }) : undefined;
        // Messages name the company that asked (写真を送れないときの問い合わせ先), as the page does.
        const company = (await Client.findByPk(still.person.clientId, { attributes: ['name'] }))?.name ?? '';
        return refuseNumberForm(req, res, errors, (err as AppError).status, () => show(req, res, still, errors, (err as AppError).status), triesLeft, { client: company });
      }
      delete req.session.vaultLinkCodeChecked;
      req.session.vaultLinkDone = doneSummary(token, registered);
      // A thanks page of its own, so a reload sends nothing again.
      doneGoTo(req, res, '/r/done');
    },

    /** The thanks after a link's numbers are in, with what came in (masked) for the visitor who sent them; for anyone else it tells nothing. */
    done(req: Request, res: Response) {
      page(req, res, 'vault/link-done', { title: 'vault.link.pageTitle', registered: doneHere(req)?.registered ?? [] });
    },
  };
}
