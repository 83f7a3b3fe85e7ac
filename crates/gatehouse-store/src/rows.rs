//! The row codecs: each stored type decoded once, from the backend-neutral [`Row`], and
//! the user (the one row written from several places) encoded once.

use crate::db::Row;
use crate::error::StoreError;
use crate::sql::SqlValue;
use gatehouse_core::client::{Client, ClientGrant};
use gatehouse_core::connection::Connection;
use gatehouse_core::user::User;
use std::sync::LazyLock;

/// Builds a domain value from a row.
pub(crate) trait FromRow: Sized {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError>;
}

/// The columns of `users`, in the order [`user_values`] gives their values.
pub(crate) const USER_COLUMNS: [&str; 24] = [
    "user_id",
    "connection_id",
    "connection",
    "provider",
    "email",
    "email_verified",
    "username",
    "phone_number",
    "phone_verified",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "picture",
    "password_hash",
    "user_metadata",
    "app_metadata",
    "blocked",
    "logins_count",
    "last_login",
    "last_ip",
    "last_password_reset",
    "created_at",
    "updated_at",
];

/// `USER_COLUMNS` as a column list, each prefixed `{alias}.` unless `alias` is empty.
pub(crate) fn user_columns(alias: &str) -> String {
    let dot = if alias.is_empty() { "" } else { "." };
    USER_COLUMNS.iter().map(|c| format!("{alias}{dot}{c}")).collect::<Vec<_>>().join(", ")
}

/// `$first`, `$first + 1`, … for every user column.
fn user_placeholders(first: usize) -> String {
    (first..first + USER_COLUMNS.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(",")
}

/// The INSERT of a user, its values [`user_values`].
pub(crate) static INSERT_USER: LazyLock<String> =
    LazyLock::new(|| format!("INSERT INTO users ({}) VALUES ({})", user_columns(""), user_placeholders(1)));

/// The replacement of user `$25`, its values [`user_values`].
pub(crate) static UPDATE_USER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE users SET ({}) = ({}) WHERE user_id = ${}",
        user_columns(""),
        user_placeholders(1),
        USER_COLUMNS.len() + 1
    )
});

/// A user's values, in the order of [`USER_COLUMNS`].
pub(crate) fn user_values(u: &User) -> Vec<SqlValue> {
    values![
        &u.user_id,
        &u.connection_id,
        &u.connection,
        &u.provider,
        &u.email,
        u.email_verified,
        &u.username,
        &u.phone_number,
        u.phone_verified,
        &u.name,
        &u.nickname,
        &u.given_name,
        &u.family_name,
        &u.picture,
        &u.password_hash,
        SqlValue::json(&u.user_metadata),
        SqlValue::json(&u.app_metadata),
        u.blocked,
        u.logins_count,
        &u.last_login,
        &u.last_ip,
        &u.last_password_reset,
        &u.created_at,
        &u.updated_at,
    ]
}

impl FromRow for User {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(User {
            user_id: r.get("user_id")?,
            connection_id: r.get("connection_id")?,
            connection: r.get("connection")?,
            provider: r.get("provider")?,
            email: r.get("email")?,
            email_verified: r.get("email_verified")?,
            username: r.get("username")?,
            phone_number: r.get("phone_number")?,
            phone_verified: r.get("phone_verified")?,
            name: r.get("name")?,
            nickname: r.get("nickname")?,
            given_name: r.get("given_name")?,
            family_name: r.get("family_name")?,
            picture: r.get("picture")?,
            password_hash: r.get("password_hash")?,
            user_metadata: r.json("user_metadata")?,
            app_metadata: r.json("app_metadata")?,
            blocked: r.get("blocked")?,
            logins_count: r.get("logins_count")?,
            last_login: r.get("last_login")?,
            last_ip: r.get("last_ip")?,
            last_password_reset: r.get("last_password_reset")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
        })
    }
}

