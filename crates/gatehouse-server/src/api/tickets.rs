//! `/api/v2/tickets/*`: links an administrator hands a user (verify an email, choose a
//! new password), and `POST /api/v2/jobs/verification-email`.

use crate::authz::{CreateUserTickets, Scoped, SendVerificationEmail};
use crate::error::ApiError;
use crate::extract::JsonBody;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use gatehouse_core::error::Error;
use gatehouse_core::ids::is_connection_id;
use gatehouse_core::validate::{Body, Email, Patch};
use gatehouse_services::tickets::{issue_ticket, TicketRequest};
use gatehouse_services::Services;
use gatehouse_store::TicketKind;
use serde_json::{json, Map, Value};

/// Auth0's default (and the value of `ttl_sec: 0`): 5 days.
const DEFAULT_TTL_SECS: i64 = 432_000;
const MAX_TTL_SECS: i64 = 30 * 86_400;

fn ttl(b: &Body) -> Result<i64, ApiError> {
    Ok(match b.integer("ttl_sec", 0, MAX_TTL_SECS)? {
        Patch::Set(0) | Patch::Absent | Patch::Null => DEFAULT_TTL_SECS,
        Patch::Set(n) => n,
    })
}

fn result_url(b: &Body) -> Result<Option<String>, ApiError> {
    match b.string("result_url", 1, 2048)? {
        Patch::Set(u) => {
            let ok = url::Url::parse(&u).is_ok_and(|p| matches!(p.scheme(), "http" | "https"));
            if !ok {
                return Err(ApiError::body(
                    "Payload validation error: 'must be an absolute http(s) URL' on property result_url.",
                ));
            }
            Ok(Some(u))
        }
        _ => Ok(None),
    }
}

fn flag(b: &Body, key: &str, params: &mut Map<String, Value>) -> Result<(), ApiError> {
    if let Patch::Set(v) = b.boolean(key)? {
        params.insert(key.into(), json!(v));
    }
    Ok(())
}

async fn client_id(state: &Services, b: &Body<'_>) -> Result<Option<String>, ApiError> {
    match b.string("client_id", 1, 128)? {
        Patch::Set(id) => {
            state.store.client(&id).await?.ok_or_else(Error::client_not_found)?;
            Ok(Some(id))
        }
        _ => Ok(None),
    }
}

/// `POST /api/v2/tickets/email-verification` → 201 `{"ticket": "<url>"}`.
pub async fn email_verification(
    _: Scoped<CreateUserTickets>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let b = Body::new(
        &body,
        &["result_url", "user_id", "client_id", "organization_id", "ttl_sec", "includeEmailInRedirect", "identity"],
    )?;
    let user_id = b.required_string("user_id", 1, 300)?;
    b.string("organization_id", 1, 64)?;
    b.json_object("identity")?;
    let mut params = Map::new();
    flag(&b, "includeEmailInRedirect", &mut params)?;
    let req_ttl = ttl(&b)?;
    let result_url = result_url(&b)?;
    let client_id = client_id(&state, &b).await?;
    let user = state.store.user(&user_id).await?.ok_or_else(Error::user_not_found)?;
    if user.email.is_none() {
        return Err(ApiError::body("The user does not have an email address."));
    }
    let ticket = issue_ticket(
        &state,
        TicketRequest {
            kind: TicketKind::EmailVerification,
            user: &user,
            client_id,
            result_url,
            ttl_secs: req_ttl,
            params,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"ticket": ticket}))))
}

/// `POST /api/v2/tickets/password-change` (by `user_id`, or `email` + `connection_id`)
/// → 201 `{"ticket": "<url>"}`.
pub async fn password_change(
    _: Scoped<CreateUserTickets>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let b = Body::new(
        &body,
        &[
            "result_url",
            "user_id",
            "client_id",
            "organization_id",
            "connection_id",
            "email",
            "ttl_sec",
            "mark_email_as_verified",
            "includeEmailInRedirect",
            "identity",
        ],
    )?;
    b.string("organization_id", 1, 64)?;
    b.json_object("identity")?;
    let mut params = Map::new();
    flag(&b, "mark_email_as_verified", &mut params)?;
    flag(&b, "includeEmailInRedirect", &mut params)?;
    let req_ttl = ttl(&b)?;
    let result_url = result_url(&b)?;
    let client_id = client_id(&state, &b).await?;
    let user = match (b.string("user_id", 1, 300)?, b.string("email", 1, 254)?, b.string("connection_id", 1, 64)?) {
        (Patch::Set(id), Patch::Absent | Patch::Null, _) => {
            state.store.user(&id).await?.ok_or_else(Error::user_not_found)?
        }
        (Patch::Absent | Patch::Null, Patch::Set(email), Patch::Set(connection_id)) => {
            if !is_connection_id(&connection_id) {
                return Err(ApiError::body(
                    "Payload validation error: 'String does not match pattern ^con_[A-Za-z0-9]{16}$' on property connection_id.",
                ));
            }
            let email = Email::parse(&email)
                .map_err(|r| ApiError::body(format!("Payload validation error: '{r}' on property email.")))?;
            let connection = state.store.connection(&connection_id).await?.ok_or_else(Error::connection_not_found)?;
            // A legacy user not migrated yet is brought in, as a reset request does.
            gatehouse_services::signup::user_for_password_reset(&state, &connection, email.as_str())
                .await?
                .ok_or_else(Error::user_not_found)?
        }
        _ => {
            return Err(ApiError::body(
                "Payload validation error: 'give either user_id, or email together with connection_id'.",
            ))
        }
    };
    if user.provider != "auth0" {
        return Err(ApiError::body("The user is not in a database connection."));
    }
    let ticket = issue_ticket(
        &state,
        TicketRequest {
            kind: TicketKind::PasswordChange,
            user: &user,
            client_id,
            result_url,
            ttl_secs: req_ttl,
            params,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"ticket": ticket}))))
}

/// `POST /api/v2/jobs/verification-email` (`user_id`, `client_id`): a
/// `verification_email` job the worker runs; 201 with the job.
pub async fn verification_email_job(
    _: Scoped<SendVerificationEmail>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let b = Body::new(&body, &["user_id", "client_id", "identity", "organization_id"])?;
    let user_id = b.required_string("user_id", 1, 300)?;
    b.json_object("identity")?;
    b.string("organization_id", 1, 64)?;
    let client_id = client_id(&state, &b).await?;
    let user = state.store.user(&user_id).await?.ok_or_else(Error::user_not_found)?;
    if user.email.is_none() {
        return Err(ApiError::body("The user does not have an email address."));
    }
    let mut params = Map::new();
    params.insert("user_id".into(), json!(user.user_id));
    if let Some(c) = client_id {
        params.insert("client_id".into(), json!(c));
    }
    let job = gatehouse_services::job_requests::new_job(
        &state,
        gatehouse_core::job::JobKind::VerificationEmail,
        Some(user.connection_id.clone()),
        params,
    );
    state.store.insert_job(&job).await?;
    state.job_created.notify_one();
    Ok((StatusCode::CREATED, Json(job.to_auth0_json(None))))
}
