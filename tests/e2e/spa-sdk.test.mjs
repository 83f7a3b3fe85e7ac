// Auth0's own single-page-app SDK (@auth0/auth0-spa-js), unchanged, in headless Chromium
// against Gatehouse: login with redirect through the hosted page, the code exchanged
// across origins, the ID token's claims checked by the SDK, silent authentication in a
// hidden iframe (response_mode=web_message), logout. Run through ./run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { launchChromium, focusIsOn } from './browser.mjs';

const fx = JSON.parse(readFileSync(process.env.E2E_FIXTURE, 'utf8'));
const sdk = readFileSync(createRequire(import.meta.url).resolve('@auth0/auth0-spa-js/dist/auth0-spa-js.production.js'));
// The app: one page (also its callback and logged-out page) that loads the SDK.
// `appClient` is the SDK's client as the app creates it on every page load.
const PAGE = `<!DOCTYPE html><html><head><meta charset="utf-8"><script src="/auth0-spa-js.js"></script>
<script>window.appClient = (o) => auth0.createAuth0Client({
  domain: o.domain, clientId: o.clientId, authorizationParams: { redirect_uri: o.redirect_uri },
  useRefreshTokens: Boolean(o.useRefreshTokens) });</script>
</head><body>app</body></html>`;
let browser;
let app;

before(async () => {
  app = createServer((req, res) => {
    if (req.url === '/auth0-spa-js.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(sdk);
    } else {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    }
  });
  const { port } = new URL(fx.app_origin);
  await new Promise((resolve) => app.listen(Number(port), '127.0.0.1', resolve));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  app?.close();
});

/** Fills the hosted login page with the keyboard (the username field has focus on load). */
async function typeCredentials(page) {
  await page.getByLabel('Email address or username').waitFor();
  await focusIsOn(page, 'username');
  await page.keyboard.type(fx.email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(fx.password);
}

test('auth0-spa-js: login with redirect, code exchange, user, silent token, logout', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const options = { domain: fx.issuer.replace(/\/$/, ''), clientId: fx.client_id, redirect_uri: fx.callback };
  await page.goto(`${fx.app_origin}/`);
  // Not logged in: the SDK's own silent check (an iframe) says so.
  const before = await page.evaluate(async (o) => (await window.appClient(o)).isAuthenticated(), options);
  assert.equal(before, false);

  // loginWithRedirect: to /authorize, through the hosted login page, back to the callback.
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(fx.issuer)),
    page.evaluate(async (o) => (await window.appClient(o)).loginWithRedirect(), options),
  ]);
  await typeCredentials(page);
  await Promise.all([page.waitForURL((u) => u.href.startsWith(fx.callback)), page.keyboard.press('Enter')]);

  let frames = 0;
  page.on('frameattached', () => (frames += 1));
  const session = await page.evaluate(
    async (o) => {
      const client = await window.appClient(o);
      await client.handleRedirectCallback();
      const user = await client.getUser();
      const claims = await client.getIdTokenClaims();
      // Past the SDK's cache: a new code through the hidden iframe (web_message).
      const silent = await client.getTokenSilently({ cacheMode: 'off', detailedResponse: true });
      return { user, iss: claims.iss, aud: claims.aud, silent: Boolean(silent.access_token && silent.id_token) };
    },
    options,
  );
  assert.equal(session.user.sub, fx.user_id);
  assert.equal(session.user.email, fx.email);
  assert.equal(session.user.name, 'E2E User');
  assert.equal(session.iss, fx.issuer);
  assert.equal(session.aud, fx.client_id);
  assert.ok(session.silent);
  assert.ok(frames >= 1, 'the silent token came through an iframe');

  // logout: to /v2/logout, back to the app's allowed logout URL, the session gone.
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(fx.logout)),
    page.evaluate(
      async ({ o, returnTo }) => (await window.appClient(o)).logout({ logoutParams: { returnTo } }),
      { o: options, returnTo: fx.logout },
    ),
  ]);
  const after = await page.evaluate(async (o) => {
    const client = await window.appClient(o);
    try {
      await client.getTokenSilently({ cacheMode: 'off' });
      return 'token';
    } catch (e) {
      return e.error;
    }
  }, options);
  assert.equal(after, 'login_required');
  await context.close();
});

test('auth0-spa-js with refresh tokens: fresh tokens by the refresh grant from its worker, no iframe', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const options = { domain: fx.issuer.replace(/\/$/, ''), clientId: fx.client_id, redirect_uri: fx.callback, useRefreshTokens: true };
  // The SDK's worker makes its token requests out of Playwright's sight; an iframe would
  // be seen. With refresh tokens (and no iframe fallback, the SDK's default) a fresh token
  // without any frame is the refresh grant's.
  let frames = 0;
  page.on('frameattached', () => (frames += 1));
  await page.goto(`${fx.app_origin}/`);
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(fx.issuer)),
    page.evaluate(async (o) => (await window.appClient(o)).loginWithRedirect(), options),
  ]);
  await typeCredentials(page);
  await Promise.all([page.waitForURL((u) => u.href.startsWith(fx.callback)), page.keyboard.press('Enter')]);
  frames = 0;
  const tokens = await page.evaluate(async (o) => {
    const client = await window.appClient(o);
    await client.handleRedirectCallback();
    const first = await client.getTokenSilently({ cacheMode: 'off' });
    const second = await client.getTokenSilently({ cacheMode: 'off' });
    return { first, second, user: await client.getUser() };
  }, options);
  assert.equal(tokens.user.sub, fx.user_id);
  assert.ok(tokens.first && tokens.second && tokens.first !== tokens.second);
  assert.equal(frames, 0);
  await context.close();
});

test('auth0-spa-js loginWithPopup: the hosted page in a popup answers its opener (web_message)', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const options = { domain: fx.issuer.replace(/\/$/, ''), clientId: fx.client_id, redirect_uri: fx.callback };
  await page.goto(`${fx.app_origin}/`);
  const popupOpened = page.waitForEvent('popup');
  const loggedIn = page.evaluate(async (o) => {
    window.popupClient = await window.appClient(o);
    await window.popupClient.loginWithPopup();
    return window.popupClient.getUser();
  }, options);
  const popup = await popupOpened;
  await typeCredentials(popup);
  await popup.keyboard.press('Enter');
  const user = await loggedIn;
  assert.equal(user.sub, fx.user_id);
  assert.equal(user.email, fx.email);
  await context.close();
});
