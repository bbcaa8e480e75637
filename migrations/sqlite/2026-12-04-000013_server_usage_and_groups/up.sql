-- What a deleted server used, for the usage report (os-simple-tenant-usage):
-- written when its row leaves `servers`.
CREATE TABLE server_usage (
    uuid TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- JSON, as in servers.flavor
    flavor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    launched_at TIMESTAMP,
    terminated_at TIMESTAMP NOT NULL
);
CREATE INDEX server_usage_project ON server_usage (project_id, terminated_at);

-- Server groups (os-server-groups): a policy for where members may run.
CREATE TABLE server_groups (
    uuid TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    policy TEXT NOT NULL,
    -- JSON object (2.64 `rules`, e.g. max_server_per_host)
    rules TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX server_groups_project ON server_groups (project_id);
CREATE TABLE server_group_members (
    group_uuid TEXT NOT NULL REFERENCES server_groups(uuid) ON DELETE CASCADE,
    server_uuid TEXT NOT NULL,
    PRIMARY KEY (group_uuid, server_uuid)
);
