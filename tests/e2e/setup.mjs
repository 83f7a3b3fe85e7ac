// Creates the e2e fixture through the Management API, as an operator would: an SPA
// client (public, PKCE), the default connection enabled for it, and one user.
// Usage: node setup.mjs <fixture.json>   (env: GATEHOUSE_ISSUER, GATEHOUSE_ADMIN_CLIENT_ID/SECRET)
import { writeFileSync } from 'node:fs';

const issuer = process.env.GATEHOUSE_ISSUER;
const out = process.argv[2];
// The relying party's pages: served by the test itself on E2E_APP_ORIGIN.
const app_origin = process.env.E2E_APP_ORIGIN;
const CALLBACK = `${app_origin}/callback`;
const LOGOUT = `${app_origin}/logged-out`;

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

const { access_token: mgmt } = await call('POST', 'oauth/token', null, {
  grant_type: 'client_credentials',
  client_id: process.env.GATEHOUSE_ADMIN_CLIENT_ID,
  client_secret: process.env.GATEHOUSE_ADMIN_CLIENT_SECRET,
  audience: `${issuer}api/v2/`,
});
const app = await call('POST', 'api/v2/clients', mgmt, {
  name: 'E2E single-page app',
  app_type: 'spa',
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  callbacks: [CALLBACK],
  allowed_logout_urls: [LOGOUT],
  web_origins: [app_origin],
});
const [connection] = await call('GET', 'api/v2/connections?name=Username-Password-Authentication', mgmt);
await call('PATCH', `api/v2/connections/${connection.id}`, mgmt, {
  enabled_clients: [...connection.enabled_clients, app.client_id],
});
const email = 'e2e.user@example.com';
const password = 'E2e-Correct-Horse-42!';
const user = await call('POST', 'api/v2/users', mgmt, {
  connection: connection.name,
  email,
  password,
  email_verified: true,
  name: 'E2E User',
});
// Social sign-in: an OpenID Connect connection to the upstream provider (upstream-op.mjs),
// and a database user whose verified email the provider's `linker` account also has.
const upstream = await call('POST', 'api/v2/connections', mgmt, {
  name: 'upstream',
  display_name: 'Upstream OP',
  strategy: 'oidc',
  enabled_clients: [app.client_id],
  options: {
    client_id: 'gatehouse',
    client_secret: process.env.E2E_UPSTREAM_SECRET,
    discovery_url: `${process.env.E2E_UPSTREAM_ORIGIN}/.well-known/openid-configuration`,
    scope: 'openid profile email',
  },
});
const link_password = 'Link-Me-Correct-Horse-7!';
const link_user = await call('POST', 'api/v2/users', mgmt, {
  connection: connection.name,
  email: 'linkme@example.com',
  password: link_password,
  email_verified: true,
});
writeFileSync(
  out,
  JSON.stringify({
    issuer, app_origin, client_id: app.client_id, callback: CALLBACK, logout: LOGOUT, email, password, user_id: user.user_id,
    upstream_connection: upstream.name, link_email: 'linkme@example.com', link_password, link_user_id: link_user.user_id,
  }),
);
console.log(`fixture: client ${app.client_id}, user ${user.user_id}`);
