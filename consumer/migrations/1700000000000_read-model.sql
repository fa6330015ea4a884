-- Up Migration

-- A read model version is one complete projection of the topic. Replays build a new
-- version beside the live one; `live_read_model` names the one queries are served from,
-- and switching is a one-row update.
CREATE TABLE read_model_versions (
  version integer PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  note text
);

CREATE TABLE live_read_model (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version integer NOT NULL REFERENCES read_model_versions (version),
  switched_at timestamptz NOT NULL DEFAULT now()
);

-- Counts per domain, one list partition per version so that dropping a version is a
-- DROP TABLE, not a delete of millions of rows. The counter columns carry no index, so
-- their updates stay heap-only (HOT); fillfactor leaves room on each page for that.
CREATE TABLE domain_stats (
  version integer NOT NULL,
  domain text NOT NULL,
  delivered bigint NOT NULL,
  bounced bigint NOT NULL,
  first_event_at timestamptz NOT NULL,
  last_event_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (version, domain)
) PARTITION BY LIST (version);

CREATE TABLE domain_stats_v1 PARTITION OF domain_stats FOR VALUES IN (1) WITH (fillfactor = 80);

-- The next offset to apply per topic partition, written in the same transaction as the
-- counts: the projector's exactly-once guarantee.
CREATE TABLE projection_positions (
  version integer NOT NULL REFERENCES read_model_versions (version),
  topic text NOT NULL,
  partition integer NOT NULL,
  next_offset bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (version, topic, partition)
);

INSERT INTO read_model_versions (version, note) VALUES (1, 'created by the first migration');
INSERT INTO live_read_model (version) VALUES (1);

-- Down Migration
DROP TABLE projection_positions;
DROP TABLE domain_stats;
DROP TABLE live_read_model;
DROP TABLE read_model_versions;
