//! Where a test server's email goes: by default the file outbox in its data directory;
//! with [`SmtpSink`], a real SMTP server (Python's `aiosmtpd`, a Maildir sink).

use super::Server;
use gatehouse_services::mail::{MailConfig, MailTransport, SmtpSecurity};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

impl Server {
    /// Every message in the outbox, oldest first.
    pub fn outbox(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.data_dir.join("outbox")) else { return Vec::new() };
        let mut files: Vec<_> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| (e.metadata().unwrap().modified().unwrap(), e.path()))
            .collect();
        files.sort();
        files.into_iter().map(|(_, p)| std::fs::read_to_string(p).unwrap()).collect()
    }

    /// The outbox's messages to `to`, waiting (up to a generous bound) until there are `n`.
    pub async fn emails_to(&self, to: &str, n: usize) -> Vec<String> {
        for _ in 0..200 {
            let found: Vec<String> = self.outbox().into_iter().filter(|m| m.contains(&format!("To: {to}"))).collect();
            if found.len() >= n {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {n} email(s) to {to} in the outbox: {:?}", self.outbox());
    }
}

/// An email's text with quoted-printable undone (soft line breaks joined, `=XX`
/// decoded), as a mail reader shows it.
pub fn decode_qp(email: &str) -> String {
    let joined = email.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first link of an email (to a test server), asserting it goes to `path`. `email`
/// is the message as sent: decoding it twice would turn the link's `=` into something else.
pub fn link(email: &str, path: &str) -> String {
    let email = &decode_qp(email);
    let start = email.find("http://127.0.0.1:").unwrap_or_else(|| panic!("no link in {email}"));
    let url: String = email[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    assert!(url.contains(path), "{url} is not a {path} link");
    url
}

/// A real SMTP server: `aiosmtpd` started from the interpreter named by
/// `GATEHOUSE_TEST_AIOSMTPD` (`scripts/test` sets it to its venv's python), delivering to
/// a Maildir. Stopped, and its Maildir removed, on drop.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

impl SmtpSink {
    /// Starts the sink; `None`, with a message, when `GATEHOUSE_TEST_AIOSMTPD` is unset
    /// (outside CI only: CI must run the SMTP tests).
    pub async fn start() -> Option<SmtpSink> {
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
        let sink = SmtpSink { child, port, maildir };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Some(sink);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not start on port {port}");
    }

    /// The server's mail settings for delivering here, from `from`.
    pub fn mail_config(&self, from: &str) -> MailConfig {
        MailConfig {
            from: from.into(),
            transport: MailTransport::Smtp {
                host: "127.0.0.1".into(),
                port: self.port,
                security: SmtpSecurity::None,
                username: None,
                password: None,
            },
            timeout_secs: 10,
            admin_emails: Vec::new(),
        }
    }

    /// The messages delivered so far.
    pub fn delivered(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        entries.flatten().map(|e| std::fs::read_to_string(e.path()).unwrap()).collect()
    }
}
