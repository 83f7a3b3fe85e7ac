//! The admin console (`/admin`): server-rendered pages over the same services as the
//! Management API, so no rule is written twice. Every page works without JavaScript.
//!
//! Who: Gatehouse users holding a console role sign in through the hosted login
//! (`signin`); the console then keeps its own session cookie, apart from end users'
//! single sign-on. A handler that shows anything takes [`Console`]; one that changes
//! anything takes [`AdminForm`], which cannot be built without the administrator role and
//! the form's CSRF token. Every change is an audit event naming the administrator
//! ([`audit_changes`]); destructive ones ask for the administrator's password again.
//! Errors become pages in one place ([`ConsoleError`]).

mod actions;
mod apis;
mod applications;
mod branding;
mod connections;
mod home;
mod jobs;
mod logs;
mod protection;
mod signin;
mod users;
mod view;

use crate::pages::cookies;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use gatehouse_core::log_event::codes;
use gatehouse_services::console::{self, Access, Admin};
use gatehouse_services::secrets::ct_eq;
use gatehouse_services::Services;
use gatehouse_store::StoreError;
use minijinja::Value;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

pub use view::Page;

/// The console session's cookie (only ever sent to `/admin`).
const SESSION_COOKIE: &str = "gh_console";
/// The sign-in in progress: the secret its `state`, nonce and PKCE verifier derive from.
const SIGN_IN_COOKIE: &str = "gh_console_signin";
/// A form body is read up to this size (metadata is edited as JSON).
const MAX_FORM_BYTES: usize = 256 * 1024;

pub fn router(state: Services) -> Router<Services> {
    Router::new()
        .route("/", get(home::show))
        .route("/login", get(signin::start))
        .route("/callback", get(signin::callback))
        .route("/logout", post(signin::logout))
        .route("/users", get(users::list).post(users::create))
        .route("/users/new", get(users::new_user))
        .route("/users/{id}", get(users::show))
        .route("/users/{id}/metadata", post(users::save_metadata))
        .route("/users/{id}/block", post(users::block))
        .route("/users/{id}/unblock", post(users::unblock))
        .route("/users/{id}/delete", get(users::confirm_delete).post(users::delete))
        .route("/users/{id}/verification-email", post(users::send_verification))
        .route("/users/{id}/password-ticket", post(users::password_ticket))
        .route("/users/{id}/sign-out", post(users::sign_out))
        .route("/users/{id}/roles", post(users::assign_role))
        .route("/users/{id}/roles/remove", post(users::remove_role))
        .route("/users/{id}/factors/remove", post(users::remove_factor))
        .route("/logs", get(logs::list))
        .route("/protection", get(protection::show))
        .route("/protection/brute-force", post(protection::save_brute_force))
        .route("/protection/suspicious-ip", post(protection::save_suspicious_ip))
        .route("/users/{id}/unblock-logins", post(users::unblock_logins))
        .route("/actions", get(actions::list).post(actions::create))
        .route("/actions/bindings/{trigger}", post(actions::bind))
        .route("/actions/{id}", get(actions::show).post(actions::save))
        .route("/actions/{id}/deploy", post(actions::deploy))
        .route("/actions/{id}/versions/{version}/deploy", post(actions::redeploy))
        .route("/actions/{id}/delete", post(actions::delete))
        .route("/apis", get(apis::list).post(apis::create_api))
        .route("/apis/{id}", get(apis::show_api).post(apis::save_api))
        .route("/apis/{id}/delete", post(apis::delete_api))
        .route("/roles", post(apis::create_role))
        .route("/roles/{id}", get(apis::show_role).post(apis::save_role))
        .route("/roles/{id}/permissions", post(apis::add_permissions))
        .route("/roles/{id}/permissions/remove", post(apis::remove_permissions))
        .route("/roles/{id}/delete", post(apis::delete_role))
        .route("/branding", get(branding::show).post(branding::save))
        .route("/branding/preview", get(branding::preview_saved).post(branding::preview_form))
        .route("/applications", get(applications::list).post(applications::create))
        .route("/applications/new", get(applications::new_app))
        .route("/applications/{id}", get(applications::show).post(applications::save))
        .route("/applications/{id}/rotate-secret", post(applications::rotate_secret))
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}", get(jobs::show))
        .route("/jobs/{id}/progress", get(jobs::progress))
        .route("/jobs/{id}/errors.json", get(jobs::errors_download))
        .route("/import", get(jobs::import_form).post(jobs::upload))
        .route("/import/{id}", post(jobs::decide))
        .route("/export", get(jobs::export_form).post(jobs::export))
        .route("/connections", get(connections::list))
        .route("/connections/{id}", get(connections::show).post(connections::save))
        .route("/connections/{id}/try-password", post(connections::try_password))
        .route("/connections/{id}/test-lookup", post(connections::test_lookup))
        .route("/connections/{id}/migrate-remaining", post(jobs::migrate_remaining))
        .route("/assets/console.css", get(|| async { view::asset(view::STYLE, "text/css; charset=utf-8") }))
        .route("/assets/console.js", get(|| async { view::asset(view::SCRIPT, "text/javascript; charset=utf-8") }))
        .fallback(|| async { ConsoleError::NotFound("page") })
        .layer(axum::middleware::from_fn_with_state(state, audit_changes))
}

