// The admin console in headless Chromium: an administrator signs in through the hosted
// login with the keyboard alone, searches, opens a user and blocks them; then, with the
// mouse, edits metadata, is refused a weak password for a new user and deletes a user
// after giving their own password again. Every page is checked with axe-core (no serious
// or critical violation) and at 390 px wide (nothing wider than the screen), and
// screenshotted at both widths into E2E_ARTIFACTS. Run through ./run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { launchChromium } from './browser.mjs';

const fx = JSON.parse(readFileSync(process.env.E2E_FIXTURE, 'utf8'));
const admin = {
  email: process.env.GATEHOUSE_CONSOLE_ADMIN_EMAIL,
  password: process.env.GATEHOUSE_CONSOLE_ADMIN_PASSWORD,
};
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const artifacts = process.env.E2E_ARTIFACTS ?? join(import.meta.dirname, 'artifacts');
mkdirSync(artifacts, { recursive: true });
let browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

/** axe-core's serious and critical findings on the page, and screenshots at two widths. */
async function check(page, name) {
  // Evaluated through the DevTools protocol: the console's CSP (script-src 'self') stays on.
  await page.evaluate(axeSource);
  const { violations } = await page.evaluate(() => window.axe.run(document));
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.nodes.map((n) => `${n.target.join(' ')} (${n.failureSummary})`).join(', ')}`),
    [],
    `axe-core on ${name}`,
  );
  await page.screenshot({ path: join(artifacts, `console-${name}.png`), fullPage: true });
  const wide = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${name} is ${overflow}px wider than a 390px screen`);
  await page.screenshot({ path: join(artifacts, `console-${name}-390.png`), fullPage: true });
  await page.setViewportSize(wide);
}

/** Presses Tab until the focused element is `what` (its label, name or text); fails after 40. */
async function tabTo(page, what) {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const e = document.activeElement;
      const label = e?.labels?.[0]?.textContent ?? '';
      return [label, e?.getAttribute('name') ?? '', e?.getAttribute('aria-label') ?? '', e?.textContent ?? ''].map((s) =>
        s.trim(),
      );
    });
    if (focused.some((s) => s === what || s.startsWith(what))) return;
  }
  throw new Error(`Tab never reached ${what} on ${page.url()}`);
}

async function signInWithKeyboard(page) {
  await page.goto(`${fx.issuer}admin`);
  await page.waitForURL((u) => u.pathname === '/u/login');
  await tabTo(page, 'username');
  await page.keyboard.type(admin.email);
  await tabTo(page, 'password');
  await page.keyboard.type(admin.password);
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.pathname === '/admin');
}

test('keyboard only: sign in, search, open a user and block them', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signInWithKeyboard(page);
  assert.match(await page.locator('h1').innerText(), /Home/);
  await check(page, 'home');

  await tabTo(page, 'Users');
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.pathname === '/admin/users');
  await check(page, 'users');
  await tabTo(page, 'Search');
  await page.keyboard.type(`email:"${fx.link_email}"`);
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.searchParams.has('q'));
  assert.equal(await page.locator('tbody tr').count(), 1);
  await tabTo(page, fx.link_email);
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.pathname.startsWith('/admin/users/'));
  await check(page, 'user');
  await tabTo(page, 'Block');
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.searchParams.get('done') === 'blocked');
  assert.match(await page.getByRole('status').innerText(), /blocked/);
  await tabTo(page, 'Unblock');
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.searchParams.get('done') === 'unblocked');

  // An import with a bad record: only choosing the file is not a key press (the file
  // picker is the operating system's).
  await tabTo(page, 'Import and export');
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.pathname === '/admin/jobs');
  await check(page, 'jobs');
  await tabTo(page, 'Import users');
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.pathname === '/admin/import');
  await check(page, 'import');
  await tabTo(page, 'File format');
  await page.keyboard.press('N'); // NDJSON
  assert.equal(await page.locator('#format').inputValue(), 'ndjson');
  await page.locator('#users').setInputFiles({
    name: 'users.ndjson',
    mimeType: 'application/x-ndjson',
    buffer: Buffer.from('{"email":"kb.one@example.com","email_verified":true}\n{"email":"not an email"}\n'),
  });
  await tabTo(page, 'Upload and check');
  await page.keyboard.press('Enter');
  // The answer has the form's own address: wait for its heading, not for the URL.
  await page.getByRole('heading', { name: 'Check the import' }).waitFor();
  assert.equal(await page.locator('li.problem').count(), 1);
  await check(page, 'import-preview');
  await tabTo(page, 'Start the import');
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.pathname.startsWith('/admin/jobs/job_'));
  // The page follows the job by itself and shows its report when it is done.
  await page.getByText('Records that were not imported').waitFor({ timeout: 20000 });
  assert.match(await page.locator('[data-field="status"]').innerText(), /completed/);
  assert.match(await page.locator('li.problem').first().innerText(), /email/);
  await check(page, 'job');
  await context.close();
});

