//! `GET /u/unblock?ticket=…`: the link of a brute-force notice. Using it (once) lifts the
//! user's login blocks and logs `ublkdu`.

use super::{error_page, message_page};
use crate::auth::secrets::hash_secret;
use crate::error::PageError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use gatehouse_store::TicketKind;

const UNBLOCKED: &str = "Your account is unblocked. You can log in again.";

fn link_invalid() -> PageError {
    PageError::bad_request("invalid_ticket", "This link has expired or has already been used.")
}

pub async fn show(State(state): State<AppState>, uri: Uri) -> Response {
    match unblock(&state, &uri).await {
        Ok(r) => r,
        Err(e) => error_page(&state, &e).await.into_response(),
    }
}

async fn unblock(state: &AppState, uri: &Uri) -> Result<Response, PageError> {
    let ticket = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v.to_string())
        .ok_or_else(link_invalid)?;
    let hash = hash_secret(&ticket);
    let now = state.clock.now().unix_timestamp();
    // Checked before use, so a ticket of another kind is never spent here.
    let live = state.store.live_ticket(&hash, now).await?;
    if !live.is_some_and(|t| t.kind == TicketKind::Unblock) {
        return Err(link_invalid());
    }
    let t = state.store.consume_ticket(&hash, now).await?.ok_or_else(link_invalid)?;
    let user = state.store.user(&t.user_id).await?.ok_or_else(link_invalid)?;
    let connection = state.store.connection(&user.connection_id).await?;
    let identifiers = crate::attack::login_identifiers(&user);
    crate::attack::release_blocks(state, &identifiers, Some(&user.user_id), connection.as_ref()).await?;
    Ok(message_page(state, "Account unblocked", UNBLOCKED).await.into_response())
}
