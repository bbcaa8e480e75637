-- What inspection found on each node (agent-shaped inventory + plugin data).
CREATE TABLE node_inventory (
    node_uuid TEXT PRIMARY KEY NOT NULL REFERENCES nodes(uuid) ON DELETE CASCADE,
    inventory TEXT NOT NULL,
    plugin_data TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);
