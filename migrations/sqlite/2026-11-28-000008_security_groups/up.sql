-- Security groups and their rules, each project's default group, and
-- per-project quota limits (a project without a row has Neutron's defaults).
-- The primary key of default_security_groups is what keeps concurrent first
-- requests of a project to a single default group.
CREATE TABLE security_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    project_id TEXT NOT NULL,
    stateful BOOLEAN NOT NULL DEFAULT TRUE,
    revision_number BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX security_groups_project ON security_groups (project_id);

CREATE TABLE default_security_groups (
    project_id TEXT PRIMARY KEY,
    security_group_uuid TEXT NOT NULL UNIQUE REFERENCES security_groups (uuid)
);

CREATE TABLE security_group_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    security_group_uuid TEXT NOT NULL REFERENCES security_groups (uuid),
    project_id TEXT NOT NULL,
    -- ingress | egress
    direction TEXT NOT NULL,
    -- IPv4 | IPv6
    ethertype TEXT NOT NULL,
    -- a protocol name or number as given; NULL = any
    protocol TEXT,
    port_range_min INTEGER,
    port_range_max INTEGER,
    remote_ip_prefix TEXT,
    remote_group_id TEXT REFERENCES security_groups (uuid),
    description TEXT NOT NULL DEFAULT '',
    revision_number BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX security_group_rules_group ON security_group_rules (security_group_uuid);
CREATE INDEX security_group_rules_remote ON security_group_rules (remote_group_id);
CREATE INDEX security_group_rules_project ON security_group_rules (project_id);

CREATE TABLE quotas (
    project_id TEXT NOT NULL,
    -- network, subnet, port, security_group, security_group_rule
    resource TEXT NOT NULL,
    -- -1 = unlimited
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);
