// The peer of scripts/bench-login's client_credentials comparison: panva's
// oidc-provider (the version tests/e2e installs) with one client_credentials client
// and one API (resource indicator) whose access tokens are RS256 JWTs signed with a
// fresh 2048-bit key, as Gatehouse's are.
// Usage: node bench-op.mjs <port>   (env: BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_RESOURCE)
import Provider from 'oidc-provider';
import * as jose from 'jose';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const resource = process.env.BENCH_RESOURCE;

const { privateKey } = await jose.generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'bench' };

const provider = new Provider(issuer, {
  jwks: { keys: [jwk] },
  scopes: ['read:users'],
  clients: [
    {
      client_id: process.env.BENCH_CLIENT_ID,
      client_secret: process.env.BENCH_CLIENT_SECRET,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'read:users',
    },
  ],
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
provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider at ${issuer}`));
