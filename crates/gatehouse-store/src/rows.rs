//! Decoding rows into domain types, once for both backends.

use crate::error::StoreError;
use gatehouse_core::client::{Client, ClientGrant};
use gatehouse_core::connection::Connection;
use gatehouse_core::user::User;
use serde_json::{Map, Value};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, Row, Type};

fn get<'r, R, T>(row: &'r R, col: &str) -> Result<T, StoreError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get::<T, _>(col).map_err(StoreError::from)
}

/// A refresh token from row `$r`, its columns named by `$n` (one of `REFRESH_TOKEN_NAMES`).
macro_rules! refresh_token_named {
    ($r:expr, $n:expr) => {{
        let (r, n): (_, &[&str; 12]) = ($r, $n);
        Ok(crate::login::RefreshToken {
            token_hash: get(r, n[0])?,
            family_id: get(r, n[1])?,
            client_id: get(r, n[2])?,
            user_id: get(r, n[3])?,
            scope: get(r, n[4])?,
            audience: get(r, n[5])?,
            sid: get(r, n[6])?,
            auth_time: get(r, n[7])?,
            created_at: get(r, n[8])?,
            expires_at: get(r, n[9])?,
            rotated_at: get(r, n[10])?,
            revoked_at: get(r, n[11])?,
        })
    }};
}

