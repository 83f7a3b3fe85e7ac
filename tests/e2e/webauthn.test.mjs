// WebAuthn second factors through the hosted pages in headless Chromium, with the DevTools
// protocol's virtual authenticators (the `WebAuthn` domain) standing in for a security key
// and for this device's platform authenticator. With MFA required for every login, a new
// user enrols a security key and reaches the application with `amr: ["pwd", "mfa"]`, then
// passes the security-key challenge at the next login; another user enrols this device
// (user verification required) and passes its challenge. Pages checked with axe-core and
// at 390 px, screenshots kept. WebAuthn takes no IP address as relying-party id, so this
// test runs a Gatehouse of its own whose issuer is `http://localhost:<port>/` (the shared
// one's is 127.0.0.1). Run through ./run.sh. The last two: passkeys as a first factor, and one offered after a password login.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { spawn } from 'node:child_process';
import * as oidc from 'openid-client';
import { launchChromium, checkPage, keepScreenshot, artifacts } from './browser.mjs';

const password = 'Webauthn-E2e-Correct-Horse-5!';
let issuer;
let appOrigin;
let callback;
let server;
let serverLog = '';
let config;
let browser;
let app;
let mgmt;

function freePort() {
  return new Promise((resolve) => {
    const s = createTcpServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function call(method, path, body) {
  const res = await fetch(new URL(path, issuer), {
    method,
    headers: { 'content-type': 'application/json', ...(mgmt ? { authorization: `Bearer ${mgmt}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

before(async () => {
  const port = await freePort();
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-webauthn-'));
  issuer = `http://localhost:${port}/`;
  server = spawn(process.env.GATEHOUSE_BIN, ['serve'], {
    env: {
      ...process.env,
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
      GATEHOUSE_ISSUER: issuer,
      GATEHOUSE_DATABASE_URL: `sqlite://${work}/gatehouse.db`,
      GATEHOUSE_DATA_DIR: join(work, 'data'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.on('data', (d) => { serverLog += d; });
  server.stderr.on('data', (d) => { serverLog += d; });
  for (let i = 0; ; i++) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    assert.ok(i < 600 && server.exitCode === null, `Gatehouse did not start:\n${serverLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  appOrigin = `http://127.0.0.1:${await freePort()}`;
  callback = `${appOrigin}/callback`;
  app = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('app reached'));
  await new Promise((resolve) => app.listen(Number(new URL(appOrigin).port), '127.0.0.1', resolve));
  ({ access_token: mgmt } = await call('POST', 'oauth/token', {
    grant_type: 'client_credentials',
    client_id: process.env.GATEHOUSE_ADMIN_CLIENT_ID,
    client_secret: process.env.GATEHOUSE_ADMIN_CLIENT_SECRET,
    audience: `${issuer}api/v2/`,
  }));
  const client = await call('POST', 'api/v2/clients', {
    name: 'WebAuthn e2e app',
    app_type: 'spa',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    callbacks: [callback],
  });
  const [connection] = await call('GET', 'api/v2/connections?name=Username-Password-Authentication');
  await call('PATCH', `api/v2/connections/${connection.id}`, {
    enabled_clients: [...connection.enabled_clients, client.client_id],
  });
  for (const email of ['key.e2e@example.com', 'device.e2e@example.com']) {
    await call('POST', 'api/v2/users', { connection: connection.name, email, password, email_verified: true });
  }
  await call('PUT', 'api/v2/guardian/policies', ['all-applications']);
  config = await oidc.discovery(new URL(issuer), client.client_id, undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
  browser = await launchChromium();
  mkdirSync(artifacts, { recursive: true });
});

after(async () => {
  await browser?.close();
  app?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
});

/** A browser context with one virtual authenticator: `usb` (a security key) or
 * `internal` (this device's platform authenticator). */
async function withAuthenticator(transport) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport,
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { context, page, cdp, authenticatorId };
}

/** Opens the hosted login for the test app (PKCE, state, nonce); the checks for its code. */
async function authorize(page, extra = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce() };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: callback,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    nonce: checks.expectedNonce,
    ...extra,
  });
  await page.goto(url.href);
  return checks;
}

async function passwordStep(page, email) {
  const checks = await authorize(page, { prompt: 'login' });
  // Focus set here, not left to autofocus: what this test checks starts at /u/mfa.
  await page.locator('#username').focus();
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.pathname === '/u/mfa');
  return checks;
}

async function tokensAt(page, checks) {
  await page.waitForURL((u) => u.href.startsWith(callback)).catch(async (e) => {
    throw new Error(`${e.message}\nstill at ${page.url()}: ${await page.locator('main').innerText().catch(() => '?')}`);
  });
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
  return tokens.claims();
}

test('enrol a security key, then pass its challenge', async () => {
  await call('PUT', 'api/v2/guardian/factors/webauthn-roaming', { enabled: true });
  const { context, page, cdp, authenticatorId } = await withAuthenticator('usb');
  try {
    let checks = await passwordStep(page, 'key.e2e@example.com');
    const setUp = page.getByRole('button', { name: 'Set up' });
    await setUp.waitFor();
    await checkPage(page, 'webauthn', 'security-key-enrolment');
    await setUp.click();
    let claims = await tokensAt(page, checks);
    assert.deepEqual(claims.amr, ['pwd', 'mfa']);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    const methods = await call('GET', `api/v2/users/${encodeURIComponent(claims.sub)}/authentication-methods`);
    assert.deepEqual(methods.map((m) => m.type), ['webauthn-roaming']);
    // The next login asks for the key (keyboard: Tab to the button, Enter).
    checks = await passwordStep(page, 'key.e2e@example.com');
    const go = page.getByRole('button', { name: 'Continue' });
    await go.waitFor();
    await checkPage(page, 'webauthn', 'security-key-challenge');
    await go.focus();
    await page.keyboard.press('Enter');
    claims = await tokensAt(page, checks);
    assert.deepEqual(claims.amr, ['pwd', 'mfa']);
    const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.ok(after.credentials[0].signCount >= 1, 'the key signed');
  } finally {
    await context.close();
    await call('PUT', 'api/v2/guardian/factors/webauthn-roaming', { enabled: false });
  }
});

test('enrol this device (user verified), then pass its challenge', async () => {
  await call('PUT', 'api/v2/guardian/factors/webauthn-platform', { enabled: true });
  const { context, page } = await withAuthenticator('internal');
  try {
    let checks = await passwordStep(page, 'device.e2e@example.com');
    const setUp = page.getByRole('button', { name: 'Set up' });
    await setUp.waitFor();
    await checkPage(page, 'webauthn', 'device-enrolment');
    await setUp.click();
    let claims = await tokensAt(page, checks);
    assert.deepEqual(claims.amr, ['pwd', 'mfa']);
    checks = await passwordStep(page, 'device.e2e@example.com');
    await page.getByRole('button', { name: 'Continue' }).click();
    claims = await tokensAt(page, checks);
    assert.deepEqual(claims.amr, ['pwd', 'mfa']);
  } finally {
    await context.close();
  }
});

test('without JavaScript the page says so', async () => {
  await call('PUT', 'api/v2/guardian/factors/webauthn-roaming', { enabled: true });
  await call('PUT', 'api/v2/guardian/factors/otp', { enabled: true });
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  try {
    await call('POST', 'api/v2/users', {
      connection: 'Username-Password-Authentication', email: 'nojs.e2e@example.com', password, email_verified: true,
    });
    await passwordStep(page, 'nojs.e2e@example.com');
    await page.getByRole('link', { name: 'Set up a security key' }).click();
    await page.getByText('This step needs JavaScript').waitFor();
    await keepScreenshot(page, 'webauthn', 'security-key-without-javascript');
    await page.getByRole('link', { name: 'Set up an authenticator app' }).waitFor();
  } finally {
    await context.close();
  }
});

/** Turns passkeys on (beside passwords) for the database connection with
 * `passkey_options`; returns the connection as it was, the options set, and `restore`. */
async function passkeysOn(passkeyOptions) {
  const [connection] = await call('GET', 'api/v2/connections?name=Username-Password-Authentication');
  const options = {
    ...connection.options,
    authentication_methods: { password: { enabled: true }, passkey: { enabled: true } },
    passkey_options: passkeyOptions,
  };
  await call('PATCH', `api/v2/connections/${connection.id}`, { options });
  const restore = () => call('PATCH', `api/v2/connections/${connection.id}`, { options: connection.options });
  return { connection, options, restore };
}

// Passkeys as a first factor: with passkeys enabled on the database connection, a new
// user signs up with this device's passkey (no password), signs out, and signs in with it
// again without typing anything (through the autofill, then the button). Every login skips the second factor the tenant's policy
// asks of password logins (a user-verified passkey is two factors), and say so in `amr`.
test('sign up with a passkey, sign out, sign in with it', async () => {
  const { connection, options, restore } = await passkeysOn({ challenge_ui: 'both', progressive_enrollment_enabled: false });
  const { context, page, cdp, authenticatorId } = await withAuthenticator('internal');
  try {
    // Sign up: the email, then the passkey.
    let checks = await authorize(page);
    await page.getByRole('link', { name: 'Sign up' }).click();
    await page.waitForURL((u) => u.pathname === '/u/signup');
    await checkPage(page, 'passkeys', 'signup');
    await page.locator('#email').focus();
    await page.keyboard.type('passkey.e2e@example.com');
    await page.getByRole('button', { name: 'Sign up with a passkey' }).click();
    const create = page.getByRole('button', { name: 'Create a passkey' });
    await create.waitFor();
    await checkPage(page, 'passkeys', 'signup-ceremony');
    await create.click();
    let claims = await tokensAt(page, checks);
    assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0].isResidentCredential, true);
    const methods = await call('GET', `api/v2/users/${encodeURIComponent(claims.sub)}/authentication-methods`);
    assert.deepEqual(methods.map((m) => m.type), ['passkey']);
    const signedUp = claims.sub;

    // Sign out, then sign in with the passkey, no name typed: first through the
    // username field's autofill (conditional mediation, which Chromium's virtual
    // authenticator answers by itself once the login page asks) …
    await page.goto(`${issuer}v2/logout`);
    checks = await authorize(page);
    await page.waitForURL((u) => u.pathname === '/u/login' || u.href.startsWith(callback));
    claims = await tokensAt(page, checks);
    assert.equal(claims.sub, signedUp);
    assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);

    // … then, with the button only, through the button.
    options.passkey_options = { challenge_ui: 'button', progressive_enrollment_enabled: false };
    await call('PATCH', `api/v2/connections/${connection.id}`, { options });
    await page.goto(`${issuer}v2/logout`);
    checks = await authorize(page);
    await page.waitForURL((u) => u.pathname === '/u/login');
    const button = page.getByRole('button', { name: 'Sign in with a passkey' });
    await button.waitFor();
    assert.equal(await page.locator('#username').getAttribute('autocomplete'), 'username');
    await checkPage(page, 'passkeys', 'login');
    await button.focus();
    await page.keyboard.press('Enter');
    claims = await tokensAt(page, checks);
    assert.equal(claims.sub, signedUp);
    assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);
    const { credentials: used } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.ok(used[0].signCount >= 2, 'the passkey signed twice');

    // Without JavaScript the login page says passkeys need it; the password form is there.
    const noJs = await browser.newContext({ javaScriptEnabled: false });
    try {
      const plain = await noJs.newPage();
      await plain.goto(oidc.buildAuthorizationUrl(config, {
        redirect_uri: callback, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256',
      }).href);
      await plain.getByText('Signing in with a passkey needs JavaScript').waitFor();
      assert.equal(await plain.getByRole('button', { name: 'Sign in with a passkey' }).isVisible(), false);
      await plain.locator('#password').waitFor();
      await keepScreenshot(plain, 'passkeys', 'login-without-javascript');
    } finally {
      await noJs.close();
    }
  } finally {
    await context.close();
    await restore();
  }
});

// Progressive enrolment: after a password login with nothing else pending, the user is
// offered a passkey once, and the browser creates it (the offer's button shows only once
// /u/webauthn.js has run).
test('after a password login, a passkey is offered and created by the browser', async () => {
  const { connection, restore } = await passkeysOn({ challenge_ui: 'button', progressive_enrollment_enabled: true });
  await call('PUT', 'api/v2/guardian/policies', []);
  const email = 'offered.e2e@example.com';
  await call('POST', 'api/v2/users', { connection: connection.name, email, password, email_verified: true });
  const { context, page, cdp, authenticatorId } = await withAuthenticator('internal');
  try {
    const checks = await authorize(page, { prompt: 'login' });
    await page.locator('#username').focus();
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
    const create = page.getByRole('button', { name: 'Create a passkey' });
    await create.waitFor();
    await checkPage(page, 'passkeys', 'progressive-offer');
    await create.click();
    const claims = await tokensAt(page, checks);
    // A password login, whatever it enrolled: no `amr` (as Auth0's ID tokens, `mfa` or
    // a passkey's only).
    assert.equal(claims.amr, undefined);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    const methods = await call('GET', `api/v2/users/${encodeURIComponent(claims.sub)}/authentication-methods`);
    assert.deepEqual(methods.map((m) => m.type), ['passkey']);
  } finally {
    await context.close();
    await restore();
    await call('PUT', 'api/v2/guardian/policies', ['all-applications']);
  }
});
