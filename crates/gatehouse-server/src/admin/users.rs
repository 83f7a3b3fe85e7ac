//! The console's users: search with Auth0's `q` syntax, a user's page (profile,
//! metadata, identities, roles, sessions, refresh grants, recent events) and what an
//! administrator does to a user. Every change goes through the same services as the
//! Management API (`gatehouse_services::users`, `authorization`, `session_end`,
//! `tickets`); deleting asks for the administrator's password again.

use super::view::path_segment;
use super::{reauthenticate, AdminForm, Console, ConsoleError, Page};
use crate::auth::ClientIp;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::user::User;
use gatehouse_services::authorization::{self, AuthzError};
use gatehouse_services::session_end::{sign_out_everywhere, Initiator};
use gatehouse_services::tickets::{issue_ticket, TicketRequest};
use gatehouse_services::users::{self, UserError};
use gatehouse_services::Services;
use gatehouse_store::{GrantFilter, LogQuery, StoreError, TicketKind, UserQuery};
use minijinja::{context, Value as View};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Users per page of a search.
const PER_PAGE: u32 = 50;
/// Auth0 lets a search page through its first 1000 results; so does the console.
const SEARCH_WINDOW: u32 = 1000;
/// A password-change ticket made in the console lasts a day.
const TICKET_TTL_SECS: i64 = 86_400;

