-- Fill the results table for the scale benchmark (bench/run.sh -s) with
-- rows number @from to @to of a sequence in which 2,000 suites, the three
-- auth paths, statuses and principals are spread like a busy team
-- endpoint, payloads of ~120 bytes.  principal is the source address,
-- the subject or the principal ARN by auth path, as labgate sets it.
-- Rows 1 to 6,000 hold one result for each of the 6,000 suite and auth
-- cells.  Set the bounds first:
--   sqlite3 -cmd ".parameter set @from 1" -cmd ".parameter set @to 6000" \
--       labgate.db <bench/fill.sql
-- These rows bypass the server, so they carry no audit chain value and
-- `labgate-server audit verify` reports them; use a scratch database.
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
CREATE TEMP TABLE fill_start AS SELECT coalesce(max(id), 0) AS id
    FROM results;
WITH RECURSIVE n(x) AS (SELECT @from UNION ALL SELECT x + 1 FROM n
                        WHERE x < @to)
INSERT INTO results (received_ms, route, auth, suite, status, payload,
                     principal, source_addr, user_agent, request_id,
                     repository, subject, principal_arn)
SELECT 1780000000000 + x * 1000,
       CASE x % 3 WHEN 0 THEN '/lab/results' WHEN 1 THEN '/lab/results-secure'
                  ELSE '/lab/results-ci' END,
       CASE x % 3 WHEN 0 THEN 'none' WHEN 1 THEN 'jwt' ELSE 'iam' END,
       'suite-' || (x % 2000),
       CASE WHEN x % 17 = 0 THEN 'fail' WHEN x % 101 = 0 THEN 'error'
            ELSE 'pass' END,
       '{"suite":"suite-' || (x % 2000) || '","status":"pass","run_id":"'
           || x || '","duration_ms":' || (x % 5000)
           || ',"commit":"0123456789abcdef0123456789abcdef01234567"}',
       CASE x % 3 WHEN 0 THEN '10.0.' || (x % 250) || '.' || (x % 200)
                  WHEN 1 THEN 'repo:org/repo-' || (x % 500)
                  ELSE 'arn:aws:iam::123456789012:role/ci-' || (x % 500)
       END,
       '10.0.' || (x % 250) || '.' || (x % 200),
       'bench-fill/1.0',
       'fill' || x,
       CASE WHEN x % 3 = 1 THEN 'org/repo-' || (x % 500) END,
       CASE WHEN x % 3 = 1 THEN 'repo:org/repo-' || (x % 500) END,
       CASE WHEN x % 3 = 2
            THEN 'arn:aws:iam::123456789012:role/ci-' || (x % 500) END
FROM n;
-- labgate keeps suite_status itself (server/store_agg.c), so rows put in
-- behind its back are counted here; "recent" gets only the last outcome.
INSERT INTO suite_status (suite, auth, last_id, last_ms, last_status,
    pass_count, fail_count, error_count, skip_count, recent)
SELECT suite, auth, max(id), received_ms, status, sum(status = 'pass'),
       sum(status = 'fail'), sum(status = 'error'), sum(status = 'skip'),
       upper(substr(status, 1, 1))
FROM results WHERE id > (SELECT id FROM fill_start) GROUP BY suite, auth
ON CONFLICT (suite, auth) DO UPDATE SET
    last_id = excluded.last_id, last_ms = excluded.last_ms,
    last_status = excluded.last_status,
    pass_count = pass_count + excluded.pass_count,
    fail_count = fail_count + excluded.fail_count,
    error_count = error_count + excluded.error_count,
    skip_count = skip_count + excluded.skip_count,
    recent = substr(recent || excluded.recent, -20);
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
