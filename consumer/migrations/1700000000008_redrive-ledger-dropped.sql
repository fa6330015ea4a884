-- Up Migration

-- What the redrive ledgers of dropped read-model versions knew: each origin they held, with
-- the SHA-256 (hex) of its value ('' where not known). A version that counted an original
-- itself (a rebuild after the cause was fixed) asks the other versions' ledgers whether a
-- record naming it is a copy of a dead letter; once the version that dead-lettered it is
-- dropped, this table answers in its place, so the copy is still not counted twice.
CREATE TABLE redrive_ledger_dropped (
  origin text NOT NULL,
  value_digest text NOT NULL,
  PRIMARY KEY (origin, value_digest)
);

-- Down Migration
DROP TABLE redrive_ledger_dropped;
