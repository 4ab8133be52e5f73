/**
 * Runs one key rotation in its own process, booted on the environment's DATA_DIR and database, and
 * kills that process (SIGKILL, no clean-up) right after it has written the n-th row of the step
 * named — the way a crash or an operator's kill -9 would, and at a point fixed in advance.
 * Two more kill points lie inside the files step, between the hooks, where the storage is written:
 * `object-written` (a new object is stored, its row not yet switched to it) and `object-deleting`
 * (a row was switched to its new object, the old object not yet deleted); their lines name the object.
 * Usage:
 *   tsx test/support/rotation-child.ts client <clientId> [<step> <n>]       all purposes of a client's keys
 *   tsx test/support/rotation-child.ts master <newKeyFile> [<step> <n>]     the master key (MASTER_KEY_FILE is the current one)
 * Prints `row <step> <count in step> <count in run>` after each row written, then `done` if not killed.
 */
import pino from 'pino';
import { boot, configFromEnvironment } from '../../server/boot';
import { CLIENT_KEY_PURPOSES } from '../../server/clients/client-keys';
import { readMasterKey } from '../../server/crypto/master-key';
import { rotateClientKey, rotateMasterKey, type RotationHooks } from '../../server/crypto/rotation';
import type { StorageAdapter } from '../../storage-adapters';

const [kind, target, killStep, killAt] = process.argv.slice(2);
const perStep = new Map<string, number>();
/** Counts the event, prints it, and dies if it is the one named. */
function reached(step: string, line: (n: number) => string): void {
  const n = (perStep.get(step) ?? 0) + 1;
  perStep.set(step, n);
  console.log(line(n));
  if (step === killStep && n >= Number(killAt)) process.kill(process.pid, 'SIGKILL');
}
const hooks: RotationHooks = {
  afterRow: (step, written) => reached(step, (n) => `row ${step} ${n} ${written}`),
};
/** The portal's storage, watched: each write once stored, each delete before it is done. */
function watched(s: StorageAdapter): StorageAdapter {
  return {
    kind: s.kind,
    check: () => s.check(),
    write: async (id, body) => {
      const out = await s.write(id, body);
      reached('object-written', (n) => `object-written ${id} ${n}`);
      return out;
    },
    read: (id) => s.read(id),
    delete: async (id) => {
      reached('object-deleting', (n) => `object-deleting ${id} ${n}`);
      await s.delete(id);
    },
    stat: (id) => s.stat(id),
    list: (prefix) => s.list(prefix),
    sweepIncomplete: (ms) => s.sweepIncomplete(ms),
  };
}

const config = configFromEnvironment();
const booted = await boot(config, { logger: pino({ level: 'silent' }) });
try {
  if (kind === 'client') {
    const results = await rotateClientKey({ sequelize: booted.sequelize, clientKeys: booted.services.clientKeys, storage: watched(booted.services.storage) }, target!, CLIENT_KEY_PURPOSES, hooks);
    console.log(`done ${JSON.stringify(results)}`);
  } else if (kind === 'master') {
    const current = readMasterKey(config.masterKeyFile, false);
    const next = readMasterKey(target!, false);
    if (current.kind !== 'ok' || next.kind !== 'ok') throw new Error('a master key file is missing or unreadable');
    console.log(`done ${JSON.stringify(await rotateMasterKey(current.keyRing, next.keyRing, hooks))}`);
  } else {
    throw new Error(`unknown kind ${kind}`);
  }
} finally {
  await booted.close();
}
