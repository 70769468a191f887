-- Full-text search over knowledge documents with FTS5. The index keeps its
-- own copy of the text (not an external-content table): documents has no
-- INTEGER PRIMARY KEY, so its rowids may change on VACUUM and must not be
-- what the index points at. Triggers keep it in step with every write.
CREATE VIRTUAL TABLE documents_fts USING fts5(
    doc_id UNINDEXED,
    tenant_id UNINDEXED,
    title,
    body,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN
    INSERT INTO documents_fts (doc_id, tenant_id, title, body) VALUES (new.id, new.tenant_id, new.title, new.body);
END;

CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN
    DELETE FROM documents_fts WHERE doc_id = old.id;
END;

CREATE TRIGGER documents_fts_update AFTER UPDATE OF title, body ON documents BEGIN
    DELETE FROM documents_fts WHERE doc_id = old.id;
    INSERT INTO documents_fts (doc_id, tenant_id, title, body) VALUES (new.id, new.tenant_id, new.title, new.body);
END;

INSERT INTO documents_fts (doc_id, tenant_id, title, body) SELECT id, tenant_id, title, body FROM documents;
