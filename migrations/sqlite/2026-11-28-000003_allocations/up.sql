-- Allocations: scheduling requests that reserve one node each.
-- `node_uuid` names the reserved node (NULL while allocating or on error).
CREATE TABLE allocations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT UNIQUE,
    node_uuid TEXT,
    state TEXT NOT NULL,
    owner TEXT,
    last_error TEXT,
    resource_class TEXT,
    traits TEXT NOT NULL DEFAULT '[]',
    candidate_nodes TEXT NOT NULL DEFAULT '[]',
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);

CREATE INDEX allocations_node_uuid ON allocations (node_uuid);
CREATE INDEX allocations_state ON allocations (state);
