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
import { backupDatabase } from '../server/backup/database-backup';
import { systemContext } from '../server/audit';

/**
 * The operator's commands: `npm run cli -- <command>`. Each later feature adds its commands here,
 * so `npm run cli -- --help` lists them all.
 */
const program = new Command();
program.name('npm run cli --').description('暁ポータル operator commands / Akatsuki Portal operator commands');

/** The channel of what an operator command does, in the log ("how": the system). */
const CLI = (command: string) => `cli:${command}`;

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

program.command('backup:database')
  .argument('<file>', 'where to write the copy (must not exist)')
  .description('a consistent copy of the database while the portal runs (SQLite: VACUUM INTO; MySQL: mariadb-dump --single-transaction)')
  .action(async (file: string) => {
    await backupDatabase(configFromEnvironment(), path.resolve(file));
    console.log(`database copied to ${path.resolve(file)}`);
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
      if (period.end.getTime() > Date.now()) throw new Error(`${opts.period} is not over yet: a report is made once its period has ended (it is issued once and never rebuilt)`);
      const client = await Client.findOne({ where: { code: opts.client } });
      if (!client) throw new Error(`no client with code ${opts.client}`);
      const built = await b.services.reports.build(client.id, period, new Date(), CLI('report:run'));
      const report = await AccessReport.findOne({ where: { clientId: client.id, period: period.key, status: 'ready' } });
      if (!report) throw new Error(built ? 'the report was not stored' : 'another process is building this report right now; try again in a minute');
      const out = path.resolve(opts.out ?? path.join(b.services.config.dataDir, 'reports', `${client.code}-${period.key}.pdf`));
      fs.mkdirSync(path.dirname(out), { recursive: true });
      const pdf = await b.services.reports.read(report);
      // Read out as a download is: logged first (no row, no file).
      await b.services.audit.recordAlone(systemContext(CLI('report:run')), { operation: 'report.download', result: 'allowed', clientId: client.id, targetKind: 'report', targetId: report.id, targetLabel: period.key, detail: 'written out by the operator' });
      fs.writeFileSync(out, pdf, { mode: 0o600 });
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
      const pdf = await b.services.disposal.certificatePdf(cert);
      await b.services.audit.recordAlone(systemContext(CLI('certificate:export')), { operation: 'certificate.download', result: 'allowed', clientId: cert.clientId, targetKind: 'certificate', targetId: cert.id, targetLabel: cert.number, detail: 'written out by the operator' });
      fs.writeFileSync(path.resolve(file), pdf);
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

// Key rotation (server/crypto/rotation.ts). Imported here, so the commands above stay untouched.
program.command('keys:rotate-master')
  .description('rewrap everything under a new master key (portal stopped; resumable: run it again if interrupted)')
  .requiredOption('--new-key-file <path>', 'the new master key: 64 hex digits (e.g. openssl rand -hex 32 > new.key; chmod 600 new.key)')
  .action(async (opts: { newKeyFile: string }) => {
    const { readMasterKey } = await import('../server/crypto/master-key');
    const { rotateMasterKey, RotationError } = await import('../server/crypto/rotation');
    const config = configFromEnvironment();
    const newFile = path.resolve(opts.newKeyFile);
    if (newFile === path.resolve(config.masterKeyFile)) throw new Error('--new-key-file is the current MASTER_KEY_FILE; give the new key in a file of its own');
    const current = readMasterKey(config.masterKeyFile, false);
    if (current.kind !== 'ok') throw new Error(`the current master key ${config.masterKeyFile} is ${current.kind === 'missing' ? 'missing' : 'unreadable'}`);
    const next = readMasterKey(newFile, false);
    if (next.kind !== 'ok') throw new Error(`the new master key ${newFile} is ${next.kind === 'missing' ? 'missing' : 'not 64 hex digits'}`);
    await withPortal(async (b) => {
      await b.services.audit.recordAlone(systemContext(CLI('keys:rotate-master')), { operation: 'keys.rotate', result: 'allowed', targetKind: 'key', targetLabel: 'master', detail: 'started' });
      let result;
      try {
        result = await rotateMasterKey(current.keyRing, next.keyRing);
      } catch (err) {
        console.error(`NOT DONE: ${err instanceof RotationError ? err.message : err instanceof Error ? err.message : String(err)}`);
        console.error('Nothing is lost: every row opens with the current or the new key. Fix the cause and run the same command again; it continues where it stopped. Do not start the portal in between.');
        process.exitCode = 1;
        return;
      }
      const r = result.rows;
      await b.services.audit.recordAlone(systemContext(CLI('keys:rotate-master')), {
        operation: 'keys.rotate', result: 'allowed', targetKind: 'key', targetLabel: 'master',
        detail: `client keys ${r.clientKeys.rewrapped}, firm keys ${r.firmKeys.rewrapped}, TOTP seeds ${r.totpSeeds.rewrapped}, signing keys ${r.signingKeys.rewrapped}, queued mails ${r.queuedMails.rewrapped} rewrapped`,
      });
      console.log(`OK: master key rotated${result.keyCheck === 'already' ? ' (an earlier run had finished; checked again)' : ''}.`);
      console.log(`  client keys rewrapped ${r.clientKeys.rewrapped} (already done ${r.clientKeys.already}), firm keys ${r.firmKeys.rewrapped} (${r.firmKeys.already}), TOTP seeds ${r.totpSeeds.rewrapped} (${r.totpSeeds.already}), PDF signing key ${r.signingKeys.rewrapped} (${r.signingKeys.already}), queued mails ${r.queuedMails.rewrapped} (${r.queuedMails.already}); key-check value now matches the new key.`);
      console.log('Next:');
      console.log(`  1. Point MASTER_KEY_FILE at ${newFile} (or put it in place of ${config.masterKeyFile}, mode 0600), then start the portal.`);
      console.log('  2. `npm run cli -- keys:status` must answer OK; with the old key the portal now starts sealed (wrong key).');
      console.log('  3. Back up the new key; then destroy the old key file and every copy of it.');
      console.log('Effects: every session ends (everyone signs in again, TOTP seeds stay valid); one-time registration link codes issued before now no longer match: issue new links.');
    });
  });

program.command('keys:rotate-client')
  .description('make a new version of a client\'s keys and re-seal its files, report PDFs, numbers and blind indexes under it (resumable, portal may run)')
  .requiredOption('--client <code>', 'the client\'s code')
  .option('--purpose <purpose>', 'files | numbers | index | all', 'all')
  .action(async (opts: { client: string; purpose: string }) => {
    const { rotateClientKey, RotationError } = await import('../server/crypto/rotation');
    const { CLIENT_KEY_PURPOSES } = await import('../server/clients/client-keys');
    const purposes = opts.purpose === 'all' ? CLIENT_KEY_PURPOSES : CLIENT_KEY_PURPOSES.filter((p) => p === opts.purpose);
    if (purposes.length === 0) throw new Error(`not a purpose: ${opts.purpose} (files, numbers, index or all)`);
    await withPortal(async (b) => {
      if (b.services.keys.sealed) {
        console.error(sealMessage(b.services.keys, b.services.config));
        process.exitCode = 1;
        return;
      }
      const client = await Client.findOne({ where: { code: opts.client } });
      if (!client) throw new Error(`no client with code ${opts.client}`);
      // Logged before the work (every number re-sealed is opened to do it), and each purpose when done.
      await b.services.audit.recordAlone(systemContext(CLI('keys:rotate-client')), {
        operation: 'keys.rotate', result: 'allowed', clientId: client.id, targetKind: 'key', targetLabel: purposes.join(','), detail: 'started',
      });
      try {
        for (const r of await rotateClientKey({ sequelize: b.sequelize, clientKeys: b.services.clientKeys, storage: b.services.storage }, client.id, purposes)) {
          // Every number re-sealed was opened to do it: the client's log (and report) says so.
          await b.services.audit.recordAlone(systemContext(CLI('keys:rotate-client')), {
            operation: 'keys.rotate', result: 'allowed', clientId: client.id, targetKind: 'key', targetLabel: r.purpose,
            detail: `version ${r.version} ${r.state}, ${r.rewritten} rewritten`,
          });
          const how = r.state === 'resumed' ? 'finished the interrupted rotation to' : 'new';
          if (r.state === 'unchanged') {
            console.log(`${client.code}\t${r.purpose}\tunchanged (version ${r.version}): this run finished an interrupted rotation; run the command again for a new version.`);
          } else {
            const what = { files: 'files and report PDFs re-encrypted', numbers: 'numbers re-sealed', index: 'blind indexes recomputed' }[r.purpose];
            console.log(`${client.code}\t${r.purpose}\t${how} version ${r.version}: ${r.rewritten} ${what}.`);
          }
        }
      } catch (err) {
        console.error(`NOT DONE: ${err instanceof RotationError ? err.message : err instanceof Error ? err.message : String(err)}`);
        console.error('Every number and file still opens. Run the same command again: it finishes this rotation before making another version.');
        process.exitCode = 1;
      }
    });
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : `error: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
});
