-- The last JWKS document fetched for each trusted issuer, exactly as
-- served, so that a restart can verify tokens while the issuer is
-- unreachable.  One row per issuer; each fetch replaces it.
CREATE TABLE jwks (
    issuer TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    fetched_ms INTEGER NOT NULL
) WITHOUT ROWID;
