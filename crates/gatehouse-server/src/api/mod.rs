//! The Management API (`/api/v2`), in Auth0's dialect. Handlers are thin: they check
//! scope (by type), and call the services (or, for plain reads, the store).

mod actions;
mod attack_protection;
pub mod audit;
mod authentication_methods;
mod branding;
mod client_grants;
mod clients;
mod connections;
mod emails;
mod guardian;
mod identities;
mod jobs;
mod keys;
mod logs;
mod resource_servers;
mod roles;
mod sessions;
mod stats;
mod tickets;
mod user_blocks;
mod users;

use crate::error::ApiError;
use axum::routing::{get, post};
use axum::Router;
use gatehouse_services::Services;
use serde_json::{json, Value};

pub fn router() -> Router<Services> {
    Router::new()
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::get_one).patch(users::update).delete(users::delete))
        .route("/users-by-email", get(users::by_email))
        .route("/users/{id}/identities", post(identities::link))
        .route("/users/{id}/identities/{provider}/{user_id}", axum::routing::delete(identities::unlink))
        .route(
            "/users/{id}/roles",
            get(roles::user_roles).post(roles::assign_user_roles).delete(roles::remove_user_roles),
        )
        .route(
            "/users/{id}/permissions",
            get(roles::user_permissions).post(roles::add_user_permissions).delete(roles::remove_user_permissions),
        )
        .route("/users/{id}/effective-permissions", get(roles::effective_permissions))
        .route(
            "/users/{id}/authentication-methods",
            get(authentication_methods::list).delete(authentication_methods::delete_all),
        )
        .route(
            "/users/{id}/authentication-methods/{method_id}",
            axum::routing::delete(authentication_methods::delete_one),
        )
        .route("/resource-servers", get(resource_servers::list).post(resource_servers::create))
        .route(
            "/resource-servers/{id}",
            get(resource_servers::get_one).patch(resource_servers::update).delete(resource_servers::delete),
        )
        .route("/roles", get(roles::list).post(roles::create))
        .route("/roles/{id}", get(roles::get_one).patch(roles::update).delete(roles::delete))
        .route(
            "/roles/{id}/permissions",
            get(roles::permissions).post(roles::add_permissions).delete(roles::remove_permissions),
        )
        .route("/roles/{id}/users", get(roles::members).post(roles::add_members))
        .route("/connections", get(connections::list).post(connections::create))
        .route("/connections/{id}", get(connections::get_one).patch(connections::update).delete(connections::delete))
        .route("/connections/{id}/migration", get(connections::migration))
        .route(
            "/connections/{id}/clients",
            get(connections::enabled_clients).patch(connections::change_enabled_clients),
        )
        .route("/clients", get(clients::list).post(clients::create))
        .route("/clients/{id}", get(clients::get_one).patch(clients::update).delete(clients::delete))
        .route("/clients/{id}/rotate-secret", post(clients::rotate_secret))
        .route("/client-grants", get(client_grants::list).post(client_grants::create))
        .route("/client-grants/{id}", axum::routing::patch(client_grants::update).delete(client_grants::delete))
        .route("/keys/signing", get(keys::list))
        .route("/keys/signing/rotate", post(keys::rotate))
        .route("/jobs/users-imports", post(jobs::create_import))
        .route("/jobs/users-exports", post(jobs::create_export))
        .route("/jobs/verification-email", post(tickets::verification_email_job))
        .route("/tickets/email-verification", post(tickets::email_verification))
        .route("/tickets/password-change", post(tickets::password_change))
        .route("/jobs/users-migrate-remaining", post(jobs::create_migrate_remaining))
        .route("/jobs/{id}", get(jobs::get_one))
        .route("/jobs/{id}/errors", get(jobs::errors))
        .route("/jobs/{id}/download", get(jobs::download))
        .route("/logs", get(logs::list))
        .route("/logs/{id}", get(logs::get_one))
        .route("/users/{id}/logs", get(logs::for_user))
        .route("/user-blocks", get(user_blocks::for_identifier).delete(user_blocks::unblock_identifier))
        .route("/user-blocks/{id}", get(user_blocks::for_user).delete(user_blocks::unblock_user))
        .route("/sessions/{id}", get(sessions::get_session).delete(sessions::delete_session))
        .route("/sessions/{id}/revoke", post(sessions::revoke_session))
        .route("/users/{id}/sessions", get(sessions::user_sessions).delete(sessions::delete_user_sessions))
        .route("/users/{id}/revoke-access", post(sessions::revoke_user_access))
        .route("/refresh-tokens", get(sessions::list_refresh_tokens))
        .route("/refresh-tokens/revoke", post(sessions::revoke_refresh_tokens))
        .route("/refresh-tokens/{id}", get(sessions::get_refresh_token).delete(sessions::delete_refresh_token))
        .route(
            "/users/{id}/refresh-tokens",
            get(sessions::user_refresh_tokens).delete(sessions::delete_user_refresh_tokens),
        )
        .route(
            "/attack-protection/brute-force-protection",
            get(attack_protection::get_brute_force).patch(attack_protection::patch_brute_force),
        )
        .route(
            "/attack-protection/suspicious-ip-throttling",
            get(attack_protection::get_suspicious_ip).patch(attack_protection::patch_suspicious_ip),
        )
        .route(
            "/attack-protection/breached-password-detection",
            get(attack_protection::get_breached_password).patch(attack_protection::patch_breached_password),
        )
        .route(
            "/attack-protection/bot-detection",
            get(attack_protection::get_bot_detection).patch(attack_protection::patch_bot_detection),
        )
        .route(
            "/attack-protection/captcha",
            get(attack_protection::get_captcha).patch(attack_protection::patch_captcha),
        )
        .route("/branding", get(branding::get_branding).patch(branding::patch_branding))
        .route(
            "/branding/templates/universal-login",
            get(branding::get_template).put(branding::put_template).delete(branding::delete_template),
        )
        .route("/tenants/settings", get(branding::get_tenant).patch(branding::patch_tenant))
        .route("/email-templates", post(emails::create_template))
        .route(
            "/email-templates/{name}",
            get(emails::get_template).put(emails::put_template).patch(emails::patch_template),
        )
        .route(
            "/emails/provider",
            get(emails::get_provider)
                .post(emails::create_provider)
                .patch(emails::patch_provider)
                .delete(emails::delete_provider),
        )
        .route("/guardian/factors", get(guardian::list_factors))
        .route("/guardian/factors/{name}", axum::routing::put(guardian::put_factor))
        .route("/guardian/policies", get(guardian::get_policies).put(guardian::put_policies))
        .route(
            "/users/{id}/multifactor/actions/invalidate-remember-browser",
            post(guardian::invalidate_remember_browser),
        )
        .route("/users/{id}/recovery-code-regeneration", post(guardian::regenerate_recovery))
        .route("/stats/daily", get(stats::daily))
        .route("/stats/active-users", get(stats::active_users))
        .route("/actions/actions", get(actions::list).post(actions::create))
        .route("/actions/actions/{id}", get(actions::get_one).patch(actions::update).delete(actions::delete))
        .route("/actions/actions/{id}/deploy", post(actions::deploy))
        .route("/actions/actions/{id}/versions", get(actions::versions))
        .route("/actions/actions/{action_id}/versions/{id}", get(actions::version))
        .route("/actions/actions/{action_id}/versions/{id}/deploy", post(actions::deploy_version))
        .route("/actions/triggers", get(actions::triggers))
        .route("/actions/triggers/{trigger}/bindings", get(actions::bindings).patch(actions::update_bindings))
        .route("/actions/executions/{id}", get(actions::execution))
        .route("/openapi.json", get(crate::openapi::document))
        .fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError::NotFound { code: "not_found", message: "Not Found".into() }
}

