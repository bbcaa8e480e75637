-- Tenant networks (a Neutron subset): networks, subnets, ports and the
-- addresses allocated to ports. The primary key of ip_allocations is what
-- makes address allocation safe under concurrency.
CREATE TABLE networks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    project_id TEXT NOT NULL,
    admin_state_up BOOLEAN NOT NULL DEFAULT TRUE,
    shared BOOLEAN NOT NULL DEFAULT FALSE,
    external BOOLEAN NOT NULL DEFAULT FALSE,
    mtu INTEGER NOT NULL DEFAULT 1500,
    port_security_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    network_type TEXT,
    physical_network TEXT,
    segmentation_id INTEGER,
    revision_number BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX networks_project ON networks (project_id);

CREATE TABLE subnets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    network_uuid TEXT NOT NULL REFERENCES networks (uuid),
    project_id TEXT NOT NULL,
    ip_version INTEGER NOT NULL,
    cidr TEXT NOT NULL,
    gateway_ip TEXT,
    enable_dhcp BOOLEAN NOT NULL DEFAULT TRUE,
    -- JSON: [{"start", "end"}], ["dns"...], [{"destination", "nexthop"}]
    allocation_pools TEXT NOT NULL DEFAULT '[]',
    dns_nameservers TEXT NOT NULL DEFAULT '[]',
    host_routes TEXT NOT NULL DEFAULT '[]',
    ipv6_ra_mode TEXT,
    ipv6_address_mode TEXT,
    revision_number BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX subnets_network ON subnets (network_uuid);

CREATE TABLE network_ports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    network_uuid TEXT NOT NULL REFERENCES networks (uuid),
    project_id TEXT NOT NULL,
    mac_address TEXT NOT NULL,
    admin_state_up BOOLEAN NOT NULL DEFAULT TRUE,
    status TEXT NOT NULL,
    device_id TEXT NOT NULL DEFAULT '',
    device_owner TEXT NOT NULL DEFAULT '',
    port_security_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    vnic_type TEXT NOT NULL DEFAULT 'normal',
    host_id TEXT NOT NULL DEFAULT '',
    -- JSON object (binding:profile), e.g. local_link_information
    profile TEXT NOT NULL DEFAULT '{}',
    vif_type TEXT NOT NULL DEFAULT 'unbound',
    vif_details TEXT NOT NULL DEFAULT '{}',
    -- JSON list of security group ids
    security_groups TEXT NOT NULL DEFAULT '[]',
    -- JSON list of {"ip_address", "mac_address"}
    allowed_address_pairs TEXT NOT NULL DEFAULT '[]',
    revision_number BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (network_uuid, mac_address)
);
CREATE INDEX network_ports_network ON network_ports (network_uuid);
CREATE INDEX network_ports_device ON network_ports (device_id);
CREATE INDEX network_ports_project ON network_ports (project_id);

CREATE TABLE ip_allocations (
    subnet_uuid TEXT NOT NULL REFERENCES subnets (uuid),
    ip_address TEXT NOT NULL,
    port_uuid TEXT NOT NULL REFERENCES network_ports (uuid) ON DELETE CASCADE,
    network_uuid TEXT NOT NULL,
    PRIMARY KEY (subnet_uuid, ip_address)
);
CREATE INDEX ip_allocations_port ON ip_allocations (port_uuid);
