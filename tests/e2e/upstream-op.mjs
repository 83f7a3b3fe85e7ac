// The upstream identity provider of the social end-to-end test: panva's oidc-provider
// (an OpenID provider nobody here wrote) with its development login and consent pages
// and fixed test accounts. Gatehouse is its one client.
// Usage: node upstream-op.mjs <port>   (env: GATEHOUSE_ISSUER, E2E_UPSTREAM_SECRET)
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const gatehouse = process.env.GATEHOUSE_ISSUER;

// Any login name works on the dev login page; these have profiles.
const ACCOUNTS = {
  newbie: { email: 'newbie@example.com', email_verified: true, name: 'New Bie', given_name: 'New' },
  linker: { email: 'linkme@example.com', email_verified: true, name: 'Link Me' },
  unverified: { email: 'linkme@example.com', email_verified: false, name: 'Not Verified' },
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'gatehouse',
      client_secret: process.env.E2E_UPSTREAM_SECRET,
      redirect_uris: [`${gatehouse}login/callback`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'nickname', 'picture'],
  },
  async findAccount(ctx, id) {
    const profile = ACCOUNTS[id] ?? { name: id };
    return { accountId: id, async claims() { return { sub: id, ...profile }; } };
  },
  features: { devInteractions: { enabled: true } },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => console.log(`upstream OpenID provider at ${issuer}`));
