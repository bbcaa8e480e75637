DROP TABLE compute_quotas;
DROP TABLE servers;
