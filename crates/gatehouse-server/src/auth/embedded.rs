//! The embedded login of Auth0's Lock and auth0.js: `POST /co/authenticate` (credentials
//! for a `login_ticket`, from the client's allowed origins only), the client
//! configuration Lock reads at start-up (`GET /client/{client_id}.js`, Auth0's JSONP
//! shape), and `POST /passwordless/start` with its magic link,
//! `GET /passwordless/verify_redirect`. The rules are `gatehouse_services::cross_origin`'s
//! and `::passwordless`'s; `/authorize` redeems the tickets (`auth::authorize`).

use crate::auth::authorize::{query_map, validate, AuthorizeError};
use crate::auth::ClientIp;
use crate::error::{EmbeddedError, PageError};
use crate::extract::read_body;
use crate::pages::cookies;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_core::client::Client;
use gatehouse_core::connection::Connection;
use gatehouse_services::cross_origin::{self, Credentials, LOGIN_TICKET_TTL_SECS};
use gatehouse_services::passwordless::{self, Start};
use gatehouse_services::Services;
use serde_json::{json, Map, Value};

const MAX_BODY: usize = 64 * 1024;

/// Where the verifier cookie is sent: only to `/authorize`, which redeems tickets.
pub const CO_COOKIE_PATH: &str = "/authorize";

/// A JSON (or form) body as an object.
async fn body_object(headers: &HeaderMap, body: Body) -> Result<Map<String, Value>, EmbeddedError> {
    let bytes = read_body(body, MAX_BODY).await.map_err(|_| {
        EmbeddedError::bad_request("invalid_request", format!("The body is larger than {MAX_BODY} bytes."))
    })?;
    let mime = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match mime.as_str() {
        "application/json" => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(EmbeddedError::bad_request("invalid_request", "The body must be a JSON object.")),
        },
        "application/x-www-form-urlencoded" => {
            let mut m = Map::new();
            for (k, v) in url::form_urlencoded::parse(&bytes) {
                if m.insert(k.to_string(), Value::String(v.to_string())).is_some() {
                    return Err(EmbeddedError::bad_request(
                        "invalid_request",
                        format!("Parameter {k} was given more than once."),
                    ));
                }
            }
            Ok(m)
        }
        _ => Err(EmbeddedError::bad_request(
            "invalid_request",
            "Content-Type must be application/json or application/x-www-form-urlencoded.",
        )),
    }
}

fn text<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The client named by the body, and the page's origin if the client allows it.
async fn client_and_origin<'h>(
    state: &Services,
    headers: &'h HeaderMap,
    body: &Map<String, Value>,
) -> Result<(Client, Option<&'h str>), EmbeddedError> {
    let id = text(body, "client_id")
        .ok_or_else(|| EmbeddedError::bad_request("invalid_request", "Missing required parameter: client_id"))?;
    let client = state
        .store
        .client(id)
        .await?
        .ok_or_else(|| EmbeddedError::json(StatusCode::UNAUTHORIZED, "unauthorized_client", "Unknown client."))?;
    let origin = crate::cors::origin(headers).filter(|o| crate::cors::client_allows(&client, o));
    Ok((client, origin))
}

