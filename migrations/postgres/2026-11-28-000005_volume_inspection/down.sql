DROP TABLE inspection_rules;
DROP TABLE volume_targets;
DROP TABLE volume_connectors;
