// openid-client (an OIDC relying party nobody here wrote) runs the authorization-code
// flow with PKCE while Playwright drives headless Chromium through Gatehouse's hosted
// login page. Run through ./run.sh, which starts the server and writes the fixture.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import * as oidc from 'openid-client';
import * as jose from 'jose';
import { launchChromium, focusIsOn, checkPage } from './browser.mjs';

const fx = JSON.parse(readFileSync(process.env.E2E_FIXTURE, 'utf8'));
let config;
let browser;
let app;
// Form bodies POSTed to the app (response_mode=form_post), in order.
const posted = [];

before(async () => {
  // The relying party's callback and logged-out pages.
  app = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST') posted.push({ url: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('app reached');
    });
  });
  const { port } = new URL(fx.app_origin);
  await new Promise((resolve) => app.listen(Number(port), '127.0.0.1', resolve));
  config = await oidc.discovery(new URL(fx.issuer), fx.client_id, undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  app?.close();
});

/** A new browser context (its own cookies). */
async function newPage(options = {}) {
  const context = await browser.newContext(options);
  if (process.env.E2E_DEBUG) {
    context.on('requestfailed', (r) => console.error('requestfailed', r.url(), r.failure()?.errorText));
    context.on('response', (r) => console.error('response', r.status(), r.url()));
  }
  return context.newPage();
}

async function authorizationRequest(extra = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce() };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: fx.callback,
    scope: 'openid profile email offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    nonce: checks.expectedNonce,
    ...extra,
  });
  return { url, checks };
}

/** Logs in on the hosted page with the keyboard only; returns the callback URL. */
async function logIn(page, url, password = fx.password) {
  await page.goto(url.href);
  await assert.doesNotReject(page.getByLabel('Email address or username').waitFor());
  await focusIsOn(page, 'username');
  await page.keyboard.type(fx.email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await Promise.all([page.waitForEvent('framenavigated'), page.keyboard.press('Enter')]);
  await page.waitForLoadState();
  return new URL(page.url());
}

async function expectOAuthError(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.error ?? e.cause?.error, code, String(e));
    return true;
  });
}

test('discovery advertises the code flow with S256', () => {
  const m = config.serverMetadata();
  assert.equal(m.issuer, fx.issuer);
  assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
  assert.deepEqual(m.response_modes_supported, ['query', 'form_post', 'web_message']);
  assert.ok(m.end_session_endpoint);
  assert.equal(m.revocation_endpoint, `${fx.issuer}oauth/revoke`);
});

test('code + PKCE through the hosted page, ID token checked against JWKS, userinfo, refresh rotation, replay, SSO and logout', async () => {
  const page = await newPage();
  const { url, checks } = await authorizationRequest();
  const callback = await logIn(page, url);
  assert.equal(callback.origin + callback.pathname, fx.callback, callback.href);

  const tokens = await oidc.authorizationCodeGrant(config, callback, { ...checks, idTokenExpected: true });
  const claims = tokens.claims();
  assert.equal(claims.sub, fx.user_id);
  assert.equal(claims.email, fx.email);
  assert.equal(claims.nonce, checks.expectedNonce);
  assert.ok(claims.sid && claims.auth_time);

  // The signature, independently of openid-client, against the published JWKS.
  const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
  const { payload, protectedHeader } = await jose.jwtVerify(tokens.id_token, jwks, {
    issuer: fx.issuer,
    audience: fx.client_id,
  });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(payload.sub, fx.user_id);

  const info = await oidc.fetchUserInfo(config, tokens.access_token, fx.user_id);
  assert.equal(info.email, fx.email);
  assert.equal(info.name, 'E2E User');

  // A replayed code is refused, and the refresh token issued from it dies with it.
  await expectOAuthError(oidc.authorizationCodeGrant(config, callback, checks), 'invalid_grant');
  await expectOAuthError(oidc.refreshTokenGrant(config, tokens.refresh_token), 'invalid_grant');

  // Single sign-on: a second request in the same browser needs no login (prompt=none).
  const second = await authorizationRequest({ prompt: 'none' });
  await page.goto(second.url.href);
  const ssoCallback = new URL(page.url());
  assert.ok(ssoCallback.searchParams.get('code'), ssoCallback.href);
  const fresh = await oidc.authorizationCodeGrant(config, ssoCallback, second.checks);

  // Refresh rotation; reusing a rotated token revokes the family.
  const rotated = await oidc.refreshTokenGrant(config, fresh.refresh_token);
  assert.notEqual(rotated.refresh_token, fresh.refresh_token);
  assert.equal(rotated.claims().sub, fx.user_id);
  await expectOAuthError(oidc.refreshTokenGrant(config, fresh.refresh_token), 'invalid_grant');
  await expectOAuthError(oidc.refreshTokenGrant(config, rotated.refresh_token), 'invalid_grant');

  // Revocation (RFC 7009) at the advertised endpoint: the refresh token is dead at once.
  const third = await authorizationRequest({ prompt: 'none' });
  await page.goto(third.url.href);
  const revocable = await oidc.authorizationCodeGrant(config, new URL(page.url()), third.checks);
  await oidc.tokenRevocation(config, revocable.refresh_token);
  await expectOAuthError(oidc.refreshTokenGrant(config, revocable.refresh_token), 'invalid_grant');

  // RP-initiated logout ends the session and returns to the app with state.
  const end = oidc.buildEndSessionUrl(config, {
    id_token_hint: fresh.id_token,
    post_logout_redirect_uri: fx.logout,
    state: 'bye',
  });
  await page.goto(end.href);
  assert.equal(page.url(), `${fx.logout}?state=bye`);
  const after = await authorizationRequest({ prompt: 'none' });
  await page.goto(after.url.href);
  assert.equal(new URL(page.url()).searchParams.get('error'), 'login_required');
  await page.context().close();
});