impl From<UserError> for ConsoleError {
    fn from(e: UserError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<AuthzError> for ConsoleError {
    fn from(e: AuthzError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// What a refused change says to the administrator: the domain's own sentence for a
/// refusal (a weak password, a taken email), a generic one for a failure.
fn refusal(e: UserError) -> Result<String, ConsoleError> {
    match e {
        UserError::Refused(e) => Ok(e.to_string()),
        UserError::Legacy(e) => Ok(format!("The connection's legacy store refused: {e}")),
        UserError::Store(StoreError::Conflict(_)) => Ok("The user already exists.".into()),
        other => Err(other.into()),
    }
}

fn summary(u: &User) -> View {
    context! {
        user_id => u.user_id,
        email => u.email,
        username => u.username,
        name => u.name,
        connection => u.connection,
        blocked => u.blocked,
        email_verified => u.email_verified,
        logins_count => u.logins_count,
        last_login => u.last_login,
        created_at => u.created_at,
    }
}

#[derive(Deserialize)]
pub struct Search {
    q: Option<String>,
    connection: Option<String>,
    page: Option<u32>,
    done: Option<String>,
}

/// `GET /admin/users`: a page of users, newest first, or those matching `q`.
pub async fn list(
    console: Console,
    State(state): State<Services>,
    Query(s): Query<Search>,
) -> Result<Page, ConsoleError> {
    let page = s.page.unwrap_or(0).min(SEARCH_WINDOW / PER_PAGE - 1);
    let q = s.q.clone().filter(|q| !q.trim().is_empty());
    let connection = s.connection.clone().filter(|c| !c.is_empty());
    // One more than a page tells whether there is a next one, without counting them all.
    let query = UserQuery {
        q: q.clone(),
        connection: connection.clone(),
        sort: None,
        offset: page * PER_PAGE,
        limit: PER_PAGE + 1,
    };
    let (found, error) = match state.store.search_users_page(&query).await {
        Ok(users) => (users, None),
        Err(StoreError::InvalidQuery(m)) => (Vec::new(), Some(m)),
        Err(e) => return Err(e.into()),
    };
    let has_next = found.len() > PER_PAGE as usize && (page + 1) * PER_PAGE < SEARCH_WINDOW;
    let users: Vec<View> = found.iter().take(PER_PAGE as usize).map(summary).collect();
    let (connections, _) = state.store.connections(None, None, None, 0, 100).await?;
    let names: Vec<String> = connections.into_iter().map(|c| c.name).collect();
    let link = |p: u32| {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        if let Some(q) = &q {
            url.append_pair("q", q);
        }
        if let Some(c) = &connection {
            url.append_pair("connection", c);
        }
        url.append_pair("page", &p.to_string());
        format!("/admin/users?{}", url.finish())
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    console.page(
        status,
        "users.html",
        context! {
            title => "Users",
            nav => "users",
            q,
            connection,
            connections => names,
            users,
            error,
            page => page + 1,
            previous => (page > 0).then(|| link(page - 1)),
            next => has_next.then(|| link(page + 1)),
            done => notice(s.done.as_deref()),
        },
    )
}

/// The sentence shown after a change succeeded (the change redirects here with `done=`).
fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "The user was created.",
        "deleted" => "The user was deleted.",
        "saved" => "Metadata saved.",
        "blocked" => "The user is blocked: they cannot log in, and their sessions ended.",
        "unblocked" => "The user is unblocked.",
        "verification" => "A verification email is on its way.",
        "signed-out" => "The user is signed out everywhere: every session ended, every refresh token revoked.",
        "role-added" => "Role given.",
        "role-removed" => "Role taken away.",
        "logins-unblocked" => "The login blocks are lifted.",
        "factor-removed" => "Second factor removed.",
        _ => return None,
    })
}

/// `GET /admin/users/{id}`.
pub async fn show(
    console: Console,
    State(state): State<Services>,
    Path(id): Path<String>,
    Query(shown): Query<super::Done>,
) -> Result<Response, ConsoleError> {
    let extra = context! { done => notice(shown.done.as_deref()) };
    Ok(user_page(&console, &state, &id, StatusCode::OK, extra).await?.into_response())
}

/// A user's page, with `extra` (a notice, an error, a form's text, a new ticket).
async fn user_page(
    console: &Console,
    state: &Services,
    id: &str,
    status: StatusCode,
    extra: View,
) -> Result<Page, ConsoleError> {
    let user = state.store.user(id).await?.ok_or(ConsoleError::NotFound("user"))?;
    let now = state.clock.now().unix_timestamp();
    let identities =
        gatehouse_core::identity::profile_with_identities(&user, &state.store.linked_identities(id).await?)
            .get("identities")
            .cloned()
            .unwrap_or(Value::Null);
    let (roles, _) = authorization::user_roles(state, id, 0, 100).await?;
    let (all_roles, _) = state.store.roles(None, 0, 100).await?;
    let assignable: Vec<View> = all_roles
        .iter()
        .filter(|r| !roles.iter().any(|h| h.id == r.id))
        .map(|r| context! { id => r.id, name => r.name })
        .collect();
    let sessions = state.store.sessions_of_user(id, now, None, 20).await?;
    let sessions: Vec<View> = sessions
        .iter()
        .map(|s| {
            context! {
                sid => s.session.sid,
                created_at => iso(s.session.created_at),
                last_ip => s.session.last.ip.clone().or(s.session.initial.ip.clone()),
                user_agent => s.session.last.user_agent.clone().or(s.session.initial.user_agent.clone()),
                clients => s.clients,
            }
        })
        .collect();
    let grants = state.store.refresh_grants(&GrantFilter::all_of(id), now, None, 20).await?;
    let grants: Vec<View> = grants
        .iter()
        .map(|g| context! { client_id => g.client_id, scope => g.scope, audience => g.audience, created_at => iso(g.created_at) })
        .collect();
    state.audit.flush().await;
    let (events, _) = state
        .store
        .logs(&LogQuery { user_id: Some(id.to_string()), descending: true, limit: 20, ..Default::default() })
        .await?;
    let events: Vec<View> = events
        .iter()
        .map(|e| {
            let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
            context! { date => text("date"), kind => text("type"), description => text("description"), ip => text("ip") }
        })
        .collect();
    // Second factors, as the authentication-methods API lists them (never a secret).
    let factors: Vec<View> = state
        .store
        .mfa_factors(id)
        .await?
        .iter()
        .filter(|f| f.confirmed)
        .map(|f| {
            let m = f.to_auth0_json();
            let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
            let shown = text("name").or(text("email")).or(text("phone_number"));
            context! { id => f.id, kind => factor_label(f.kind), name => shown, created_at => f.created_at }
        })
        .collect();
    let blocks = gatehouse_services::attack::blocks_of_user(state, &user).await?;
    let blocks: Vec<View> = blocks.iter().map(|b| context! { identifier => b.identifier, ip => b.ip }).collect();
    let pretty = |v: &Map<String, Value>| serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into());
    let base = context! {
        title => user.email.clone().or(user.username.clone()).unwrap_or(user.user_id.clone()),
        nav => "users",
        user => summary(&user),
        profile => serde_json::to_string_pretty(&user.to_auth0_json()).unwrap_or_default(),
        user_metadata => pretty(&user.user_metadata),
        app_metadata => pretty(&user.app_metadata),
        identities => serde_json::to_string_pretty(&identities).unwrap_or_default(),
        roles => roles.iter().map(|r| context! { id => r.id, name => r.name }).collect::<Vec<_>>(),
        assignable,
        sessions,
        grants,
        factors,
        events,
        blocks,
        database => user.provider == "auth0",
        has_email => user.email.is_some(),
        ticket => (),
        error => (),
        done => (),
    };
    console.page(status, "user.html", context! { ..extra, ..base })
}

fn iso(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix).map(gatehouse_core::clock::iso8601).unwrap_or_default()
}

