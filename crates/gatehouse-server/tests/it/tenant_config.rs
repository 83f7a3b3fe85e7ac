//! The tenant's configuration that Auth0's Deploy CLI reads and writes, beyond users:
//! email templates (Liquid, sent as HTML), the email provider (an SMTP server set at run
//! time, its password sealed), applications enabled on a connection one by one, and the
//! roles list's `type`. The CLI itself runs in `tests/deploy`.

use crate::kit::{decode_qp, Backend, Server, SmtpSink};
use serde_json::{json, Value};
use std::time::Duration;

crate::on_both_backends!(
    email_templates_replace_the_built_in_texts,
    the_email_provider_replaces_the_configured_mailer,
    applications_are_enabled_on_a_connection_one_by_one,
    roles_are_all_tenant_roles,
    self_service_password_change_can_be_disabled,
    concurrent_changes_to_one_settings_document_all_land,
    numbers_read_back_exactly_as_they_were_written,
);

async fn verification_email(s: &Server, email: &str) {
    let user = s.create_user(json!({"email": email, "password": "Tenant-config-42", "verify_email": false})).await;
    let (status, body) =
        s.api("POST", "/api/v2/jobs/verification-email", Some(json!({"user_id": user["user_id"]}))).await;
    assert_eq!(status, 201, "{body}");
}

