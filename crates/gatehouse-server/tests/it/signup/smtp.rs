//! Delivery through a real SMTP server: Python's `aiosmtpd` (a Maildir sink), started
//! from the interpreter named by `GATEHOUSE_TEST_AIOSMTPD` (`scripts/test` sets it to
//! its venv's python). Skipped, with a message, when unset outside CI.

use super::helpers::signed_up;
use crate::kit::{link, Backend, Server, SmtpSink};
use gatehouse_services::mail::{MailTransport, SmtpSecurity};
use std::time::Duration;

/// Sign-up → verification email over SMTP → link → verified; then a reset email.
async fn emails_go_through_smtp(b: Backend) {
    let Some(sink) = SmtpSink::start().await else { return };
    let mail_config = sink.mail_config("Gatehouse <no-reply@gatehouse.test>");
    let s = Server::start_with(b, move |c| c.mail = mail_config).await;
    let client = s.spa_client().await;
    let user = signed_up(&s, &client, "smtp@example.com", "Smtp-pass-123").await;
    let mut mail = Vec::new();
    for _ in 0..200 {
        mail = sink.delivered();
        if !mail.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(mail.len(), 1, "one message through SMTP");
    assert!(mail[0].contains("From: Gatehouse <no-reply@gatehouse.test>"), "{}", mail[0]);
    assert!(mail[0].contains("To: smtp@example.com"), "{}", mail[0]);
    assert!(!s.data_dir.join("outbox").exists(), "nothing went to the outbox");
    let page = s.browser().get(&link(&mail[0], "/u/email-verification?ticket=")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let id = format!("auth0|{}", user["_id"].as_str().unwrap());
    assert!(s.store.user(&id).await.unwrap().unwrap().email_verified);
    s.stop().await;
}

/// An unreachable SMTP server fails the send within the timeout, is audited (`fv`), and
/// the sign-up itself still succeeds.
async fn smtp_failure_is_audited_not_fatal(b: Backend) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = Server::start_with(b, move |c| {
        c.mail.transport = MailTransport::Smtp {
            host: "127.0.0.1".into(),
            port,
            security: SmtpSecurity::None,
            username: None,
            password: None,
        };
        c.mail.timeout_secs = 2;
    })
    .await;
    let client = s.spa_client().await;
    signed_up(&s, &client, "lost@example.com", "Lost-pass-123").await;
    let mut types = Vec::new();
    for _ in 0..200 {
        types = super::helpers::log_types(&s).await;
        if types.contains(&"fv".to_string()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(types.contains(&"fv".to_string()) && types.contains(&"ss".to_string()), "{types:?}");
    let (_, logs) = s.api("GET", "/api/v2/logs?q=type:fv", None).await;
    let text = logs.to_string();
    assert!(!text.contains("ticket="), "the link never reaches the log: {text}");
    s.stop().await;
}

crate::on_both_backends!(emails_go_through_smtp, smtp_failure_is_audited_not_fatal);
