-- The tamper-evident audit trail (docs/audit.md).  Every result carries a
-- chain value: HMAC-SHA-256, under a key kept outside the database, over
-- the previous row's chain value and this row.  The writer assigns it in
-- commit order.
ALTER TABLE results ADD COLUMN chain BLOB;

-- One row describing the chain: the key check (recognises a wrong key),
-- the genesis value the first row chains from (a MAC of a random nonce,
-- so it cannot be replaced without the key) and the head: the last id and
-- chain value the server wrote, with a MAC, so a truncated tail shows.
CREATE TABLE audit_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    key_check BLOB NOT NULL,
    nonce BLOB NOT NULL,
    genesis BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    head_id INTEGER NOT NULL,
    head_chain BLOB NOT NULL,
    head_mac BLOB NOT NULL
);

-- Retention: every row with id <= cut_id was pruned; chain is the chain
-- value of row cut_id, where verification resumes.  mac covers both.
CREATE TABLE audit_checkpoints (
    cut_id INTEGER PRIMARY KEY,
    chain BLOB NOT NULL,
    pruned INTEGER NOT NULL,
    cutoff_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    mac BLOB NOT NULL
);

-- Identity filters of GET /lab/results.  Columns that only the JWT or
-- IAM routes fill are indexed partially, so open-route posts do not pay
-- for them ("column = ?" implies "column IS NOT NULL" to the planner).
CREATE INDEX results_by_source_addr ON results (source_addr, id);
CREATE INDEX results_by_repository ON results (repository, id)
    WHERE repository IS NOT NULL;
CREATE INDEX results_by_owner ON results (owner, id)
    WHERE owner IS NOT NULL;
CREATE INDEX results_by_subject ON results (subject, id)
    WHERE subject IS NOT NULL;
CREATE INDEX results_by_issuer ON results (issuer, id)
    WHERE issuer IS NOT NULL;
CREATE INDEX results_by_principal_arn ON results (principal_arn, id)
    WHERE principal_arn IS NOT NULL;
CREATE INDEX results_by_caller_arn ON results (caller_arn, id)
    WHERE caller_arn IS NOT NULL;
CREATE INDEX results_by_account ON results (account, id)
    WHERE account IS NOT NULL;
CREATE INDEX results_by_access_key_id ON results (access_key_id, id)
    WHERE access_key_id IS NOT NULL;
CREATE INDEX results_by_session_name ON results (session_name, id)
    WHERE session_name IS NOT NULL;
