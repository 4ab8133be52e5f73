import type { AddressInfo } from 'node:net';
import { ConfigError, REQUEST_LIMIT_MINUTES } from './config';
import { boot, configFromEnvironment, sealMessage } from './boot';
import { createApp } from './app';

/** start-up: config → database → migrations → keys → app → listen */
async function main(): Promise<void> {
  // tsx turns source maps on, and mapping each frame of a stack through them took ~0.3 ms. Sequelize's
  // SQLite dialect formatted a stack for every query (patches/sequelize+*.patch now formats it only
  // for a query that fails), and the code we call still formats some. Logged stacks keep their file
  // and function names; NODE_ENV=development keeps them mapped to TypeScript lines.
  if (process.env.NODE_ENV !== 'development') process.setSourceMapsEnabled(false);
  let config;
  try {
    config = configFromEnvironment();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const booted = await boot(config);
  const { services } = booted;
  const log = services.logger;
  if (services.keys.notice) log.warn(services.keys.notice);
  if (services.keys.sealed) log.error(sealMessage(services.keys, config));

  try {
    await services.pdf.checkSigning();
  } catch (err) {
    console.error(`Akatsuki Portal could not start: ${(err as Error).message}`);
    process.exit(1);
  }

  const portal = createApp(services, { sessionSecret: booted.sessionSecret });
  const server = portal.app.listen(config.port, config.host, () => {
    const { port } = server.address() as AddressInfo;
    log.info(`Akatsuki Portal listening on http://${config.host}:${port} (public URL ${config.publicUrl})`);
  });

  // Node cuts a request whose body takes longer than 5 minutes: a 2 GiB upload over a slow line
  // needs longer. Headers must still arrive within headersTimeout (60 s), which stops slow-header attacks.
  server.requestTimeout = REQUEST_LIMIT_MINUTES * 60_000;

  // Leftovers of uploads a crash interrupted go at start, then every 10 minutes.
  services.sweeper.start(10 * 60_000);
  // Access reports (claimed per client and period, so several instances run each once) and queued mail.
  if (!services.keys.sealed) services.scheduler.start();

  try {
    if (!services.keys.sealed && (await services.setup.needsSetup())) {
      const token = await services.setup.newSetupLink();
      // Printed to the console only (never through the logger, whose lines may be shipped elsewhere).
      console.log(`\n  初期設定 / first-run setup (valid for 1 hour, one use):\n  ${config.publicUrl}/setup/${token}\n`);
    }
  } catch (err) {
    // The portal is up and serving; a busy or briefly unreachable database must not stop it over a link.
    log.warn({ err: { message: (err as Error).message } }, 'no first-run setup link now; `npm run cli -- setup:link` makes one');
  }

  const stop = () => {
    server.close(() => {
      portal.close();
      void booted.close().then(() => process.exit(0));
    });
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error('Akatsuki Portal could not start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
