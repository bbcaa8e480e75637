-- Identity: domains, projects, users, roles, assignments, catalog, revocations,
-- application credentials. Ids and JSON documents are TEXT on every backend.
CREATE TABLE domains (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT 1,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES domains(id),
    parent_id TEXT,
    description TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT 1,
    tags TEXT NOT NULL DEFAULT '[]',
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES domains(id),
    enabled BOOLEAN NOT NULL DEFAULT 1,
    password_hash TEXT,
    default_project_id TEXT,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    password_changed_at TIMESTAMP,
    UNIQUE (domain_id, name)
);

-- Global roles carry domain_id = '' so that the uniqueness rule holds on every backend.
CREATE TABLE roles (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL DEFAULT '',
    description TEXT,
    extra TEXT NOT NULL DEFAULT '{}',
    UNIQUE (domain_id, name)
);

CREATE TABLE implied_roles (
    prior_role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    implied_role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (prior_role_id, implied_role_id)
);

-- target_kind: 'project' | 'domain' | 'system'; target_id is 'all' for the system.
CREATE TABLE role_assignments (
    actor_id TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (actor_id, target_kind, target_id, role_id)
);
CREATE INDEX role_assignments_target ON role_assignments (target_kind, target_id);
CREATE INDEX role_assignments_role ON role_assignments (role_id);

CREATE TABLE regions (
    id TEXT PRIMARY KEY NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    parent_region_id TEXT
);

CREATE TABLE services (
    id TEXT PRIMARY KEY NOT NULL,
    service_type TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT 1
);

CREATE TABLE endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    interface TEXT NOT NULL,
    region_id TEXT,
    url TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT 1
);

-- A revocation matches tokens by audit id, or every token of a user (or of a
-- project) issued before `issued_before`.
CREATE TABLE revocations (
    id TEXT PRIMARY KEY NOT NULL,
    audit_id TEXT,
    user_id TEXT,
    project_id TEXT,
    issued_before TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX revocations_audit ON revocations (audit_id);
CREATE INDEX revocations_user ON revocations (user_id);

CREATE TABLE application_credentials (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    description TEXT,
    secret_hash TEXT NOT NULL,
    roles TEXT NOT NULL DEFAULT '[]',
    unrestricted BOOLEAN NOT NULL DEFAULT 0,
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, name)
);
