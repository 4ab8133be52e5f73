import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes, randomUUID } from 'node:crypto';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { s3ClientFor } from '../../storage-adapters/s3';

/**
 * A throw-away, real S3-compatible server for tests: Debian's Ceph radosgw on a one-node cluster
 * (one monitor, one OSD keeping its data in memory), everything inside one temp folder, bound to
 * 127.0.0.1 on free ports. Needs the Debian packages ceph-mon ceph-osd radosgw ceph-common
 * (apt-get install --no-install-recommends). Comes up in about a second (measured here: 0.7–0.9 s)
 * and uses some 130 MiB of memory plus what is stored (the OSD keeps it in RAM; about 210 MiB in
 * all after the contract suite). Set KEEP_RADOSGW_DIR=1 to keep the logs of a failed start.
 */
export interface Radosgw {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  /** how long start-up took, in milliseconds */
  startupMs: number;
  /** the temp folder (ceph.conf, logs) while running */
  dir: string;
  /** Kills every process it started and removes the temp folder. */
  stop(): Promise<void>;
}

const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'monmaptool'];

const onPath = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** null when radosgw can be started here; otherwise why not (for a skip message). */
export function radosgwUnavailable(): string | null {
  const missing = BINARIES.filter((b) => !onPath(b));
  if (missing.length === 0) return null;
  return `${missing.join(', ')} not found: install the Debian packages with ` +
    '`apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common`';
}

// Every daemon and temp folder of every instance, so that nothing outlives the test process even
// when stop() is never reached (mocha --exit calls process.exit, which runs 'exit' listeners).
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of liveDirs) fs.rmSync(dir, { recursive: true, force: true });
  });
}

// setpriv (util-linux) makes the kernel SIGKILL a daemon when this process dies, even by SIGKILL
// (where no 'exit' listener runs). The daemons are spawned from Node's main thread, so the
// "parent thread died" trigger fires only when the whole process ends.
const SETPRIV = onPath('setpriv');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const execFileP = promisify(execFile);

