-- Where a knowledge document's text came from when a staff answer wrote
-- it: JSON (who answered, through which path, which notification); ''
-- for documents written by hand.
ALTER TABLE documents ADD COLUMN provenance TEXT NOT NULL DEFAULT '';