impl FromRow for Connection {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Connection {
            id: r.get("id")?,
            name: r.get("name")?,
            display_name: r.get("display_name")?,
            strategy: r.get("strategy")?,
            options: r.json("options")?,
            enabled_clients: r.json("enabled_clients")?,
            realms: r.json("realms")?,
            is_domain_connection: r.get("is_domain_connection")?,
            metadata: r.json("metadata")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
        })
    }
}

impl FromRow for Client {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Client {
            client_id: r.get("client_id")?,
            name: r.get("name")?,
            description: r.get("description")?,
            app_type: r.get("app_type")?,
            is_first_party: r.get("is_first_party")?,
            grant_types: r.json("grant_types")?,
            callbacks: r.json("callbacks")?,
            allowed_logout_urls: r.json("allowed_logout_urls")?,
            web_origins: r.json("web_origins")?,
            allowed_origins: r.json("allowed_origins")?,
            token_endpoint_auth_method: r.get("token_endpoint_auth_method")?,
            client_secret_hash: r.get("client_secret_hash")?,
            client_metadata: r.json("client_metadata")?,
            oidc_logout: r.json_opt("oidc_logout")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
        })
    }
}

impl FromRow for ClientGrant {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(ClientGrant {
            id: r.get("id")?,
            client_id: r.get("client_id")?,
            audience: r.get("audience")?,
            scope: r.json("scope")?,
        })
    }
}

impl FromRow for gatehouse_core::job::Job {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        use gatehouse_core::job::{JobKind, JobStatus};
        let kind: String = r.get("kind")?;
        let status: String = r.get("status")?;
        Ok(gatehouse_core::job::Job {
            id: r.get("id")?,
            kind: JobKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("job kind {kind:?}")))?,
            status: JobStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("job status {status:?}")))?,
            connection_id: r.get("connection_id")?,
            params: r.json("params")?,
            summary: r.json_opt("summary")?,
            resume_at: r.get("resume_at")?,
            percentage_done: r.get("percentage_done")?,
            time_left_seconds: r.get("time_left_seconds")?,
            status_details: r.get("status_details")?,
            file: r.get("file")?,
            claimed_by: r.get("claimed_by")?,
            heartbeat_at: r.get("heartbeat_at")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
        })
    }
}

impl FromRow for crate::store::SigningKey {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(crate::store::SigningKey {
            kid: r.get("kid")?,
            alg: r.get("alg")?,
            private_pem: r.get("private_pem")?,
            public_jwk: r.json("public_jwk")?,
            current: r.get("current")?,
            created_at: r.get("created_at")?,
            retired_at: r.get("retired_at")?,
        })
    }
}

impl FromRow for crate::login::LoginSession {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(crate::login::LoginSession {
            id_hash: r.get("id_hash")?,
            sid: r.get("sid")?,
            user_id: r.get("user_id")?,
            auth_time: r.get("auth_time")?,
            created_at: r.get("created_at")?,
            expires_at: r.get("expires_at")?,
            method: r.get("method")?,
            initial: crate::login::Device { ip: r.get("initial_ip")?, user_agent: r.get("initial_user_agent")? },
            last: crate::login::Device { ip: r.get("last_ip")?, user_agent: r.get("last_user_agent")? },
            last_interacted_at: r.get("last_interacted_at")?,
        })
    }
}

impl FromRow for crate::login::RefreshGrant {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        let created_at: i64 = r.get("created_at")?;
        Ok(crate::login::RefreshGrant {
            family_id: r.get("family_id")?,
            client_id: r.get("client_id")?,
            user_id: r.get("user_id")?,
            scope: r.get("scope")?,
            audience: r.get("audience")?,
            sid: r.get("sid")?,
            created_at: r.get("family_created_at")?,
            last_exchanged_at: r.get::<bool>("exchanged")?.then_some(created_at),
            idle_expires_at: r.get("expires_at")?,
            expires_at: r.get("family_expires_at")?,
        })
    }
}

