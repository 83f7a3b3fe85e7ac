// Auth0's embedded login, unchanged from npm: Lock (`auth0-lock` 14, bundled here with
// esbuild from its published package, which ships no browser build) and auth0.js
// (`auth0-js` 10, its published `dist/auth0.min.js`), in headless Chromium, against a
// Gatehouse of this test's own, served over TLS with its self-signed certificate
// (`tls.self_signed`): Lock and auth0.js build `https://` URLs from the domain. The
// application's pages are served by the test on another origin of the same site
// (https://localhost:<port>, with the same certificate), which exchanges its codes
// server-side with its secret, like a regular web application.
//
// Checked: Lock's client configuration (`/client/{id}.js`); sign-up with the database
// connection (a weak password refused by Lock from the policy Gatehouse published, a
// breached one refused by Gatehouse and shown by Lock, then success and the automatic
// login through `/co/authenticate` → `/authorize?login_ticket`); login; the password
// reset request and the emailed link; passwordless by email code and by magic link (the
// outbox read by the test); auth0.js `login`, `passwordlessStart` and `passwordlessLogin`;
// auth0.js `login` without Gatehouse's verifier cookie, through `/co/verify` and the
// application's `cross_origin_loc` page; `/co/authenticate` from an origin the client
// does not allow refused. Run through
// ./run.sh (needs GATEHOUSE_BIN).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { createServer } from 'node:https';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import * as esbuild from 'esbuild';
import { launchChromium, checkPage } from './browser.mjs';

// Node's own requests (the Management API, the app's code exchange) go to the test's
// self-signed Gatehouse; the browser is told the same with --ignore-certificate-errors.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

const require = createRequire(import.meta.url);
const PASSWORD_DB = 'Username-Password-Authentication';
const NO_LOGO = 'data:image/gif;base64,R0lGODlhAQABAAAAACw=';

let work;
let server;
let issuer;
let domain;
let outbox;
let app;
let appOrigin;
let otherOrigin;
let browser;
let client;
let lockBundle;

function freePort() {
  return new Promise((resolve) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function call(method, path, token, body) {
  const res = await fetch(new URL(path, issuer), {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Emails in the outbox to `to`, as a mail reader shows them, oldest first. */
function emailsTo(to) {
  if (!existsSync(outbox)) return [];
  return readdirSync(outbox)
    .filter((f) => f.endsWith('.eml'))
    .map((f) => readFileSync(join(outbox, f), 'utf8'))
    .map((t) => t.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))))
    .filter((m) => m.includes(`To: ${to}`))
    .sort((a, b) => Date.parse(a.match(/^Date: (.*)$/m)?.[1] ?? 0) - Date.parse(b.match(/^Date: (.*)$/m)?.[1] ?? 0));
}

/** The `n`th email to `to` matching `pattern`, waiting for it; the match's first group. */
async function fromEmail(to, pattern, n = 1) {
  for (let i = 0; i < 200; i++) {
    const found = emailsTo(to).map((m) => m.match(pattern)).filter(Boolean);
    if (found.length >= n) return found[n - 1][1];
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no email to ${to} matching ${pattern}`);
}

const CODE = /^\s*(\d{6})\s*$/m;

// The application: Lock's and auth0.js's pages, its callback (which redeems the code with
// the client's secret and shows whose ID token it got) and its cross-origin verification
// page.
function page(body, scripts) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>App</title>
${scripts.map((s) => `<script src="${s}"></script>`).join('\n')}</head><body>${body}</body></html>`;
}

async function appHandler(req, res) {
  const url = new URL(req.url, appOrigin);
  const html = (s) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(s);
  const settings = `<script>window.settings = ${JSON.stringify({
    clientId: client.client_id,
    domain,
    redirectUrl: `${appOrigin}/callback`,
    logo: NO_LOGO,
  })};</script>`;
  switch (url.pathname) {
    case '/lock.js':
      return res.writeHead(200, { 'content-type': 'text/javascript' }).end(lockBundle);
    case '/auth0.js':
      return res
        .writeHead(200, { 'content-type': 'text/javascript' })
        .end(readFileSync(require.resolve('auth0-js/dist/auth0.min.js')));
    case '/lock':
      return html(page(settings, ['/lock.js']));
    case '/auth0js':
      return html(
        page(
          `${settings}<script>window.webAuth = new auth0.WebAuth({ domain: settings.domain, clientID: settings.clientId,
            redirectUri: settings.redirectUrl, responseType: 'code', scope: 'openid email' });</script>`,
          ['/auth0.js'],
        ),
      );
    case '/co-verify':
      return html(
        page(
          `${settings}<script>new auth0.WebAuth({ domain: settings.domain, clientID: settings.clientId }).crossOriginVerification();</script>`,
          ['/auth0.js'],
        ),
      );
    case '/callback': {
      const code = url.searchParams.get('code');
      if (!code) return html(`<p id="result">error: ${url.searchParams.get('error')}: ${url.searchParams.get('error_description')}</p>`);
      const tokens = await fetch(new URL('oauth/token', issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: client.client_id,
          client_secret: client.client_secret,
          code,
          redirect_uri: `${appOrigin}/callback`,
        }),
      }).then((r) => r.json());
      if (!tokens.id_token) return html(`<p id="result">error: ${JSON.stringify(tokens)}</p>`);
      const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString());
      return html(`<p id="result">signed in as ${claims.email} (${claims.sub})</p>`);
    }
    default:
      return res.writeHead(404).end();
  }
}

