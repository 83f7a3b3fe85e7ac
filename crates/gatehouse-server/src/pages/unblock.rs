//! `GET /u/unblock?ticket=…`: the link of a brute-force notice. Using it (once) lifts the
//! user's login blocks and logs `ublkdu`.

use super::{link_invalid, message_page, or_error_page, use_ticket};
use crate::error::PageError;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use gatehouse_services::Services;
use gatehouse_store::TicketKind;

const UNBLOCKED: &str = "Your account is unblocked. You can log in again.";

pub async fn show(State(state): State<Services>, uri: Uri) -> Response {
    or_error_page(&state, unblock(&state, &uri).await).await
}

async fn unblock(state: &Services, uri: &Uri) -> Result<Response, PageError> {
    let t = use_ticket(state, uri, TicketKind::Unblock).await?;
    let user = state.store.user(&t.user_id).await?.ok_or_else(link_invalid)?;
    let connection = state.store.connection(&user.connection_id).await?;
    let identifiers = gatehouse_services::attack::login_identifiers(&user);
    gatehouse_services::attack::release_blocks(state, &identifiers, Some(&user.user_id), connection.as_ref()).await?;
    Ok(message_page(state, "Account unblocked", UNBLOCKED).await.into_response())
}
