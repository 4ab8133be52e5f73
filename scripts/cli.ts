import { Command } from 'commander';
import { boot, configFromEnvironment, sealMessage } from '../server/boot';
import { ConfigError } from '../server/config';
import { pino } from 'pino';
import { Op } from 'sequelize';
import fs from 'node:fs';
import path from 'node:path';
import { AccessReport, Client, DisposalCertificate, NumberRecord } from '../server/db/models';
import { checkCertificateFile } from '../server/disposal/verify-certificate';
import { parsePeriod } from '../server/reports/periods';

/**
 * The operator's commands: `npm run cli -- <command>`. Each later feature adds its commands here,
 * so `npm run cli -- --help` lists them all.
 */
const program = new Command();
program.name('npm run cli --').description('暁ポータル operator commands / Akatsuki Portal operator commands');

async function withPortal<T>(fn: (b: Awaited<ReturnType<typeof boot>>) => Promise<T>): Promise<T> {
  const config = configFromEnvironment();
  const booted = await boot(config, { logger: pino({ level: 'silent' }) });
  try {
    return await fn(booted);
  } finally {
    await booted.close();
  }
}

program.command('audit:verify')
  .description('check the audit log hash chain; exits 1 and names the first broken row')
  .action(async () => {
    const verdict = await withPortal((b) => b.services.audit.verify());
    if (verdict.ok) {
      console.log(`OK: audit chain intact, ${verdict.checked} rows (head #${verdict.headSeq}).`);
      return;
    }
    console.error(`BROKEN: audit row #${verdict.firstBroken!.seq}: ${verdict.firstBroken!.reason} (${verdict.checked} rows verified before it).`);
    process.exitCode = 1;
  });

program.command('setup:link')
  .description('print a new one-time first-run setup link (only while no firm admin exists)')
  .action(async () => {
    await withPortal(async (b) => {
      if (b.services.keys.sealed) {
        console.error(sealMessage(b.services.keys, b.services.config));
        process.exitCode = 1;
        return;
      }
      if (!(await b.services.setup.needsSetup())) {
        console.error('A firm admin exists already; setup is done. Use the password-reset link to recover an account.');
        process.exitCode = 1;
        return;
      }
      console.log(`${b.services.config.publicUrl}/setup/${await b.services.setup.newSetupLink()}  (valid 1 hour, one use)`);
    });
  });

program.command('keys:status')
  .description('tell whether the master key is present and matches this database (sealed or not)')
  .action(async () => {
    await withPortal(async (b) => {
      if (b.services.keys.sealed) {
        console.error(sealMessage(b.services.keys, b.services.config));
        process.exitCode = 1;
      } else {
        console.log(`OK: master key ${b.services.config.masterKeyFile} matches this database.`);
      }
    });
  });

program.command('vault:status')
  .description('count the My Numbers held per client and status (counts only, never a number)')
  .action(async () => {
    await withPortal(async () => {
      const clients = await Client.findAll({ order: [['code', 'ASC']] });
      for (const c of clients) {
        const rows = await NumberRecord.findAll({ where: { clientId: c.id, sealedNumber: { [Op.ne]: null } }, attributes: ['status'] });
        const by = (s: string) => rows.filter((r) => r.status === s).length;
        console.log(`${c.code}\tnumbers=${rows.length}\tregistered=${by('registered')}\tperson_confirmed=${by('person_confirmed')}\tadmin_confirmed=${by('admin_confirmed')}`);
      }
    });
  });

program.command('report:run')
  .description('build one client\'s access report for a period (e.g. 2026-10, 2026-Q3, 2026) and write its PDF')
  .requiredOption('--client <code>', 'the client\'s code')
  .requiredOption('--period <period>', '2026-10 (month), 2026-Q3 (quarter) or 2026 (year)')
  .option('--out <file>', 'where to write the PDF (default: DATA_DIR/reports/<code>-<period>.pdf)')
  .action(async (opts: { client: string; period: string; out?: string }) => {
    await withPortal(async (b) => {
      const period = parsePeriod(opts.period);
      if (!period) throw new Error(`not a period: ${opts.period} (use 2026-10, 2026-Q3 or 2026)`);
      const client = await Client.findOne({ where: { code: opts.client } });
      if (!client) throw new Error(`no client with code ${opts.client}`);
      const built = await b.services.reports.build(client.id, period);
      const report = await AccessReport.findOne({ where: { clientId: client.id, period: period.key, status: 'ready' } });
      if (!report) throw new Error(built ? 'the report was not stored' : 'another process is building this report right now; try again in a minute');
      const out = path.resolve(opts.out ?? path.join(b.services.config.dataDir, 'reports', `${client.code}-${period.key}.pdf`));
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, await b.services.reports.read(report), { mode: 0o600 });
      console.error(built ? 'built now' : 'already built (written out as it was issued)');
      console.log(out);
    });
  });

program.command('certificate:list')
  .description('print the disposal certificates issued (number, issue time, client code, fingerprint)')
  .action(async () => {
    await withPortal(async () => {
      const clients = new Map((await Client.findAll()).map((c) => [c.id, c.code]));
      for (const c of await DisposalCertificate.findAll({ order: [['number', 'ASC']] })) {
        console.log(`${c.number}\t${c.issuedAt.toISOString()}\t${clients.get(c.clientId) ?? '-'}\t${c.fingerprint}`);
      }
    });
  });

program.command('certificate:export')
  .description('write one disposal certificate out as the client downloads it')
  .argument('<number>', 'e.g. DC-2026-000001')
  .argument('<file>', 'where to write the PDF')
  .action(async (number: string, file: string) => {
    await withPortal(async (b) => {
      const cert = await DisposalCertificate.findOne({ where: { number } });
      if (!cert) throw new Error(`no certificate ${number}`);
      fs.writeFileSync(path.resolve(file), await b.services.disposal.certificatePdf(cert));
      console.log(path.resolve(file));
    });
  });

program.command('certificate:verify')
  .description('check a certificate PDF offline: exits 0 only when it is genuine')
  .argument('<file>', 'the certificate PDF')
  .action(async (file: string) => {
    await withPortal(async (b) => {
      const answer = await checkCertificateFile(fs.readFileSync(path.resolve(file)), {
        findBySha256: async (hex) => DisposalCertificate.findOne({ where: { sha256: hex } }),
        trustedCertificatePem: await b.services.pdf.trustedCertificatePem(),
      });
      console.log(answer === 'genuine' ? 'genuine' : answer === 'not_genuine' ? 'NOT genuine' : 'unknown');
      if (answer !== 'genuine') process.exitCode = 1;
    });
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : `error: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
});