// Lock's published `lib/` (Babel's CommonJS) `require`s auth0-js, for which esbuild takes
// the package's `main`: a UMD file, but the package says `"type": "module"`, so esbuild
// reads it as a module, its UMD wrapper sees no `exports` and the bundle's auth0-js is
// empty (Lock then fails at start-up reading `version`). Resolved as an import instead,
// it is the package's own ES module build (`module`), unchanged.
const esmAuth0Js = {
  name: 'auth0-js-as-module',
  setup(build) {
    build.onResolve({ filter: /^auth0-js$/ }, (args) =>
      args.kind === 'require-call'
        ? build.resolve(args.path, { kind: 'import-statement', resolveDir: args.resolveDir, importer: args.importer })
        : undefined,
    );
  },
};

before(async () => {
  const bin = process.env.GATEHOUSE_BIN;
  assert.ok(bin, 'GATEHOUSE_BIN names the gatehouse binary');
  work = mkdtempSync(join(tmpdir(), 'gatehouse-lock-'));
  outbox = join(work, 'data', 'outbox');
  const port = await freePort();
  issuer = `https://localhost:${port}/`;
  domain = `localhost:${port}`;
  const adminId = 'lock-admin';
  const adminSecret = randomBytes(32).toString('hex');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
  server = spawn(bin, ['serve'], {
    env: {
      ...env,
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
      GATEHOUSE_ISSUER: issuer,
      GATEHOUSE_DATABASE_URL: `sqlite://${join(work, 'gatehouse.db')}`,
      GATEHOUSE_DATA_DIR: join(work, 'data'),
      GATEHOUSE_TLS__SELF_SIGNED: 'true',
      GATEHOUSE_ADMIN_CLIENT_ID: adminId,
      GATEHOUSE_ADMIN_CLIENT_SECRET: adminSecret,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  server.stderr.on('data', (d) => (log += d));
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(new URL('readyz', issuer))).ok) break;
    } catch {}
    if (i > 150 || server.exitCode !== null) throw new Error(`gatehouse over TLS did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  const appPort = await freePort();
  // The application is another origin on Gatehouse's site (another port of `localhost`),
  // as with Auth0's custom domain: a browser that blocks third-party cookies (Chromium
  // does) keeps Gatehouse's verifier cookie from `/co/authenticate` only within one site,
  // and lets the `/co/verify` frame read the application's storage only then.
  appOrigin = `https://localhost:${appPort}`;
  // The same pages under another name: an origin (and a site) the client does not list.
  otherOrigin = `https://127.0.0.1:${appPort}`;
  const { access_token: mgmt } = await call('POST', 'oauth/token', null, {
    grant_type: 'client_credentials',
    client_id: adminId,
    client_secret: adminSecret,
    audience: `${issuer}api/v2/`,
  });
  client = await call('POST', 'api/v2/clients', mgmt, {
    name: 'Lock app',
    app_type: 'regular_web',
    callbacks: [`${appOrigin}/callback`],
    web_origins: [appOrigin],
    allowed_origins: [appOrigin],
    grant_types: ['authorization_code', 'http://auth0.com/oauth/grant-type/passwordless/otp'],
    cross_origin_authentication: true,
    cross_origin_loc: `${appOrigin}/co-verify`,
  });
  const [db] = await call('GET', `api/v2/connections?name=${PASSWORD_DB}`, mgmt);
  await call('PATCH', `api/v2/connections/${db.id}`, mgmt, { enabled_clients: [...db.enabled_clients, client.client_id] });
  await call('POST', 'api/v2/connections', mgmt, { name: 'email', strategy: 'email', enabled_clients: [client.client_id] });

  const built = await esbuild.build({
    stdin: {
      contents: `import Auth0Lock, { Auth0LockPasswordless } from 'auth0-lock';
        window.Auth0Lock = Auth0Lock; window.Auth0LockPasswordless = Auth0LockPasswordless;`,
      resolveDir: dirname(new URL(import.meta.url).pathname),
    },
    bundle: true,
    format: 'iife',
    write: false,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'error',
    plugins: [esmAuth0Js],
  });
  lockBundle = built.outputFiles[0].text;

  // Served over TLS with Gatehouse's own self-signed certificate (for localhost and
  // 127.0.0.1), which the browser is told to accept.
  const [cert, key] = ['crt', 'key'].map((ext) => readFileSync(join(work, 'data', 'tls', `self-signed.${ext}`)));
  app = createServer({ cert, key }, (req, res) => appHandler(req, res).catch((e) => res.writeHead(500).end(String(e))));
  await new Promise((resolve) => app.listen(appPort, '127.0.0.1', resolve));
  browser = await launchChromium(['--ignore-certificate-errors']);
});

after(async () => {
  await browser?.close();
  app?.close();
  server?.kill();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A fresh browser on the app's Lock page, with Lock shown with `options`. */
async function showLock(options, { passwordless = false } = {}) {
  const context = await browser.newContext();
  const p = await context.newPage();
  if (process.env.E2E_DEBUG) p.on('console', (m) => console.log('page:', m.text()));
  await p.goto(`${appOrigin}/lock`);
  await p.evaluate(
    ({ options, passwordless }) => {
      const s = window.settings;
      const Lock = passwordless ? window.Auth0LockPasswordless : window.Auth0Lock;
      window.lock = new Lock(s.clientId, s.domain, {
        auth: { redirectUrl: s.redirectUrl, responseType: 'code', params: { scope: 'openid email' } },
        rememberLastLogin: false,
        avatar: null,
        theme: { logo: s.logo },
        ...options,
      });
      window.lock.show();
    },
    { options, passwordless },
  );
  return p;
}

async function signedInAs(p, email) {
  await p.waitForURL((u) => u.href.startsWith(`${appOrigin}/callback`), { timeout: 20_000 });
  assert.match(await p.locator('#result').textContent(), new RegExp(`^signed in as ${email.replace('.', '\\.')} `));
}

test("Lock reads the client's configuration: database and passwordless connections", async () => {
  const res = await fetch(new URL(`client/${client.client_id}.js?t${Date.now()}`, issuer));
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /^Auth0\.setClient\(/);
  const config = JSON.parse(text.slice('Auth0.setClient('.length, -2));
  assert.deepEqual(config.strategies.map((s) => s.name).sort(), ['auth0', 'email']);
  assert.equal(config.strategies.find((s) => s.name === 'auth0').connections[0].passwordPolicy, 'good');
});

const signupEmail = `lock.${Date.now()}@example.com`;
const firstPassword = 'Lock-Zebra-Quartz-41';

test('Lock: sign-up refused by the policy, then accepted, then logged in', async () => {
  const p = await showLock({ initialScreen: 'signUp', allowedConnections: [PASSWORD_DB] });
  await p.locator('input[name="email"]').fill(signupEmail);
  // Too weak for the policy Gatehouse published ("good"): Lock itself refuses.
  await p.locator('input[name="password"]').fill('short');
  await p.locator('button[name="submit"]').click();
  await p.locator('.auth0-lock-password-strength').waitFor();
  assert.match(await p.locator('.auth0-lock-password-strength').textContent(), /At least 8 characters/);
  // Good enough for Lock, but a breached password: Gatehouse refuses, Lock shows it.
  await p.locator('input[name="password"]').fill('Password123');
  await p.locator('button[name="submit"]').click();
  const refusal = p.locator('.auth0-global-message-error');
  await refusal.waitFor();
  assert.ok((await refusal.textContent()).length > 0);
  // A good one: the user is created and Lock logs them in (/co/authenticate, then
  // /authorize with the login ticket).
  await p.locator('input[name="password"]').fill(firstPassword);
  await p.locator('button[name="submit"]').click();
  await signedInAs(p, signupEmail);
  await p.context().close();
});

test('Lock: log in; a wrong password is shown', async () => {
  const p = await showLock({ allowedConnections: [PASSWORD_DB] });
  await p.locator('input[name="email"]').fill(signupEmail);
  await p.locator('input[name="password"]').fill('Wrong-Zebra-Quartz-41');
  await p.locator('button[name="submit"]').click();
  await p.locator('.auth0-global-message-error').waitFor();
  assert.match(await p.locator('.auth0-global-message-error').textContent(), /wrong email or password/i);
  await p.locator('input[name="password"]').fill(firstPassword);
  await p.locator('button[name="submit"]').click();
  await signedInAs(p, signupEmail);
  await p.context().close();
});

test('Lock: reset a password; the emailed link sets a new one', async () => {
  const p = await showLock({ initialScreen: 'forgotPassword', allowedConnections: [PASSWORD_DB] });
  await p.locator('input[name="email"]').fill(signupEmail);
  await p.locator('button[name="submit"]').click();
  await p.locator('.auth0-global-message-success').waitFor();
  const link = await fromEmail(signupEmail, /(https:\/\/\S+\/u\/reset-password\?ticket=\S+)/);
  await p.goto(link);
  const newPassword = 'Lock-Reset-Quartz-77';
  await p.getByLabel('New password', { exact: true }).fill(newPassword);
  await p.getByLabel('Confirm the new password').fill(newPassword);
  await p.getByRole('button', { name: 'Reset password' }).click();
  assert.match(await p.textContent('body'), /Your password has been changed/);
  await p.context().close();

  const again = await showLock({ allowedConnections: [PASSWORD_DB] });
  await again.locator('input[name="email"]').fill(signupEmail);
  await again.locator('input[name="password"]').fill(newPassword);
  await again.locator('button[name="submit"]').click();
  await signedInAs(again, signupEmail);
  await again.context().close();
});

test('Lock passwordless: an email code, read from the outbox', async () => {
  const email = `code.${Date.now()}@example.com`;
  const p = await showLock({ passwordlessMethod: 'code', allowedConnections: ['email'] }, { passwordless: true });
  await p.locator('input[name="email"]').fill(email);
  await p.locator('button[name="submit"]').click();
  const code = await fromEmail(email, CODE);
  await p.locator('input[name="vcode"]').fill(code);
  await p.locator('button[name="submit"]').click();
  await signedInAs(p, email);
  await p.context().close();
});

test('Lock passwordless: a magic link', async () => {
  const email = `link.${Date.now()}@example.com`;
  // `autofocus: false`: Lock 14.3.0 itself throws when it shows the "email sent" pane
  // with autofocus on (it looks for an input with `querySelector` on the pane's React
  // component, not a DOM node: "node.querySelector is not a function"), and the widget
  // is gone. Gatehouse's answer to /passwordless/start is not involved.
  const p = await showLock(
    { passwordlessMethod: 'link', allowedConnections: ['email'], autofocus: false },
    { passwordless: true },
  );
  await p.locator('input[name="email"]').fill(email);
  await p.locator('button[name="submit"]').click();
  await p.locator('.auth0-lock-confirmation, .auth0-global-message-success').first().waitFor();
  const link = await fromEmail(email, /(https:\/\/\S+\/passwordless\/verify_redirect\?\S+)/);
  await p.goto(link);
  await signedInAs(p, email);
  await p.context().close();
});

test('auth0.js: login (cross-origin), passwordlessStart and passwordlessLogin', async () => {
  const context = await browser.newContext();
  const p = await context.newPage();
  await p.goto(`${appOrigin}/auth0js`);
  const error = await p.evaluate(
    ({ email }) =>
      new Promise((resolve) =>
        window.webAuth.login({ realm: 'Username-Password-Authentication', username: email, password: 'nope-Nope-1' }, (e) =>
          resolve(e),
        ),
      ),
    { email: signupEmail },
  );
  assert.equal(error.code, 'access_denied', JSON.stringify(error));
  await Promise.all([
    p.waitForURL((u) => u.href.startsWith(`${appOrigin}/callback`), { timeout: 20_000 }),
    p.evaluate(
      ({ email }) =>
        window.webAuth.login({ realm: 'Username-Password-Authentication', username: email, password: 'Lock-Reset-Quartz-77' }, () => {}),
      { email: signupEmail },
    ),
  ]);
  await signedInAs(p, signupEmail);

  const email = `js.${Date.now()}@example.com`;
  await p.goto(`${appOrigin}/auth0js`);
  const started = await p.evaluate(
    ({ email }) =>
      new Promise((resolve) => window.webAuth.passwordlessStart({ connection: 'email', send: 'code', email }, (e, r) => resolve(e ?? r))),
    { email },
  );
  assert.equal(started.email, email, JSON.stringify(started));
  const code = await fromEmail(email, CODE);
  await Promise.all([
    p.waitForURL((u) => u.href.startsWith(`${appOrigin}/callback`), { timeout: 20_000 }),
    p.evaluate(({ email, code }) => window.webAuth.passwordlessLogin({ connection: 'email', email, verificationCode: code }, () => {}), {
      email,
      code,
    }),
  ]);
  await signedInAs(p, email);
  await context.close();
});

// The pages are plain forms with no script (the Rust tests post them as such); axe-core
// needs the page's JavaScript, so it stays on here.
test('hosted login page: "Email me a code", keyboard only', async () => {
  const context = await browser.newContext();
  const p = await context.newPage();
  const email = `hosted.${Date.now()}@example.com`;
  const authorize = new URL('authorize', issuer);
  for (const [k, v] of Object.entries({
    client_id: client.client_id,
    redirect_uri: `${appOrigin}/callback`,
    response_type: 'code',
    scope: 'openid email',
  })) {
    authorize.searchParams.set(k, v);
  }
  await p.goto(authorize.href);
  const offer = p.getByRole('link', { name: 'Email me a code instead' });
  await offer.focus();
  await p.keyboard.press('Enter');
  await p.waitForURL((u) => u.pathname === '/u/login/email');
  await checkPage(p, 'login-email', 'address');
  await p.getByLabel('Email address').focus();
  await p.keyboard.type(email);
  await p.keyboard.press('Enter');
  await p.getByLabel('Code').waitFor();
  await checkPage(p, 'login-email', 'code');
  // A wrong code is said on the form, tied to the field.
  const code = await fromEmail(email, CODE);
  await p.getByLabel('Code').focus();
  await p.keyboard.type(code === '000000' ? '111111' : '000000');
  await p.keyboard.press('Enter');
  await p.locator('#code-error[role="alert"]').waitFor();
  assert.equal(await p.getByLabel('Code').getAttribute('aria-describedby'), 'code-error');
  await checkPage(p, 'login-email', 'wrong-code');
  await p.getByLabel('Code').fill('');
  await p.getByLabel('Code').focus();
  await p.keyboard.type(code);
  await p.keyboard.press('Enter');
  await signedInAs(p, email);
  await context.close();
});

test("auth0.js login where the browser withholds Gatehouse's cookie: /co/verify asks the application's page", async () => {
  const context = await browser.newContext();
  const p = await context.newPage();
  const visited = [];
  p.on('request', (r) => visited.push(`${r.method()} ${new URL(r.url()).pathname}`));
  // Between /co/authenticate and /authorize the cookie it set is dropped, as a browser
  // that blocks third-party cookies never keeps it: the verifier must come from the
  // application's cross_origin_loc page, framed by /co/verify.
  await p.exposeFunction('dropVerifierCookie', () => context.clearCookies({ name: 'gh_co' }));
  await p.goto(`${appOrigin}/auth0js`);
  await Promise.all([
    p.waitForURL((u) => u.href.startsWith(`${appOrigin}/callback`), { timeout: 20_000 }),
    p.evaluate(
      ({ email }) =>
        window.webAuth.login(
          {
            realm: 'Username-Password-Authentication',
            username: email,
            password: 'Lock-Reset-Quartz-77',
            onRedirecting: (done) => window.dropVerifierCookie().then(done),
          },
          () => {},
        ),
      { email: signupEmail },
    ),
  ]);
  await signedInAs(p, signupEmail);
  assert.ok(visited.includes('GET /co/verify') && visited.includes('POST /co/verify'), visited.join('\n'));
  assert.ok(visited.includes('GET /co-verify'), "the application's verification page was asked");
  await context.close();
});

test('/co/authenticate from an origin the client does not allow is refused', async () => {
  const context = await browser.newContext();
  const p = await context.newPage();
  await p.goto(`${otherOrigin}/auth0js`);
  const outcome = await p.evaluate(
    ({ email }) =>
      new Promise((resolve) =>
        window.webAuth.login({ realm: 'Username-Password-Authentication', username: email, password: 'Lock-Reset-Quartz-77' }, (e) =>
          resolve(e),
        ),
      ),
    { email: signupEmail },
  );
  // The browser may not read Gatehouse's refusal: auth0.js sees a failed request.
  assert.ok(outcome, 'login reported an error');
  assert.equal(p.url(), `${otherOrigin}/auth0js`, 'no redirect to /authorize');
  await context.close();
  // What the page could not read: Auth0's plain-text 403.
  const res = await fetch(new URL('co/authenticate', issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: otherOrigin },
    body: JSON.stringify({
      client_id: client.client_id,
      username: signupEmail,
      password: 'Lock-Reset-Quartz-77',
      realm: PASSWORD_DB,
      credential_type: 'http://auth0.com/oauth/grant-type/password-realm',
    }),
  });
  assert.equal(res.status, 403);
  assert.equal(res.headers.get('access-control-allow-origin'), null);
  assert.equal(await res.text(), `Origin ${otherOrigin} is not allowed.`);
});
