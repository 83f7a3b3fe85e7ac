//! `POST /dbconnections/signup` and `POST /dbconnections/change_password`, in Auth0's
//! request and response shapes. The rules are `gatehouse_services::signup`'s.

use crate::auth::ClientIp;
use crate::error::{ApiError, DbConnectionsError};
use crate::extract::read_body;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_core::connection::Connection;
use gatehouse_core::validate::Email;
use gatehouse_services::login::{connection_for, ConnectionError};
use gatehouse_services::ratelimit::Quota;
use gatehouse_services::signup::{request_password_reset, sign_up, signup_response, CHANGE_PASSWORD_MESSAGE};
use gatehouse_services::Services;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

const MAX_BODY: usize = 64 * 1024;

/// Reset requests per IP and email (Auth0: a burst of 10).
const CHANGE_PASSWORD_QUOTA: Quota = Quota { limit: 10, window_secs: 3600 };

/// The body as a JSON object, from JSON or a form.
async fn body_object(headers: &HeaderMap, body: Body) -> Result<Value, DbConnectionsError> {
    let bytes = read_body(body, MAX_BODY)
        .await
        .map_err(|_| DbConnectionsError::bad("invalid_body", format!("The body is larger than {MAX_BODY} bytes.")))?;
    let mime = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match mime.as_str() {
        "application/json" => {
            let v: Value = serde_json::from_slice(&bytes)
                .map_err(|e| DbConnectionsError::bad("invalid_body", format!("The body is not valid JSON: {e}")))?;
            if !v.is_object() {
                return Err(DbConnectionsError::bad("invalid_body", "The body must be a JSON object."));
            }
            Ok(v)
        }
        "application/x-www-form-urlencoded" => {
            let mut m = Map::new();
            for (k, v) in url::form_urlencoded::parse(&bytes) {
                if m.insert(k.to_string(), Value::String(v.to_string())).is_some() {
                    return Err(DbConnectionsError::bad(
                        "invalid_body",
                        format!("Parameter {k} was given more than once."),
                    ));
                }
            }
            Ok(Value::Object(m))
        }
        _ => Err(DbConnectionsError::bad(
            "invalid_body",
            "Content-Type must be application/json or application/x-www-form-urlencoded.",
        )),
    }
}

fn required<'a>(body: &'a Value, key: &str) -> Result<&'a str, DbConnectionsError> {
    match body.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        None | Some(Value::Null) => {
            Err(DbConnectionsError::bad("invalid_body", format!("Missing required parameter: {key}")))
        }
        Some(_) => Err(DbConnectionsError::bad("invalid_body", format!("Parameter {key} must be a non-empty string"))),
    }
}

fn optional<'a>(body: &'a Value, key: &str) -> Result<Option<&'a str>, DbConnectionsError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => required(body, key).map(Some),
    }
}

fn connection_error(e: ConnectionError) -> DbConnectionsError {
    match e {
        ConnectionError::Store(e) => DbConnectionsError::internal(e),
        ConnectionError::Unknown(_) => DbConnectionsError::bad("bad.connection", "Connection does not exist"),
        ConnectionError::NotEnabled | ConnectionError::NoneEnabled => {
            DbConnectionsError::bad("bad.connection", "The connection is not enabled for this client")
        }
    }
}

/// The database connection named in the body, checked against the client when one is
/// given (without a client, any database connection).
async fn connection(state: &Services, body: &Value) -> Result<(Connection, Option<String>), DbConnectionsError> {
    let name = required(body, "connection")?;
    match optional(body, "client_id")? {
        Some(id) => {
            let client = state
                .store
                .client(id)
                .await?
                .ok_or_else(|| DbConnectionsError::bad("invalid_client", "Unknown client"))?;
            let c = connection_for(state, &client, Some(name)).await.map_err(connection_error)?;
            Ok((c, Some(client.client_id)))
        }
        None => {
            let c = state
                .store
                .connection_by_name(name)
                .await?
                .filter(|c| c.strategy == "auth0")
                .ok_or_else(|| connection_error(ConnectionError::Unknown(name.into())))?;
            Ok((c, None))
        }
    }
}

/// Lets the page that sent the request read the answer when the client the body names
/// allows its origin (Lock and auth0.js call these endpoints from the application's pages).
async fn with_cors(state: &Services, headers: &HeaderMap, body: &Value, mut response: Response) -> Response {
    let Some(origin) = crate::cors::origin(headers) else { return response };
    let Some(id) = body.get("client_id").and_then(Value::as_str) else { return response };
    if let Ok(Some(client)) = state.store.client(id).await {
        if crate::cors::client_allows(&client, origin) {
            crate::cors::allow(&mut response, origin);
        }
    }
    response
}

/// `POST /dbconnections/signup`.
pub async fn signup(State(state): State<Services>, ip: ClientIp, headers: HeaderMap, body: Body) -> Response {
    let body = match body_object(&headers, body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let response = match signup_inner(&state, ip, &body).await {
        Ok(v) => v.into_response(),
        Err(e) => e.into_response(),
    };
    with_cors(&state, &headers, &body, response).await
}

async fn signup_inner(state: &Services, ip: ClientIp, body: &Value) -> Result<Json<Value>, DbConnectionsError> {
    required(body, "client_id")?;
    let (connection, client_id) = connection(state, body).await?;
    let user = sign_up(state, &connection, body, client_id.as_deref(), ip.0.as_deref()).await?;
    Ok(Json(signup_response(&user)))
}

/// `POST /dbconnections/change_password`: the same 200 text whether or not the user
/// exists; the email goes out from a task of its own.
pub async fn change_password(State(state): State<Services>, ip: ClientIp, headers: HeaderMap, body: Body) -> Response {
    let body = match body_object(&headers, body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let response = match change_password_inner(&state, ip, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    with_cors(&state, &headers, &body, response).await
}

async fn change_password_inner(state: &Services, ip: ClientIp, body: &Value) -> Result<Response, DbConnectionsError> {
    let raw_email = required(body, "email")?;
    let email = Email::parse(raw_email)
        .map_err(|r| DbConnectionsError::bad("invalid_body", format!("Invalid email: {r}")))?
        .into_string();
    let (connection, client_id) = connection(state, body).await?;
    let key = hex::encode(&Sha256::digest(format!("{}|{email}", ip.0.as_deref().unwrap_or("unknown")))[..16]);
    let now = state.clock.now().unix_timestamp();
    match state.rate_limiter.hit("cpw", &key, CHANGE_PASSWORD_QUOTA, now).await {
        Ok(d) if d.allowed => {}
        Ok(_) => return Ok(ApiError::TooManyRequests.into_response()),
        Err(unavailable) => return Ok(ApiError::from(unavailable).into_response()),
    }
    request_password_reset(state, connection, email, client_id, ip.0);
    Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], CHANGE_PASSWORD_MESSAGE).into_response())
}
