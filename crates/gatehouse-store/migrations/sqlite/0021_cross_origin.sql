-- Cross-origin authentication (Lock, auth0.js embedded login): whether a client's pages
-- may send credentials to /co/authenticate, and its verification page for browsers
-- that do not send Gatehouse's cookie with /authorize (Auth0's cross_origin_loc).
-- The login tickets themselves are rows of `tickets` (kind 'login_ticket').
ALTER TABLE clients ADD COLUMN cross_origin_authentication INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN cross_origin_loc TEXT;
