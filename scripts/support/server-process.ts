import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export interface StartedServer { child: ChildProcess; match: RegExpMatchArray; pid: number }

/**
 * Starts `node --import tsx <script> …` directly, so the child's pid is the server itself.
 * (`node_modules/.bin/tsx <script>` runs the script in a second, grandchild node process: its pid
 * was the wrapper's, /proc figures were the wrapper's, and killing the wrapper left the real
 * server running as an orphan holding our stdout/stderr pipes.)
 * Resolves once stdout matches `ready`; `pidOf(match)` names the pid the server reports itself,
 * which must be the child's. `echoEnv` names an environment variable that, when set, copies the
 * server's output to our stderr.
 */
export function startServer(script: string, o: { args?: string[]; env: NodeJS.ProcessEnv; ready: RegExp; pidOf: (m: RegExpMatchArray) => number; nodeArgs?: string[]; echoEnv: string }): Promise<StartedServer> {
  return new Promise((resolve, reject) => {
    // The database is the caller's choice (o.env), never the shell's: with DATABASE_URL exported, the
    // seeding (which reads only o.env) wrote SQLite while the portal opened, and migrated, that database.
    const { DATABASE_URL: _shell, ...inherited } = process.env;
    const child = spawn(process.execPath, [...(o.nodeArgs ?? []), '--import', 'tsx', script, ...(o.args ?? [])], { cwd: ROOT, env: { ...inherited, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let ok = false;
    // Keep reading both pipes for the server's whole life (a full pipe would stall its logger); keep a tail for errors.
    const keep = (d: Buffer) => { out = (out + d.toString()).slice(-20_000); };
    child.stdout!.on('data', (d: Buffer) => {
      keep(d);
      const m = ok ? null : o.ready.exec(out);
      if (!m) return;
      ok = true;
      clearTimeout(timer);
      const reported = o.pidOf(m);
      if (reported !== child.pid) {
        child.kill('SIGKILL');
        reject(new Error(`${script}: the server reports pid ${reported}, but the spawned process is ${child.pid}`));
        return;
      }
      resolve({ child, match: m, pid: child.pid });
    });
    child.stderr!.on('data', keep);
    if (process.env[o.echoEnv]) for (const s of [child.stdout!, child.stderr!]) s.pipe(process.stderr, { end: false });
    child.once('error', reject);
    child.once('exit', (code, signal) => { if (!ok) { clearTimeout(timer); reject(new Error(`${script} exited (${code ?? signal}):\n${out}`)); } });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${script} did not get ready in 60 s:\n${out}`)); }, 60_000);
  });
}

/** Ends a server (SIGTERM, SIGKILL after `killAfterMs`) and waits until its process is gone and its pipes are closed. */
export async function stopServer(child: ChildProcess, killAfterMs = 8_000): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    await exited;
    clearTimeout(timer);
  }
  child.stdout?.destroy();
  child.stderr?.destroy();
}
