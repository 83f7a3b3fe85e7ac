//! `POST /oauth/token`: every grant, the MFA grants that finish a password login included.

use crate::auth::ClientIp;
use crate::error::OAuthError;
use crate::extract::read_body;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gatehouse_core::client::Client;
use gatehouse_core::log_event::codes;
use gatehouse_services::grants::{
    self, ClientCredentials, CodeExchange, MfaExchange, PasswordExchange, PasswordlessExchange, RefreshExchange,
};
use gatehouse_services::hashing::verify_client_secret;
use gatehouse_services::Services;
use serde_json::{json, Value};
use std::collections::HashMap;

const MAX_TOKEN_BODY: usize = 64 * 1024;

/// The request's parameters, from a form or a JSON body.
pub(crate) async fn params(headers: &HeaderMap, body: Body) -> Result<HashMap<String, String>, OAuthError> {
    read_params(headers, body, false).await
}

/// [`params`], where a JSON array of strings (the MFA API's `authenticator_types`) is
/// taken as its items joined by spaces.
pub(crate) async fn params_with_lists(headers: &HeaderMap, body: Body) -> Result<HashMap<String, String>, OAuthError> {
    read_params(headers, body, true).await
}

async fn read_params(headers: &HeaderMap, body: Body, lists: bool) -> Result<HashMap<String, String>, OAuthError> {
    let bytes =
        read_body(body, MAX_TOKEN_BODY).await.map_err(|_| OAuthError::invalid_request("request body too large"))?;
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let mut map = HashMap::new();
    match mime.as_str() {
        "application/x-www-form-urlencoded" => {
            for (k, v) in url::form_urlencoded::parse(&bytes) {
                if map.insert(k.to_string(), v.to_string()).is_some() {
                    return Err(OAuthError::invalid_request(format!("parameter {k} given more than once")));
                }
            }
        }
        "application/json" => {
            let value: Value = serde_json::from_slice(&bytes)
                .map_err(|_| OAuthError::invalid_request("the body is not valid JSON"))?;
            let Value::Object(obj) = value else {
                return Err(OAuthError::invalid_request("the body must be a JSON object"));
            };
            for (k, v) in obj {
                let s = match v {
                    Value::String(s) => s,
                    Value::Null => continue,
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    Value::Array(items) if lists && items.iter().all(Value::is_string) => {
                        items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" ")
                    }
                    _ => return Err(OAuthError::invalid_request(format!("parameter {k} must be a string"))),
                };
                map.insert(k, s);
            }
        }
        _ => {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/x-www-form-urlencoded or application/json",
            ))
        }
    }
    Ok(map)
}

/// Client credentials from `client_secret_basic` or `client_secret_post`, never both.
fn credentials(
    headers: &HeaderMap,
    p: &HashMap<String, String>,
) -> Result<(String, Option<String>, &'static str), OAuthError> {
    let basic = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|h| {
        let (scheme, rest) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then(|| rest.trim().to_string())
    });
    if let Some(encoded) = basic {
        if p.contains_key("client_secret") {
            return Err(OAuthError::invalid_request("use one client authentication method, not two"));
        }
        let decoded = STANDARD.decode(encoded).ok().and_then(|b| String::from_utf8(b).ok());
        let (id, secret) = decoded.as_deref().and_then(|d| d.split_once(':')).ok_or_else(OAuthError::invalid_client)?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
        let unescape =
            |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.to_string());
        let (id, secret) = (unescape(id).unwrap_or_default(), unescape(secret).unwrap_or_default());
        if p.get("client_id").is_some_and(|body_id| body_id != &id) {
            return Err(OAuthError::invalid_request("client_id in the body and the Authorization header differ"));
        }
        return Ok((id, Some(secret), "client_secret_basic"));
    }
    let id = p
        .get("client_id")
        .cloned()
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: client_id"))?;
    Ok((id, p.get("client_secret").cloned(), "client_secret_post"))
}

/// Authenticates the client. Unknown clients and wrong secrets get the same answer.
pub(crate) async fn authenticate(
    state: &Services,
    headers: &HeaderMap,
    p: &HashMap<String, String>,
) -> Result<Client, OAuthError> {
    let (client_id, secret, method) = credentials(headers, p)?;
    let client = state.store.client(&client_id).await?;
    let Some(client) = client else {
        verify_client_secret("sha256$", secret.as_deref().unwrap_or(""));
        return Err(OAuthError::invalid_client());
    };
    match (&client.client_secret_hash, secret) {
        (Some(stored), Some(presented)) if verify_client_secret(stored, &presented) => {
            let declared = client.token_endpoint_auth_method.as_str();
            // Auth0 lets a confidential client use either secret method.
            let method_ok = declared == method || (declared != "none");
            if method_ok {
                Ok(client)
            } else {
                Err(OAuthError::invalid_client())
            }
        }
        (None, None) if !client.is_confidential() => Ok(client),
        _ => Err(OAuthError::invalid_client()),
    }
}

