// Sign-up, email verification and password reset through the hosted pages, driven by
// Playwright in headless Chromium; the emails are read from Gatehouse's file outbox
// (E2E_OUTBOX). Run through ./run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import * as oidc from 'openid-client';
import { launchChromium, checkPage, keepScreenshot } from './browser.mjs';

const fx = JSON.parse(readFileSync(process.env.E2E_FIXTURE, 'utf8'));
const outbox = process.env.E2E_OUTBOX;
let config;
let browser;
let app;

before(async () => {
  app = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('app reached'));
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

async function authorizationRequest(extra = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedState: oidc.randomState() };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: fx.callback,
    scope: 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    ...extra,
  });
  return { url, checks };
}

/** An email as a mail reader shows it: quoted-printable soft breaks joined, `=XX` decoded. */
function decodeQuotedPrintable(text) {
  const joined = text.replace(/=\r?\n/g, '');
  return Buffer.from(
    joined.replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  ).toString('utf8');
}

/** The link under `path` in the newest email to `to`, waiting for it to arrive. */
async function emailLink(to, path, count = 1) {
  for (let i = 0; i < 200; i++) {
    const mails = existsSync(outbox)
      ? readdirSync(outbox)
          .filter((f) => f.endsWith('.eml'))
          .map((f) => decodeQuotedPrintable(readFileSync(join(outbox, f), 'utf8')))
          .filter((m) => m.includes(`To: ${to}`) && m.includes(path))
      : [];
    if (mails.length >= count) {
      const m = mails.map((mail) => mail.match(/http:\/\/\S+/)[0]).find((u) => u.includes(path));
      if (m) return m;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no email to ${to} with ${path} in ${outbox}`);
}

async function logIn(page, email, password) {
  const { url, checks } = await authorizationRequest();
  await page.goto(url.href);
  await page.getByLabel('Email address or username').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await page.waitForURL((u) => u.href.startsWith(fx.callback));
  return oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
}

test('sign-up with live password rules → verification email → link → verified → login', async () => {
  const email = `signup.${Date.now()}@example.com`;
  const password = 'Signed-Up-Zebra-9';
  const context = await browser.newContext();
  const page = await context.newPage();
  const { url, checks } = await authorizationRequest({ screen_hint: 'signup' });
  await page.goto(url.href);
  assert.match(await page.title(), /Sign up/);
  await checkPage(page, 'signup', 'form');
  await page.getByLabel('Email address').fill(email);
  // The rules list reacts as the password is typed (same-origin script, CSP-compatible).
  const length = page.locator('#password-rules > li[data-code="lengthAtLeast"]');
  await page.getByLabel('Password').fill('abc');
  assert.equal(await length.getAttribute('class'), 'unmet');
  assert.match(await page.locator('#password-rules-status').textContent(), /not met/);
  await checkPage(page, 'signup', 'rules-unmet');
  await page.getByLabel('Password').fill(password);
  assert.equal(await length.getAttribute('class'), 'met');
  assert.equal(await page.locator('#password-rules-status').textContent(), 'The password meets every rule.');
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await page.waitForURL((u) => u.href.startsWith(fx.callback));
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
  assert.equal(tokens.claims().email, email);
  assert.equal(tokens.claims().email_verified, false);

  const link = await emailLink(email, '/u/email-verification?ticket=');
  await page.goto(link);
  assert.match(await page.textContent('body'), /Your email was verified/);
  await checkPage(page, 'verification', 'verified');
  // Used once only.
  const again = await page.goto(link);
  assert.equal(again.status(), 400);
  await checkPage(page, 'verification', 'link-used');

  const fresh = await (await browser.newContext()).newPage();
  const second = await logIn(fresh, email, password);
  assert.equal(second.claims().email, email);
  assert.equal(second.claims().email_verified, true);
  await fresh.context().close();
  await context.close();
});

test('a weak password is explained on the sign-up form without JavaScript', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const { url } = await authorizationRequest({ screen_hint: 'signup' });
  await page.goto(url.href);
  await page.getByLabel('Email address').fill(`weak.${Date.now()}@example.com`);
  await page.getByLabel('Password').fill('weakling');
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await page.waitForLoadState();
  assert.match(await page.locator('#password-error').textContent(), /Password is too weak/);
  assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');
  await keepScreenshot(page, 'signup', 'weak-password-without-javascript');
  await context.close();
});

test('reset: login page → request → email → new password → login with it', async () => {
  // A user of its own, so the other tests' fixture user keeps its password.
  const email = `reset.${Date.now()}@example.com`;
  const res = await fetch(new URL('dbconnections/signup', fx.issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: fx.client_id, connection: 'Username-Password-Authentication', email, password: 'Before-Reset-Zebra-3' }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const { _id } = await res.json();
  const context = await browser.newContext();
  const page = await context.newPage();
  const { url } = await authorizationRequest();
  await page.goto(url.href);
  await checkPage(page, 'login', 'form');
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.waitForLoadState();
  await checkPage(page, 'reset', 'request');
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await page.waitForLoadState();
  assert.match(await page.textContent('body'), /We've just sent you an email to reset your password\./);
  await checkPage(page, 'reset', 'email-sent');

  const link = await emailLink(email, '/u/reset-password?ticket=');
  await page.goto(link);
  await checkPage(page, 'reset', 'new-password');
  const newPassword = 'Reset-Zebra-Quartz-7';
  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByLabel('Confirm the new password').fill(newPassword);
  await page.getByRole('button', { name: 'Reset password' }).click();
  await page.waitForLoadState();
  assert.match(await page.textContent('body'), /Your password has been changed/);
  await checkPage(page, 'reset', 'password-changed');

  const fresh = await (await browser.newContext()).newPage();
  const tokens = await logIn(fresh, email, newPassword);
  assert.equal(tokens.claims().sub, `auth0|${_id}`);
  await fresh.context().close();
  await context.close();
});
