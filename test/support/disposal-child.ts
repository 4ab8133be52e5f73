/**
 * Runs one disposal in its own process, and kills that process (SIGKILL, no clean-up) when the
 * disposal reaches the step named in argv[3] — the way a crash or an operator's kill -9 would.
 * Usage: tsx test/support/disposal-child.ts <requestId> [step]
 */
import pino from 'pino';
import { boot, configFromEnvironment } from '../../server/boot';
import { disposalService } from './disposal';

const [requestId, killAt] = process.argv.slice(2);
const booted = await boot(configFromEnvironment(), { logger: pino({ level: 'silent' }) });
const service = disposalService(booted, (step) => {
  console.log(`step ${step}`);
  if (step === killAt) process.kill(process.pid, 'SIGKILL');
});
const cert = await service.execute(requestId!);
console.log(`certificate ${cert?.number ?? 'none'}`);
await booted.close();