fn done(id: &str, what: &str) -> Response {
    super::view::see_other(&format!("/admin/users/{}?done={what}", path_segment(id)), Vec::new())
}

#[derive(Deserialize)]
pub struct Metadata {
    user_metadata: String,
    app_metadata: String,
}

/// The patch that turns `old` into `new` under Auth0's merge of metadata (top-level
/// keys merged, a null deleting one): the keys `new` lacks are set to null.
fn replacing_patch(old: &Map<String, Value>, mut new: Map<String, Value>) -> Value {
    for key in old.keys() {
        new.entry(key.clone()).or_insert(Value::Null);
    }
    Value::Object(new)
}

/// `POST /admin/users/{id}/metadata`: both metadata documents, edited as JSON, saved
/// with the Management API's validation. A refusal shows the text as it was sent.
pub async fn save_metadata(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<Metadata>,
) -> Result<Response, ConsoleError> {
    let user = state.store.user(&id).await?.ok_or(ConsoleError::NotFound("user"))?;
    let parse =
        |field: &str, text: &str| match serde_json::from_str::<Value>(if text.trim().is_empty() { "{}" } else { text })
        {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(format!("{field} must be a JSON object.")),
            Err(e) => Err(format!("{field} is not valid JSON: {e}.")),
        };
    let parsed = parse("user_metadata", &form.user_metadata)
        .and_then(|u| parse("app_metadata", &form.app_metadata).map(|a| (u, a)));
    let outcome = match parsed {
        Ok((u, a)) => {
            let body = json!({
                "user_metadata": replacing_patch(&user.user_metadata, u),
                "app_metadata": replacing_patch(&user.app_metadata, a),
            });
            match users::update_user(&state, &id, &body).await {
                Ok(_) => Ok(()),
                Err(e) => Err(refusal(e)?),
            }
        }
        Err(message) => Err(message),
    };
    match outcome {
        Ok(()) => Ok(done(&id, "saved")),
        Err(error) => {
            let extra = context! {
                error,
                user_metadata => form.user_metadata,
                app_metadata => form.app_metadata,
            };
            Ok(user_page(&console, &state, &id, StatusCode::BAD_REQUEST, extra).await?.into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

async fn set_blocked(state: &Services, console: &Console, id: &str, blocked: bool) -> Result<Response, ConsoleError> {
    match users::update_user(state, id, &json!({ "blocked": blocked })).await {
        Ok(_) => Ok(done(id, if blocked { "blocked" } else { "unblocked" })),
        Err(UserError::Refused(e)) if e == gatehouse_core::Error::user_not_found() => {
            Err(ConsoleError::NotFound("user"))
        }
        Err(e) => {
            let error = refusal(e)?;
            Ok(user_page(console, state, id, StatusCode::BAD_REQUEST, context! { error }).await?.into_response())
        }
    }
}

/// `POST /admin/users/{id}/block`: the user cannot log in; their sessions end.
pub async fn block(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, .. }: AdminForm<Empty>,
) -> Result<Response, ConsoleError> {
    set_blocked(&state, &console, &id, true).await
}

pub async fn unblock(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, .. }: AdminForm<Empty>,
) -> Result<Response, ConsoleError> {
    set_blocked(&state, &console, &id, false).await
}

/// `POST /admin/users/{id}/verification-email`.
pub async fn send_verification(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, .. }: AdminForm<Empty>,
) -> Result<Response, ConsoleError> {
    let user = state.store.user(&id).await?.ok_or(ConsoleError::NotFound("user"))?;
    if gatehouse_services::signup::send_verification_email(&state, &user, None, true).await? {
        return Ok(done(&id, "verification"));
    }
    let error = "The user has no email address.";
    Ok(user_page(&console, &state, &id, StatusCode::BAD_REQUEST, context! { error }).await?.into_response())
}

/// `POST /admin/users/{id}/password-ticket`: a link the administrator hands the user to
/// choose a new password, shown once (only its hash is kept).
pub async fn password_ticket(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, .. }: AdminForm<Empty>,
) -> Result<Response, ConsoleError> {
    let user = state.store.user(&id).await?.ok_or(ConsoleError::NotFound("user"))?;
    if user.provider != "auth0" {
        let error = "The user is not in a database connection: there is no password to change.";
        return Ok(user_page(&console, &state, &id, StatusCode::BAD_REQUEST, context! { error })
            .await?
            .into_response());
    }
    let ticket = issue_ticket(
        &state,
        TicketRequest {
            kind: TicketKind::PasswordChange,
            user: &user,
            client_id: None,
            result_url: None,
            ttl_secs: TICKET_TTL_SECS,
            params: Map::new(),
        },
    )
    .await?;
    Ok(user_page(&console, &state, &id, StatusCode::OK, context! { ticket }).await?.into_response())
}

