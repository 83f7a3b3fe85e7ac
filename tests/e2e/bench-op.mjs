// The peer of scripts/bench-login's comparisons: panva's oidc-provider (the version
// tests/e2e installs) with one confidential client and one API (resource indicator)
// whose access tokens are RS256 JWTs signed with a fresh 2048-bit key, as Gatehouse's
// are. For the refresh_token and userinfo runs it mints, through its own models,
// BENCH_USERS refresh tokens (rotated on every use, as Gatehouse's are) and one access
// token for /me, and prints them as one JSON line before it listens.
// Usage: node bench-op.mjs <port>
//   (env: BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_RESOURCE, BENCH_USERS)
import Provider from 'oidc-provider';
import * as jose from 'jose';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const resource = process.env.BENCH_RESOURCE;

const { privateKey } = await jose.generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'bench' };

// oidc-provider's own development adapter is an LRU of limited size: under a refresh
// token run it evicts grants and starts refusing their tokens. Kept here without a
// bound (a run is short), as fast as that adapter, so the comparison measures the server.
const stored = new Map();
const byGrant = new Map();
class MapAdapter {
  constructor(model) { this.model = model; }
  key(id) { return `${this.model}:${id}`; }
  async upsert(id, payload) {
    stored.set(this.key(id), payload);
    if (payload.grantId) {
      if (!byGrant.has(payload.grantId)) byGrant.set(payload.grantId, new Set());
      byGrant.get(payload.grantId).add(this.key(id));
    }
  }
  async find(id) { return stored.get(this.key(id)); }
  async findByUid(uid) {
    for (const [k, v] of stored) if (k.startsWith(`${this.model}:`) && v.uid === uid) return v;
    return undefined;
  }
  async findByUserCode(code) {
    for (const [k, v] of stored) if (k.startsWith(`${this.model}:`) && v.userCode === code) return v;
    return undefined;
  }
  async consume(id) {
    const v = stored.get(this.key(id));
    if (v) v.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id) { stored.delete(this.key(id)); }
  async revokeByGrantId(grantId) {
    for (const k of byGrant.get(grantId) ?? []) stored.delete(k);
    byGrant.delete(grantId);
  }
}

const provider = new Provider(issuer, {
  adapter: MapAdapter,
  jwks: { keys: [jwk] },
  scopes: ['openid', 'offline_access', 'read:users'],
  clients: [
    {
      client_id: process.env.BENCH_CLIENT_ID,
      client_secret: process.env.BENCH_CLIENT_SECRET,
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
      redirect_uris: ['http://127.0.0.1/callback'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'openid offline_access read:users',
    },
  ],
  findAccount: (ctx, id) => ({
    accountId: id,
    claims: () => ({ sub: id, email: `${id}@bench.test`, email_verified: true }),
  }),
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  rotateRefreshToken: true,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) throw new Error(`unknown resource ${indicator}`);
        return {
          scope: 'read:users',
          audience: resource,
          accessTokenTTL: 86400,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});
provider.proxy = false;

const client = await provider.Client.find(process.env.BENCH_CLIENT_ID);
const mint = async (accountId) => {
  const grant = new provider.Grant({ accountId, clientId: client.clientId });
  grant.addOIDCScope('openid email offline_access');
  const grantId = await grant.save();
  return { accountId, grantId };
};
const refreshTokens = [];
for (let i = 0; i < Number(process.env.BENCH_USERS ?? 0); i += 1) {
  const { accountId, grantId } = await mint(`user${i}`);
  const token = new provider.RefreshToken({
    client, accountId, grantId, scope: 'openid offline_access', gty: 'authorization_code',
    authTime: Math.floor(Date.now() / 1000),
  });
  refreshTokens.push(await token.save());
}
const { accountId, grantId } = await mint('user0');
const accessToken = await new provider.AccessToken({ client, accountId, grantId, scope: 'openid email' }).save();
console.log(JSON.stringify({ refresh_tokens: refreshTokens, access_token: accessToken }));

provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider at ${issuer}`));
