-- The claims the post-login Actions set when the hosted login issued a code (Auth0 runs
-- post-login before it redirects back): the code's exchange puts them in the tokens
-- without running the actions again. NULL for a code issued before this column.
ALTER TABLE authorization_codes ADD COLUMN action_claims JSONB;