macro_rules! decoders {
    ($($db:ty => $row:ty),*) => {$(
        impl FromRow<$row> for User {
            fn from_row(r: &$row) -> Result<Self, StoreError> {
                Ok(User {
                    user_id: get(r, "user_id")?,
                    connection_id: get(r, "connection_id")?,
                    connection: get(r, "connection")?,
                    provider: get(r, "provider")?,
                    email: get(r, "email")?,
                    email_verified: get(r, "email_verified")?,
                    username: get(r, "username")?,
                    phone_number: get(r, "phone_number")?,
                    phone_verified: get(r, "phone_verified")?,
                    name: get(r, "name")?,
                    nickname: get(r, "nickname")?,
                    given_name: get(r, "given_name")?,
                    family_name: get(r, "family_name")?,
                    picture: get(r, "picture")?,
                    password_hash: get(r, "password_hash")?,
                    user_metadata: get::<_, Json<Map<String, Value>>>(r, "user_metadata")?.0,
                    app_metadata: get::<_, Json<Map<String, Value>>>(r, "app_metadata")?.0,
                    blocked: get(r, "blocked")?,
                    logins_count: get(r, "logins_count")?,
                    last_login: get(r, "last_login")?,
                    last_ip: get(r, "last_ip")?,
                    last_password_reset: get(r, "last_password_reset")?,
                    created_at: get(r, "created_at")?,
                    updated_at: get(r, "updated_at")?,
                })
            }
        }

        impl FromRow<$row> for Connection {
            fn from_row(r: &$row) -> Result<Self, StoreError> {
                Ok(Connection {
                    id: get(r, "id")?,
                    name: get(r, "name")?,
                    display_name: get(r, "display_name")?,
                    strategy: get(r, "strategy")?,
                    options: get::<_, Json<Map<String, Value>>>(r, "options")?.0,
                    enabled_clients: get::<_, Json<Vec<String>>>(r, "enabled_clients")?.0,
                    realms: get::<_, Json<Vec<String>>>(r, "realms")?.0,
                    is_domain_connection: get(r, "is_domain_connection")?,
                    metadata: get::<_, Json<Map<String, Value>>>(r, "metadata")?.0,
                    created_at: get(r, "created_at")?,
                    updated_at: get(r, "updated_at")?,
                })
            }
        }

        impl FromRow<$row> for Client {
            fn from_row(r: &$row) -> Result<Self, StoreError> {
                Ok(Client {
                    client_id: get(r, "client_id")?,
                    name: get(r, "name")?,
                    description: get(r, "description")?,
                    app_type: get(r, "app_type")?,
                    is_first_party: get(r, "is_first_party")?,
                    grant_types: get::<_, Json<Vec<String>>>(r, "grant_types")?.0,
                    callbacks: get::<_, Json<Vec<String>>>(r, "callbacks")?.0,
                    allowed_logout_urls: get::<_, Json<Vec<String>>>(r, "allowed_logout_urls")?.0,
                    web_origins: get::<_, Json<Vec<String>>>(r, "web_origins")?.0,
                    allowed_origins: get::<_, Json<Vec<String>>>(r, "allowed_origins")?.0,
                    token_endpoint_auth_method: get(r, "token_endpoint_auth_method")?,
                    client_secret_hash: get(r, "client_secret_hash")?,
                    client_metadata: get::<_, Json<Map<String, Value>>>(r, "client_metadata")?.0,
                    oidc_logout: get::<_, Option<Json<gatehouse_core::client::OidcLogout>>>(r, "oidc_logout")?
                        .map(|j| j.0),
                    created_at: get(r, "created_at")?,
                    updated_at: get(r, "updated_at")?,
                })
            }
        }

        impl FromRow<$row> for ClientGrant {
            fn from_row(r: &$row) -> Result<Self, StoreError> {
                Ok(ClientGrant {
                    id: get(r, "id")?,
                    client_id: get(r, "client_id")?,
                    audience: get(r, "audience")?,
                    scope: get::<_, Json<Vec<String>>>(r, "scope")?.0,
                })
            }
        }

        impl FromRow<$row> for gatehouse_core::job::Job {
            fn from_row(r: &$row) -> Result<Self, StoreError> {
                use gatehouse_core::job::{JobKind, JobStatus};
                let kind: String = get(r, "kind")?;
                let status: String = get(r, "status")?;
                Ok(gatehouse_core::job::Job {
                    id: get(r, "id")?,
                    kind: JobKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("job kind {kind:?}")))?,
                    status: JobStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("job status {status:?}")))?,
                    connection_id: get(r, "connection_id")?,
                    params: get::<_, Json<Map<String, Value>>>(r, "params")?.0,
                    summary: get::<_, Option<Json<Value>>>(r, "summary")?.map(|j| j.0),
                    resume_at: get(r, "resume_at")?,
                    percentage_done: get(r, "percentage_done")?,
                    time_left_seconds: get(r, "time_left_seconds")?,
                    status_details: get(r, "status_details")?,
                    file: get(r, "file")?,
                    claimed_by: get(r, "claimed_by")?,
                    heartbeat_at: get(r, "heartbeat_at")?,
                    created_at: get(r, "created_at")?,
                    updated_at: get(r, "updated_at")?,
                })
            }
        }

        impl FromRow<$row> for crate::store::SigningKey {
            fn from_row(r: &$row) -> Result<Self, StoreError> {
                Ok(crate::store::SigningKey {
                    kid: get(r, "kid")?,
                    alg: get(r, "alg")?,
                    private_pem: get(r, "private_pem")?,
                    public_jwk: get::<_, Json<Value>>(r, "public_jwk")?.0,
                    current: get(r, "current")?,
                    created_at: get(r, "created_at")?,
                    retired_at: get(r, "retired_at")?,
                })
            }
        }
        impl FromRow<$row> for crate::login::LoginSession {
            fn from_row(r: &$row) -> Result<Self, StoreError> {
                Ok(crate::login::LoginSession {
                    id_hash: get(r, "id_hash")?,
                    sid: get(r, "sid")?,
                    user_id: get(r, "user_id")?,
                    auth_time: get(r, "auth_time")?,
                    created_at: get(r, "created_at")?,
                    expires_at: get(r, "expires_at")?,
                    method: get(r, "method")?,
                    initial: crate::login::Device {
                        ip: get(r, "initial_ip")?,
                        user_agent: get(r, "initial_user_agent")?,
                    },
                    last: crate::login::Device { ip: get(r, "last_ip")?, user_agent: get(r, "last_user_agent")? },
                    last_interacted_at: get(r, "last_interacted_at")?,
                })
            }
        }

        impl FromRow<$row> for crate::login::RefreshGrant {
            fn from_row(r: &$row) -> Result<Self, StoreError> {
                let created_at: i64 = get(r, "created_at")?;
                let family_created_at: i64 = get(r, "family_created_at")?;
                Ok(crate::login::RefreshGrant {
                    family_id: get(r, "family_id")?,
                    client_id: get(r, "client_id")?,
                    user_id: get(r, "user_id")?,
                    scope: get(r, "scope")?,
                    audience: get(r, "audience")?,
                    sid: get(r, "sid")?,
                    created_at: family_created_at,
                    last_exchanged_at: get::<_, bool>(r, "exchanged")?.then_some(created_at),
                    idle_expires_at: get(r, "expires_at")?,
                    expires_at: get(r, "family_expires_at")?,
                })
            }
        }

        impl FromRow<$row> for crate::login::LoginTransaction {
            fn from_row(r: &$row) -> Result<Self, StoreError> {
                Ok(crate::login::LoginTransaction {
                    id_hash: get(r, "id_hash")?,
                    browser_hash: get(r, "browser_hash")?,
                    params: get(r, "params")?,
                    created_at: get(r, "created_at")?,
                    expires_at: get(r, "expires_at")?,
                })
            }
        }

        impl FromRow<$row> for gatehouse_core::identity::Identity {
            fn from_row(r: &$row) -> Result<Self, StoreError> {
                Ok(gatehouse_core::identity::Identity {
                    provider: get(r, "provider")?,
                    user_id: get(r, "identity_user_id")?,
                    connection_id: get(r, "connection_id")?,
                    connection: get(r, "connection")?,
                    is_social: get(r, "is_social")?,
                    profile_data: get::<_, Json<Map<String, Value>>>(r, "profile_data")?.0,
                    created_at: get(r, "created_at")?,
                })
            }
        }

        impl FromRow<$row> for crate::identities::UpstreamTransaction {
            fn from_row(r: &$row) -> Result<Self, StoreError> {
                Ok(crate::identities::UpstreamTransaction {
                    id_hash: get(r, "id_hash")?,
                    browser_hash: get(r, "browser_hash")?,
                    connection_id: get(r, "connection_id")?,
                    params: get(r, "params")?,
                    profile: get(r, "profile")?,
                    link_user_id: get(r, "link_user_id")?,
                    created_at: get(r, "created_at")?,
                    expires_at: get(r, "expires_at")?,
                })
            }
        }

        impl FromRow<$row> for crate::login::AuthCode {
            fn from_row(r: &$row) -> Result<Self, StoreError> {
                Ok(crate::login::AuthCode {
                    code_hash: get(r, "code_hash")?,
                    family_id: get(r, "family_id")?,
                    client_id: get(r, "client_id")?,
                    redirect_uri: get(r, "redirect_uri")?,
                    code_challenge: get(r, "code_challenge")?,
                    code_challenge_method: get(r, "code_challenge_method")?,
                    nonce: get(r, "nonce")?,
                    scope: get(r, "scope")?,
                    audience: get(r, "audience")?,
                    user_id: get(r, "user_id")?,
                    auth_time: get(r, "auth_time")?,
                    sid: get(r, "sid")?,
                    created_at: get(r, "created_at")?,
                    expires_at: get(r, "expires_at")?,
                    used_at: get(r, "used_at")?,
                })
            }
        }

        impl FromRow<$row> for crate::login::RefreshToken {
            fn from_row(r: &$row) -> Result<Self, StoreError> {
                refresh_token_named!(r, &REFRESH_TOKEN_NAMES[0])
            }
        }

        impl FromJoinedRow<$row> for crate::login::RefreshToken {
            fn from_joined_row(r: &$row) -> Result<Self, StoreError> {
                refresh_token_named!(r, &REFRESH_TOKEN_NAMES[1])
            }
        }

    )*};
}

