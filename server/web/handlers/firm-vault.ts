import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Services } from '../../services';
import { actorOf } from '../context';
import { flash, flashBesideRow, page } from '../render';
import { parseForm, reauthThen, tickedValues } from '../forms';
import { purposeForm } from '../vault-forms';
import { listQueryOf, querySuffix, vaultListData } from '../vault-list';
import { reauthActive } from '../middleware/guards';
import { checkOnList } from './client-vault';
import { BadRequest, Forbidden, NotFound } from '../../errors';
import { clientCrumb, presentClient } from '../../presenters/client';
import { formatDateTime } from '../../presenters/format';
import { groupDigits } from '../../presenters/vault';
import { toCsv } from '../../vault/csv';
import { ownName } from '../../vault/people';
import type { Purpose, RevealOperation } from '../../vault/vault-service';
import { japanDay } from '../../domain/dates';
import { translate } from '../../i18n';
import { listedPurpose } from '../../domain/purposes';

const UUID = /^[0-9a-f-]{36}$/i;
const selection = z.object({ ids: tickedValues(UUID, 500) });

/** The firm's vault screens: the masked list, 照合, and reveal / print / CSV after re-authentication with a purpose. */
export function firmVaultHandlers(services: Services) {
  const { vault } = services;

  async function showList(req: Request, res: Response, extra: Record<string, unknown> = {}, status = 200) {
    const client = await services.clients.getFor(req.user!, String(req.params.clientId));
    const assigned = await vault.isAssigned(req.user!, client.id);
    const list = await vaultListData(services, req, client.id);
    const listAction = `/firm/clients/${client.id}/numbers`;
    page(req, res, 'vault/firm-list', {
      title: 'vault.title',
      client: presentClient(client),
      clientCrumb: clientCrumb(req.user!.role, client),
      ...list,
      listAction,
      // Re-authenticated, back to the list as it was (filtered, on its page) and at the purpose choice, the next step.
      reauthHref: reauthThen(`${listAction}${list.listSuffix}#purpose-choice`),
      reauthActive: reauthActive(req),
      // The firm admin sees every client but opens numbers only where assigned: say so before a button is pressed.
      assigned,
      mayOpen: assigned && reauthActive(req),
      canAssign: req.user!.role === 'firm_admin',
      // 顧問先に登録をお願いする: offered to those who work on the client while numbers are missing; its answer stands beside it.
      askClient: assigned ? await askClientOffer(client.id) : null,
      flashBesideRow: flashBesideRow(req, ['ask-client']),
      ...extra,
    }, status);
  }

  async function askClientOffer(clientId: string) {
    const missing = (await vault.countByStatus(clientId)).missing ?? 0;
    return missing ? { missing, admins: (await services.reminders.clientAdminsWhoCanSignIn(clientId)).length } : null;
  }

  /**
   * The checks every opening shares, in order: the user is assigned to the client (else 403,
   * logged: for firm members a client's existence is no secret), then purpose and office are
   * given (else 400, logged).
   */
  async function purposeFor(req: Request, operation: RevealOperation, recordIds: string[]): Promise<{ clientId: string; purpose: Purpose }> {
    const clientId = String(req.params.clientId);
    if (!UUID.test(clientId)) throw new NotFound();
    const f = parseForm(purposeForm, req.body);
    const ctx = actorOf(req);
    // Only listed values reach the log: a free-text field could carry anything, a number included.
    const known = listedPurpose(req.body);
    await vault.assertMayReveal(ctx, req.user!, clientId, operation, f.ok ? f.data : known, recordIds);
    if (!f.ok) {
      await vault.recordDenied(ctx, clientId, operation, f.errors.office === 'vault.officeMismatch' ? 'office does not fit the purpose' : 'no purpose', known, recordIds);
      throw new BadRequest(Object.values(f.errors)[0] ?? 'vault.purposeRequired', f.errors);
    }
    return { clientId, purpose: f.data };
  }

  /**
   * The checks and the opening together; a refused purpose (none, an office it is not filed at, a
   * payee's number for another procedure) brings the list back with the reason beside the choice.
   */
  async function openOrShow(req: Request, res: Response, operation: RevealOperation, ids: string[]) {
    try {
      const { clientId, purpose } = await purposeFor(req, operation, ids);
      return { clientId, purpose, opened: await vault.open(actorOf(req), clientId, ids, purpose, operation) };
    } catch (err) {
      if (!(err instanceof BadRequest)) throw err;
      await showList(req, res, { purposeErrors: Object.keys(err.fieldErrors).length ? err.fieldErrors : { purpose: err.messageKey }, purposeValues: listedPurpose(req.body) }, 400);
      return null;
    }
  }

  const labels = (req: Request, p: Purpose) => ({
    purposeLabel: translate(req.lang, `purpose.${p.purpose}`), officeLabel: translate(req.lang, `office.${p.office}`),
  });

  return {
    list: (req: Request, res: Response) => showList(req, res),

    /** The firm asks the client's admins, by mail, to register the numbers still missing (how many, never whose). */
    async askClient(req: Request, res: Response) {
      const client = await services.clients.getFor(req.user!, String(req.params.clientId));
      if (!(await vault.isAssigned(req.user!, client.id))) throw new Forbidden('vault.notAssigned');
      const { missing, asked, askedToday } = await services.reminders.askClient(actorOf(req), client.id);
      if (asked) flash(req, 'ok', 'vault.askClient.sent', asked, 'ask-client');
      else if (askedToday) flash(req, 'ok', 'vault.askClient.alreadyToday', askedToday, 'ask-client');
      else if (missing) flash(req, 'error', 'vault.askClient.noAdmins', undefined, 'ask-client');
      else flash(req, 'ok', 'vault.askClient.nothingMissing', undefined, 'ask-client');
      res.redirect(303, `/firm/clients/${client.id}/numbers?status=missing#ask-client`);
    },

    async check(req: Request, res: Response) {
      const client = await services.clients.getFor(req.user!, String(req.params.clientId));
      // 照合 answers whether a typed number is the one held: for the firm, only its assigned members may ask.
      await vault.assertMayReveal(actorOf(req), req.user!, client.id, 'vault.check', null, [String(req.params.recordId)]);
      await checkOnList(services, req, res, client.id, showList);
    },

    /** One number, shown for REVEAL_SECONDS: the page hides it itself and a refresh goes back to the list. */
    async reveal(req: Request, res: Response) {
      const done = await openOrShow(req, res, 'vault.reveal', [String(req.params.recordId)]);
      if (!done) return;
      const { clientId, purpose, opened: [opened] } = done;
      const client = await services.clients.getFor(req.user!, clientId);
      // Back to the list as it was left (its filters and page), at this person's row.
      const list = `/firm/clients/${clientId}/numbers${querySuffix(listQueryOf(req.query))}`;
      page(req, res, 'vault/reveal', {
        title: 'vault.reveal.title',
        client: presentClient(client),
        backTo: `${list}#person-${opened!.person.id}`,
        person: { label: opened!.person.label, employeeCode: opened!.person.employeeCode },
        number: groupDigits(opened!.number),
        seconds: services.config.revealSeconds,
        // Without the page's script the browser still leaves the page when the time is up.
        noscriptRefresh: `${services.config.revealSeconds}; url=${list}`,
        ...labels(req, purpose),
        at: formatDateTime(new Date(), req.lang),
      });
    },

    /** A procedure's set of people on one printable page (logged as 印刷, one row per person). */
    async print(req: Request, res: Response) {
      const done = await openOrShow(req, res, 'vault.print', selection.parse(req.body ?? {}).ids);
      if (!done) return;
      const { clientId, purpose, opened } = done;
      const client = await services.clients.getFor(req.user!, clientId);
      page(req, res, 'vault/print', {
        title: 'vault.print.title',
        client: presentClient(client),
        // Back to the list as it was left (its filters and page), as the reveal page leads; the link is not printed.
        backTo: `/firm/clients/${clientId}/numbers${querySuffix(listQueryOf(req.query))}`,
        // A dependant's 続柄, as the CSV export gives it.
        rows: opened.map((o) => ({
          employeeCode: o.person.employeeCode, label: o.person.label, number: groupDigits(o.number), issueDate: o.record.issueDate ?? '',
          relationshipKey: o.person.dependant?.relationship ? `people.relationship.${o.person.dependant.relationship}` : null,
        })),
        ...labels(req, purpose),
        at: formatDateTime(new Date(), req.lang),
        operator: req.user!.name,
      });
    },

    /** CSV for payroll software: the same rules as a reveal, one audit row per person, formula-safe cells. */
    async exportCsv(req: Request, res: Response) {
      const done = await openOrShow(req, res, 'vault.export', selection.parse(req.body ?? {}).ids);
      if (!done) return;
      const { clientId, purpose, opened } = done;
      const client = await services.clients.getFor(req.user!, clientId);
      const t = (k: string) => translate(req.lang, k);
      const csv = toCsv(
        [t('vault.csv.employeeCode'), t('vault.csv.name'), t('vault.csv.kind'), t('vault.csv.relationship'), t('vault.csv.number'), t('vault.csv.issueDate')],
        // 氏名 is the person's own (a dependant's employee is the row's 社員コード), as payroll software reads it.
        opened.map((o) => [o.person.employeeCode, ownName(o.person), t(`vault.kind.${o.person.kind}`), o.person.dependant?.relationship ? t(`people.relationship.${o.person.dependant.relationship}`) : '', o.number, o.record.issueDate]),
      );
      res.status(200).set({
        'Content-Type': 'text/csv; charset=utf-8',
        // Whose, for what and when: exports of several clients and days do not overwrite one another in a downloads folder.
        'Content-Disposition': `attachment; filename="mynumber-${client.code}-${purpose.purpose}-${japanDay().replaceAll('-', '')}.csv"`,
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
      }).send(csv);
    },
  };
}