/// `POST /co/authenticate`.
pub async fn co_authenticate(State(state): State<Services>, ip: ClientIp, headers: HeaderMap, body: Body) -> Response {
    let (result, origin) = co_authenticate_inner(&state, &headers, ip.0.as_deref(), body).await;
    let mut response = match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if let Some(origin) = origin {
        crate::cors::allow_with_credentials(&mut response, &origin);
    }
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn co_authenticate_inner(
    state: &Services,
    headers: &HeaderMap,
    ip: Option<&str>,
    body: Body,
) -> (Result<Response, EmbeddedError>, Option<String>) {
    let body = match body_object(headers, body).await {
        Ok(b) => b,
        Err(e) => return (Err(e), None),
    };
    let (client, origin) = match client_and_origin(state, headers, &body).await {
        Ok(found) => found,
        Err(e) => return (Err(e), None),
    };
    // Only pages of the client's allowed origins may log its users in (Auth0's answer to
    // any other is a plain-text 403, which such a page cannot even read).
    let Some(origin) = origin.map(str::to_string) else {
        let named = crate::cors::origin(headers).unwrap_or("(none)").to_string();
        return (Err(EmbeddedError::OriginNotAllowed(named)), None);
    };
    let credentials = Credentials {
        credential_type: text(&body, "credential_type"),
        username: text(&body, "username"),
        password: text(&body, "password"),
        otp: text(&body, "otp"),
        realm: text(&body, "realm"),
    };
    let ticket = match cross_origin::authenticate(state, &client, credentials, ip).await {
        Ok(t) => t,
        Err(e) => return (Err(e.into()), Some(origin)),
    };
    let mut response = Json(json!({
        "login_ticket": ticket.login_ticket,
        "co_verifier": ticket.co_verifier,
        "co_id": ticket.co_id,
    }))
    .into_response();
    let cookie = cookies::set_cross_site(
        &state.config,
        CO_COOKIE_PATH,
        cookies::CO_VERIFIER,
        &ticket.co_verifier,
        LOGIN_TICKET_TTL_SECS,
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append("set-cookie", v);
    }
    (Ok(response), Some(origin))
}

/// `GET /client/{client_id}.js`: `Auth0.setClient({...})`, the client's connections by
/// strategy as Lock reads them (database connections with their password policy and
/// whether sign-up and reset are offered), for any page: it names connections, nothing
/// secret.
pub async fn client_configuration(State(state): State<Services>, Path(file): Path<String>) -> Response {
    let not_found = || {
        let mut r = (StatusCode::NOT_FOUND, "/* no such client */").into_response();
        r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/javascript; charset=utf-8"));
        r
    };
    let Some(client_id) = file.strip_suffix(".js") else { return not_found() };
    let client = match state.store.client(client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_found(),
        Err(e) => return EmbeddedError::from(e).into_response(),
    };
    let connections = match gatehouse_services::login::enabled_connections(&state, &client).await {
        Ok(c) => c,
        Err(e) => return EmbeddedError::from(e).into_response(),
    };
    let configuration = client_json(&state, &client, &connections);
    let mut r = format!("Auth0.setClient({configuration});").into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/javascript; charset=utf-8"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    crate::cors::allow_any(&mut r);
    r
}

/// Auth0's client configuration document.
fn client_json(state: &Services, client: &Client, connections: &[Connection]) -> Value {
    let mut strategies: Vec<(String, Vec<Value>)> = Vec::new();
    for c in connections {
        let entry = connection_json(c);
        match strategies.iter_mut().find(|(s, _)| *s == c.strategy) {
            Some((_, list)) => list.push(entry),
            None => strategies.push((c.strategy.clone(), vec![entry])),
        }
    }
    let tenant =
        url::Url::parse(&state.config.issuer).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
    json!({
        "id": client.client_id,
        "tenant": tenant,
        "subscription": "self_hosted",
        "authorize": format!("{}authorize", state.config.issuer),
        "callback": client.callbacks.first().cloned().unwrap_or_default(),
        "hasAllowedOrigins": !(client.allowed_origins.is_empty() && client.web_origins.is_empty()),
        "strategies": strategies
            .into_iter()
            .map(|(name, connections)| json!({"name": name, "connections": connections}))
            .collect::<Vec<_>>(),
    })
}

/// One connection as Lock reads it.
fn connection_json(c: &Connection) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(c.name));
    if let Some(d) = &c.display_name {
        m.insert("display_name".into(), json!(d));
    }
    if c.strategy == "auth0" {
        let option = |k: &str| c.options.get(k).cloned().unwrap_or(Value::Null);
        m.insert("passwordPolicy".into(), c.options.get("passwordPolicy").cloned().unwrap_or(json!("none")));
        if let Some(v) = c.options.get("password_complexity_options") {
            m.insert("password_complexity_options".into(), v.clone());
        }
        m.insert("showSignup".into(), json!(!option("disable_signup").as_bool().unwrap_or(false)));
        m.insert(
            "showForgot".into(),
            json!(!option("disable_self_service_change_password").as_bool().unwrap_or(false)),
        );
        m.insert("requires_username".into(), json!(c.requires_username()));
        if let Some(v) = c.options.get("validation") {
            m.insert("validation".into(), v.clone());
        }
    }
    Value::Object(m)
}

