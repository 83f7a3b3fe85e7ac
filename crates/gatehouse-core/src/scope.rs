//! Management API scopes, with Auth0's names.

/// Every scope the Management API knows. A bootstrap admin client is granted all of them.
pub const MANAGEMENT_SCOPES: &[&str] = &[
    "read:users",
    "create:users",
    "update:users",
    "delete:users",
    "read:users_app_metadata",
    "update:users_app_metadata",
    "create:users_app_metadata",
    "delete:users_app_metadata",
    "read:user_idp_tokens",
    "read:clients",
    "create:clients",
    "update:clients",
    "delete:clients",
    "read:client_keys",
    "update:client_keys",
    "read:client_grants",
    "create:client_grants",
    "update:client_grants",
    "delete:client_grants",
    "read:connections",
    "create:connections",
    "update:connections",
    "delete:connections",
    "read:connections_options",
    "update:connections_options",
    "read:logs",
    "read:logs_users",
    "read:user_blocks",
    "update:user_blocks",
    "delete:user_blocks",
    "create:user_tickets",
    "read:attack_protection",
    "update:attack_protection",
    "read:stats",
    "read:signing_keys",
    "create:signing_keys",
    "update:signing_keys",
];

pub fn is_management_scope(s: &str) -> bool {
    MANAGEMENT_SCOPES.contains(&s)
}
