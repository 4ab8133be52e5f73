import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sharedDatabase } from '../support/harness';
import { openDatabase } from '../../server/db/database';
import { runScript } from '../support/run-cli';
import { twelveDigitRunsOutsideIds } from '../support/vault';
import { pdfSig, pdfText } from '../support/pdf';

/** Last month in Japan time, as report:run names it (2026-10). */
function lastMonth(): string {
  const jst = new Date(Date.now() + 9 * 3600_000);
  const d = new Date(Date.UTC(jst.getUTCFullYear(), jst.getUTCMonth() - 1, 1));
  return d.toISOString().slice(0, 7);
}

describe('npm run demo', () => {
  it('loads a demo firm into DATA_DIR and prints how to sign in, with the client codes; refuses a folder that has users', async function () {
    // A cap, not a target: the demo and nine commands, each its own process (about 35 s alone, twice that on a busy machine).
    this.timeout(180_000);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-demo-'));
    const db = await sharedDatabase();
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, ...(db.url ? { DATABASE_URL: db.url } : {}) };
    try {
      const out = await runScript('scripts/demo.ts', [], env);
      expect(out.code, out.stderr).to.equal(0);
      expect(out.stdout).to.contain('Client codes: MINATO (株式会社みなと商事), SAKURA (有限会社さくら製作所)');
      const logins = [...out.stdout.matchAll(/^\s+(firm_admin|firm_staff|client_admin|employee)\s+(\S+@\S+)\s+(demo-\S+)$/gm)];
      expect(logins.map((m) => m[1])).to.deep.equal(['firm_admin', 'firm_staff', 'firm_staff', 'client_admin', 'employee', 'client_admin', 'employee']);
      expect(new Set(logins.map((m) => m[3])).size).to.equal(7);
      expect(out.stdout.match(/TOTP key for your authenticator app: [A-Z2-7]{32}/g)).to.have.length(3);

      // Numbers for every demo person but one payee, and none of them printed.
      expect(twelveDigitRunsOutsideIds(out.stdout)).to.deep.equal([]);
      const vault = await runScript('scripts/cli.ts', ['vault:status'], env);
      expect(vault.code, vault.stderr).to.equal(0);
      // MINATO: 8 people, one number (the leaver's) disposed of.
      expect(vault.stdout).to.match(/^MINATO\tnumbers=7\t/m);
      expect(vault.stdout).to.match(/^SAKURA\tnumbers=3\t/m);

      // A finished report for last month per client; report:run writes one out as a PDF.
      const report = await runScript('scripts/cli.ts', ['report:run', '--client', 'MINATO', '--period', lastMonth()], env);
      expect(report.code, report.stderr).to.equal(0);
      expect(report.stderr).to.contain('already built');
      const pdfPath = report.stdout.trim();
      expect(fs.readFileSync(pdfPath).subarray(0, 5).toString()).to.equal('%PDF-');
      // It tells the demo's history, dated last month: registrations, the staff member's reveals and print,
      // the disposal; the staff assigned then; today's reveal is not in it. Its signature holds.
      const text = pdfText(fs.readFileSync(pdfPath)).replace(/\s/g, '');
      expect(text).to.contain('佐藤職員').and.contain('から担当').and.contain('源泉徴収票').and.contain('DC-');
      const listed = (text.match(/佐藤職員/g) ?? []).length;
      expect(listed, 'the staff member: in the staff table and the log rows of last month').to.be.greaterThan(3);
      expect(pdfSig(fs.readFileSync(pdfPath))).to.contain('Signature is Valid.');
      // Read out by the operator as a download is: in the client's log.
      const sequelize = await openDatabase({ databaseUrl: db.url, dataDir, sqliteFile: path.join(dataDir, 'portal.sqlite') });
      try {
        const [rows] = await sequelize.query(`SELECT detail FROM audit_events WHERE operation = 'report.download' AND channel = 'cli:report:run'`) as [{ detail: string }[], unknown];
        expect(rows.map((r) => r.detail)).to.deep.equal(['written out by the operator']);
      } finally { await sequelize.close(); }
      // This month is not over: no report of it yet (it would stand for the whole month, issued once).
      const thisMonth = new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 7);
      const early = await runScript('scripts/cli.ts', ['report:run', '--client', 'MINATO', '--period', thisMonth], env);
      expect(early.code, "an error, as every refused command exits").to.equal(2);
      expect(early.stderr).to.contain(`${thisMonth} is not over yet`);

      // One executed disposal, its certificate listed and genuine.
      const certs = await runScript('scripts/cli.ts', ['certificate:list'], env);
      expect(certs.code, certs.stderr).to.equal(0);
      const number = /^(DC-\d{4}-\d{6})\t/m.exec(certs.stdout)?.[1];
      expect(number, certs.stdout).to.match(/^DC-\d{4}-000001$/);
      expect(out.stdout).to.contain(number!);
      const certFile = path.join(dataDir, 'cert.pdf');
      expect((await runScript('scripts/cli.ts', ['certificate:export', number!, certFile], env)).code).to.equal(0);
      expect(pdfSig(fs.readFileSync(certFile)), 'signed last month, by a signer made then').to.contain('Signature is Valid.');
      const verified = await runScript('scripts/cli.ts', ['certificate:verify', certFile], env);
      expect([verified.code, verified.stdout.trim()]).to.deep.equal([0, 'genuine']);

      const verify = await runScript('scripts/cli.ts', ['audit:verify'], env);
      expect(verify.code).to.equal(0);
      expect(verify.stdout).to.match(/OK: audit chain intact, \d+ rows/);

      const again = await runScript('scripts/demo.ts', [], env);
      expect(again.code).to.equal(1);
      expect(again.stderr).to.contain('already holds users');
    } finally {
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