/// `POST /passwordless/start`: Auth0's answer is the identifier it sent to.
pub async fn passwordless_start(
    State(state): State<Services>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut origin = None;
    let result = async {
        let body = body_object(&headers, body).await?;
        let (client, allowed) = client_and_origin(&state, &headers, &body).await?;
        origin = allowed.map(str::to_string);
        let connection = text(&body, "connection")
            .ok_or_else(|| EmbeddedError::bad_request("bad.connection", "Missing required parameter: connection"))?;
        let req = Start {
            connection,
            email: text(&body, "email"),
            phone_number: text(&body, "phone_number"),
            send: text(&body, "send"),
            auth_params: body.get("authParams"),
        };
        let started = passwordless::start(&state, &client, req, ip.0.as_deref()).await?;
        let id = &gatehouse_services::secrets::hash_secret(&started.identifier)[..24];
        Ok::<_, EmbeddedError>(if started.sms {
            json!({"_id": id, "phone_number": started.identifier, "phone_verified": false, "request_language": null})
        } else {
            json!({"_id": id, "email": started.identifier, "email_verified": false})
        })
    }
    .await;
    let mut response = match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    };
    if let Some(origin) = origin {
        crate::cors::allow(&mut response, &origin);
    }
    response
}

/// `GET /passwordless/verify_redirect`: a magic link. Its authorization parameters are
/// checked as `/authorize` checks them, then its code; the user gets a session and the
/// application its code.
pub async fn verify_redirect(State(state): State<Services>, headers: HeaderMap, ip: ClientIp, uri: Uri) -> Response {
    match verify_redirect_inner(&state, &headers, ip.0.as_deref(), &uri).await {
        Ok(r) => r,
        Err(AuthorizeError::Page(e)) => crate::pages::error_page(&state, &e).await.into_response(),
        Err(AuthorizeError::Redirect(response)) => response.deliver(StatusCode::FOUND),
    }
}

async fn verify_redirect_inner(
    state: &Services,
    headers: &HeaderMap,
    ip: Option<&str>,
    uri: &Uri,
) -> Result<Response, AuthorizeError> {
    let p = query_map(uri.query()).map_err(|e| PageError::bad_request("invalid_request", e))?;
    let (client, req) = validate(state, &p).await?;
    let fail = |error: &'static str, description: &str| {
        AuthorizeError::Redirect(crate::auth::response::AuthorizationResponse::error(
            &req.redirect_uri,
            req.response_mode,
            error,
            description,
            req.state.as_deref(),
        ))
    };
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let (Some(name), Some(code)) = (get("connection"), get("verification_code")) else {
        return Err(fail("invalid_request", "Missing required parameter: connection or verification_code"));
    };
    let Some(username) = get("email").or_else(|| get("phone_number")) else {
        return Err(fail("invalid_request", "Missing required parameter: email"));
    };
    let connection = passwordless::connection_for(state, &client, name)
        .await
        .map_err(|e| fail("unauthorized_client", &e.to_string()))?;
    let method = if connection.strategy == "sms" {
        crate::pages::login::SignInMethod::Sms
    } else {
        crate::pages::login::SignInMethod::Email
    };
    match passwordless::verify(state, &connection, username, code, ip).await {
        Ok(user) => Ok(crate::pages::login::complete_login(state, headers, &req, &user.user_id, method, ip).await?),
        Err(gatehouse_services::passwordless::PasswordlessError::Store(e)) => Err(e.into()),
        Err(e) => Err(fail("access_denied", &e.to_string())),
    }
}
