-- Events waiting to be published to the event bus (PARLEY_EVENTS_URL), in
-- the order they were appended; a row is deleted once the bus has it.
CREATE TABLE event_outbox (
    seq      BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL
);
-- Who may run a singleton task (the event publisher) until when.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
