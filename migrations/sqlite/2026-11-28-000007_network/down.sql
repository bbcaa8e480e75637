DROP TABLE ip_allocations;
DROP TABLE network_ports;
DROP TABLE subnets;
DROP TABLE networks;
