DROP TABLE key_pairs;
DROP TABLE flavor_projects;
DROP TABLE flavor_extra_specs;
DROP TABLE flavors;
