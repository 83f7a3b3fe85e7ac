-- What the Management API tells of a single sign-on session (Auth0's session resource):
-- how the user proved who they are, the device it began on and was last used from,
-- when it was last used, and which applications it signed in to. Sessions from before
-- this migration leave these empty; the API then omits them.
ALTER TABLE login_sessions ADD COLUMN method TEXT;
ALTER TABLE login_sessions ADD COLUMN initial_ip TEXT;
ALTER TABLE login_sessions ADD COLUMN initial_user_agent TEXT;
ALTER TABLE login_sessions ADD COLUMN last_ip TEXT;
ALTER TABLE login_sessions ADD COLUMN last_user_agent TEXT;
ALTER TABLE login_sessions ADD COLUMN last_interacted_at INTEGER;

CREATE TABLE login_session_clients (
    sid        TEXT NOT NULL REFERENCES login_sessions(sid) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    PRIMARY KEY (sid, client_id)
);

-- A refresh-token family's start and its absolute deadline, which every rotation copies:
-- the Management API tells when a grant began, and no rotation outlives the deadline.
ALTER TABLE refresh_tokens ADD COLUMN family_created_at INTEGER;
ALTER TABLE refresh_tokens ADD COLUMN family_expires_at INTEGER;
