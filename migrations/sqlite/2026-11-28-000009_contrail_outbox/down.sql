DROP TABLE contrail_outbox;
