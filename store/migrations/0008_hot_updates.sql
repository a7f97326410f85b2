-- Room on every page for the new versions of rows that usage batches update, so that those
-- updates are HOT (heap-only: no new index entry per update).
-- depends: 0007_usage_candidates

ALTER TABLE card_cycle_usage SET (fillfactor = 70);
ALTER TABLE pool_cycle_usage SET (fillfactor = 50);
ALTER TABLE usage_hourly SET (fillfactor = 80);
ALTER TABLE pool_usage_hourly SET (fillfactor = 50);
