DROP TABLE conductors;
DROP TABLE node_history;
DROP TABLE ports;
DROP TABLE portgroups;
DROP TABLE nodes;
DROP TABLE chassis;
