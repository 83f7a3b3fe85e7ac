//! The OpenAPI document of the Management and Authentication APIs that exist.

use axum::extract::State;
use axum::Json;
use gatehouse_services::Services;
use serde_json::Value;

const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document(State(state): State<Services>) -> Json<Value> {
    let mut doc: Value = serde_json::from_str(DOCUMENT).unwrap_or(Value::Null);
    if let Some(servers) = doc.get_mut("servers") {
        *servers = serde_json::json!([{"url": state.config.issuer.trim_end_matches('/')}]);
    }
    Json(doc)
}

#[cfg(test)]
mod tests {
    #[test]
    fn document_is_valid_json() {
        let doc: Result<serde_json::Value, _> = serde_json::from_str(super::DOCUMENT);
        assert!(doc.is_ok_and(|d| d.get("openapi").is_some()));
    }
}
