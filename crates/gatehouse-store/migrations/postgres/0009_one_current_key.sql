-- One current signing key at most, so nodes starting at once (or two rotations at once)
-- cannot each make their own key current. Earlier duplicates: the newest stays current.
UPDATE signing_keys SET current = FALSE, retired_at = created_at
WHERE current AND kid <> (SELECT kid FROM signing_keys WHERE current ORDER BY created_at DESC, kid DESC LIMIT 1);
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (current) WHERE current;
