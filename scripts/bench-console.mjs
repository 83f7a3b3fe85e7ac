// The console benchmark's client (run by scripts/bench-console): signs in to /admin
// through the hosted login like a browser, then times console pages against the
// Management API calls that read the same data, side by side, one request at a time.
// Prints a markdown table of p50/p95/p99 per page (client-side latency on loopback).
//   node scripts/bench-console.mjs ISSUER EMAIL PASSWORD ADMIN_ID ADMIN_SECRET REQUESTS SAMPLE_EMAIL
const [issuer, email, password, adminId, adminSecret, requestsArg, sampleEmail] = process.argv.slice(2);
const requests = Number(requestsArg);
const jar = new Map();

async function send(url, init = {}) {
  const headers = { ...(init.headers ?? {}), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
  const r = await fetch(new URL(url, issuer), { ...init, headers, redirect: 'manual' });
  for (const c of r.headers.getSetCookie()) {
    const [pair, ...attrs] = c.split(';');
    const [k, v] = pair.split('=');
    if (attrs.some((a) => a.trim() === 'Max-Age=0')) jar.delete(k);
    else jar.set(k, v);
  }
  return r;
}

function hidden(html, name) {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) throw new Error(`no ${name} in ${html.slice(0, 400)}`);
  return m[1];
}

async function signIn() {
  let r = await send('admin/login');
  r = await send(r.headers.get('location'));
  const login = r.headers.get('location');
  r = await send(login);
  const page = await r.text();
  const state = hidden(page, 'state');
  r = await send(`u/login?state=${state}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ state, csrf_token: hidden(page, 'csrf_token'), username: email, password }),
  });
  r = await send(r.headers.get('location'));
  if (r.status !== 303 || !jar.has('gh_console')) throw new Error(`sign-in failed: ${r.status}`);
}

async function time(name, url, init) {
  const samples = [];
  for (let i = 0; i < requests + 5; i++) {
    const start = performance.now();
    const r = await send(url, init);
    await r.arrayBuffer();
    const ms = performance.now() - start;
    if (r.status !== 200) throw new Error(`${name}: ${r.status} for ${url}`);
    if (i >= 5) samples.push(ms);
  }
  samples.sort((a, b) => a - b);
  const at = (p) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))];
  return { name, p50: at(50), p95: at(95), p99: at(99) };
}

await signIn();
const token = (
  await (
    await fetch(new URL('oauth/token', issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials', client_id: adminId, client_secret: adminSecret, audience: `${issuer}api/v2/` }),
    })
  ).json()
).access_token;
const api = { headers: { authorization: `Bearer ${token}` } };
const exact = encodeURIComponent(`email:"${sampleEmail}"`);
const prefix = encodeURIComponent(`email:${sampleEmail.slice(0, 6)}*`);
const [found] = await (await fetch(new URL(`api/v2/users?q=${exact}`, issuer), api)).json();
const userId = encodeURIComponent(found.user_id);

const rows = [
  ['home (users by connection, 30 days of figures, jobs)', await time('home', 'admin')],
  ['users, first page (newest first)', await time('users', 'admin/users')],
  ['users, page 10', await time('users page 10', 'admin/users?page=9')],
  ['  baseline: GET /api/v2/users?page=9&per_page=50', await time('api users page', 'api/v2/users?page=9&per_page=50', api)],
  ['search by exact email', await time('search exact', `admin/users?q=${exact}`)],
  ['  baseline: GET /api/v2/users?q= the same', await time('api search exact', `api/v2/users?q=${exact}`, api)],
  ['search by email prefix', await time('search prefix', `admin/users?q=${prefix}`)],
  ['  baseline: GET /api/v2/users?q= the same', await time('api search prefix', `api/v2/users?q=${prefix}`, api)],
  ["a user's page", await time('user', `admin/users/${userId}`)],
  ['  baseline: GET /api/v2/users/{id}', await time('api user', `api/v2/users/${userId}`, api)],
  ['connections', await time('connections', 'admin/connections')],
  ['logs', await time('logs', 'admin/logs')],
  ['imports and exports', await time('jobs', 'admin/jobs')],
];
console.log('| page | p50 | p95 | p99 |\n|---|---|---|---|');
for (const [label, r] of rows) {
  console.log(`| ${label} | ${r.p50.toFixed(1)} ms | ${r.p95.toFixed(1)} ms | ${r.p99.toFixed(1)} ms |`);
}
