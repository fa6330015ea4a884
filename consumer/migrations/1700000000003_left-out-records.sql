-- Up Migration

-- Records a rebuild left out for a reason that may not last (a schema id the registry did
-- not know), by reason: {"unknown-schema-id": 3}. NULL when none. A version that left some
-- out goes live only when the operator says so (replay's --accept-dead-letters).
ALTER TABLE read_model_versions ADD COLUMN left_out jsonb;

-- Down Migration
ALTER TABLE read_model_versions DROP COLUMN left_out;