/** The hosted sign-up page for the fixture's application (code flow with PKCE). */
function signupUrl() {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL('authorize', fx.issuer);
  url.search = new URLSearchParams({
    client_id: fx.client_id,
    response_type: 'code',
    redirect_uri: fx.callback,
    scope: 'openid email',
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    screen_hint: 'signup',
  }).toString();
  return url.href;
}

/** The default connection's id, from the connections page's link. */
async function connectionId(page) {
  await page.goto(`${fx.issuer}admin/connections`);
  const href = await page.getByRole('link', { name: 'Username-Password-Authentication' }).getAttribute('href');
  return href.split('/').pop();
}

test('a policy changed in the console makes the hosted sign-up refuse a weak password', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signInWithKeyboard(page);
  await page.getByRole('link', { name: 'Connections' }).click();
  await check(page, 'connections');
  await page.getByRole('link', { name: 'Username-Password-Authentication' }).click();
  await check(page, 'connection');
  const minLength = page.getByLabel('Minimum length');
  const before = await minLength.inputValue();
  await minLength.fill('24');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'saved');
  await page.getByLabel('Try a password').fill('Only-Twenty-Chars-42');
  await page.getByRole('button', { name: 'Try', exact: true }).click();
  assert.match(await page.getByRole('status').innerText(), /✗ At least 24 characters/);
  await check(page, 'connection-tried');

  const visitor = await browser.newContext();
  const signup = await visitor.newPage();
  await signup.goto(signupUrl());
  await signup.getByLabel('Email address').fill(`console.policy.${Date.now()}@example.com`);
  await signup.getByLabel('Password').fill('Only-Twenty-Chars-42');
  await signup.getByRole('button', { name: 'Continue', exact: true }).click();
  assert.match(await signup.locator('#password-error').textContent(), /Password is too weak|at least 24/i);
  await visitor.close();

  await page.goto(`${fx.issuer}admin/protection`);
  await check(page, 'protection');
  await page.goto(`${fx.issuer}admin/applications`);
  await check(page, 'applications');
  await page.getByRole('link', { name: 'New application' }).click();
  await check(page, 'application-new');
  await page.goto(`${fx.issuer}admin/connections/${await connectionId(page)}`);
  await minLength.fill(before);
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'saved');
  await context.close();
});