impl FromRow for crate::login::LoginTransaction {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(crate::login::LoginTransaction {
            id_hash: r.get("id_hash")?,
            browser_hash: r.get("browser_hash")?,
            params: r.get("params")?,
            created_at: r.get("created_at")?,
            expires_at: r.get("expires_at")?,
        })
    }
}

impl FromRow for gatehouse_core::identity::Identity {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(gatehouse_core::identity::Identity {
            provider: r.get("provider")?,
            user_id: r.get("identity_user_id")?,
            connection_id: r.get("connection_id")?,
            connection: r.get("connection")?,
            is_social: r.get("is_social")?,
            profile_data: r.json("profile_data")?,
            created_at: r.get("created_at")?,
        })
    }
}

impl FromRow for crate::identities::UpstreamTransaction {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(crate::identities::UpstreamTransaction {
            id_hash: r.get("id_hash")?,
            browser_hash: r.get("browser_hash")?,
            connection_id: r.get("connection_id")?,
            params: r.get("params")?,
            profile: r.get("profile")?,
            link_user_id: r.get("link_user_id")?,
            created_at: r.get("created_at")?,
            expires_at: r.get("expires_at")?,
        })
    }
}

impl FromRow for crate::login::AuthCode {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(crate::login::AuthCode {
            code_hash: r.get("code_hash")?,
            family_id: r.get("family_id")?,
            client_id: r.get("client_id")?,
            redirect_uri: r.get("redirect_uri")?,
            code_challenge: r.get("code_challenge")?,
            code_challenge_method: r.get("code_challenge_method")?,
            nonce: r.get("nonce")?,
            scope: r.get("scope")?,
            audience: r.get("audience")?,
            user_id: r.get("user_id")?,
            auth_time: r.get("auth_time")?,
            sid: r.get("sid")?,
            created_at: r.get("created_at")?,
            expires_at: r.get("expires_at")?,
            used_at: r.get("used_at")?,
        })
    }
}

impl FromRow for crate::login::RefreshToken {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(crate::login::RefreshToken {
            token_hash: r.get("token_hash")?,
            family_id: r.get("family_id")?,
            client_id: r.get("client_id")?,
            user_id: r.get("user_id")?,
            scope: r.get("scope")?,
            audience: r.get("audience")?,
            sid: r.get("sid")?,
            auth_time: r.get("auth_time")?,
            created_at: r.get("created_at")?,
            expires_at: r.get("expires_at")?,
            rotated_at: r.get("rotated_at")?,
            revoked_at: r.get("revoked_at")?,
        })
    }
}

impl FromRow for crate::signup::Ticket {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        use crate::signup::TicketKind;
        let kind: String = r.get("kind")?;
        Ok(crate::signup::Ticket {
            ticket_hash: r.get("ticket_hash")?,
            kind: TicketKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("ticket kind {kind:?}")))?,
            user_id: r.get("user_id")?,
            client_id: r.get("client_id")?,
            result_url: r.get("result_url")?,
            params: r.json("params")?,
            created_at: r.get("created_at")?,
            expires_at: r.get("expires_at")?,
            used_at: r.get("used_at")?,
        })
    }
}

/// A one-column row: a count, a name, a document.
pub(crate) fn first_i64(r: &Row<'_>) -> Result<i64, StoreError> {
    r.get_at(0)
}

pub(crate) fn first_string(r: &Row<'_>) -> Result<String, StoreError> {
    r.get_at(0)
}

pub(crate) fn first_json(r: &Row<'_>) -> Result<serde_json::Value, StoreError> {
    Ok(r.get_at::<crate::db::Json<serde_json::Value>>(0)?.0)
}

/// A count, as the unsigned number it is.
pub(crate) fn count(r: &Row<'_>) -> Result<u64, StoreError> {
    Ok(u64::try_from(first_i64(r)?).unwrap_or(0))
}
