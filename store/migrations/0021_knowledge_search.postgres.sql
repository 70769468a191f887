-- Full-text search over knowledge documents: a generated tsvector (titles
-- weigh more than bodies) that PostgreSQL keeps in step with every write,
-- and a GIN index on it. 'english' stems like SQLite's porter tokenizer.
ALTER TABLE documents ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B')
) STORED;
CREATE INDEX documents_search ON documents USING GIN (search);
