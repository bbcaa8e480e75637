-- Images of the image service. Custom properties, tags and members live in
-- their own tables so that list filters stay plain SQL on both backends.
CREATE TABLE images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT,
    status TEXT NOT NULL,
    visibility TEXT NOT NULL,
    owner TEXT,
    disk_format TEXT,
    container_format TEXT,
    size BIGINT,
    virtual_size BIGINT,
    checksum TEXT,
    os_hash_algo TEXT,
    os_hash_value TEXT,
    min_ram INTEGER NOT NULL DEFAULT 0,
    min_disk INTEGER NOT NULL DEFAULT 0,
    protected BOOLEAN NOT NULL DEFAULT FALSE,
    os_hidden BOOLEAN NOT NULL DEFAULT FALSE,
    -- where the data lives: store id (e.g. "fs"), NULL while there is none
    store TEXT,
    -- bumped by every write; guards concurrent updates
    row_version BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX images_owner ON images (owner);
CREATE INDEX images_visibility ON images (visibility);
CREATE INDEX images_created ON images (created_at);

CREATE TABLE image_properties (
    image_uuid TEXT NOT NULL REFERENCES images (uuid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (image_uuid, name)
);
CREATE INDEX image_properties_name ON image_properties (name, value);

CREATE TABLE image_tags (
    image_uuid TEXT NOT NULL REFERENCES images (uuid) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (image_uuid, tag)
);
CREATE INDEX image_tags_tag ON image_tags (tag);

CREATE TABLE image_members (
    image_uuid TEXT NOT NULL REFERENCES images (uuid) ON DELETE CASCADE,
    member TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (image_uuid, member)
);
CREATE INDEX image_members_member ON image_members (member, status);
