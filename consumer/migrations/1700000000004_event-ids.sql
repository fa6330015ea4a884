-- Up Migration

-- The tries of events whose ids the client chose that were counted, written in the same
-- transaction as the counts and positions (README "Retries are counted once"). `key` is
-- an MD5 of the domain and the id (consumer/src/event-ids.ts), `at` the record's Kafka
-- timestamp in epoch milliseconds. One list partition per read-model version, each split
-- into 15-minute ranges of `at` that the projector creates as records need them and drops
-- once the deduplication window has passed them: expiry is a DROP TABLE, never a DELETE.
CREATE TABLE event_ids (
  version integer NOT NULL,
  key uuid NOT NULL,
  at bigint NOT NULL,
  PRIMARY KEY (version, key, at)
) PARTITION BY LIST (version);

DO $$
DECLARE v integer;
BEGIN
  FOR v IN SELECT version FROM read_model_versions LOOP
    EXECUTE format(
      'CREATE TABLE event_ids_v%s PARTITION OF event_ids FOR VALUES IN (%s) PARTITION BY RANGE (at)',
      v, v);
  END LOOP;
END $$;

-- The newest Kafka timestamp applied per partition: how far each partition has come in time,
-- so that ids are dropped only once the slowest partition is past them.
ALTER TABLE projection_positions ADD COLUMN newest_record_at bigint;

-- Ids older than this (epoch ms) are dropped, or about to be: tries older are counted unchecked.
ALTER TABLE read_model_versions ADD COLUMN event_ids_from bigint;

-- Down Migration
ALTER TABLE read_model_versions DROP COLUMN event_ids_from;
ALTER TABLE projection_positions DROP COLUMN newest_record_at;
DROP TABLE event_ids;
