-- Up Migration

-- The transaction that last counted tries of client-chosen ids into a row (pg_current_xact_id),
-- NULL when none did. A flush with such tries looks them up first and upserts its counts
-- after; the upsert skips a row whose counted_by its look-up could not see, which means a
-- flush of another partition counted tries of the same domain in between, and the flush is
-- done again holding the domains' rows first (consumer/src/projection-store.ts).
ALTER TABLE domain_stats ADD COLUMN counted_by xid8;

-- Down Migration
ALTER TABLE domain_stats DROP COLUMN counted_by;