/// `POST /admin/users/{id}/sign-out`: every session ends, every refresh grant is revoked.
pub async fn sign_out(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { .. }: AdminForm<Empty>,
) -> Result<Response, ConsoleError> {
    state.store.user(&id).await?.ok_or(ConsoleError::NotFound("user"))?;
    sign_out_everywhere(&state, &id, Initiator::SessionRevoked).await?;
    Ok(done(&id, "signed-out"))
}

/// `POST /admin/users/{id}/unblock-logins`: lifts the user's brute-force blocks.
pub async fn unblock_logins(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { .. }: AdminForm<Empty>,
) -> Result<Response, ConsoleError> {
    let user = state.store.user(&id).await?.ok_or(ConsoleError::NotFound("user"))?;
    let connection = state.store.connection(&user.connection_id).await?;
    let identifiers = gatehouse_services::attack::login_identifiers(&user);
    gatehouse_services::attack::release_blocks(&state, &identifiers, Some(&user.user_id), connection.as_ref()).await?;
    Ok(done(&id, "logins-unblocked"))
}

/// What a kind of second factor is called on the console.
fn factor_label(kind: gatehouse_core::mfa::FactorKind) -> &'static str {
    use gatehouse_core::mfa::FactorKind;
    match kind {
        FactorKind::Totp => "Authenticator app",
        FactorKind::Phone => "Phone",
        FactorKind::Email => "Email",
        FactorKind::RecoveryCode => "Recovery code",
        FactorKind::WebauthnRoaming => "Security key",
        FactorKind::WebauthnPlatform => "Device (platform authenticator)",
        FactorKind::Passkey => "Passkey",
    }
}

#[derive(Deserialize)]
pub struct FactorChoice {
    factor_id: String,
}

/// `POST /admin/users/{id}/factors/remove`: removes one second factor (the user enrols
/// again at their next login when MFA is required).
pub async fn remove_factor(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { form, .. }: AdminForm<FactorChoice>,
) -> Result<Response, ConsoleError> {
    state.store.user(&id).await?.ok_or(ConsoleError::NotFound("user"))?;
    if !state.store.delete_mfa_factor(&id, &form.factor_id).await? {
        return Err(ConsoleError::NotFound("second factor"));
    }
    Ok(done(&id, "factor-removed"))
}

#[derive(Deserialize)]
pub struct RoleChoice {
    role_id: String,
}

