-- Results as posted, with the identity verified for each, and the
-- per-suite, per-auth-path aggregate the dashboard reads.  AUTOINCREMENT
-- keeps ids from ever being reused, which the audit trail relies on.
CREATE TABLE results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ms INTEGER NOT NULL,
    route TEXT NOT NULL,
    auth TEXT NOT NULL CHECK (auth IN ('none', 'jwt', 'iam')),
    suite TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'error', 'skip')),
    payload TEXT NOT NULL,
    principal TEXT,
    source_addr TEXT NOT NULL,
    user_agent TEXT,
    request_id TEXT NOT NULL,
    issuer TEXT,
    subject TEXT,
    repository TEXT,
    owner TEXT,
    principal_arn TEXT,
    caller_arn TEXT,
    account TEXT,
    access_key_id TEXT,
    session_name TEXT,
    claims TEXT
);

CREATE INDEX results_by_suite ON results (suite, id);
CREATE INDEX results_by_auth ON results (auth, id);
CREATE INDEX results_by_principal ON results (principal, id);
CREATE INDEX results_by_time ON results (received_ms);

CREATE TABLE suite_status (
    suite TEXT NOT NULL,
    auth TEXT NOT NULL,
    last_id INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    last_status TEXT NOT NULL,
    pass_count INTEGER NOT NULL,
    fail_count INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    skip_count INTEGER NOT NULL,
    -- The last 20 outcomes, oldest first, one letter each (P, F, E, S).
    recent TEXT NOT NULL,
    PRIMARY KEY (suite, auth)
) WITHOUT ROWID;

CREATE TRIGGER results_aggregate AFTER INSERT ON results
BEGIN
    INSERT INTO suite_status (suite, auth, last_id, last_ms, last_status,
        pass_count, fail_count, error_count, skip_count, recent)
    VALUES (NEW.suite, NEW.auth, NEW.id, NEW.received_ms, NEW.status,
        NEW.status = 'pass', NEW.status = 'fail', NEW.status = 'error',
        NEW.status = 'skip', upper(substr(NEW.status, 1, 1)))
    ON CONFLICT (suite, auth) DO UPDATE SET
        last_id = excluded.last_id,
        last_ms = excluded.last_ms,
        last_status = excluded.last_status,
        pass_count = pass_count + excluded.pass_count,
        fail_count = fail_count + excluded.fail_count,
        error_count = error_count + excluded.error_count,
        skip_count = skip_count + excluded.skip_count,
        recent = substr(recent || excluded.recent, -20);
END;
