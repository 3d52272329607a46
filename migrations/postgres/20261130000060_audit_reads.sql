-- Who, exactly, made an audit entry: the API token it came with and the user the token (or
-- the console session) belongs to. Both are null for the gateway's own entries and for the
-- command line; a console session fills `user_id` only.
-- `records`: the ids a list read showed, comma-separated (at most one page of them).
ALTER TABLE audit_log ADD COLUMN token_id TEXT;
ALTER TABLE audit_log ADD COLUMN user_id TEXT;
ALTER TABLE audit_log ADD COLUMN records TEXT;
CREATE INDEX audit_token ON audit_log (token_id, seq);
CREATE INDEX audit_user ON audit_log (user_id, seq);
