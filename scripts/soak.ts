/**
 * `npm run soak [-- --loops N] [--kib N] [--warmup N] [--mysql URL]`: the soak of scripts/bench/soak.ts
 * on its own — N loops (default 1000) of a 256 KiB upload then its download against the portal in its
 * own process, RSS and open descriptors at the start, every 100 loops and at the end, then its table
 * (target: RSS growth < 50 MiB, descriptors within ±10). `npm run bench` runs it too.
 *   --mysql URL  run on MariaDB/MySQL (a fresh database, dropped after); SQLite in a temporary DATA_DIR otherwise.
 */
import os from 'node:os';
import { benchSoak } from './bench/soak';
import { markdownTable } from './bench/table';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main() {
  const started = Date.now();
  const r = await benchSoak({
    loops: Number(arg('loops') ?? 1000), kib: Number(arg('kib') ?? 256), warmup: Number(arg('warmup') ?? 20), mysqlUrl: arg('mysql'),
  });
  console.log(`\nSoak (${r.database}), ${os.cpus().length} CPUs:\n`);
  console.log(markdownTable(r.rows));
  console.log(`\n(soak took ${((Date.now() - started) / 1000).toFixed(0)} s; load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
