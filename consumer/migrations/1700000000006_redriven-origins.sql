-- Up Migration

-- The redrive ledger: origins (`<topic>:<partition>:<offset>` of the record first
-- dead-lettered) of redriven dead letters that a read-model version counted, stored in the
-- same transaction as the counts and positions (consumer/src/redrive-ledger.ts), so that a
-- dead letter redriven many times counts once per version. `counted_as` names the redriven
-- record that counted it. Rows are few (dead letters an operator redrove): one table for all
-- versions, the version's rows deleted when it is dropped, and no DDL in a flush.
CREATE TABLE redriven_origins (
  version integer NOT NULL,
  origin text NOT NULL,
  counted_as text NOT NULL,
  counted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (version, origin)
);

-- Down Migration
DROP TABLE redriven_origins;
