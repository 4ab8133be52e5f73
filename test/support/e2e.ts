import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { createHarness, type Harness } from './harness';
import type { MadeUser } from './factories';
import { CHROMIUM_PATH, VIEWPORTS, artifactPath, chromiumAvailable, launchChromium, listen, watchProblems } from './chromium';
import { User } from '../../server/db/models';
import { currentTotp } from '../../server/auth/totp';

/** The portal on its loopback port, as `listen` gives it. */
export type ListeningPortal = Awaited<ReturnType<typeof listen>>;

/**
 * Browser tests need the system Chromium (Debian package `chromium`); we never download one.
 * Without it (e.g. a developer machine) the suite is skipped, visibly; CI installs it, so it runs there.
 */
export function skipWithoutChromium(ctx: Mocha.Context): void {
  if (!chromiumAvailable()) {
    console.log(`    ⚠ skipping the browser tests: ${CHROMIUM_PATH} not found (apt-get install chromium)`);
    ctx.skip();
  }
}

/**
 * The portal's warnings and errors in the browser tests, newest last: a step that fails says what
 * the server logged meanwhile (the log itself is silent in tests, and CI keeps no other trace).
 */
const serverLog: string[] = [];
const SERVER_LOG_KEPT = 30;
/** Lines logged since the process started (the list above keeps the last ones only). */
let serverLogTotal = 0;
const serverLogger = () => pino({ level: 'warn' }, new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) { serverLog.push(line.slice(0, 2000)); serverLogTotal++; }
    serverLog.splice(0, Math.max(0, serverLog.length - SERVER_LOG_KEPT));
    done();
  },
}));

export interface E2E {
  readonly h: Harness;
  readonly portal: ListeningPortal;
  readonly browser: Browser;
}

/**
 * Registers, in the describe it is called in, a `before` that starts a fresh portal (with `env`),
 * runs `seed` on it before it listens, and launches Chromium, and an `after` that closes all three.
 * Mocha runs a suite's hooks in the order they are registered, so call it before the suite's own
 * hooks: theirs then find everything started, and what they clean up goes after the browser.
 */
export function e2eSuite(o: { env?: Record<string, string>; seed?: (h: Harness) => Promise<void> } = {}): E2E {
  let h: Harness | undefined;
  let portal: ListeningPortal | undefined;
  let browser: Browser | undefined;

  before(async function () {
    skipWithoutChromium(this);
    h = await createHarness(o.env, { logger: serverLogger() });
    await o.seed?.(h);
    portal = await listen(h.portal.app);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await portal?.close();
    await h?.close();
  });

  const started = <T>(what: string, v: T | undefined): T => {
    if (v === undefined) throw new Error(`${what} is not started: e2eSuite's before hook has not run`);
    return v;
  };
  return {
    get h() { return started('the harness', h); },
    get portal() { return started('the portal', portal); },
    get browser() { return started('Chromium', browser); },
  };
}

/** A folder of the suite's own for files the browser uploads or downloads, made before it and removed after. */
export function scratchFolder(name: string): { readonly path: string } {
  let dir: string | undefined;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), `akatsuki-e2e-${name}-`)); });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });
  return { get path() { if (!dir) throw new Error('the scratch folder is made in a before hook'); return dir; } };
}

/** Runs `use` on a fresh page of a phone-sized browser (its problems watched), and closes the browser after. */
export async function onPhone<T>(e2e: E2E, use: (page: Page, problems: { take(): string[] }) => Promise<T>): Promise<T> {
  const phone = VIEWPORTS.find((v) => v.phone)!;
  const context = await e2e.browser.newContext({ ...phone.context, baseURL: e2e.portal.baseUrl });
  // A step that goes wrong fails well before mocha gives up.
  context.setDefaultTimeout(15_000);
  try {
    const page = await context.newPage();
    return await use(page, await watchProblems(page));
  } finally {
    await context.close();
  }
}

/** A fresh code for the user: each code works once per user, and sign-in and re-authentication may fall in the same 30 s. */
export async function freshCode(u: MadeUser): Promise<string> {
  await User.update({ totpLastStep: null }, { where: { id: u.user.id } });
  return currentTotp(u.totpSecret!);
}

/**
 * Signs the user in from /login (with a fresh code when they have TOTP) and waits for /home.
 * On a phone the buttons are tapped (touch events), on the desktop clicked with the mouse.
 */
export async function signIn(page: Page, u: MadeUser, o: { phone: boolean }): Promise<void> {
  const press = (name: string) => {
    const button = page.getByRole('button', { name });
    return o.phone ? button.tap() : button.click();
  };
  await page.goto('/login');
  await page.getByLabel('メールアドレス').fill(u.email);
  await page.getByLabel('パスワード').fill(u.password);
  await press('ログイン');
  if (u.totpSecret) {
    await page.getByLabel('確認コード').fill(await freshCode(u));
    await press('確認する');
  }
  const logged = serverLogTotal;
  try {
    await page.waitForURL((url) => url.pathname === '/home');
  } catch (err) {
    // Where the browser stopped, what the page said and what the server logged: the only trace CI keeps.
    const said = await page.locator('main').innerText({ timeout: 2_000 }).catch(() => '(no main)');
    throw new Error(`${u.user.role} did not reach /home after signing in: at ${page.url()}\npage says: ${said.slice(0, 500)}\nserver logged: ${serverLog.slice(-Math.min(SERVER_LOG_KEPT, serverLogTotal - logged + 5)).join('\n') || '(nothing)'}\n${String(err)}`);
  }
}

/**
 * Page 1 of a PDF rendered by poppler (pdftoppm) into the artifacts as `<name>-1.png`, for people to
 * look at after the run, and checked to have something drawn on it. `name` is letters, digits and '-'.
 */
export function renderPageOne(pdfFile: string, name: string): void {
  const prefix = artifactPath(name);
  const pngOf = () => fs.readdirSync(path.dirname(prefix)).filter((f) => new RegExp(`^${name}-\\d+\\.png$`).test(f));
  for (const f of pngOf()) fs.rmSync(path.join(path.dirname(prefix), f));
  execFileSync('pdftoppm', ['-r', '80', '-png', '-f', '1', '-l', '1', pdfFile, prefix]);
  const pngs = pngOf();
  expect(pngs, 'pdftoppm wrote page 1').to.have.length(1);
  const png = fs.readFileSync(path.join(path.dirname(prefix), pngs[0]!));
  expect(png.subarray(1, 4).toString('latin1')).to.equal('PNG');
  expect(png.length, 'page 1 is more than a blank page').to.be.greaterThan(20 * 1024);
}
