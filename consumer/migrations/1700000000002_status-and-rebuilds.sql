-- Up Migration

-- The status is stored with the counts, so that listing by status is an index range scan.
-- The projector writes it in the same upsert as the counts, from the rule in
-- core/src/domain/status.ts and the threshold of the row's read model version. A status
-- changes at most twice per domain, so the counter updates stay heap-only (HOT).
CREATE TYPE domain_status AS ENUM ('unknown', 'catch-all', 'not catch-all');

ALTER TABLE domain_stats ADD COLUMN status domain_status NOT NULL DEFAULT 'unknown';

-- Partitioned: every version's partition gets it, new ones too.
CREATE INDEX domain_stats_by_status ON domain_stats (version, status, domain);

-- A version is built with one threshold (NULL until a projector first opens it, which then
-- records its own and computes the statuses of rows written before this migration), by one
-- consumer group, and is `building` until its rebuild has caught up with the topic.
ALTER TABLE read_model_versions
  ADD COLUMN catch_all_threshold integer CHECK (catch_all_threshold >= 0),
  ADD COLUMN state text NOT NULL DEFAULT 'ready' CHECK (state IN ('building', 'ready')),
  ADD COLUMN consumer_group text,
  ADD COLUMN started_from text,
  ADD COLUMN ready_at timestamptz;

UPDATE read_model_versions SET ready_at = created_at;

-- Down Migration
ALTER TABLE read_model_versions
  DROP COLUMN catch_all_threshold,
  DROP COLUMN state,
  DROP COLUMN consumer_group,
  DROP COLUMN started_from,
  DROP COLUMN ready_at;
DROP INDEX domain_stats_by_status;
ALTER TABLE domain_stats DROP COLUMN status;
DROP TYPE domain_status;
