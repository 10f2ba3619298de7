-- suite_status is now kept by the store writer, one upsert per suite and
-- auth path per batch (server/store_agg.c), instead of one per inserted
-- row by this trigger.  The table and its contents stay as they are.
DROP TRIGGER results_aggregate;