test('branding previewed as typed, then saved, shows on the hosted pages; an API and a role with a permission', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signInWithKeyboard(page);
  await page.getByRole('link', { name: 'Branding' }).click();
  await check(page, 'branding');
  const preview = page.frameLocator('iframe[name="preview"]');
  await page.getByLabel(/Primary colour/).fill('#c2255c');
  // The preview follows the form (console.js submits it to the frame as you type).
  // (The frame is sandboxed, an opaque origin: read through Playwright, not the page.)
  let previewed = false;
  for (let i = 0; i < 50 && !previewed; i += 1) {
    const frame = page.frame({ name: 'preview' });
    previewed = Boolean(frame) && (await frame.content()).includes('--primary: #c2255c');
    if (!previewed) await page.waitForTimeout(200);
  }
  assert.ok(previewed, 'the preview shows the colour being typed, before saving');
  assert.equal(await preview.getByRole('button', { name: 'Continue' }).count(), 1, 'the preview is the login page');
  await page.getByLabel('Name').fill('Acme Console Test');
  await page.getByRole('button', { name: 'Save branding' }).click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'saved');
  const visitor = await browser.newContext();
  const hosted = await visitor.newPage();
  await hosted.goto(signupUrl());
  assert.match(await hosted.title(), /Acme Console Test/);
  const background = await hosted.getByRole('button', { name: 'Continue', exact: true }).evaluate((b) => getComputedStyle(b).backgroundColor);
  assert.equal(background, 'rgb(194, 37, 92)');
  await visitor.close();
  await page.getByLabel(/Primary colour/).fill('');
  await page.getByLabel('Name').fill('');
  await page.getByRole('button', { name: 'Save branding' }).click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'saved');

  await page.getByRole('link', { name: 'APIs and roles' }).click();
  await check(page, 'apis');
  await page.getByText('New API').click();
  await page.locator('#api_name').fill('Orders');
  await page.locator('#api_identifier').fill(`https://orders-${Date.now()}.test/`);
  await page.locator('#api_scopes').fill('read:orders Read your orders');
  await page.getByRole('button', { name: 'Create API' }).click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'saved');
  await check(page, 'api');
  await page.getByRole('link', { name: 'APIs and roles' }).click();
  await page.getByText('New role').click();
  await page.locator('#role_name').fill(`Clerk ${Date.now()}`);
  await page.getByRole('button', { name: 'Create role' }).click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'saved');
  await page.getByLabel(/Add permissions/).selectOption({ label: 'read:orders — Read your orders' });
  await page.getByRole('button', { name: 'Add permissions' }).click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'saved');
  assert.equal(await page.getByRole('rowheader', { name: 'read:orders' }).count(), 1);
  await check(page, 'role');

  // An action: created, saved with a secret, deployed, bound to its trigger.
  await page.getByRole('link', { name: 'Actions' }).click();
  await check(page, 'actions');
  await page.getByText('New action').click();
  await page.locator('#action_name').fill(`Plan claim ${Date.now()}`);
  await page.locator('#action_trigger').selectOption('post-login');
  await page.getByRole('button', { name: 'Create action' }).click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'created');
  await page.locator('#new_secret_name').fill('PLAN');
  await page.locator('#new_secret_value').fill('gold');
  await page.getByRole('button', { name: 'Save draft' }).click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'saved');
  await page.getByRole('button', { name: 'Deploy the saved draft' }).click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'deployed');
  await check(page, 'action');
  await page.getByRole('link', { name: 'Back to actions' }).click();
  await page.getByRole('button', { name: 'Add', exact: true }).first().click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'bound');
  assert.equal(await page.getByRole('button', { name: /^Remove Plan claim/ }).count(), 1);
  await check(page, 'actions-bound');
  // Unbound again, so the other tests' logins run no action.
  await page.getByRole('button', { name: /^Remove Plan claim/ }).click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'bound');
  await context.close();
});

test('metadata, a refused weak password, a deletion confirmed by password, sign out', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signInWithKeyboard(page);

  await page.goto(`${fx.issuer}admin/users/${encodeURIComponent(fx.user_id)}`);
  await page.getByLabel('user_metadata').fill('{"plan": "gold"');
  await page.getByRole('button', { name: 'Save metadata' }).click();
  assert.match(await page.getByRole('alert').innerText(), /not valid JSON/);
  await check(page, 'user-metadata-error');
  await page.getByLabel('user_metadata').fill('{"plan": "gold"}');
  await page.getByRole('button', { name: 'Save metadata' }).click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'saved');
  assert.match(await page.getByLabel('user_metadata').inputValue(), /"plan": "gold"/);

  await page.goto(`${fx.issuer}admin/users/new`);
  await check(page, 'user-new');
  await page.locator('#email').fill('console.made@example.com');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create user' }).click();
  assert.match(await page.getByRole('alert').innerText(), /[Pp]assword/);
  await page.getByLabel('Password').fill('Console-Made-Correct-Horse-5!');
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'created');

  await page.getByRole('link', { name: 'Delete…' }).click();
  await check(page, 'confirm-delete');
  await page.getByLabel('Your own password, to confirm').fill('not it');
  await page.getByRole('button', { name: 'Delete user' }).click();
  assert.match(await page.getByRole('alert').innerText(), /not your password/);
  await page.getByLabel('Your own password, to confirm').fill(admin.password);
  await page.getByRole('button', { name: 'Delete user' }).click();
  await page.waitForURL((u) => u.searchParams.get('done') === 'deleted');

  await page.goto(`${fx.issuer}admin/logs?type=sapi`);
  assert.ok((await page.locator('tbody tr').count()) > 0, 'the changes above are in the log');
  await check(page, 'logs');

  await page.getByRole('button', { name: 'Sign out' }).click();
  assert.match(await page.locator('h1').innerText(), /Signed out/);
  await page.goto(`${fx.issuer}admin`);
  await page.waitForURL((u) => u.pathname === '/u/login');
  await context.close();
});
