-- Deploy templates and runbooks. Steps (and runbook traits) are kept as
-- JSON lists on the row: they are always read and written whole.
CREATE TABLE deploy_templates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    extra TEXT NOT NULL DEFAULT '{}',
    steps TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);

CREATE TABLE runbooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    public BOOLEAN NOT NULL DEFAULT 0,
    owner TEXT,
    disable_ramdisk BOOLEAN NOT NULL DEFAULT 0,
    extra TEXT NOT NULL DEFAULT '{}',
    steps TEXT NOT NULL DEFAULT '[]',
    traits TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);

CREATE INDEX runbooks_owner_idx ON runbooks (owner);
