//! `GET /`: a small page saying what this server is, for someone who opens its address:
//! an end user sent back to their application, a developer or operator to discovery, the
//! API reference and the documentation.

use super::{render, Page, Var};
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_services::Services;

pub async fn show(State(state): State<Services>) -> Page {
    let title = state.config.branding.name.clone();
    let vars = vec![("issuer", Var::Text(state.config.issuer.clone()))];
    render(&state, StatusCode::OK, &title, "home.html", vars).await
}
