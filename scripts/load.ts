/**
 * `npm run load [-- --mysql URL] [--duration S] [--uploads N] [--upload-mib N] [--reveal-seconds S] [--parts a,b,c] [--cpu-prof DIR]`:
 * the load test of scripts/bench/load.ts on its own — the portal under load on loopback, its own
 * process, each figure beside its target and beside a ceiling measured in the same run (see that
 * file for parts a, b and c). Figures, never asserted in tests. `npm run bench` runs it too.
 *   --parts a,b,c  which of the three to run (all by default; a always runs)
 *   --cpu-prof DIR  the portal writes a V8 CPU profile there when it stops (open it in Chrome's DevTools)
 *   --mysql URL  run on MariaDB/MySQL: a fresh database is made on that server and dropped after
 *                (e.g. mysql://root@127.0.0.1:3306/); SQLite in the DATA_DIR otherwise.
 * LOAD_SERVER_OUTPUT=1 passes the servers' output through to stderr.
 */
import os from 'node:os';
import { benchLoad } from './bench/load';
import { markdownTable } from './bench/table';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main() {
  const started = Date.now();
  const mysqlUrl = arg('mysql');
  console.log(`Akatsuki Portal under load — loopback, the portal in its own process (${mysqlUrl ? `MariaDB/MySQL at ${new URL(mysqlUrl).host}` : 'SQLite'}), ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at start`);
  const r = await benchLoad({
    duration: Number(arg('duration') ?? 15), uploads: Number(arg('uploads') ?? 20), uploadMib: Number(arg('upload-mib') ?? 100),
    revealSeconds: Number(arg('reveal-seconds') ?? 10), parts: new Set((arg('parts') ?? 'a,b,c').split(',')), cpuProf: arg('cpu-prof'), mysqlUrl,
  });
  console.log('');
  console.log(markdownTable(r.rows));
  console.log(`\n(load took ${((Date.now() - started) / 1000).toFixed(0)} s; load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
