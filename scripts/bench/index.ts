/**
 * `npm run bench [-- --mib N] [--runs N] [--json FILE] [--portal-only] [--profile DIR]`: speed figures, never asserted in tests.
 *   --runs N       runs of each transfer, the median kept (default 3)
 *   --portal-only  skip the baseline servers (their figures and the ratios read 0)
 *   --profile DIR  write a V8 CPU profile of the portal process (node --cpu-prof) into DIR
 * Targets (issue 3): encrypted upload ≥ 0.75 × Express+multer to disk; download ≥ 0.75 × a plain
 * file stream; the portal's memory grows by less than 100 MiB for a 1 GiB file.
 */
import fs from 'node:fs';
import { benchFiles } from './files';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main() {
  const mib = Number(arg('mib') ?? 1024);
  const figures: Record<string, number> = {};
  const runs = Number(arg('runs') ?? 3);
  console.log(`File exchange, ${mib} MiB over loopback (each server in its own process; median of ${runs} runs):`);
  const f = await benchFiles(mib, { portalOnly: process.argv.includes('--portal-only'), profileDir: arg('profile'), runs });
  Object.assign(figures, f);
  const row = (label: string, value: string, target = '') => console.log(`  ${label.padEnd(44)} ${value.padStart(10)}  ${target}`);
  row('portal upload (multer → type check → AES-GCM → storage)', `${f.upload_mb_s} MB/s`);
  row('Express + multer disk storage upload', `${f.upload_multer_disk_mb_s} MB/s`);
  row('bare node:http pipe to disk upload', `${f.upload_plain_mb_s} MB/s`);
  row('upload ratio portal / multer-disk', `${f.upload_ratio_multer_disk}`, `target ≥ 0.75 ${f.upload_ratio_multer_disk >= 0.75 ? 'OK' : 'MISSED'}`);
  row('portal download (storage → verify → decrypt)', `${f.download_mb_s} MB/s`);
  row('plain file stream download', `${f.download_plain_mb_s} MB/s`);
  row('download ratio portal / plain', `${f.download_ratio_plain}`, `target ≥ 0.75 ${f.download_ratio_plain >= 0.75 ? 'OK' : 'MISSED'}`);
  row('server CPU s, upload portal / multer-disk', `${f.upload_cpu_s} / ${f.upload_multer_disk_cpu_s}`);
  row('server CPU s, download portal / plain', `${f.download_cpu_s} / ${f.download_plain_cpu_s}`);
  row('portal RSS at start', `${f.portal_rss_start_mib} MiB`);
  row('portal peak RSS during upload / download', `${f.upload_peak_rss_mib} / ${f.download_peak_rss_mib} MiB`);
  row('portal RSS growth (peak − start)', `${f.rss_growth_mib} MiB`, `target < 100 ${f.rss_growth_mib < 100 ? 'OK' : 'MISSED'}`);
  const json = arg('json');
  if (json) {
    fs.writeFileSync(json, `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`figures written to ${json}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
