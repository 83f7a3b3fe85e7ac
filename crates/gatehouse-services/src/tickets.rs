//! Tickets: the single-use links of emails and of the Management API's ticket endpoints
//! (email verification, password change, unblock). A ticket is a 256-bit random value;
//! the store keeps only its SHA-256, so the link is the only place the ticket exists.

use crate::secrets::{hash_secret, random_token};
use crate::Services;
use gatehouse_core::user::User;
use gatehouse_store::{StoreError, Ticket, TicketKind};
use serde_json::{Map, Value};

/// The stored form of a ticket (SHA-256, hex).
pub fn hash_ticket(ticket: &str) -> String {
    hash_secret(ticket)
}

/// What a new ticket is for.
pub struct TicketRequest<'a> {
    pub kind: TicketKind,
    pub user: &'a User,
    pub client_id: Option<String>,
    pub result_url: Option<String>,
    pub ttl_secs: i64,
    pub params: Map<String, Value>,
}

/// Stores a new ticket and returns its link (the only place the ticket itself exists).
pub async fn issue_ticket(state: &Services, req: TicketRequest<'_>) -> Result<String, StoreError> {
    let ticket = random_token();
    let now = state.clock.now().unix_timestamp();
    state
        .store
        .insert_ticket(&Ticket {
            ticket_hash: hash_secret(&ticket),
            kind: req.kind,
            user_id: req.user.user_id.clone(),
            client_id: req.client_id,
            result_url: req.result_url,
            params: req.params,
            created_at: now,
            expires_at: now + req.ttl_secs,
            used_at: None,
        })
        .await?;
    let path = match req.kind {
        TicketKind::EmailVerification => "u/email-verification",
        TicketKind::PasswordChange => "u/reset-password",
        TicketKind::Unblock => "u/unblock",
        // Not a link: `/authorize?login_ticket=` takes it (`cross_origin`).
        TicketKind::Login => "authorize",
    };
    Ok(format!("{}{path}?ticket={ticket}", state.config.issuer))
}
