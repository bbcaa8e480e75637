-- Volume connectors and targets of bare-metal nodes, and inspection rules.

CREATE TABLE volume_connectors (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    node_uuid TEXT NOT NULL REFERENCES nodes(uuid) ON DELETE CASCADE,
    connector_type TEXT NOT NULL,
    connector_id TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP,
    UNIQUE (connector_type, connector_id)
);
CREATE INDEX volume_connectors_node ON volume_connectors (node_uuid);

CREATE TABLE volume_targets (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    node_uuid TEXT NOT NULL REFERENCES nodes(uuid) ON DELETE CASCADE,
    volume_type TEXT NOT NULL,
    properties TEXT NOT NULL DEFAULT '{}',
    boot_index BIGINT NOT NULL,
    volume_id TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP,
    UNIQUE (node_uuid, boot_index)
);

CREATE TABLE inspection_rules (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    priority BIGINT NOT NULL DEFAULT 0,
    description TEXT,
    scope TEXT,
    sensitive BOOLEAN NOT NULL DEFAULT FALSE,
    phase TEXT,
    conditions TEXT,
    actions TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);
CREATE INDEX inspection_rules_phase ON inspection_rules (phase);
