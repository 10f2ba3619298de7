-- principal always repeats one identity column: the token subject on the
-- JWT route, the principal ARN on the IAM route, the source address on
-- the open route.  Indexing the same key twice cost the writer a second
-- scattered index page per row for every distinct caller (about 13% of
-- JWT-route throughput, docs/benchmarks.md).  These three indexes now
-- leave out the rows whose column equals principal; a filter on one of
-- them (server/store.c) reads those rows through results_by_principal and
-- the rest through its own index, and merges the two by id.
DROP INDEX results_by_subject;
CREATE INDEX results_by_subject ON results (subject, id)
    WHERE subject IS NOT NULL AND subject IS NOT principal;
DROP INDEX results_by_principal_arn;
CREATE INDEX results_by_principal_arn ON results (principal_arn, id)
    WHERE principal_arn IS NOT NULL AND principal_arn IS NOT principal;
DROP INDEX results_by_source_addr;
CREATE INDEX results_by_source_addr ON results (source_addr, id)
    WHERE source_addr IS NOT principal;
