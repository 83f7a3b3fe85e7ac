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

    /// Every operation says what it does, every parameter what it takes, and every field
    /// of a body what it holds.
    #[test]
    fn operations_parameters_and_fields_are_described() {
        use serde_json::Value;
        let doc: Value = serde_json::from_str(super::DOCUMENT).unwrap_or_default();
        let described = |v: &Value, key: &str| v[key].as_str().is_some_and(|s| !s.trim().is_empty());
        let mut bare = Vec::new();
        for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in ops.as_object().into_iter().flatten() {
                if !described(op, "summary") && !described(op, "description") {
                    bare.push(format!("{method} {path}"));
                }
                for p in op["parameters"].as_array().into_iter().flatten() {
                    if p.get("$ref").is_none() && !described(p, "description") {
                        bare.push(format!("{method} {path} parameter {}", p["name"]));
                    }
                }
            }
        }
        fn fields(at: &str, v: &Value, described: &dyn Fn(&Value, &str) -> bool, bare: &mut Vec<String>) {
            match v {
                Value::Object(map) => {
                    for (name, field) in map.get("properties").and_then(Value::as_object).into_iter().flatten() {
                        if !described(field, "description") {
                            bare.push(format!("{at} field {name}"));
                        }
                    }
                    for (key, inner) in map {
                        fields(&format!("{at}/{key}"), inner, described, bare);
                    }
                }
                Value::Array(items) => items.iter().for_each(|inner| fields(at, inner, described, bare)),
                _ => {}
            }
        }
        fields("", &doc, &described, &mut bare);
        assert!(!doc["paths"].is_null());
        assert_eq!(bare, Vec::<String>::new());
    }
}