pub async fn token(State(state): State<Services>, headers: HeaderMap, ip: ClientIp, body: Body) -> Response {
    let p = match params(&headers, body).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut response = match handle(&state, &headers, ip.0, &p).await {
        Ok(v) => no_store((StatusCode::OK, Json(v)).into_response()),
        Err(e) => e.into_response(),
    };
    let_client_origin_read(&state, &headers, &p, &mut response).await;
    response
}

/// Lets the page that sent the request read `response`, if the client the request names
/// allows the page's origin (`crate::cors`).
pub(crate) async fn let_client_origin_read(
    state: &Services,
    headers: &HeaderMap,
    p: &HashMap<String, String>,
    response: &mut Response,
) {
    let Some(origin) = crate::cors::origin(headers) else { return };
    let Ok((client_id, _, _)) = credentials(headers, p) else { return };
    if let Ok(Some(client)) = state.store.client(&client_id).await {
        if crate::cors::client_allows(&client, origin) {
            crate::cors::allow(response, origin);
        }
    }
}

/// Marks an answer of the token endpoints as never to be cached (RFC 6749 §5.1).
pub(crate) fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
    r.headers_mut().insert("pragma", HeaderValue::from_static("no-cache"));
    r
}

async fn handle(
    state: &Services,
    headers: &HeaderMap,
    ip: Option<String>,
    p: &HashMap<String, String>,
) -> Result<Value, OAuthError> {
    let grant_type =
        p.get("grant_type").ok_or_else(|| OAuthError::invalid_request("Missing required parameter: grant_type"))?;
    let param = |name: &str| p.get(name).map(String::as_str);
    match grant_type.as_str() {
        "client_credentials" => {
            let request = ClientCredentials { audience: param("audience"), scope: param("scope") };
            let result = match authenticate(state, headers, p).await {
                Ok(client) => grants::client_credentials(state, &client, request).await.map_err(OAuthError::from),
                Err(refused) => Err(refused),
            };
            let kind =
                if result.is_ok() { codes::SUCCESS_CLIENT_CREDENTIALS } else { codes::FAILED_CLIENT_CREDENTIALS };
            let mut e = state.audit.event(kind);
            e.client_id = credentials(headers, p).ok().map(|(id, _, _)| id);
            if let Err(err) = &result {
                e.description = Some(err.description.clone());
            }
            e.details.insert("audience".into(), json!(p.get("audience")));
            state.audit.record(e).await;
            result
        }
        "authorization_code" => {
            let client = authenticate(state, headers, p).await?;
            let exchange = CodeExchange {
                code: param("code"),
                redirect_uri: param("redirect_uri"),
                code_verifier: param("code_verifier"),
            };
            Ok(grants::authorization_code(state, &client, exchange).await?)
        }
        "refresh_token" => {
            let client = authenticate(state, headers, p).await?;
            let exchange = RefreshExchange { refresh_token: param("refresh_token"), scope: param("scope") };
            Ok(grants::refresh_token(state, &client, exchange).await?)
        }
        "password" | grants::PASSWORD_REALM => {
            let client = authenticate(state, headers, p).await?;
            // Auth0's `auth0-forwarded-for`: the end user's address, when a trusted
            // (confidential, authenticated) backend logs its user in.
            let forwarded = headers
                .get("auth0-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string())
                .filter(|v| client.is_confidential() && v.parse::<std::net::IpAddr>().is_ok());
            let exchange = PasswordExchange {
                grant_type,
                realm: param("realm"),
                username: param("username"),
                password: param("password"),
                audience: param("audience"),
                scope: param("scope"),
            };
            Ok(grants::password(state, &client, exchange, forwarded.or(ip).as_deref()).await?)
        }
        grants::MFA_OTP | grants::MFA_OOB | grants::MFA_RECOVERY_CODE => {
            let client = authenticate(state, headers, p).await?;
            let exchange = MfaExchange {
                grant_type,
                mfa_token: param("mfa_token"),
                otp: param("otp"),
                oob_code: param("oob_code"),
                binding_code: param("binding_code"),
                recovery_code: param("recovery_code"),
            };
            Ok(grants::mfa(state, &client, exchange, ip.as_deref()).await?)
        }
        grants::PASSWORDLESS_OTP => {
            let client = authenticate(state, headers, p).await?;
            let exchange = PasswordlessExchange {
                realm: param("realm"),
                username: param("username"),
                otp: param("otp"),
                audience: param("audience"),
                scope: param("scope"),
            };
            Ok(grants::passwordless_otp(state, &client, exchange, ip.as_deref()).await?)
        }
        other => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("Unsupported grant type: {other}"),
        )),
    }
}
