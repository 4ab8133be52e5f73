import fs from 'node:fs';
import path from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import ja from '../../server/i18n/locales/ja.json';

/**
 * Browser tests use the system's Debian Chromium; nothing is ever downloaded. Where it is not
 * installed (a developer machine without it) the e2e suites skip; CI installs it.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return fs.existsSync(CHROMIUM_PATH);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export interface Viewport {
  name: 'desktop' | 'phone';
  phone: boolean;
  context: BrowserContextOptions;
}

const common: BrowserContextOptions = { locale: 'ja-JP', timezoneId: 'Asia/Tokyo' };

export const VIEWPORTS: Viewport[] = [
  { name: 'desktop', phone: false, context: { ...common, viewport: { width: 1280, height: 800 } } },
  { name: 'phone', phone: true, context: { ...common, viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 } },
];

/** Where screenshots go (git-ignored); a MariaDB run keeps its own, so that CI may run both passes at once. */
export const ARTIFACTS_DIR = path.resolve(import.meta.dirname, process.env.DATABASE_URL ? '../artifacts/e2e-mysql' : '../artifacts/e2e');

export function artifactPath(file: string): string {
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return path.join(ARTIFACTS_DIR, file);
}

/** The portal on a real port of the loopback interface, for the browser to reach (any free one unless `port` is given). */
export async function listen(app: Express, port = 0): Promise<{ server: Server; baseUrl: string; close(): Promise<void> }> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    baseUrl: `http://127.0.0.1:${bound}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/**
 * Collects what a page reports as broken: console errors (CSP violations and failed loads are
 * logged there by Chromium), uncaught script errors, and requests that failed outright.
 * `take()` returns what came in since the last call and clears the list.
 */
export async function watchProblems(page: Page): Promise<{ take(): string[] }> {
  let problems: string[] = [];
  // Chromium logs CSP violations itself; the event makes them explicit (an init script is not subject to the page's CSP).
  await page.addInitScript(`document.addEventListener('securitypolicyviolation', (e) =>
    console.error('CSP violation: ' + e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber));`);
  page.on('console', (msg) => {
    // The portal has no favicon; Chromium asks for /favicon.ico on its own and logs the 404.
    if (msg.type() === 'error' && msg.location().url.endsWith('/favicon.ico')) return;
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    // The icon is cancelled when a test navigates before it has loaded; nothing is broken.
    if (req.url().endsWith('/favicon.svg') && req.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText ?? ''}`);
  });
  return {
    take() {
      const out = problems;
      problems = [];
      return out;
    },
  };
}

/**
 * Widths that show whether the page scrolls sideways (no DOM types in this project's lib, hence a string).
 * `innerWidth` is the screen's: a phone shows a page wider than itself zoomed out, its window.innerWidth
 * grown to the page's width, so that the page would seem to fit.
 */
export async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; innerWidth: number; wide: string[] }> {
  const screen = page.viewportSize()?.width;
  return page.evaluate(`(() => {
    const innerWidth = ${screen ?? 'window.innerWidth'};
    const wide = [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > innerWidth + 0.5)
      .slice(0, 5)
      .map((el) => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : ''));
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth, wide };
  })()`);
}

/**
 * What one taps on a phone that is smaller than 44×44 CSS px (WCAG 2.5.5, Apple's guideline):
 * header links and buttons, form controls, and links standing alone in their block. A link
 * inside running text is exempt (WCAG 2.5.8), as are check boxes (their label is the target).
 */
export async function smallTouchTargets(page: Page): Promise<string[]> {
  return page.evaluate(`(() => {
    const small = [];
    for (const el of document.querySelectorAll('header a, header button, main a, main button, main input, main select')) {
      if (el.type === 'hidden' || el.type === 'checkbox' || el.type === 'radio') continue;
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height) continue;
      if (el.tagName === 'A' && el.closest('main') && el.parentElement.textContent.trim() !== el.textContent.trim()) continue;
      if (r.height < 44 || r.width < 44) small.push((el.textContent.trim() || el.name) + ' (' + Math.round(r.width) + '×' + Math.round(r.height) + ')');
    }
    return small;
  })()`);
}

/** The Japanese text of a message key as the person on the page reads it; a missing key fails the test. */
export function jaText(key: string): string {
  const text = (ja as Record<string, string>)[key];
  if (typeof text !== 'string') throw new Error(`no Japanese text for ${key}`);
  return text;
}
