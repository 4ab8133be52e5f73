import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Harness } from './harness';

export const ROOT = path.resolve(import.meta.dirname, '../..');

/** The environment that points a child process (CLI, server) at a harness's data and database. */
export function envFor(h: Pick<Harness, 'config'>, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH, HOME: process.env.HOME,
    DATA_DIR: h.config.dataDir,
    ...(h.config.databaseUrl ? { DATABASE_URL: h.config.databaseUrl } : {}),
    ...(h.config.masterKeyIsEmbedded ? {} : { MASTER_KEY_FILE: h.config.masterKeyFile }),
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/**
 * `node --import tsx`: the loader npm scripts run under (`tsx <script>`), without the tsx command's
 * own wrapper process, which started a second Node for every script (some 0.2–0.4 s of CPU each)
 * and stood between the test and the script's pid (as scripts/support/server-process.ts says).
 */
export const TSX_NODE = [process.execPath, '--import', 'tsx'] as const;

/** Runs a script of the project with tsx (the same runtime npm scripts use) and collects its output. */
export function runScript(script: string, args: string[], env: NodeJS.ProcessEnv, opts: { untilOutput?: RegExp; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX_NODE[0], [...TSX_NODE.slice(1), script, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out: ${stdout}\n${stderr}`)); }, opts.timeoutMs ?? 25_000);
    const check = () => { if (opts.untilOutput && opts.untilOutput.test(stdout + stderr)) child.kill('SIGTERM'); };
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); check(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); check(); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}
