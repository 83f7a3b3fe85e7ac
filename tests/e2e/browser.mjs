// The one way the e2e tests start Debian's Chromium: headless, as root (no sandbox), and
// with nothing that reaches out to the network this machine does not have.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** Where screenshots are kept after the run. */
export const artifacts = process.env.E2E_ARTIFACTS ?? join(process.cwd(), 'artifacts');

/** `extra`: further switches (the Lock test's `--ignore-certificate-errors` for its own
 * self-signed Gatehouse). */
export function launchChromium(extra = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      ...extra,
    ],
  });
}

/** Waits until the page has put the keyboard's focus on the element `id` (its
 * `autofocus`): on a loaded machine Chromium applies it a moment after "load", and keys
 * typed before land nowhere. */
export async function focusIsOn(page, id) {
  await page.waitForFunction((want) => document.activeElement?.id === want, id);
}

/** A hosted page checked as every one must be: no serious or critical axe-core finding,
 * no wider than a 390 px screen, and its screenshot at that width kept as
 * `<artifacts>/<prefix>-<name>-390.png`. */
export async function checkPage(page, prefix, name) {
  await page.evaluate(axeSource);
  const { violations } = await page.evaluate(() => window.axe.run(document));
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help}`), [], `axe-core on ${name}`);
  const wide = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${name} is ${overflow}px wider than a 390px screen`);
  await page.setViewportSize(wide);
  await keepScreenshot(page, prefix, name);
}

/** The page's screenshot at 390 px, kept as `<artifacts>/<prefix>-<name>-390.png`. For a
 * page without JavaScript, where axe-core (a script) cannot run, this is all there is. */
export async function keepScreenshot(page, prefix, name) {
  const wide = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${prefix}-${name}-390.png`), fullPage: true });
  await page.setViewportSize(wide);
}