/// Builds a domain value from a row of backend `R`.
pub(crate) trait FromRow<R>: Sized {
    fn from_row(r: &R) -> Result<Self, StoreError>;
}

/// Like [`FromRow`], from a join that names this table's columns `rt_…` because the other
/// table shares names with it (`created_at`).
pub(crate) trait FromJoinedRow<R>: Sized {
    fn from_joined_row(r: &R) -> Result<Self, StoreError>;
}

/// `refresh_tokens`' columns by name: as the table names them, and as a join with a user
/// names them (`crate::login`'s token-and-user reads).
pub(crate) const REFRESH_TOKEN_NAMES: [[&str; 12]; 2] = [
    [
        "token_hash",
        "family_id",
        "client_id",
        "user_id",
        "scope",
        "audience",
        "sid",
        "auth_time",
        "created_at",
        "expires_at",
        "rotated_at",
        "revoked_at",
    ],
    [
        "rt_token_hash",
        "rt_family_id",
        "rt_client_id",
        "rt_user_id",
        "rt_scope",
        "rt_audience",
        "rt_sid",
        "rt_auth_time",
        "rt_created_at",
        "rt_expires_at",
        "rt_rotated_at",
        "rt_revoked_at",
    ],
];

decoders!(sqlx::Sqlite => sqlx::sqlite::SqliteRow, sqlx::Postgres => sqlx::postgres::PgRow);