function tail(file: string, lines = 25): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startRadosgw(opts: { bucket?: string; timeoutMs?: number } = {}): Promise<Radosgw> {
  const why = radosgwUnavailable();
  if (why) throw new Error(why);
  installExitHook();
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 120_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-radosgw-'));
  liveDirs.add(dir);
  const children: ChildProcess[] = [];
  const exited = new Map<ChildProcess, string>();

  const stop = async (keepDir = false) => {
    await Promise.all(children.map((child) => new Promise<void>((resolve) => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      // SIGKILL: the data lives in memory and is thrown away; a clean OSD shutdown would first
      // write the whole memstore out to disk and wait for the (possibly dead) monitor.
      child.kill('SIGKILL');
    })));
    for (const child of children) liveChildren.delete(child);
    if (!keepDir) fs.rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };

  try {
    const [monPort, rgwPort] = await distinctFreePorts(2);
    const fsid = randomUUID();
    const conf = path.join(dir, 'ceph.conf');
    for (const sub of ['run', 'log', 'mon', 'osd', 'rgw']) fs.mkdirSync(path.join(dir, sub));
    fs.writeFileSync(conf, [
      '[global]',
      `fsid = ${fsid}`,
      // v1 only (ms_bind_msgr2 = false): the address must say so, or clients try msgr2 first.
      `mon host = [v1:127.0.0.1:${monPort}]`,
      'mon initial members = a',
      'auth cluster required = none',
      'auth service required = none',
      'auth client required = none',
      'ms bind msgr2 = false',
      'osd objectstore = memstore',
      'memstore device bytes = 536870912',
      'osd pool default size = 1',
      'osd pool default min size = 1',
      'osd pool default pg num = 8',
      'osd pool default pgp num = 8',
      'osd pool default pg autoscale mode = off',
      // One host: replicas (there is just one) are spread over OSDs, not hosts.
      'osd crush chooseleaf type = 0',
      // The OSD would place itself in the CRUSH map with monitor commands sent right at start, which
      // races its first monitor map: in about 1 start of 8 they carry fsid 0, the monitor answers
      // "wrong fsid" and the OSD exits. We place it ourselves (ceph osd crush add) instead.
      'osd crush update on start = false',
      'osd class update on start = false',
      'mon allow pool size one = true',
      'mon allow pool delete = true',
      // A nearly full CI disk must not stop the monitor (it refuses to run below 5 % by default).
      'mon data avail warn = 1',
      'mon data avail crit = 1',
      'mon warn on insecure global id reclaim allowed = false',
      // radosgw creates its pools one by one at start; each is a few monitor proposals, which by
      // default are batched for a second each.
      'paxos propose interval = 0.01',
      'paxos min wait = 0.01',
      `run dir = ${dir}/run`,
      `admin socket = ${dir}/run/$name.asok`,
      `pid file = ${dir}/run/$name.pid`,
      `log file = ${dir}/log/$name.log`,
      `mon data = ${dir}/mon/$name`,
      `osd data = ${dir}/osd/$name`,
      `rgw data = ${dir}/rgw/$name`,
      `keyring = ${dir}/keyring`,
      `rgw frontends = beast endpoint=127.0.0.1:${rgwPort}`,
      'rgw thread pool size = 32',
      '',
      '[osd]',
      // Otherwise the OSD listens on 0.0.0.0:6800-6803, with authentication off.
      'public addr = 127.0.0.1',
      'cluster addr = 127.0.0.1',
      '',
    ].join('\n'));

    const run = async (cmd: string, args: string[]) => {
      const left = Math.max(1000, deadline - Date.now());
      try {
        const { stdout } = await execFileP(cmd, ['-c', conf, ...args], { timeout: left, killSignal: 'SIGKILL' });
        return stdout.trim();
      } catch (err) {
        const e = err as Error & { stderr?: string };
        throw new Error(`radosgw setup: ${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
      }
    };
    const daemon = (name: string, cmd: string, args: string[]) => {
      const out = fs.openSync(path.join(dir, 'log', `${name}.out`), 'a');
      const argv = [cmd, '-f', '-c', conf, ...args];
      const child = SETPRIV
        ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', ...argv], { stdio: ['ignore', out, out] })
        : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', out, out] });
      fs.closeSync(out);
      children.push(child);
      liveChildren.add(child);
      child.once('exit', (code, signal) => exited.set(child, `${name} exited (${signal ?? `code ${code}`})\n${tail(path.join(dir, 'log', `${name}.out`))}`));
      child.once('error', (err) => exited.set(child, `${name} could not start: ${err.message}`));
      return child;
    };
    const alive = () => {
      const dead = [...exited.values()];
      if (dead.length > 0) throw new Error(`radosgw setup: ${dead.join('\n')}`);
    };

    // 1. the monitor
    const monmap = path.join(dir, 'monmap');
    await execFileP('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v1:127.0.0.1:${monPort}]`, monmap]);
    await run('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', monmap]);
    daemon('mon.a', 'ceph-mon', ['-i', 'a']);

    // 2. one OSD, its objects in memory (`ceph osd create` waits for the monitor to answer)
    const osdUuid = randomUUID();
    // A monitor that has just started may still refuse commands ("EPERM: problem getting command
    // descriptions from mon."; seen on a loaded machine): asked again until the deadline (same uuid, same id).
    let osdId = '';
    for (;;) {
      try {
        osdId = await run('ceph', ['--connect-timeout', '30', 'osd', 'create', osdUuid]);
        break;
      } catch (err) {
        alive();
        if (!/problem getting command descriptions/.test((err as Error).message) || Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
    if (!/^\d+$/.test(osdId)) throw new Error(`radosgw setup: unexpected osd id ${JSON.stringify(osdId)}`);
    await run('ceph', ['--connect-timeout', '30', 'osd', 'crush', 'add', `osd.${osdId}`, '1.0', 'root=default', 'host=local']);
    fs.mkdirSync(path.join(dir, 'osd', `osd.${osdId}`)); // memstore's mkfs does not create it
    await run('ceph-osd', ['-i', osdId, '--mkfs', '--osd-uuid', osdUuid]);
    daemon(`osd.${osdId}`, 'ceph-osd', ['-i', osdId]);

    // 3. radosgw: creates its pools, then answers HTTP
    daemon('client.rgw', 'radosgw', ['-n', 'client.rgw']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    for (;;) {
      alive();
      try {
        await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2000) });
        break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(`radosgw setup: no HTTP answer on ${endpoint} in time\n${tail(path.join(dir, 'log', 'client.rgw.log'))}`);
      }
      await sleep(100);
    }

    // 4. a user with known keys, and a bucket
    const accessKeyId = `AK${randomBytes(9).toString('hex').toUpperCase()}`;
    const secretAccessKey = randomBytes(30).toString('base64url');
    await run('radosgw-admin', ['user', 'create', '--uid', 'test', '--display-name', 'test', '--access-key', accessKeyId, '--secret', secretAccessKey]);
    const bucket = opts.bucket ?? 'akatsuki-test';
    const region = 'us-east-1';
    const client = s3ClientFor({ endpoint, region, accessKeyId, secretAccessKey });
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }
    alive();
    return { endpoint, region, accessKeyId, secretAccessKey, bucket, startupMs: Date.now() - started, dir, stop: () => stop() };
  } catch (err) {
    // KEEP_RADOSGW_DIR=1 keeps ceph.conf and the logs of a failed start, for debugging.
    const keep = Boolean(process.env.KEEP_RADOSGW_DIR);
    await stop(keep);
    if (keep && err instanceof Error) err.message += `\n(logs kept in ${dir})`;
    throw err;
  }
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}
