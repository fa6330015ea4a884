-- Up Migration

-- The redrive ledger's proof that a record is a copy of its origin: the SHA-256 (hex) of the
-- dead-lettered record's value, which redrive copies byte for byte. A record whose
-- `redrive-origin` names an origin of another digest is no copy of it (a producer wrote the
-- header) and counts as any record. NULL: a row written before this column (any value).
ALTER TABLE redriven_origins ADD COLUMN value_digest text;

-- A rebuild asks the other versions' ledgers for an origin it counted itself.
CREATE INDEX redriven_origins_origin ON redriven_origins (origin);

-- Down Migration
DROP INDEX redriven_origins_origin;
ALTER TABLE redriven_origins DROP COLUMN value_digest;
