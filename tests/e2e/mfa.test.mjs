// A second factor through the hosted pages in headless Chromium, keyboard only: with MFA
// required for every login, a new user enrols an authenticator app (the QR code drawn on
// the server, the secret read from the page as a person would type it into an app), is
// shown a recovery code once, and reaches the application with `amr: ["pwd", "mfa"]`;
// then, in a fresh browser, is challenged (not enrolled again) and passes with the next
// code. Both pages are checked with axe-core and at 390 px. TOTP codes are computed here
// with node's own HMAC (RFC 6238), not by Gatehouse. Run through ./run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import * as oidc from 'openid-client';
import { launchChromium, focusIsOn, checkPage } from './browser.mjs';

const fx = JSON.parse(readFileSync(process.env.E2E_FIXTURE, 'utf8'));
const email = 'mfa.e2e@example.com';
const password = 'Mfa-E2e-Correct-Horse-7!';
let config;
let browser;
let app;
let mgmt;

async function call(method, path, body) {
  const res = await fetch(new URL(path, fx.issuer), {
    method,
    headers: { 'content-type': 'application/json', ...(mgmt ? { authorization: `Bearer ${mgmt}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

before(async () => {
  app = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('app reached'));
  const { port } = new URL(fx.app_origin);
  await new Promise((resolve) => app.listen(Number(port), '127.0.0.1', resolve));
  config = await oidc.discovery(new URL(fx.issuer), fx.client_id, undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
  ({ access_token: mgmt } = await call('POST', 'oauth/token', {
    grant_type: 'client_credentials',
    client_id: process.env.GATEHOUSE_ADMIN_CLIENT_ID,
    client_secret: process.env.GATEHOUSE_ADMIN_CLIENT_SECRET,
    audience: `${fx.issuer}api/v2/`,
  }));
  await call('POST', 'api/v2/users', {
    connection: 'Username-Password-Authentication',
    email,
    password,
    email_verified: true,
  });
  for (const factor of ['otp', 'recovery-code']) {
    await call('PUT', `api/v2/guardian/factors/${factor}`, { enabled: true });
  }
  await call('PUT', 'api/v2/guardian/policies', ['all-applications']);
  browser = await launchChromium();
});

after(async () => {
  // The other tests' users have no factor: MFA for every login ends with this test.
  await call('PUT', 'api/v2/guardian/policies', []).catch(() => {});
  await browser?.close();
  app?.close();
});

/** RFC 6238 (SHA-1, 30 s, 6 digits) from a Base32 secret, at `unix` seconds. */
function totp(base32, unix) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/\s+/g, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unix / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** Opens the login page and types the password with the keyboard alone. */
async function passwordStep(page) {
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce() };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: fx.callback,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    nonce: checks.expectedNonce,
    prompt: 'login',
  });
  await page.goto(url.href);
  await focusIsOn(page, 'username');
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.pathname === '/u/mfa');
  return checks;
}

async function tokensAt(page, checks) {
  await page.waitForURL((u) => u.href.startsWith(fx.callback));
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
  return tokens.claims();
}

test('enrol an authenticator app, keep the recovery code, then pass the challenge', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const checks = await passwordStep(page);
  // Enrolment: the QR code is an inline SVG with a name; the key is there as text.
  await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
  await checkPage(page, 'mfa', 'enrolment');
  const secret = (await page.locator('#secret').textContent()).replace(/\s+/g, '');
  assert.equal(secret.length, 32);
  await page.getByRole('textbox', { name: 'Code', exact: true }).focus();
  await page.keyboard.type(totp(secret, Date.now() / 1000));
  await page.keyboard.press('Enter');
  // The recovery code, shown once.
  const recovery = (await page.locator('#recovery-code').textContent()).trim();
  assert.match(recovery, /^[A-Z2-7]{24}$/);
  await checkPage(page, 'mfa', 'recovery-code');
  await page.getByRole('button', { name: 'I have saved it, continue' }).focus();
  await page.keyboard.press('Enter');
  const claims = await tokensAt(page, checks);
  assert.equal(claims.email, email);
  assert.deepEqual(claims.amr, ['pwd', 'mfa']);
  await context.close();

  // A fresh browser: challenged for the app's code, not enrolled again. The code of the
  // next time step (the one just used is spent).
  const again = await browser.newContext();
  const second = await again.newPage();
  const checks2 = await passwordStep(second);
  assert.equal(await second.locator('svg').count(), 0);
  await checkPage(second, 'mfa', 'challenge');
  await second.getByRole('textbox', { name: 'Code', exact: true }).focus();
  const later = Date.now() / 1000 + 30;
  await second.keyboard.type(totp(secret, later));
  await second.keyboard.press('Tab');
  await second.keyboard.press('Space'); // remember this browser
  assert.equal(await second.getByLabel('Remember this browser for 30 days').isChecked(), true);
  await second.keyboard.press('Shift+Tab');
  await second.keyboard.press('Enter');
  const claims2 = await tokensAt(second, checks2);
  assert.deepEqual(claims2.amr, ['pwd', 'mfa']);
  await again.close();
});
