DROP TABLE quotas;
DROP TABLE security_group_rules;
DROP TABLE default_security_groups;
DROP TABLE security_groups;
