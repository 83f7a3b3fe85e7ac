// Tenant configuration as code with Auth0's own tools, unchanged from npm: Node's
// management SDK (`auth0` 6) configures a first Gatehouse; Auth0's Deploy CLI (`a0deploy`
// 8) exports it as YAML and imports that into a second, fresh Gatehouse; exporting the
// second gives the same YAML. Both instances are this test's own, over TLS with their
// self-signed certificates (the SDK and the CLI build `https://` URLs from a domain).
// What Gatehouse has no equivalent for is left out with the CLI's own
// `AUTH0_INCLUDED_ONLY` (docs/deploy-cli.md lists it). Run through ./run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ManagementClient } from 'auth0';
import yaml from 'js-yaml';

process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
const here = dirname(fileURLToPath(import.meta.url));
const a0deploy = join(here, 'node_modules', '.bin', 'a0deploy');
const bin = process.env.GATEHOUSE_BIN;

// The resource types Gatehouse carries (docs/deploy-cli.md).
export const INCLUDED = [
  'tenant',
  'clients',
  'databases',
  'connections',
  'clientGrants',
  'resourceServers',
  'roles',
  'emailProvider',
  'emailTemplates',
  'attackProtection',
  'branding',
  'guardianFactors',
  'guardianPolicies',
  'actions',
  'triggers',
];

const work = mkdtempSync(join(tmpdir(), 'gatehouse-deploy-'));
const instances = [];

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A fresh Gatehouse over TLS: its domain and its Management API credentials. */
async function startGatehouse(name) {
  const port = await freePort();
  const dir = join(work, name);
  const admin = { id: `${name}-deploy`, secret: randomBytes(32).toString('hex') };
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
  const child = spawn(bin, ['serve'], {
    env: {
      ...env,
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
      GATEHOUSE_ISSUER: `https://localhost:${port}/`,
      GATEHOUSE_DATABASE_URL: `sqlite://${join(dir, 'gatehouse.db')}`,
      GATEHOUSE_DATA_DIR: join(dir, 'data'),
      GATEHOUSE_TLS__SELF_SIGNED: 'true',
      GATEHOUSE_ADMIN_CLIENT_ID: admin.id,
      GATEHOUSE_ADMIN_CLIENT_SECRET: admin.secret,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const domain = `localhost:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`https://${domain}/readyz`)).ok) break;
    } catch {}
    if (i > 150 || child.exitCode !== null) throw new Error(`gatehouse ${name} did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const instance = { name, domain, admin, child, log: () => log };
  instances.push(instance);
  return instance;
}

function management(g) {
  return new ManagementClient({ domain: g.domain, clientId: g.admin.id, clientSecret: g.admin.secret });
}

/** Runs a0deploy against `g`; its output is kept for the failure message. */
async function deployCli(g, command, folder) {
  const config = join(work, `${g.name}-${command}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      AUTH0_DOMAIN: g.domain,
      AUTH0_CLIENT_ID: g.admin.id,
      AUTH0_CLIENT_SECRET: g.admin.secret,
      AUTH0_INCLUDED_ONLY: INCLUDED,
      AUTH0_ALLOW_DELETE: false,
    }),
  );
  const args = [command, '-c', config, '-f', 'yaml', ...(command === 'export' ? ['-o', folder] : ['-i', join(folder, 'tenant.yaml')])];
  try {
    const { stdout, stderr } = await promisify(execFile)(a0deploy, args, { env: process.env, timeout: 120_000 });
    return stdout + stderr;
  } catch (e) {
    throw new Error(`a0deploy ${command} against ${g.name} failed:\n${e.stdout}\n${e.stderr}\n--- gatehouse ---\n${g.log().slice(-3000)}`);
  }
}

let source;
let target;

before(async () => {
  assert.ok(bin, 'set GATEHOUSE_BIN');
  [source, target] = await Promise.all([startGatehouse('source'), startGatehouse('target')]);
});

after(() => {
  for (const g of instances) g.child.kill();
  if (process.env.DEPLOY_KEEP) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
});

/** An exported tenant.yaml. */
function comparable(file) {
  const doc = yaml.load(readFileSync(file, 'utf8'));
  // The CLI's schema adds this option's default (false) on import; unset means the same.
  for (const db of doc.databases ?? []) {
    if (db.options?.disable_self_service_change_password === false) delete db.options.disable_self_service_change_password;
  }
  return doc;
}

