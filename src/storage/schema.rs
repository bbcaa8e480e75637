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
);
