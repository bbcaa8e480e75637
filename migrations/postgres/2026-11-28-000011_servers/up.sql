-- Compute instances: one bare-metal server per row, from create until its
-- node has been torn down. The flavor is kept as it was at create time.
CREATE TABLE servers (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    -- JSON: id, name, vcpus, ram, disk, ephemeral, swap, extra_specs
    flavor TEXT NOT NULL,
    image_uuid TEXT,
    key_name TEXT,
    key_data TEXT,
    -- base64, as given
    user_data TEXT,
    config_drive BOOLEAN NOT NULL,
    -- JSON object of strings
    metadata TEXT NOT NULL,
    availability_zone TEXT,
    -- JSON: the networks asked for ("auto", "none" or a list)
    requested_networks TEXT NOT NULL,
    -- JSON list of {"port": id, "created": bool}
    ports TEXT NOT NULL,
    vm_state TEXT NOT NULL,
    task_state TEXT,
    power_state INTEGER NOT NULL,
    node_uuid TEXT UNIQUE,
    -- JSON: code, message, details, created
    fault TEXT,
    description TEXT,
    hostname TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    launched_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);
CREATE INDEX servers_project ON servers (project_id);
CREATE INDEX servers_vm_state ON servers (vm_state);

-- Per-project compute limits set by an admin; absent = the default.
CREATE TABLE compute_quotas (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);
