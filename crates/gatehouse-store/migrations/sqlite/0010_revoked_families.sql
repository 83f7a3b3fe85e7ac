-- A rotation checks that its family was never revoked. Through refresh_tokens_family that
-- read every token the family ever had (one more per rotation, so a long-lived session
-- grew slower to refresh); revoked rows are rare, and this index holds only them.
CREATE INDEX refresh_tokens_revoked_family ON refresh_tokens (family_id) WHERE revoked_at IS NOT NULL;
