//! `GET /u/email-verification?ticket=…`: the link of a verification email. Using it
//! marks the email verified (once), then redirects to the ticket's `result_url` or
//! shows a page.

use super::{back_to_application, link_invalid, message_page_with, or_error_page, use_ticket};
use crate::auth::authorize::{redirect, with_query};
use crate::error::PageError;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_core::log_event::codes;
use gatehouse_services::Services;
use gatehouse_store::{StoreError, TicketKind};
use serde_json::Value;
use std::convert::Infallible;

const VERIFIED: &str = "Your email was verified. You can continue using the application.";

pub async fn show(State(state): State<Services>, uri: Uri) -> Response {
    or_error_page(&state, verify(&state, &uri).await).await
}

async fn verify(state: &Services, uri: &Uri) -> Result<Response, PageError> {
    let t = use_ticket(state, uri, TicketKind::EmailVerification).await?;
    let stamp = state.now();
    let user = match state
        .store
        .modify_user(&t.user_id, |u| {
            u.email_verified = true;
            u.updated_at = stamp.clone();
            Ok::<_, Infallible>(())
        })
        .await
    {
        Ok(Ok(u)) => u,
        Err(StoreError::NotFound) => return Err(link_invalid()),
        Err(e) => return Err(e.into()),
    };
    let mut event = state.audit.event(codes::SUCCESS_VERIFICATION_EMAIL);
    event.user_id = Some(user.user_id.clone());
    event.user_name = user.email.clone();
    event.connection = Some(user.connection.clone());
    event.connection_id = Some(user.connection_id.clone());
    event.client_id = t.client_id.clone();
    state.audit.record(event).await;
    match &t.result_url {
        Some(url) => {
            let email = user.email.clone().unwrap_or_default();
            let mut params = vec![("success", "true"), ("code", "success"), ("message", VERIFIED)];
            if t.params.get("includeEmailInRedirect").and_then(Value::as_bool).unwrap_or(false) {
                params.push(("email", &email));
            }
            let mut r = redirect(&with_query(url, &params));
            *r.status_mut() = StatusCode::SEE_OTHER;
            Ok(r)
        }
        None => {
            let back = back_to_application(state, t.client_id.as_deref()).await?;
            Ok(message_page_with(state, "Email verified", VERIFIED, back).await.into_response())
        }
    }
}
