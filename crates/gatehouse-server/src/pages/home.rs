//! `GET /`: a small page saying what this server is, for someone who opens its address:
//! an end user sent back to their application, a developer or operator to discovery, the
//! API reference and the documentation.

use super::{render, Page};
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_services::Services;

pub async fn show(State(state): State<Services>) -> Page {
    let title = match gatehouse_services::branding::effective(&state).await {
        Ok(b) => b.name,
        Err(_) => state.config.branding.name.clone(),
    };
    let context = minijinja::context! { issuer => &state.config.issuer };
    render(&state, StatusCode::OK, &title, "home.html", context).await
}