/// Auth0's page envelope when `include_totals=true`, else the bare list.
fn page(key: &str, items: Vec<Value>, start: u32, limit: u32, total: u64, include_totals: bool) -> Value {
    if include_totals {
        json!({"start": start, "limit": limit, "length": items.len(), "total": total, key: items})
    } else {
        Value::Array(items)
    }
}

/// Checkpoint paging, when the query asks for it (`from`/`take`) rather than pages: the
/// non-empty `from`, and `take` (default 50, at most 100). Auth0 refuses both kinds at once.
fn checkpoint(q: &crate::extract::QueryParams) -> Result<Option<(Option<&str>, u32)>, ApiError> {
    if q.str("from").is_none() && q.str("take").is_none() {
        return Ok(None);
    }
    if q.str("page").is_some() || q.str("per_page").is_some() {
        return Err(ApiError::query("Query validation error: 'use either page/per_page or from/take, not both'."));
    }
    let take = q.u32_in("take", 1, 100)?.unwrap_or(50);
    Ok(Some((q.str("from").filter(|f| !f.is_empty()), take)))
}

/// `page`/`per_page` → (offset, limit), with Auth0's bounds.
fn paging(q: &crate::extract::QueryParams, default_per_page: u32) -> Result<(u32, u32, u32), ApiError> {
    let page = q.u32_in("page", 0, 100_000)?.unwrap_or(0);
    let per_page = q.u32_in("per_page", 0, 100)?.unwrap_or(default_per_page);
    Ok((page, per_page, page.saturating_mul(per_page)))
}
