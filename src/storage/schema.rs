//! One table set for every backend: only portable SQL types.

diesel::table! {
    domains (id) {
        id -> Text,
        name -> Text,
        description -> Text,
        enabled -> Bool,
        extra -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    projects (id) {
        id -> Text,
        name -> Text,
        domain_id -> Text,
        parent_id -> Nullable<Text>,
        description -> Text,
        enabled -> Bool,
        tags -> Text,
        extra -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        name -> Text,
        domain_id -> Text,
        enabled -> Bool,
        password_hash -> Nullable<Text>,
        default_project_id -> Nullable<Text>,
        extra -> Text,
        created_at -> Timestamp,
        password_changed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    roles (id) {
        id -> Text,
        name -> Text,
        domain_id -> Text,
        description -> Nullable<Text>,
        extra -> Text,
    }
}

diesel::table! {
    implied_roles (prior_role_id, implied_role_id) {
        prior_role_id -> Text,
        implied_role_id -> Text,
    }
}

diesel::table! {
    role_assignments (actor_id, target_kind, target_id, role_id) {
        actor_id -> Text,
        target_kind -> Text,
        target_id -> Text,
        role_id -> Text,
    }
}

diesel::table! {
    regions (id) {
        id -> Text,
        description -> Text,
        parent_region_id -> Nullable<Text>,
    }
}

diesel::table! {
    services (id) {
        id -> Text,
        service_type -> Text,
        name -> Text,
        description -> Text,
        enabled -> Bool,
    }
}

diesel::table! {
    endpoints (id) {
        id -> Text,
        service_id -> Text,
        interface -> Text,
        region_id -> Nullable<Text>,
        url -> Text,
        enabled -> Bool,
    }
}

diesel::table! {
    revocations (id) {
        id -> Text,
        audit_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        project_id -> Nullable<Text>,
        issued_before -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        created_ms -> BigInt,
        private_key -> Text,
    }
}

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    application_credentials (id) {
        id -> Text,
        name -> Text,
        user_id -> Text,
        project_id -> Text,
        description -> Nullable<Text>,
        secret_hash -> Text,
        roles -> Text,
        unrestricted -> Bool,
        expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    chassis (id) {
        id -> BigInt,
        uuid -> Text,
        description -> Nullable<Text>,
        extra -> Text,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    nodes (id) {
        id -> BigInt,
        uuid -> Text,
        row_version -> BigInt,
        name -> Nullable<Text>,
        driver -> Text,
        driver_info -> Text,
        driver_internal_info -> Text,
        properties -> Text,
        extra -> Text,
        instance_info -> Text,
        instance_uuid -> Nullable<Text>,
        instance_name -> Nullable<Text>,
        chassis_uuid -> Nullable<Text>,
        provision_state -> Text,
        target_provision_state -> Nullable<Text>,
        provision_updated_at -> Nullable<Timestamp>,
        power_state -> Nullable<Text>,
        target_power_state -> Nullable<Text>,
        maintenance -> Bool,
        maintenance_reason -> Nullable<Text>,
        fault -> Nullable<Text>,
        reservation -> Nullable<Text>,
        last_error -> Nullable<Text>,
        console_enabled -> Bool,
        interfaces -> Text,
        resource_class -> Nullable<Text>,
        conductor_group -> Text,
        automated_clean -> Nullable<Bool>,
        protected -> Bool,
        protected_reason -> Nullable<Text>,
        owner -> Nullable<Text>,
        lessee -> Nullable<Text>,
        description -> Nullable<Text>,
        retired -> Bool,
        retired_reason -> Nullable<Text>,
        network_data -> Text,
        boot_mode -> Nullable<Text>,
        secure_boot -> Nullable<Bool>,
        shard -> Nullable<Text>,
        parent_node -> Nullable<Text>,
        disable_power_off -> Bool,
        clean_step -> Text,
        deploy_step -> Text,
        service_step -> Text,
        raid_config -> Text,
        target_raid_config -> Text,
        traits -> Text,
        inspection_started_at -> Nullable<Timestamp>,
        inspection_finished_at -> Nullable<Timestamp>,
        allocation_uuid -> Nullable<Text>,
        health -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    portgroups (id) {
        id -> BigInt,
        uuid -> Text,
        name -> Nullable<Text>,
        node_uuid -> Text,
        address -> Nullable<Text>,
        extra -> Text,
        internal_info -> Text,
        mode -> Nullable<Text>,
        properties -> Text,
        standalone_ports_supported -> Bool,
        physical_network -> Nullable<Text>,
        category -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    ports (id) {
        id -> BigInt,
        uuid -> Text,
        address -> Text,
        node_uuid -> Text,
        portgroup_uuid -> Nullable<Text>,
        name -> Nullable<Text>,
        extra -> Text,
        internal_info -> Text,
        local_link_connection -> Text,
        physical_network -> Nullable<Text>,
        pxe_enabled -> Bool,
        is_smartnic -> Bool,
        description -> Nullable<Text>,
        vendor -> Nullable<Text>,
        category -> Nullable<Text>,
        available_for_dynamic_portgroup -> Bool,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    node_history (id) {
        id -> BigInt,
        uuid -> Text,
        node_uuid -> Text,
        created_at -> Timestamp,
        severity -> Text,
        event -> Text,
        event_type -> Text,
        conductor -> Nullable<Text>,
        user_id -> Nullable<Text>,
        project_id -> Nullable<Text>,
        state -> Nullable<Text>,
        target_state -> Nullable<Text>,
        duration_seconds -> Nullable<BigInt>,
    }
}

diesel::table! {
    conductors (hostname) {
        hostname -> Text,
        conductor_group -> Text,
        drivers -> Text,
        online -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(projects -> domains (domain_id));
diesel::joinable!(users -> domains (domain_id));
diesel::joinable!(endpoints -> services (service_id));
diesel::joinable!(role_assignments -> roles (role_id));

diesel::allow_tables_to_appear_in_same_query!(
    domains,
    projects,
    users,
    roles,
    implied_roles,
    role_assignments,
    regions,
    services,
    endpoints,
    revocations,
    application_credentials,
    chassis,
    nodes,
    portgroups,
    ports,
    node_history,
    conductors,
);

diesel::table! {
    flavors (id) {
        id -> BigInt,
        flavorid -> Text,
        name -> Text,
        memory_mb -> Integer,
        vcpus -> Integer,
        root_gb -> Integer,
        ephemeral_gb -> Integer,
        swap -> Integer,
        rxtx_factor -> Double,
        vcpu_weight -> Nullable<Integer>,
        is_public -> Bool,
        disabled -> Bool,
        description -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    flavor_extra_specs (flavor_id, key) {
        flavor_id -> BigInt,
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    flavor_projects (flavor_id, project_id) {
        flavor_id -> BigInt,
        project_id -> Text,
    }
}

diesel::table! {
    key_pairs (id) {
        id -> BigInt,
        user_id -> Text,
        name -> Text,
        key_type -> Text,
        public_key -> Text,
        fingerprint -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(flavor_extra_specs -> flavors (flavor_id));
diesel::joinable!(flavor_projects -> flavors (flavor_id));
diesel::allow_tables_to_appear_in_same_query!(flavors, flavor_extra_specs, flavor_projects);
