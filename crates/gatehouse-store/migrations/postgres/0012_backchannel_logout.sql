-- OpenID Connect Back-Channel Logout: where an application wants logout tokens posted and
-- for which session endings (Auth0's client `oidc_logout`, as JSON).
ALTER TABLE clients ADD COLUMN oidc_logout JSONB;