test('a tenant configured with the management SDK, exported by a0deploy, imported into a fresh Gatehouse, exports the same', async () => {
  const m = management(source);
  const web = await m.clients.create({
    name: 'Storefront',
    app_type: 'regular_web',
    callbacks: ['https://shop.example.com/callback'],
    allowed_logout_urls: ['https://shop.example.com/'],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'client_secret_post',
  });
  const backend = await m.clients.create({
    name: 'Order Service',
    app_type: 'non_interactive',
    grant_types: ['client_credentials'],
  });
  await m.resourceServers.create({
    name: 'Orders API',
    identifier: 'https://orders.example.com/',
    scopes: [
      { value: 'read:orders', description: 'Read orders' },
      { value: 'write:orders', description: 'Create and change orders' },
    ],
    enforce_policies: true,
    token_dialect: 'access_token_authz',
    token_lifetime: 7200,
  });
  await m.clientGrants.create({ client_id: backend.client_id, audience: 'https://orders.example.com/', scope: ['read:orders'] });
  const role = await m.roles.create({ name: 'Order clerk', description: 'Sees and changes orders' });
  await m.roles.permissions.add(role.id, {
    permissions: [{ resource_server_identifier: 'https://orders.example.com/', permission_name: 'write:orders' }],
  });
  await m.connections.create({
    name: 'Customers',
    strategy: 'auth0',
    enabled_clients: [web.client_id],
    options: {
      passwordPolicy: 'excellent',
      password_complexity_options: { min_length: 12 },
      brute_force_protection: true,
      requires_username: false,
    },
  });
  await m.tenants.settings.update({ friendly_name: 'Example Shop', support_email: 'help@example.com' });
  await m.branding.update({ colors: { primary: '#0a7d5a', page_background: '#f4f4f0' }, logo_url: 'https://shop.example.com/logo.png' });
  await m.attackProtection.bruteForceProtection.update({ max_attempts: 7, shields: ['block', 'user_notification'] });
  await m.attackProtection.suspiciousIpThrottling.update({ allowlist: ['10.0.0.0/8'] });
  await m.guardian.factors.set('otp', { enabled: true });
  await m.guardian.policies.set(['all-applications']);
  await m.emails.provider.create({
    name: 'smtp',
    default_from_address: 'no-reply@example.com',
    credentials: { smtp_host: 'smtp.example.com', smtp_port: 587, smtp_user: 'mailer', smtp_pass: 'smtp-password-not-exported' },
  });
  await m.emailTemplates.create({
    template: 'verify_email',
    enabled: true,
    syntax: 'liquid',
    from: 'Example Shop <hello@example.com>',
    subject: 'Confirm your email for {{ friendly_name }}',
    body: '<p>Welcome! <a href="{{ url }}">Confirm {{ user.email }}</a></p>',
    resultUrl: 'https://shop.example.com/verified',
    urlLifetimeInSeconds: 86400,
  });
  const action = await m.actions.create({
    name: 'Add roles claim',
    supported_triggers: [{ id: 'post-login', version: 'v3' }],
    code: "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('https://shop.example.com/roles', event.authorization?.roles ?? []); };",
    runtime: 'node18',
  });
  await m.actions.deploy(action.id);
  await m.actions.triggers.bindings.updateMany('post-login', { bindings: [{ ref: { type: 'action_id', value: action.id }, display_name: 'Add roles claim' }] });

  const first = join(work, 'export-source');
  await deployCli(source, 'export', first);
  const exported = comparable(join(first, 'tenant.yaml'));
  // The configuration is in the YAML, by name, secrets left out.
  const names = (list) => (list ?? []).map((x) => x.name).sort();
  assert.deepEqual(names(exported.clients), ['Gatehouse Management API (bootstrap)', 'Order Service', 'Storefront']);
  assert.ok(names(exported.databases).includes('Customers'));
  assert.deepEqual(exported.databases.find((d) => d.name === 'Customers').enabled_clients, ['Storefront']);
  // The Management API is each server's own: left out. The console's API is the same
  // everywhere.
  assert.deepEqual(names(exported.resourceServers), ['Gatehouse admin console', 'Orders API']);
  assert.deepEqual(exported.roles.find((r) => r.name === 'Order clerk').permissions, [
    { permission_name: 'write:orders', resource_server_identifier: 'https://orders.example.com/' },
  ]);
  assert.equal(exported.tenant.friendly_name, 'Example Shop');
  assert.equal(exported.attackProtection.bruteForceProtection.max_attempts, 7);
  assert.equal(exported.emailProvider.credentials.smtp_host, 'smtp.example.com');
  assert.ok(!readFileSync(join(first, 'tenant.yaml'), 'utf8').includes('smtp-password-not-exported'));
  assert.equal(exported.emailTemplates[0].template, 'verify_email');
  assert.deepEqual(names(exported.actions), ['Add roles claim']);

  await deployCli(target, 'import', first);
  const second = join(work, 'export-target');
  await deployCli(target, 'export', second);
  assert.deepEqual(comparable(join(second, 'tenant.yaml')), exported);

  // What was imported works: the grant's scopes reach a token for the Order Service,
  // once it has a secret of its own (secrets are never exported: rotate makes one).
  const t = management(target);
  const { data: clients } = await t.clients.list();
  const order = clients.find((c) => c.name === 'Order Service');
  assert.ok(order, 'the imported client is listed');
  const full = await t.clients.rotateSecret(order.client_id);
  const token = await fetch(`https://${target.domain}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: full.client_id, client_secret: full.client_secret, audience: 'https://orders.example.com/' }),
  }).then((r) => r.json());
  assert.equal(token.scope, 'read:orders', JSON.stringify(token));
});
