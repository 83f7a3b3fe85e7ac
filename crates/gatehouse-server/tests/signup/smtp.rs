//! Delivery through a real SMTP server: Python's `aiosmtpd` (a Maildir sink), started
//! from the interpreter named by `GATEHOUSE_TEST_AIOSMTPD` (`scripts/test` sets it to
//! its venv's python). Skipped, with a message, when unset outside CI.

use crate::helpers::{app_client, link, signed_up, Browser};
use crate::kit::{Backend, Server};
use gatehouse_server::mail::{MailConfig, MailTransport, SmtpSecurity};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Sink {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

async fn start_sink() -> Option<Sink> {
    let python = match std::env::var("GATEHOUSE_TEST_AIOSMTPD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI must set GATEHOUSE_TEST_AIOSMTPD");
            eprintln!("GATEHOUSE_TEST_AIOSMTPD is not set; the SMTP delivery test is skipped");
            return None;
        }
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let maildir = std::env::temp_dir().join(format!("gh-maildir-{}-{port}", std::process::id()));
    let child = Command::new(python)
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting aiosmtpd");
    let sink = Sink { child, port, maildir };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Some(sink);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("aiosmtpd did not start on port {port}");
}

fn delivered(sink: &Sink) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(sink.maildir.join("new")) else { return Vec::new() };
    entries.flatten().map(|e| std::fs::read_to_string(e.path()).unwrap()).collect()
}

/// Sign-up → verification email over SMTP → link → verified; then a reset email.
async fn emails_go_through_smtp(b: Backend) {
    let Some(sink) = start_sink().await else { return };
    let port = sink.port;
    let s = Server::start_with(b, move |c| {
        c.mail = MailConfig {
            from: "Gatehouse <no-reply@gatehouse.test>".into(),
            transport: MailTransport::Smtp {
                host: "127.0.0.1".into(),
                port,
                security: SmtpSecurity::None,
                username: None,
                password: None,
            },
            timeout_secs: 10,
            admin_emails: Vec::new(),
        };
    })
    .await;
    let client = app_client(&s).await;
    let user = signed_up(&s, &client, "smtp@example.com", "Smtp-pass-123").await;
    let mut mail = Vec::new();
    for _ in 0..200 {
        mail = delivered(&sink);
        if !mail.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(mail.len(), 1, "one message through SMTP");
    assert!(mail[0].contains("From: Gatehouse <no-reply@gatehouse.test>"), "{}", mail[0]);
    assert!(mail[0].contains("To: smtp@example.com"), "{}", mail[0]);
    assert!(!s.data_dir.join("outbox").exists(), "nothing went to the outbox");
    let page = Browser::new().get(&s, &link(&mail[0], "/u/email-verification?ticket=")).await;
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
    let client = app_client(&s).await;
    signed_up(&s, &client, "lost@example.com", "Lost-pass-123").await;
    let mut types = Vec::new();
    for _ in 0..200 {
        types = crate::helpers::log_types(&s).await;
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
