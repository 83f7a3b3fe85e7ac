//! The OpenAPI document describes routes that exist, and routes that exist are in it.

use crate::kit::{Backend, Server};
use serde_json::Value;

async fn every_documented_operation_is_routed(backend: Backend) {
    let s = Server::start(backend).await;
    let doc: Value = s.http.get(format!("{}/api/v2/openapi.json", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["servers"][0]["url"], s.base);
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 13, "{}", paths.len());
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "doc-probe");
            let (status, body) = s.call(&method.to_uppercase(), &concrete, None, Some(&s.admin_token)).await;
            let unrouted = status == 404 && body.get("errorCode").and_then(Value::as_str) == Some("not_found");
            assert!(!unrouted && status != 405, "{method} {path} is documented but not routed: {status} {body}");
            assert!(status < 500, "{method} {path}: {status} {body}");
        }
    }
    s.stop().await;
}

crate::on_both_backends!(every_documented_operation_is_routed,);