/// A console cookie: sent only to `/admin`.
fn cookie(config: &gatehouse_services::state::ServerConfig, name: &str, value: &str, max_age: i64) -> String {
    cookies::set_under(config, "/admin", name, value, Some(max_age))
}

/// A value derived from a secret for one purpose (`purpose` keeps them apart): 43
/// characters, revealing nothing of the secret.
fn derive(secret: &str, purpose: &str) -> String {
    let digest = Sha256::new().chain_update(purpose).chain_update([0]).chain_update(secret).finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// A signed-in console user, as of this request, and the CSRF token of their session.
pub struct Console {
    pub admin: Admin,
    csrf: String,
}

impl Console {
    /// What every console template reads: who is signed in, what they may do, the token.
    fn context(&self) -> Value {
        minijinja::context! {
            admin => minijinja::context! {
                name => self.admin.name(),
                user_id => self.admin.user.user_id,
                can_change => self.admin.access == Access::Administrator,
                access => self.admin.access.as_str(),
            },
            csrf => self.csrf,
        }
    }

    /// Renders `name` with the page's own `context` merged over [`Console::context`].
    fn page(&self, status: StatusCode, name: &str, context: Value) -> Result<Page, ConsoleError> {
        Ok(view::render(status, name, minijinja::context! { ..context, ..self.context() })?)
    }
}

/// The request's console session as [`audit_changes`] found it, so that the handler's
/// extractor does not read the session a second time.
#[derive(Clone)]
struct SignedIn(Option<(Admin, String)>);

async fn signed_in(parts: &Parts, state: &Services) -> Result<Option<(Admin, String)>, StoreError> {
    if let Some(SignedIn(found)) = parts.extensions.get::<SignedIn>() {
        return Ok(found.clone());
    }
    let Some(secret) = cookies::get(&parts.headers, SESSION_COOKIE) else { return Ok(None) };
    Ok(console::session(state, &secret).await?.map(|admin| (admin, secret)))
}

impl FromRequestParts<Services> for Console {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &Services) -> Result<Self, Self::Rejection> {
        match signed_in(parts, state).await? {
            Some((admin, secret)) => Ok(Self { admin, csrf: derive(&secret, "csrf") }),
            None => Err(ConsoleError::SignIn),
        }
    }
}

impl Console {
    /// Lets a form through that changes nothing: its CSRF token is this session's.
    fn check_token(&self, csrf: &str) -> Result<(), ConsoleError> {
        if ct_eq(csrf, &self.csrf) {
            Ok(())
        } else {
            Err(ConsoleError::Csrf)
        }
    }

    /// Lets a change through: the form's CSRF token is this session's, and the user is
    /// an administrator.
    fn check(&self, csrf: &str) -> Result<(), ConsoleError> {
        self.check_token(csrf)?;
        if self.admin.access != Access::Administrator {
            return Err(ConsoleError::ReadOnly);
        }
        Ok(())
    }
}

/// A form posted by a signed-in administrator, its CSRF token checked.
pub struct AdminForm<T> {
    pub console: Console,
    pub form: T,
}

/// The `csrf` field of a url-encoded form.
fn csrf_field(bytes: &[u8]) -> Result<String, ConsoleError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(bytes).map_err(|_| ConsoleError::BadForm("malformed"))?;
    Ok(pairs.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v).unwrap_or_default())
}

impl<T: DeserializeOwned> FromRequest<Services> for AdminForm<T> {
    type Rejection = ConsoleError;

    async fn from_request(req: Request<Body>, state: &Services) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let console = Console::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| ConsoleError::BadForm("too large"))?;
        console.check(&csrf_field(&bytes)?)?;
        let form = serde_urlencoded::from_bytes::<T>(&bytes).map_err(|_| ConsoleError::BadForm("malformed"))?;
        Ok(Self { console, form })
    }
}

/// Whether `password` is the signed-in administrator's own, checked as a login (attack
/// protection included), before a destructive change. `Err` says why not, for the page.
async fn reauthenticate(state: &Services, console: &Console, password: &str, ip: Option<&str>) -> Result<(), String> {
    use gatehouse_services::login::{password_login, LoginError};
    let admin = &console.admin.user;
    let connection = match state.store.connection(&admin.connection_id).await {
        Ok(Some(c)) if c.strategy == "auth0" => c,
        Ok(_) => return Err("Your account signs in without a Gatehouse password, so it cannot confirm this.".into()),
        Err(e) => return Err(format!("Your password could not be checked ({e}).")),
    };
    let login = gatehouse_core::validate::normalize_login(
        admin.email.as_deref().or(admin.username.as_deref()).unwrap_or_default(),
    );
    match password_login(state, &connection, &login, password, ip).await {
        Ok(user) if user.user_id == admin.user_id => Ok(()),
        Ok(_) | Err(LoginError::WrongCredentials) => Err("That is not your password. Nothing was changed.".into()),
        Err(LoginError::TooManyAttempts) => {
            Err("Too many wrong passwords: your account is blocked for now. Nothing was changed.".into())
        }
        Err(e) => Err(format!("Your password could not be checked: {e}. Nothing was changed.")),
    }
}

