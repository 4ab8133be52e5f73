import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { page } from '../render';
import { checkbox, type FieldErrors } from '../forms';
import { optionalDate } from '../vault-forms';
import { formErrors } from './client-vault';
import { AppError, BadRequest, NotFound } from '../../errors';
import { Client } from '../../db/models';
import type { NumberInput } from '../../vault/vault-service';
import { VaultLinks, type LiveLink } from '../../vault/links';
import { maskName } from '../../reports/report-data';

const linkForm = z.object({
  code: z.string().max(20).default(''),
  number: z.string().max(100).default(''),
  issueDate: z.string().max(20).optional(),
  confirm: checkbox,
}).passthrough();

/**
 * The public page of a one-time link (支払先, or an employee's printed sheet): the purpose of use,
 * the code handed over apart from the link, the numbers. Unknown, used and expired links all
 * answer the same 404, so a link's state is not revealed.
 */
export function vaultLinkHandlers(services: Services) {
  async function show(req: Request, res: Response, link: LiveLink, errors: FieldErrors = {}, status = 200) {
    const client = await Client.findByPk(link.person.clientId);
    page(req, res, 'vault/link', {
      title: 'vault.link.pageTitle',
      clientName: client?.name ?? '',
      // Whoever holds the link, the code not yet typed: names masked (山＊ 太＊), enough for the
      // person to recognise their own family, nothing for someone who only intercepted the mail.
      personName: maskName(link.person.kind === 'payee' ? link.person.payee!.name : link.person.employee!.name),
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

  return {
    async show(req: Request, res: Response) {
      res.set('Referrer-Policy', 'no-referrer');
      await show(req, res, await liveLink(req));
    },

    async submit(req: Request, res: Response) {
      const link = await liveLink(req);
      const parsed = linkForm.safeParse(req.body ?? {});
      if (!parsed.success) return show(req, res, link, { _form: 'form.invalid' }, 400);
      const f = parsed.data;
      const issueDate = optionalDate.safeParse(f.issueDate);
      if (!issueDate.success) return show(req, res, link, { issueDate: 'form.date' }, 400);
      if (!f.confirm) return show(req, res, link, { confirm: 'vault.self.confirmRequired' }, 400);
      const dependants = new Map<string, NumberInput>();
      for (const d of link.dependants) {
        const typed = (req.body as Record<string, unknown>)[`dep_${d.id}`];
        if (typeof typed === 'string' && typed.trim()) dependants.set(d.id, { number: typed.slice(0, 100), issueDate: null });
      }
      const proof = req.session.vaultLinkCodeChecked === link.invitation.id ? { codeCheckedFor: link.invitation.id } : { code: f.code };
      try {
        await services.vaultLinks.submit(actorOf(req), String(req.params.token), proof, { number: f.number, issueDate: issueDate.data }, dependants);
      } catch (err) {
        if (err instanceof NotFound) throw new AppError(404, 'vault.link.dead');
        const errors = formErrors(err);
        if (!errors) throw err;
        if (!errors.code) req.session.vaultLinkCodeChecked = link.invitation.id;
        // A wrong code may have worn the link out: then say so instead of showing the form again.
        const still = await services.vaultLinks.find(String(req.params.token));
        if (!still) throw new AppError(404, 'vault.link.dead');
        return show(req, res, still, errors, (err as BadRequest).status);
      }
      delete req.session.vaultLinkCodeChecked;
      page(req, res, 'vault/link-done', { title: 'vault.link.pageTitle' });
    },
  };
}