async fn email_templates_replace_the_built_in_texts(b: Backend) {
    let s = Server::start(b).await;
    let (status, body) = s.api("GET", "/api/v2/email-templates/verify_email", None).await;
    assert_eq!((status, body["errorCode"].as_str()), (404, Some("inexistent_email_template")), "{body}");
    let (status, _) = s.api("GET", "/api/v2/email-templates/welcome_email", None).await;
    assert_eq!(status, 404, "Auth0's other templates read as never set");
    let (status, _) = s.api("GET", "/api/v2/email-templates/nonsense", None).await;
    assert_eq!(status, 400);
    // Refused with a reason: an email Gatehouse never sends, Liquid that does not parse.
    let (status, body) = s
        .api(
            "POST",
            "/api/v2/email-templates",
            Some(json!({"template": "welcome_email", "body": "x", "enabled": true})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("does not send the welcome_email"), "{body}");
    let broken = json!({"template": "verify_email", "body": "{% if %}", "enabled": true});
    let (status, body) = s.api("POST", "/api/v2/email-templates", Some(broken)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("on property body"), "{body}");

    let template = json!({
        "template": "verify_email",
        "syntax": "liquid",
        "enabled": true,
        "from": "Acme <hello@acme.test>",
        "subject": "Welcome to {{ friendly_name }}",
        "body": "<p>Confirm <b>{{ user.email }}</b>: <a href=\"{{ url }}\">here</a></p>",
        "urlLifetimeInSeconds": 3600,
        "resultUrl": "https://app.acme.test/verified",
    });
    let (status, created) = s.api("POST", "/api/v2/email-templates", Some(template.clone())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["subject"], template["subject"]);
    let (status, body) = s.api("POST", "/api/v2/email-templates", Some(template)).await;
    assert_eq!(status, 409, "{body}");
    s.api("PATCH", "/api/v2/tenants/settings", Some(json!({"friendly_name": "Acme & Co"}))).await;

    verification_email(&s, "ada+x@example.com").await;
    let raw = s.emails_to("ada+x@example.com", 1).await.remove(0);
    let mail = decode_qp(&raw);
    assert!(mail.contains("Subject: Welcome to Acme & Co"), "the subject is text, not escaped: {mail}");
    assert!(mail.contains("From: Acme <hello@acme.test>"), "{mail}");
    assert!(mail.contains("multipart/alternative") && mail.contains("text/html"), "{mail}");
    assert!(mail.contains("<b>ada+x@example.com</b>"), "{mail}");
    assert!(mail.contains("href=\"http://127.0.0.1:") && mail.contains("/u/email-verification?ticket="), "{mail}");
    assert!(mail.contains("Please confirm that ada+x@example.com"), "the built-in text is the alternative: {mail}");
    assert!(mail.contains("expires in 1 hours"), "urlLifetimeInSeconds sets the link's life: {mail}");
    // The link lands on the template's resultUrl.
    let page = s.browser().get(&crate::kit::link(&raw, "/u/email-verification?ticket=")).await;
    let to = page.location.unwrap_or_else(|| panic!("no redirect: {} {}", page.status, page.body));
    assert!(to.starts_with("https://app.acme.test/verified"), "{to}");

    // Disabled, it is kept but the built-in text goes out alone.
    let (status, body) = s.api("PATCH", "/api/v2/email-templates/verify_email", Some(json!({"enabled": false}))).await;
    assert_eq!((status, &body["enabled"], &body["from"]), (200, &json!(false), &json!("Acme <hello@acme.test>")));
    verification_email(&s, "grace@example.com").await;
    let mail = decode_qp(&s.emails_to("grace@example.com", 1).await[0]);
    assert!(mail.contains("Subject: Verify your email address for Acme & Co") && !mail.contains("text/html"), "{mail}");
    // PUT replaces the whole template; the path names it.
    let (status, body) = s
        .api("PUT", "/api/v2/email-templates/reset_email", Some(json!({"body": "<p>{{ url }}</p>", "enabled": true})))
        .await;
    assert_eq!((status, &body["template"]), (200, &json!("reset_email")), "{body}");
    let reader = s.token_with(&["read:email_templates"]).await;
    let (status, _) = s.call("GET", "/api/v2/email-templates/reset_email", None, Some(&reader)).await;
    assert_eq!(status, 200);
    let (status, _) =
        s.call("PATCH", "/api/v2/email-templates/reset_email", Some(json!({"enabled": false})), Some(&reader)).await;
    assert_eq!(status, 403);
    s.stop().await;
}

async fn delivered(sink: &SmtpSink, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let mail = sink.delivered();
        if mail.len() >= n {
            return mail;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {n} message(s) reached the SMTP server");
}

async fn the_email_provider_replaces_the_configured_mailer(b: Backend) {
    let Some(sink) = SmtpSink::start().await else { return };
    let s = Server::start(b).await;
    let (status, body) = s.api("GET", "/api/v2/emails/provider", None).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = s
        .api("POST", "/api/v2/emails/provider", Some(json!({"name": "sendgrid", "credentials": {"smtp_host": "x"}})))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("SMTP relay"), "{body}");
    let provider = json!({
        "name": "smtp",
        "default_from_address": "relay@acme.test",
        "credentials": {"smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_user": "acme", "smtp_pass": "relay-secret-9"},
    });
    let (status, shown) = s.api("POST", "/api/v2/emails/provider", Some(provider)).await;
    assert_eq!(status, 201, "{shown}");
    let (status, got) = s.api("GET", "/api/v2/emails/provider", None).await;
    assert_eq!((status, &got), (200, &shown));
    assert_eq!(got["credentials"]["smtp_user"], "acme");
    assert!(!got.to_string().contains("relay-secret-9"), "the password is never shown: {got}");
    let (status, only) = s.api("GET", "/api/v2/emails/provider?fields=name,enabled", None).await;
    assert_eq!((status, only), (200, json!({"name": "smtp", "enabled": true})));
    // Sealed at rest under the current key; the store opens it.
    let stored = s.store.secret("emails.provider.smtp_pass").await.unwrap();
    assert_eq!(stored.as_deref(), Some("relay-secret-9"));
    assert_eq!(s.store.unsealed_secret_count().await.unwrap(), 0);

    // aiosmtpd offers no AUTH: the password is kept for a relay that asks; a loopback
    // relay without it takes the message. Turned off, mail goes back to the outbox.
    let (status, body) =
        s.api("PATCH", "/api/v2/emails/provider", Some(json!({"credentials": {"smtp_user": null}}))).await;
    assert_eq!(status, 200, "{body}");
    verification_email(&s, "relay@example.com").await;
    let mail = delivered(&sink, 1).await;
    assert!(mail[0].contains("From: relay@acme.test") && mail[0].contains("To: relay@example.com"), "{}", mail[0]);
    assert!(s.outbox().is_empty(), "nothing went to the outbox");
    let (status, _) = s.api("DELETE", "/api/v2/emails/provider", None).await;
    assert_eq!(status, 204);
    let (status, _) = s.api("DELETE", "/api/v2/emails/provider", None).await;
    assert_eq!(status, 404);
    assert_eq!(s.store.secret("emails.provider.smtp_pass").await.unwrap(), None, "the password goes with it");
    verification_email(&s, "outbox@example.com").await;
    s.emails_to("outbox@example.com", 1).await;
    assert_eq!(sink.delivered().len(), 1);
    s.stop().await;
}

/// Floats whose shortest form JSON parsers without exact rounding get wrong by one unit:
/// a settings document holding one must still compare equal to itself when changed (the
/// compare-and-swap write), and metadata must come back digit for digit.
async fn numbers_read_back_exactly_as_they_were_written(b: Backend) {
    let s = Server::start(b).await;
    let numbers = json!({"tiny": 1.0715660391465826e-75, "huge": -1.603964615428183e143, "plain": 0.1});
    let provider = json!({
        "name": "smtp",
        "credentials": {"smtp_host": "127.0.0.1", "smtp_port": 2525},
        "settings": numbers,
    });
    let (status, body) = s.api("POST", "/api/v2/emails/provider", Some(provider)).await;
    assert_eq!(status, 201, "{body}");
    for enabled in [false, true] {
        let (status, body) = s.api("PATCH", "/api/v2/emails/provider", Some(json!({"enabled": enabled}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["settings"], numbers);
    }
    let user = s
        .create_user(json!({"email": "numbers@example.com", "password": "Tenant-config-42", "user_metadata": numbers}))
        .await;
    let path = format!("/api/v2/users/{}", user["user_id"].as_str().unwrap());
    let (status, body) = s.api("PATCH", &path, Some(json!({"user_metadata": {"other": 1}}))).await;
    assert_eq!(status, 200, "{body}");
    let (_, got) = s.api("GET", &path, None).await;
    assert_eq!(
        got["user_metadata"],
        json!({"tiny": 1.0715660391465826e-75, "huge": -1.603964615428183e143, "plain": 0.1, "other": 1})
    );
    s.stop().await;
}

async fn applications_are_enabled_on_a_connection_one_by_one(b: Backend) {
    let s = Server::start(b).await;
    let conn = s.default_connection().await;
    let path = format!("/api/v2/connections/{}/clients", conn["id"].as_str().unwrap());
    let mut ids = Vec::new();
    for name in ["One", "Two", "Three"] {
        let (status, c) = s.api("POST", "/api/v2/clients", Some(json!({"name": name, "app_type": "spa"}))).await;
        assert_eq!(status, 201, "{c}");
        ids.push(c["client_id"].as_str().unwrap().to_string());
    }
    let enable: Vec<Value> = ids.iter().map(|id| json!({"client_id": id, "status": true})).collect();
    let (status, body) = s.api("PATCH", &path, Some(json!(enable))).await;
    assert_eq!(status, 204, "{body}");
    // Checkpoint paging through them.
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = match &next {
            Some(from) => format!("{path}?take=2&from={from}"),
            None => format!("{path}?take=2"),
        };
        let (status, body) = s.api("GET", &page, None).await;
        assert_eq!(status, 200, "{body}");
        seen.extend(body["clients"].as_array().unwrap().iter().map(|c| c["client_id"].as_str().unwrap().to_string()));
        match body["next"].as_str() {
            Some(n) => next = Some(n.to_string()),
            None => break,
        }
    }
    let before: Vec<String> =
        conn["enabled_clients"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(seen, [before.clone(), ids.clone()].concat());
    // One bad entry changes nothing.
    let bad = json!([{"client_id": ids[0], "status": false}, {"client_id": "no-such-app", "status": true}]);
    let (status, body) = s.api("PATCH", &path, Some(bad)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("[1].client_id"), "{body}");
    let (status, body) = s.api("PATCH", &path, Some(json!([{"client_id": ids[0]}]))).await;
    assert_eq!(status, 400, "{body}");
    let (_, after) = s.api("GET", &format!("/api/v2/connections/{}", conn["id"].as_str().unwrap()), None).await;
    assert!(after["enabled_clients"].as_array().unwrap().contains(&json!(ids[0])));
    // Disabling one leaves the others.
    let (status, _) = s.api("PATCH", &path, Some(json!([{"client_id": ids[1], "status": false}]))).await;
    assert_eq!(status, 204);
    let (_, body) = s.api("GET", &path, None).await;
    let listed: Vec<&str> =
        body["clients"].as_array().unwrap().iter().map(|c| c["client_id"].as_str().unwrap()).collect();
    assert!(
        listed.contains(&ids[0].as_str()) && !listed.contains(&ids[1].as_str()) && listed.contains(&ids[2].as_str())
    );
    let (status, _) = s.api("GET", "/api/v2/connections/con_nope/clients", None).await;
    assert_eq!(status, 404);
    s.stop().await;
}

async fn roles_are_all_tenant_roles(b: Backend) {
    let s = Server::start(b).await;
    let (status, _) = s.api("POST", "/api/v2/roles", Some(json!({"name": "Clerk"}))).await;
    assert_eq!(status, 200);
    let names = |body: &Value| body.as_array().unwrap().iter().map(|r| r["name"].clone()).collect::<Vec<_>>();
    let (status, body) = s.api("GET", "/api/v2/roles?type=tenant", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(names(&body).contains(&json!("Clerk")));
    let (_, body) = s.api("GET", "/api/v2/roles?type=organization", None).await;
    assert_eq!(body, json!([]));
    let (status, _) = s.api("GET", "/api/v2/roles?type=galaxy", None).await;
    assert_eq!(status, 400);
    s.stop().await;
}

/// `options.disable_self_service_change_password`: set, a reset request sends nothing and
/// answers as before.
async fn self_service_password_change_can_be_disabled(b: Backend) {
    let s = Server::start(b).await;
    s.create_user(json!({"email": "self@example.com", "password": "Self-service-42", "verify_email": false})).await;
    let conn = s.default_connection().await;
    let mut options = conn["options"].clone();
    options["disable_self_service_change_password"] = json!(true);
    let path = format!("/api/v2/connections/{}", conn["id"].as_str().unwrap());
    let (status, body) = s.api("PATCH", &path, Some(json!({"options": options}))).await;
    assert_eq!(status, 200, "{body}");
    let request = json!({"email": "self@example.com", "connection": crate::kit::DB});
    let (status, answer) = s.call("POST", "/dbconnections/change_password", Some(request.clone()), None).await;
    assert_eq!(status, 200, "{answer}");
    options["disable_self_service_change_password"] = json!(false);
    s.api("PATCH", &path, Some(json!({"options": options}))).await;
    let (status, again) = s.call("POST", "/dbconnections/change_password", Some(request), None).await;
    assert_eq!((status, &again), (200, &answer), "the same answer whether or not an email goes");
    let mail = s.emails_to("self@example.com", 1).await;
    assert_eq!(mail.len(), 1, "only the request made while enabled sent an email");
    s.stop().await;
}

/// The MFA factors share one settings document; Auth0's Deploy CLI sets them all at once.
/// Every change lands, whichever request writes first.
async fn concurrent_changes_to_one_settings_document_all_land(b: Backend) {
    let s = std::sync::Arc::new(Server::start(b).await);
    for enabled in [true, false, true] {
        let mut puts = tokio::task::JoinSet::new();
        for factor in ["otp", "email", "recovery-code"] {
            let s = s.clone();
            puts.spawn(async move {
                let path = format!("/api/v2/guardian/factors/{factor}");
                s.api("PUT", &path, Some(json!({"enabled": enabled}))).await.0
            });
        }
        while let Some(status) = puts.join_next().await {
            assert_eq!(status.unwrap(), 200);
        }
        let (_, factors) = s.api("GET", "/api/v2/guardian/factors", None).await;
        for factor in ["otp", "email", "recovery-code"] {
            let f = factors.as_array().unwrap().iter().find(|f| f["name"] == factor).unwrap();
            assert_eq!(f["enabled"], enabled, "{factor} in {factors}");
        }
    }
}
