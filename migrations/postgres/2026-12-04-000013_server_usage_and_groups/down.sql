DROP TABLE server_group_members;
DROP TABLE server_groups;
DROP TABLE server_usage;
