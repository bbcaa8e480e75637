-- State every process sharing the database must agree on.

-- Token signing keys; the private key is sealed with the secrets key.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    created_ms BIGINT NOT NULL,
    private_key TEXT NOT NULL
);

-- Settings of the deployment as a whole (the image store's identity).
CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- The conductor whose process is moving an image's data (upload, stage,
-- import), so that another process settles it only once that one is gone.
ALTER TABLE images ADD COLUMN transfer_owner TEXT;