async fn change_roles(
    state: &Services,
    console: &Console,
    id: &str,
    role_id: String,
    add: bool,
) -> Result<Response, ConsoleError> {
    let body = json!({ "roles": [role_id] });
    let changed = if add {
        authorization::add_user_roles(state, id, &body).await
    } else {
        authorization::remove_user_roles(state, id, &body).await
    };
    match changed {
        Ok(()) => Ok(done(id, if add { "role-added" } else { "role-removed" })),
        Err(AuthzError::Refused(e)) => {
            let error = e.to_string();
            Ok(user_page(console, state, id, StatusCode::BAD_REQUEST, context! { error }).await?.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn assign_role(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<RoleChoice>,
) -> Result<Response, ConsoleError> {
    change_roles(&state, &console, &id, form.role_id, true).await
}

pub async fn remove_role(
    State(state): State<Services>,
    Path(id): Path<String>,
    AdminForm { console, form }: AdminForm<RoleChoice>,
) -> Result<Response, ConsoleError> {
    change_roles(&state, &console, &id, form.role_id, false).await
}

/// `GET /admin/users/{id}/delete`: asks for the administrator's password.
pub async fn confirm_delete(
    console: Console,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Page, ConsoleError> {
    let user = state.store.user(&id).await?.ok_or(ConsoleError::NotFound("user"))?;
    confirm_page(&console, &user, StatusCode::OK, None)
}

fn confirm_page(console: &Console, user: &User, status: StatusCode, error: Option<&str>) -> Result<Page, ConsoleError> {
    console.page(
        status,
        "confirm.html",
        context! {
            title => "Delete user",
            nav => "users",
            user => summary(user),
            action => format!("/admin/users/{}/delete", path_segment(&user.user_id)),
            consequence => "The user, their identities, sessions, refresh tokens and roles are deleted. This cannot be undone.",
            button => "Delete user",
            error,
        },
    )
}

#[derive(Deserialize)]
pub struct Reauthentication {
    #[serde(default)]
    password: String,
}

/// `POST /admin/users/{id}/delete`, with the administrator's password.
pub async fn delete(
    State(state): State<Services>,
    Path(id): Path<String>,
    ip: ClientIp,
    AdminForm { console, form }: AdminForm<Reauthentication>,
) -> Result<Response, ConsoleError> {
    let user = state.store.user(&id).await?.ok_or(ConsoleError::NotFound("user"))?;
    if let Err(why) = reauthenticate(&state, &console, &form.password, ip.0.as_deref()).await {
        return Ok(confirm_page(&console, &user, StatusCode::FORBIDDEN, Some(&why))?.into_response());
    }
    users::delete_user(&state, &id).await?;
    Ok(super::view::see_other("/admin/users?done=deleted", Vec::new()))
}

#[derive(Deserialize, Default)]
pub struct NewUser {
    #[serde(default)]
    connection: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    email_verified: Option<String>,
}

async fn new_user_page(
    console: &Console,
    state: &Services,
    status: StatusCode,
    form: &NewUser,
    error: Option<String>,
) -> Result<Page, ConsoleError> {
    let (connections, _) = state.store.connections(Some("auth0"), None, None, 0, 100).await?;
    console.page(
        status,
        "user-new.html",
        context! {
            title => "New user",
            nav => "users",
            connections => connections.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            connection => form.connection,
            email => form.email,
            username => form.username,
            email_verified => form.email_verified.is_some(),
            error,
        },
    )
}

/// `GET /admin/users/new`.
pub async fn new_user(console: Console, State(state): State<Services>) -> Result<Page, ConsoleError> {
    new_user_page(&console, &state, StatusCode::OK, &NewUser::default(), None).await
}

/// `POST /admin/users`: creates a user as `POST /api/v2/users` does (the connection's
/// policy, its legacy store, the verification email).
pub async fn create(
    State(state): State<Services>,
    AdminForm { console, form }: AdminForm<NewUser>,
) -> Result<Response, ConsoleError> {
    let mut body = Map::new();
    body.insert("connection".into(), json!(form.connection));
    for (key, value) in [("email", &form.email), ("username", &form.username), ("password", &form.password)] {
        if !value.is_empty() {
            body.insert(key.into(), json!(value));
        }
    }
    body.insert("email_verified".into(), json!(form.email_verified.is_some()));
    match users::create_user(&state, &Value::Object(body)).await {
        Ok(user) => Ok(done(&user.user_id, "created")),
        Err(e) => {
            let error = refusal(e)?;
            Ok(new_user_page(&console, &state, StatusCode::BAD_REQUEST, &form, Some(error)).await?.into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_replacing_patch_deletes_what_the_new_document_lacks() {
        let old = map(json!({"a": 1, "b": {"x": 1, "y": 2}, "c": 3}));
        let new = map(json!({"a": 2, "b": {"x": 1}}));
        assert_eq!(replacing_patch(&old, new), json!({"a": 2, "b": {"x": 1}, "c": null}));
    }
}
