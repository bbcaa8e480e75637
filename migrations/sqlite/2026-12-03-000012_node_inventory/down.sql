DROP TABLE node_inventory;
