-- Up Migration

-- Which Kafka cluster the stored positions of a topic belong to. A broker whose storage was
-- formatted anew has a new cluster id and its offsets start again at 0: positions from the
-- old cluster would silently skip its records, so the projector refuses them.
CREATE TABLE projection_sources (
  version integer NOT NULL REFERENCES read_model_versions (version),
  topic text NOT NULL,
  cluster_id text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (version, topic)
);

-- Down Migration
DROP TABLE projection_sources;
