// Social sign-in end to end: headless Chromium through Gatehouse's hosted login page,
// an upstream OpenID provider nobody here wrote (panva's oidc-provider with its dev
// login and consent pages, upstream-op.mjs) and back, with openid-client as the
// application. New user, returning user, linking to an existing database account, and
// denied consent. Run through ./run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import * as oidc from 'openid-client';
import { launchChromium } from './browser.mjs';

const fx = JSON.parse(readFileSync(process.env.E2E_FIXTURE, 'utf8'));
let config;
let browser;
let app;
let mgmt;

async function api(path) {
  const res = await fetch(new URL(path, fx.issuer), { headers: { authorization: `Bearer ${mgmt}` } });
  assert.ok(res.ok, `${path}: ${res.status}`);
  return res.json();
}

before(async () => {
  app = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('app reached'));
  const { port } = new URL(fx.app_origin);
  await new Promise((resolve) => app.listen(Number(port), '127.0.0.1', resolve));
  config = await oidc.discovery(new URL(fx.issuer), fx.client_id, undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
  browser = await launchChromium();
  const res = await fetch(new URL('oauth/token', fx.issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      client_id: process.env.GATEHOUSE_ADMIN_CLIENT_ID,
      client_secret: process.env.GATEHOUSE_ADMIN_CLIENT_SECRET,
      audience: `${fx.issuer}api/v2/`,
    }),
  });
  mgmt = (await res.json()).access_token;
});

after(async () => {
  await browser?.close();
  app?.close();
});

async function newPage() {
  const context = await browser.newContext();
  if (process.env.E2E_DEBUG) context.on('response', (r) => console.error('response', r.status(), r.url()));
  return context.newPage();
}

async function authorizationRequest(extra = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce() };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: fx.callback,
    scope: 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    nonce: checks.expectedNonce,
    ...extra,
  });
  return { url, checks };
}

/** On the upstream provider's dev pages: log in as `login`, then consent. */
async function upstreamLogin(page, login) {
  await page.waitForURL((u) => u.href.startsWith(process.env.E2E_UPSTREAM_ORIGIN));
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  await Promise.all([page.waitForEvent('framenavigated'), page.getByRole('button', { name: 'Sign-in' }).click()]);
  const consent = page.getByRole('button', { name: 'Continue', exact: true });
  if (await consent.count()) {
    await Promise.all([page.waitForEvent('framenavigated'), consent.click()]);
  }
}

/** The hosted login page's button for the upstream connection, then the provider. */
async function signInWithButton(page, login) {
  const { url, checks } = await authorizationRequest();
  await page.goto(url.href);
  await page.getByRole('button', { name: 'Continue with Upstream OP' }).click();
  await upstreamLogin(page, login);
  await page.waitForURL((u) => u.href.startsWith(fx.callback));
  return { callback: new URL(page.url()), checks };
}

test('a new social user signs up through the login page button, and returns as the same user', async () => {
  const page = await newPage();
  const first = await signInWithButton(page, 'newbie');
  const tokens = await oidc.authorizationCodeGrant(config, first.callback, first.checks);
  const claims = tokens.claims();
  assert.equal(claims.sub, 'oidc|upstream|newbie');
  assert.equal(claims.email, 'newbie@example.com');
  assert.equal(claims.email_verified, true);
  await page.context().close();

  // Returning, in a new browser: the same user id, and still only one user.
  const again = await newPage();
  const second = await signInWithButton(again, 'newbie');
  const tokens2 = await oidc.authorizationCodeGrant(config, second.callback, second.checks);
  assert.equal(tokens2.claims().sub, 'oidc|upstream|newbie');
  const users = await api('api/v2/users-by-email?email=newbie@example.com');
  assert.equal(users.length, 1);
  assert.deepEqual(users[0].identities, [{ connection: 'upstream', user_id: 'upstream|newbie', provider: 'oidc', isSocial: false }]);
  assert.equal(users[0].logins_count, 2);
  await again.context().close();
});

test('a verified email of an existing account: prove its password, then the accounts are linked', async () => {
  const page = await newPage();
  const { url, checks } = await authorizationRequest({ connection: fx.upstream_connection });
  await page.goto(url.href);
  await upstreamLogin(page, 'linker');
  await page.waitForURL((u) => u.pathname === '/u/link');
  assert.match(await page.textContent('body'), /linkme@example\.com/);
  await page.getByLabel('Password').fill('wrong password');
  await Promise.all([page.waitForEvent('framenavigated'), page.getByRole('button', { name: 'Link accounts and continue' }).click()]);
  assert.match(await page.getByRole('alert').textContent(), /Wrong password/);
  await page.getByLabel('Password').fill(fx.link_password);
  await Promise.all([page.waitForEvent('framenavigated'), page.getByRole('button', { name: 'Link accounts and continue' }).click()]);
  await page.waitForURL((u) => u.href.startsWith(fx.callback));
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
  assert.equal(tokens.claims().sub, fx.link_user_id);
  const user = await api(`api/v2/users/${encodeURIComponent(fx.link_user_id)}`);
  assert.deepEqual(user.identities.map((i) => `${i.provider}|${i.user_id}`), [fx.link_user_id, 'oidc|upstream|linker']);
  assert.equal((await api('api/v2/users-by-email?email=linkme@example.com')).length, 1);
  await page.context().close();

  // Next time the provider account signs straight into the linked account.
  const again = await newPage();
  const next = await authorizationRequest({ connection: fx.upstream_connection });
  await again.goto(next.url.href);
  await upstreamLogin(again, 'linker');
  await again.waitForURL((u) => u.href.startsWith(fx.callback));
  const tokens2 = await oidc.authorizationCodeGrant(config, new URL(again.url()), next.checks);
  assert.equal(tokens2.claims().sub, fx.link_user_id);
  await again.context().close();
});

test('denied consent at the provider ends on a clear page, not at the application', async () => {
  const page = await newPage();
  const { url } = await authorizationRequest({ connection: fx.upstream_connection });
  await page.goto(url.href);
  await page.waitForURL((u) => u.href.startsWith(process.env.E2E_UPSTREAM_ORIGIN));
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/login/callback'),
    page.getByRole('link', { name: '[ Cancel ]' }).click(),
  ]);
  assert.equal(response.status(), 403);
  await page.waitForLoadState();
  assert.equal(new URL(page.url()).pathname, '/login/callback');
  assert.match(await page.textContent('body'), /did not allow access/);
  await page.context().close();
});
