import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { openDatabase } from '../db/database';
import type { Config } from '../config';

/**
 * A consistent copy of the database while the portal keeps running. SQLite: `VACUUM INTO` (a
 * snapshot in one read transaction). MySQL/MariaDB: `mariadb-dump` (or `mysqldump`) with
 * --single-transaction, the password passed in the environment so it never shows in a process list.
 * The file is created with mode 0600 and must not exist yet.
 */
export async function backupDatabase(config: Pick<Config, 'databaseUrl' | 'sqliteFile' | 'dataDir'>, file: string): Promise<void> {
  if (fs.existsSync(file)) throw new Error(`${file} exists already; choose a new file`);
  if (!config.databaseUrl) {
    const sequelize = await openDatabase(config);
    try {
      await sequelize.query('VACUUM INTO ?', { replacements: [file] });
      fs.chmodSync(file, 0o600);
    } finally {
      await sequelize.close();
    }
    return;
  }
  const url = new URL(config.databaseUrl);
  const args = ['--single-transaction', '--hex-blob', '--default-character-set=utf8mb4', '-h', url.hostname, '-P', url.port || '3306', '-u', decodeURIComponent(url.username), url.pathname.slice(1)];
  const out = fs.openSync(file, 'wx', 0o600);
  try {
    await new Promise<void>((resolve, reject) => {
      const tryTool = (tools: string[]) => {
        const child = spawn(tools[0]!, args, { stdio: ['ignore', out, 'pipe'], env: { ...process.env, MYSQL_PWD: decodeURIComponent(url.password) } });
        let err = '';
        child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
        child.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' && tools.length > 1 ? tryTool(tools.slice(1)) : reject(new Error(`${tools[0]} could not run: ${e.message}`))));
        child.on('close', (code) => (code === 0 ? resolve() : code === null ? undefined : reject(new Error(`${tools[0]} failed (${code}): ${err.trim().slice(0, 500)}`))));
      };
      tryTool(['mariadb-dump', 'mysqldump']);
    });
  } catch (err) {
    fs.rmSync(file, { force: true });
    throw err;
  } finally {
    fs.closeSync(out);
  }
}
