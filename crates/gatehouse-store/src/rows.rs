//! The row codecs: each stored type decoded once, from the backend-neutral [`Row`], and
//! the user (the one row written from several places) encoded once.

use crate::console::ConsoleSession;
use crate::db::Row;
use crate::error::StoreError;
use crate::identities::UpstreamTransaction;
use crate::login::{AuthCode, LoginTransaction, RefreshToken};
use crate::mfa::MfaPending;
use crate::passwordless::PasswordlessCode;
use crate::sql::SqlValue;
use crate::store::SigningKey;
use gatehouse_core::client::{Client, ClientGrant};
use gatehouse_core::connection::Connection;
use gatehouse_core::user::User;
use std::sync::LazyLock;

/// Builds a domain value from a row.
pub(crate) trait FromRow: Sized {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError>;
}

/// Implements [`FromRow`] for struct `$ty` whose fields are named like their columns:
/// each read as it is, or `as json` (a JSON document), or `as json_opt` (one or NULL).
macro_rules! from_row {
    ($ty:ident { $($field:ident $(as $kind:ident)?),* $(,)? }) => {
        impl FromRow for $ty {
            fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
                Ok($ty { $($field: read_column!(r, $field $(, $kind)?),)* })
            }
        }
    };
}

macro_rules! read_column {
    ($r:ident, $field:ident) => {
        $r.get(stringify!($field))?
    };
    ($r:ident, $field:ident, json) => {
        $r.json(stringify!($field))?
    };
    ($r:ident, $field:ident, json_opt) => {
        $r.json_opt(stringify!($field))?
    };
}

macro_rules! write_column {
    ($u:ident, $field:ident) => {
        SqlValue::from(&$u.$field)
    };
    ($u:ident, $field:ident, json) => {
        SqlValue::json(&$u.$field)
    };
}

/// The user's row codec, from one list of its columns (named like the fields): the
/// column list [`USER_COLUMNS`], the encoder [`user_values`] and the decoder. A new user
/// column is a line here (and one in each migration folder).
macro_rules! user_codec {
    ($($field:ident $(as $kind:ident)?),* $(,)?) => {
        /// The columns of `users`, in the order [`user_values`] gives their values.
        pub(crate) const USER_COLUMNS: &[&str] = &[$(stringify!($field)),*];

        /// A user's values, in the order of [`USER_COLUMNS`].
        pub(crate) fn user_values(u: &User) -> Vec<SqlValue> {
            vec![$(write_column!(u, $field $(, $kind)?)),*]
        }

        from_row!(User { $($field $(as $kind)?),* });
    };
}

user_codec!(
    user_id,
    connection_id,
    connection,
    provider,
    email,
    email_verified,
    username,
    phone_number,
    phone_verified,
    name,
    nickname,
    given_name,
    family_name,
    picture,
    password_hash,
    user_metadata as json,
    app_metadata as json,
    blocked,
    logins_count,
    last_login,
    last_ip,
    last_password_reset,
    created_at,
    updated_at,
);

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

from_row!(Connection {
    id,
    name,
    display_name,
    strategy,
    options as json,
    enabled_clients as json,
    realms as json,
    is_domain_connection,
    metadata as json,
    created_at,
    updated_at,
});

from_row!(Client {
    client_id,
    name,
    description,
    app_type,
    is_first_party,
    grant_types as json,
    callbacks as json,
    allowed_logout_urls as json,
    web_origins as json,
    allowed_origins as json,
    token_endpoint_auth_method,
    client_secret_hash,
    client_metadata as json,
    oidc_logout as json_opt,
    cross_origin_authentication,
    cross_origin_loc,
    created_at,
    updated_at,
});

from_row!(PasswordlessCode {
    id,
    connection_id,
    identifier,
    client_id,
    code_hash,
    send,
    auth_params as json,
    attempts,
    created_at,
    expires_at,
});

from_row!(ClientGrant { id, client_id, audience, scope as json });

from_row!(SigningKey { kid, alg, private_pem, public_jwk as json, current, created_at, retired_at });

from_row!(LoginTransaction { id_hash, browser_hash, params, created_at, expires_at });

from_row!(ConsoleSession { id_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent });

from_row!(UpstreamTransaction {
    id_hash,
    browser_hash,
    connection_id,
    params,
    profile,
    link_user_id,
    created_at,
    expires_at,
});

from_row!(MfaPending {
    id_hash,
    user_id,
    client_id,
    browser_hash,
    context,
    created_at,
    expires_at,
    passed_at,
    email_code_hash,
    email_sent_at,
    oob_code_hash,
});

from_row!(AuthCode {
    code_hash,
    family_id,
    client_id,
    redirect_uri,
    code_challenge,
    code_challenge_method,
    nonce,
    scope,
    audience,
    user_id,
    auth_time,
    sid,
    created_at,
    expires_at,
    used_at,
    amr,
    action_claims as json_opt,
});

from_row!(RefreshToken {
    token_hash,
    family_id,
    client_id,
    user_id,
    scope,
    audience,
    sid,
    auth_time,
    created_at,
    expires_at,
    rotated_at,
    revoked_at,
});

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

impl FromRow for gatehouse_core::authorization::ResourceServer {
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        let dialect: String = r.get("token_dialect")?;
        Ok(gatehouse_core::authorization::ResourceServer {
            id: r.get("id")?,
            name: r.get("name")?,
            identifier: r.get("identifier")?,
            is_system: r.get("is_system")?,
            scopes: r.json("scopes")?,
            signing_alg: r.get("signing_alg")?,
            token_lifetime: r.get("token_lifetime")?,
            token_lifetime_for_web: r.get("token_lifetime_for_web")?,
            allow_offline_access: r.get("allow_offline_access")?,
            skip_consent_for_verifiable_first_party_clients: r
                .get("skip_consent_for_verifiable_first_party_clients")?,
            enforce_policies: r.get("enforce_policies")?,
            token_dialect: gatehouse_core::authorization::TokenDialect::parse(&dialect)
                .ok_or_else(|| StoreError::Corrupt(format!("token dialect {dialect:?}")))?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
        })
    }
}

use crate::authorization::RoleMember;
use gatehouse_core::authorization::Role;
from_row!(Role { id, name, description, created_at, updated_at });
from_row!(RoleMember { user_id, email, name, picture });
