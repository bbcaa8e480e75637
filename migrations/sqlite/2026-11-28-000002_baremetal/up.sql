-- Bare metal: nodes, ports, portgroups, chassis, node history, conductors.
-- `id` gives Ironic's default (creation) order; `uuid` is the public key.
CREATE TABLE chassis (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    description TEXT,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);

CREATE TABLE nodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    row_version BIGINT NOT NULL DEFAULT 0,
    name TEXT UNIQUE,
    driver TEXT NOT NULL,
    driver_info TEXT NOT NULL DEFAULT '{}',
    driver_internal_info TEXT NOT NULL DEFAULT '{}',
    properties TEXT NOT NULL DEFAULT '{}',
    extra TEXT NOT NULL DEFAULT '{}',
    instance_info TEXT NOT NULL DEFAULT '{}',
    instance_uuid TEXT UNIQUE,
    instance_name TEXT,
    chassis_uuid TEXT,
    provision_state TEXT NOT NULL,
    target_provision_state TEXT,
    provision_updated_at TIMESTAMP,
    power_state TEXT,
    target_power_state TEXT,
    maintenance BOOLEAN NOT NULL DEFAULT 0,
    maintenance_reason TEXT,
    fault TEXT,
    reservation TEXT,
    last_error TEXT,
    console_enabled BOOLEAN NOT NULL DEFAULT 0,
    interfaces TEXT NOT NULL DEFAULT '{}',
    resource_class TEXT,
    conductor_group TEXT NOT NULL DEFAULT '',
    automated_clean BOOLEAN,
    protected BOOLEAN NOT NULL DEFAULT 0,
    protected_reason TEXT,
    owner TEXT,
    lessee TEXT,
    description TEXT,
    retired BOOLEAN NOT NULL DEFAULT 0,
    retired_reason TEXT,
    network_data TEXT NOT NULL DEFAULT '{}',
    boot_mode TEXT,
    secure_boot BOOLEAN,
    shard TEXT,
    parent_node TEXT,
    disable_power_off BOOLEAN NOT NULL DEFAULT 0,
    clean_step TEXT NOT NULL DEFAULT '{}',
    deploy_step TEXT NOT NULL DEFAULT '{}',
    service_step TEXT NOT NULL DEFAULT '{}',
    raid_config TEXT NOT NULL DEFAULT '{}',
    target_raid_config TEXT NOT NULL DEFAULT '{}',
    traits TEXT NOT NULL DEFAULT '[]',
    inspection_started_at TIMESTAMP,
    inspection_finished_at TIMESTAMP,
    allocation_uuid TEXT,
    health TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);
CREATE INDEX nodes_provision_state ON nodes (provision_state);
CREATE INDEX nodes_reservation ON nodes (reservation);
CREATE INDEX nodes_owner ON nodes (owner);

CREATE TABLE portgroups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT UNIQUE,
    node_uuid TEXT NOT NULL REFERENCES nodes(uuid) ON DELETE CASCADE,
    address TEXT UNIQUE,
    extra TEXT NOT NULL DEFAULT '{}',
    internal_info TEXT NOT NULL DEFAULT '{}',
    mode TEXT,
    properties TEXT NOT NULL DEFAULT '{}',
    standalone_ports_supported BOOLEAN NOT NULL DEFAULT 1,
    physical_network TEXT,
    category TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);
CREATE INDEX portgroups_node ON portgroups (node_uuid);

CREATE TABLE ports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL UNIQUE,
    node_uuid TEXT NOT NULL REFERENCES nodes(uuid) ON DELETE CASCADE,
    portgroup_uuid TEXT REFERENCES portgroups(uuid),
    name TEXT UNIQUE,
    extra TEXT NOT NULL DEFAULT '{}',
    internal_info TEXT NOT NULL DEFAULT '{}',
    local_link_connection TEXT NOT NULL DEFAULT '{}',
    physical_network TEXT,
    pxe_enabled BOOLEAN NOT NULL DEFAULT 1,
    is_smartnic BOOLEAN NOT NULL DEFAULT 0,
    description TEXT,
    vendor TEXT,
    category TEXT,
    available_for_dynamic_portgroup BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);
CREATE INDEX ports_node ON ports (node_uuid);
CREATE INDEX ports_portgroup ON ports (portgroup_uuid);

CREATE TABLE node_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    node_uuid TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    severity TEXT NOT NULL,
    event TEXT NOT NULL,
    event_type TEXT NOT NULL,
    conductor TEXT,
    user_id TEXT,
    project_id TEXT,
    state TEXT,
    target_state TEXT,
    duration_seconds BIGINT
);
CREATE INDEX node_history_node ON node_history (node_uuid);

CREATE TABLE conductors (
    hostname TEXT PRIMARY KEY NOT NULL,
    conductor_group TEXT NOT NULL DEFAULT '',
    drivers TEXT NOT NULL DEFAULT '[]',
    online BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
