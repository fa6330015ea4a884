-- Up Migration

-- The redrive ledger (consumer/src/redrive-ledger.ts): per read-model version, the origins
-- (`<topic>:<partition>:<offset>` of the record first dead-lettered) the version
-- dead-lettered (`dead`) and those it counted from a redriven copy since (`counted`, with
-- `counted_as` the redriven record that counted it), written in the same transaction as the
-- counts and positions. A redriven record counts only when its origin is `dead` here: once per
-- version, however often it is redriven, and never when the version counted the original.
-- Rows are few (one per dead letter): one table for all versions, a dropped version's rows
-- deleted with it, and no DDL in a flush.
CREATE TABLE redriven_origins (
  version integer NOT NULL,
  origin text NOT NULL,
  state text NOT NULL CHECK (state IN ('dead', 'counted')),
  counted_as text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (version, origin)
);

-- Positions that existed before the ledger: records below were dead-lettered without a `dead`
-- row, so for them the ledger alone decides (a redriven copy counts once). NULL: all marked.
ALTER TABLE projection_positions ADD COLUMN dead_marked_from bigint;
UPDATE projection_positions SET dead_marked_from = next_offset;

-- Down Migration
ALTER TABLE projection_positions DROP COLUMN dead_marked_from;
DROP TABLE redriven_origins;
