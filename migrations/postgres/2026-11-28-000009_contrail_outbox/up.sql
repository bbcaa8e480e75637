-- Changes waiting to be pushed to an external Contrail VNC API: at most one
-- row per object (a newer change replaces the pending one), written in the
-- same transaction as the change, removed once the push succeeded.
-- created_at is when the pending change was last recorded: the worker only
-- removes or reschedules a row whose created_at it has seen, so a change
-- recorded while its push was in flight is pushed again.
CREATE TABLE contrail_outbox (
    id BIGSERIAL PRIMARY KEY,
    -- a VNC type: virtual-network, virtual-machine-interface, ...
    object_type TEXT NOT NULL,
    object_uuid TEXT NOT NULL,
    -- upsert | delete
    op TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (object_type, object_uuid)
);
CREATE INDEX contrail_outbox_due ON contrail_outbox (next_attempt_at);
