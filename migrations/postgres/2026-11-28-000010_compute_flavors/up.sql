-- Compute flavors (with their extra specs and the projects a private flavor
-- is shared with) and users' keypairs. `id` is internal; clients see
-- `flavorid`.
CREATE TABLE flavors (
    id BIGSERIAL PRIMARY KEY,
    flavorid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    memory_mb INTEGER NOT NULL,
    vcpus INTEGER NOT NULL,
    root_gb INTEGER NOT NULL,
    ephemeral_gb INTEGER NOT NULL DEFAULT 0,
    swap INTEGER NOT NULL DEFAULT 0,
    rxtx_factor DOUBLE PRECISION NOT NULL DEFAULT 1.0,
    vcpu_weight INTEGER,
    is_public BOOLEAN NOT NULL DEFAULT TRUE,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    description TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);

CREATE TABLE flavor_extra_specs (
    flavor_id BIGINT NOT NULL REFERENCES flavors (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (flavor_id, key)
);

CREATE TABLE flavor_projects (
    flavor_id BIGINT NOT NULL REFERENCES flavors (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    PRIMARY KEY (flavor_id, project_id)
);
CREATE INDEX flavor_projects_project ON flavor_projects (project_id);

CREATE TABLE key_pairs (
    id BIGSERIAL PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    key_type TEXT NOT NULL,
    public_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, name)
);
