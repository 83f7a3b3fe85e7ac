//! Operations endpoints: `/metrics` counts what happened, and nothing identifying.

use crate::kit::{Backend, Server};

async fn metrics_count_requests_and_events(b: Backend) {
    let s = Server::start(b).await;
    // Starting the server already fetched the admin token (client credentials).
    let (status, _) = s.api("GET", "/api/v2/users", None).await;
    assert_eq!(status, 200);
    let r = s.http.get(format!("{}/metrics", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    assert!(text.contains("gatehouse_http_requests_total{group=\"oauth\",status=\"2xx\"} 1"), "{text}");
    assert!(text.contains("gatehouse_http_requests_total{group=\"management\",status=\"2xx\"} 1"), "{text}");
    assert!(text.contains("gatehouse_events_total{type=\"seccft\"} 1"), "{text}");
    assert!(text.contains("gatehouse_http_request_duration_seconds_count{group=\"management\"} 1"), "{text}");
    assert!(!text.contains(&s.admin_token) && !text.contains("client_id"), "no identifiers");
    s.stop().await;
}

crate::on_both_backends!(metrics_count_requests_and_events);
