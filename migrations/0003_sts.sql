-- Temporary credentials issued by the built-in STS (POST /sts).  One row
-- per AssumeRoleWithWebIdentity answer: the secret is kept because SigV4
-- verification needs it; the session token only as its SHA-256.  Rows
-- outlive their expiry by a day so that an investigation can still map
-- an ASIA key id back to the web identity, then they are purged.
CREATE TABLE sts_sessions (
    access_key_id TEXT PRIMARY KEY,
    secret_access_key TEXT NOT NULL,
    token_sha256 TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    session_name TEXT NOT NULL,
    assumed_role_arn TEXT NOT NULL,
    assumed_role_id TEXT NOT NULL,
    account TEXT NOT NULL,
    issuer TEXT,
    subject TEXT,
    repository TEXT,
    owner TEXT,
    audience TEXT,
    claims TEXT,
    issued_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX sts_sessions_by_expiry ON sts_sessions (expires_ms);
