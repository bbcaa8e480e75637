ALTER TABLE images DROP COLUMN transfer_owner;
DROP TABLE settings;
DROP TABLE signing_keys;