test('the app\'s own page exchanges its code and reads userinfo across origins (CORS); another origin cannot read', async () => {
  const page = await newPage();
  const { url, checks } = await authorizationRequest();
  const callback = await logIn(page, url);
  // As a single-page app does: fetch from the callback page, a JSON body (so a preflight).
  const exchange = ({ issuer, client_id, code, redirect_uri, code_verifier }) =>
    fetch(`${issuer}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'auth0-client': 'ZTJl' },
      body: JSON.stringify({ grant_type: 'authorization_code', client_id, code, redirect_uri, code_verifier }),
    }).then(async (r) => ({ status: r.status, body: await r.json() }), (e) => ({ blocked: String(e) }));
  const request = {
    issuer: fx.issuer,
    client_id: fx.client_id,
    code: callback.searchParams.get('code'),
    redirect_uri: fx.callback,
    code_verifier: checks.pkceCodeVerifier,
  };
  const tokens = await page.evaluate(exchange, request);
  assert.equal(tokens.status, 200, JSON.stringify(tokens));
  const info = await page.evaluate(
    ({ issuer, token }) => fetch(`${issuer}userinfo`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json()),
    { issuer: fx.issuer, token: tokens.body.access_token },
  );
  assert.equal(info.sub, fx.user_id);
  const discovered = await page.evaluate(
    (issuer) => fetch(`${issuer}.well-known/openid-configuration`).then((r) => r.json()),
    fx.issuer,
  );
  assert.equal(discovered.issuer, fx.issuer);

  // The same app on an origin the client does not list: the browser withholds the answer.
  const other = await newPage();
  await other.goto(`${fx.app_origin.replace('127.0.0.1', 'localhost')}/elsewhere`);
  const refused = await other.evaluate(exchange, { ...request, code: 'not-a-code' });
  assert.ok(refused.blocked, JSON.stringify(refused));
  // … while its own origin reads the refusal of that same bogus code.
  const readable = await page.evaluate(exchange, { ...request, code: 'not-a-code' });
  assert.equal(readable.status, 403);
  assert.equal(readable.body.error, 'invalid_grant');
  await page.context().close();
  await other.context().close();
});

test('silent authentication in a hidden iframe (response_mode=web_message), as auth0-spa-js does it', async () => {
  const page = await newPage();
  // From a page of the app: an iframe to /authorize with prompt=none, the answer by postMessage.
  const silently = async () => {
    const { url, checks } = await authorizationRequest({ prompt: 'none', response_mode: 'web_message' });
    await page.goto(`${fx.app_origin}/silent`);
    const response = await page.evaluate(
      ({ href, issuerOrigin }) =>
        new Promise((resolve, reject) => {
          const frame = document.createElement('iframe');
          frame.style.display = 'none';
          const timer = setTimeout(() => reject(new Error('no authorization_response message')), 10000);
          window.addEventListener('message', function listen(e) {
            if (e.origin !== issuerOrigin || e.data?.type !== 'authorization_response') return;
            window.removeEventListener('message', listen);
            clearTimeout(timer);
            resolve(e.data.response);
          });
          frame.src = href;
          document.body.appendChild(frame);
        }),
      { href: url.href, issuerOrigin: new URL(fx.issuer).origin },
    );
    return { response, checks };
  };
  const before = await silently();
  assert.equal(before.response.error, 'login_required', JSON.stringify(before.response));
  assert.equal(before.response.state, before.checks.expectedState);

  const { url } = await authorizationRequest();
  await logIn(page, url);
  const { response, checks } = await silently();
  assert.ok(response.code, JSON.stringify(response));
  const callback = new URL(fx.callback);
  callback.searchParams.set('code', response.code);
  callback.searchParams.set('state', response.state);
  const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
  assert.equal(tokens.claims().sub, fx.user_id);
  assert.equal(tokens.claims().nonce, checks.expectedNonce);
  await page.context().close();
});

test('a wrong redirect_uri gets an error page, never a redirect', async () => {
  const page = await newPage();
  const { url } = await authorizationRequest({ redirect_uri: `${fx.app_origin}/evil` });
  const response = await page.goto(url.href);
  assert.equal(response.status(), 400);
  assert.ok(page.url().startsWith(fx.issuer));
  assert.match(await page.textContent('body'), /Callback URL mismatch/);
  await checkPage(page, 'error', 'callback-mismatch');
  await page.context().close();
});

test('a wrong password is reported on the form, which stays usable', async () => {
  const page = await newPage();
  const { url, checks } = await authorizationRequest();
  await logIn(page, url, 'not-the-password');
  assert.ok(page.url().startsWith(`${fx.issuer}u/login`));
  const alert = page.getByRole('alert');
  assert.match(await alert.textContent(), /Wrong email or password\./);
  assert.equal(await page.getByLabel('Password').getAttribute('aria-describedby'), 'form-error');
  await checkPage(page, 'login', 'wrong-password');
  // Try again on the re-rendered form.
  await page.getByLabel('Password').fill(fx.password);
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await page.waitForURL((u) => u.href.startsWith(fx.callback));
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
  assert.equal(tokens.claims().sub, fx.user_id);
  await page.context().close();
});

/** The app's view of a form_post answer, as openid-client takes it. */
function postedRequest(p) {
  assert.equal(p.url, new URL(fx.callback).pathname);
  assert.equal(p.type, 'application/x-www-form-urlencoded');
  return new Request(fx.callback, { method: 'POST', headers: { 'content-type': p.type }, body: p.body });
}

test('response_mode=form_post: the browser POSTs the code to the callback, with and without JavaScript', async () => {
  for (const javaScriptEnabled of [true, false]) {
    const page = await newPage({ javaScriptEnabled });
    const violations = [];
    page.on('console', (m) => /Content Security Policy/i.test(m.text()) && violations.push(m.text()));
    const { url, checks } = await authorizationRequest({ response_mode: 'form_post' });
    const before = posted.length;
    await logIn(page, url);
    if (!javaScriptEnabled) {
      // The self-submitting form shows its button instead.
      assert.ok(page.url().startsWith(`${fx.issuer}u/login`), page.url());
      await Promise.all([page.waitForURL(fx.callback), page.getByRole('button', { name: 'Continue' }).click()]);
    } else {
      await page.waitForURL(fx.callback);
    }
    assert.equal(posted.length, before + 1);
    const p = posted.at(-1);
    assert.equal(new URLSearchParams(p.body).get('state'), checks.expectedState);
    const tokens = await oidc.authorizationCodeGrant(config, postedRequest(p), { ...checks, idTokenExpected: true });
    assert.equal(tokens.claims().sub, fx.user_id);
    assert.deepEqual(violations, []);

    // prompt=none with the session: a code again; in a new browser: login_required, also posted.
    const sso = await authorizationRequest({ response_mode: 'form_post', prompt: 'none' });
    if (javaScriptEnabled) {
      await page.goto(sso.url.href);
      await page.waitForURL(fx.callback);
      const again = await oidc.authorizationCodeGrant(config, postedRequest(posted.at(-1)), sso.checks);
      assert.equal(again.claims().sub, fx.user_id);
    }
    await page.context().close();
  }
  const stranger = await newPage();
  const none = await authorizationRequest({ response_mode: 'form_post', prompt: 'none' });
  await stranger.goto(none.url.href);
  await stranger.waitForURL(fx.callback);
  const answer = new URLSearchParams(posted.at(-1).body);
  assert.equal(answer.get('error'), 'login_required');
  assert.equal(answer.get('state'), none.checks.expectedState);
  await expectOAuthError(oidc.authorizationCodeGrant(config, postedRequest(posted.at(-1)), none.checks), 'login_required');
  await stranger.context().close();
});