/// The query a page is sent back to after a change: `done` names what was done (each
/// page has its sentences; the text never comes from the URL).
#[derive(serde::Deserialize)]
pub struct Done {
    pub done: Option<String>,
}

impl Done {
    /// "Settings saved." after a settings form.
    fn saved(&self) -> Option<&'static str> {
        (self.done.as_deref() == Some("saved")).then_some("Settings saved.")
    }
}

/// Why a console request could not be answered with its page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("not signed in")]
    SignIn,
    #[error("the form's CSRF token is missing or wrong")]
    Csrf,
    #[error("the form is {0}")]
    BadForm(&'static str),
    #[error("a read-only console role cannot change anything")]
    ReadOnly,
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<minijinja::Error> for ConsoleError {
    fn from(e: minijinja::Error) -> Self {
        Self::Internal(format!("template: {e:#}"))
    }
}

/// A message page without the signed-in navigation (errors, signing in and out).
fn message(status: StatusCode, title: &str, text: &str, back: Option<(&str, &str)>) -> Response {
    let context = minijinja::context! {
        admin => (),
        csrf => "",
        title,
        message => text,
        back => back.map(|(href, label)| minijinja::context! { href, label }),
    };
    match view::render(status, "message.html", context) {
        Ok(page) => page.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console message page did not render");
            (status, title.to_string()).into_response()
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let home = Some(("/admin", "Back to the console"));
        match self {
            Self::SignIn => view::see_other("/admin/login", Vec::new()),
            Self::Csrf => message(
                StatusCode::FORBIDDEN,
                "The form expired",
                "This form was not sent from your current console session (it may have been open \
                 from an earlier sign-in). Nothing was changed. Go back, reload the page and try again.",
                home,
            ),
            Self::BadForm(why) => {
                message(StatusCode::BAD_REQUEST, "The form could not be read", &format!("The form is {why}."), home)
            }
            Self::ReadOnly => message(
                StatusCode::FORBIDDEN,
                "Read-only access",
                "Your console role lets you look, not change. Nothing was changed. An administrator \
                 can give you the “Console administrator” role.",
                home,
            ),
            Self::NotFound(what) => {
                message(StatusCode::NOT_FOUND, "Not found", &format!("There is no such {what}."), home)
            }
            Self::Internal(detail) => {
                let tracking_id = crate::pages::tracking_id();
                tracing::error!(tracking_id, error = %detail, "console internal error");
                message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    &format!(
                        "Something went wrong on our side; nothing may have been changed. The server's \
                         log has the details under tracking id {tracking_id}."
                    ),
                    home,
                )
            }
        }
    }
}

/// `POST`s that change nothing (they show what a form would do).
const PREVIEWS: &[&str] = &["/branding/preview"];

/// Records every change made through the console (every `POST` but a preview) as an
/// audit event (`sapi`, or `fapi` when refused) naming the administrator who made it.
async fn audit_changes(State(state): State<Services>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || PREVIEWS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let (mut parts, body) = req.into_parts();
    let found = signed_in(&parts, &state).await;
    // A failed read is left for the handler's extractor to meet (and answer) itself.
    let admin = found.as_ref().ok().and_then(|f| f.as_ref().map(|(admin, _)| admin.clone()));
    if let Ok(found) = found {
        parts.extensions.insert(SignedIn(found));
    }
    let ip = crate::auth::ClientIp::from_request_parts(&mut parts.clone(), &state).await.ok().and_then(|c| c.0);
    let user_agent = crate::auth::device(&parts.headers, None).user_agent;
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status();
    let ok = status.is_success() || status.is_redirection();
    let mut e = state.audit.event(if ok { codes::SUCCESS_API_OPERATION } else { codes::FAILED_API_OPERATION });
    e.description = Some(format!("Console: POST /admin{path}"));
    e.ip = ip;
    e.user_agent = user_agent;
    e.client_id = Some(console::CONSOLE_CLIENT_ID.into());
    if let Some(admin) = &admin {
        e.user_id = Some(admin.user.user_id.clone());
        e.user_name = Some(admin.name());
    }
    e.details.insert(
        "request".into(),
        serde_json::json!({
            "method": "POST",
            "path": format!("/admin{path}"),
            "channel": "console",
            "auth": admin.as_ref().map(|a| serde_json::json!({"user_id": a.user.user_id, "name": a.name()})),
        }),
    );
    e.details.insert("response".into(), serde_json::json!({"statusCode": status.as_u16()}));
    state.audit.record(e).await;
    response
}