/// A user from a row of `SELECT {USER_COLUMNS}` (in that order) on a synchronous SQLite
/// connection: the bulk export's and the login hot path's (`crate::held`).
pub(crate) fn user_from_sqlite_row(r: &rusqlite::Row<'_>) -> Result<User, StoreError> {
    user_from_sqlite_columns(r, 0)
}

/// A user from the columns of `r` from `first` on, `USER_COLUMNS` in that order (a join
/// puts other columns before them).
pub(crate) fn user_from_sqlite_columns(r: &rusqlite::Row<'_>, first: usize) -> Result<User, StoreError> {
    let json = |i: usize| -> Result<Map<String, Value>, StoreError> {
        let text: String = r.get(i)?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("stored metadata: {e}")))
    };
    Ok(User {
        user_id: r.get(first)?,
        connection_id: r.get(first + 1)?,
        connection: r.get(first + 2)?,
        provider: r.get(first + 3)?,
        email: r.get(first + 4)?,
        email_verified: r.get(first + 5)?,
        username: r.get(first + 6)?,
        phone_number: r.get(first + 7)?,
        phone_verified: r.get(first + 8)?,
        name: r.get(first + 9)?,
        nickname: r.get(first + 10)?,
        given_name: r.get(first + 11)?,
        family_name: r.get(first + 12)?,
        picture: r.get(first + 13)?,
        password_hash: r.get(first + 14)?,
        user_metadata: json(first + 15)?,
        app_metadata: json(first + 16)?,
        blocked: r.get(first + 17)?,
        logins_count: r.get(first + 18)?,
        last_login: r.get(first + 19)?,
        last_ip: r.get(first + 20)?,
        last_password_reset: r.get(first + 21)?,
        created_at: r.get(first + 22)?,
        updated_at: r.get(first + 23)?,
    })
}

/// A refresh token from the columns of `r` from `first` on, `refresh_columns!()` in that
/// order, on a synchronous SQLite connection.
pub(crate) fn refresh_token_from_sqlite_columns(
    r: &rusqlite::Row<'_>,
    first: usize,
) -> Result<crate::login::RefreshToken, StoreError> {
    Ok(crate::login::RefreshToken {
        token_hash: r.get(first)?,
        family_id: r.get(first + 1)?,
        client_id: r.get(first + 2)?,
        user_id: r.get(first + 3)?,
        scope: r.get(first + 4)?,
        audience: r.get(first + 5)?,
        sid: r.get(first + 6)?,
        auth_time: r.get(first + 7)?,
        created_at: r.get(first + 8)?,
        expires_at: r.get(first + 9)?,
        rotated_at: r.get(first + 10)?,
        revoked_at: r.get(first + 11)?,
    })
}
