//! Outgoing email: the [`Mailer`] (SMTP through `lettre`, or a file outbox for
//! development), and the emails Gatehouse sends (verification, password reset, import
//! completion), built from overridable plain-text templates, or from the tenant's Auth0
//! email templates (HTML, with the text as its alternative) when they are set, and sent
//! through the tenant's email provider when one is set (`email_settings`).
//!
//! Sending is bounded by a timeout. Request handlers hand emails to
//! [`send_in_background`], so a slow SMTP server never holds a request; failures are
//! logged without the message body (it holds a ticket) and audited.

use crate::audit::AuditLog;
use gatehouse_core::email::EmailProvider;
use gatehouse_core::secret::Secret;
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The email texts, each `Subject: …` then the body; replaceable from the template
/// directory like the pages.
const EMBEDDED: &[(&str, &str)] = &[
    ("email-verification.txt", include_str!("../templates/email-verification.txt")),
    ("reset-password.txt", include_str!("../templates/reset-password.txt")),
    ("import-completed.txt", include_str!("../templates/import-completed.txt")),
    ("unblock.txt", include_str!("../templates/unblock.txt")),
    ("mfa-code.txt", include_str!("../templates/mfa-code.txt")),
    ("passwordless-code.txt", include_str!("../templates/passwordless-code.txt")),
    ("passwordless-link.txt", include_str!("../templates/passwordless-link.txt")),
];

/// How SMTP connections are secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP upgraded with STARTTLS (required), usually port 587.
    StartTls,
    /// TLS from the first byte ("SMTPS"), usually port 465.
    Tls,
    /// No encryption: only for a local sink or relay.
    None,
}

/// Where email goes.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// One RFC 5322 `.eml` file per message in this directory (`None`: `<data_dir>/outbox`).
    Outbox {
        dir: Option<PathBuf>,
    },
    Smtp {
        host: String,
        port: u16,
        security: SmtpSecurity,
        username: Option<String>,
        password: Option<Secret>,
    },
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// The `From:` address, e.g. `Gatehouse <no-reply@example.com>`.
    pub from: String,
    pub transport: MailTransport,
    /// Longest a send may take (connect, TLS, the SMTP dialogue).
    pub timeout_secs: u64,
    /// Who gets import completion emails (Auth0 sends them to tenant admins).
    pub admin_emails: Vec<String>,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            from: "Gatehouse <no-reply@localhost>".into(),
            transport: MailTransport::Outbox { dir: None },
            timeout_secs: 10,
            admin_emails: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("building the message failed: {0}")]
    Build(String),
    #[error("SMTP: {0}")]
    Smtp(String),
    #[error("writing to the outbox failed: {0}")]
    Outbox(#[from] std::io::Error),
    #[error("sending took longer than {0} s")]
    Timeout(u64),
}

#[derive(Clone)]
enum Transport {
    Outbox(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Sends email. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
    timeout_secs: u64,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.transport {
            Transport::Outbox(dir) => write!(f, "Mailer(outbox {})", dir.display()),
            Transport::Smtp(_) => write!(f, "Mailer(smtp)"),
        }
    }
}

/// One email: plain text, and HTML when a tenant's template made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
    pub html: Option<String>,
    /// The template's `From:`, over the mailer's.
    pub from: Option<String>,
}

impl Mailer {
    pub fn new(config: &MailConfig, data_dir: &std::path::Path) -> Result<Self, MailError> {
        let from: Mailbox = config.from.parse().map_err(|_| MailError::Address(config.from.clone()))?;
        let transport = match &config.transport {
            MailTransport::Outbox { dir } => Transport::Outbox(dir.clone().unwrap_or_else(|| data_dir.join("outbox"))),
            MailTransport::Smtp { host, port, security, username, password } => {
                let builder = match security {
                    SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
                    SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
                    SmtpSecurity::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)),
                }
                .map_err(|e| MailError::Smtp(e.to_string()))?;
                let mut builder = builder.port(*port).timeout(Some(Duration::from_secs(config.timeout_secs.max(1))));
                if let (Some(u), Some(p)) = (username, password) {
                    builder = builder.credentials(Credentials::new(u.clone(), p.expose().to_string()));
                }
                Transport::Smtp(builder.build())
            }
        };
        Ok(Self { from, transport, timeout_secs: config.timeout_secs.max(1) })
    }

    fn message(&self, email: &Email) -> Result<Message, MailError> {
        let to: Mailbox = email.to.parse().map_err(|_| MailError::Address(email.to.clone()))?;
        // lettre picks the transfer encoding: 7bit when every line is short, else
        // quoted-printable (long links are soft-wrapped; mail readers join them).
        let body = Body::new(email.body.clone());
        let from = match &email.from {
            Some(f) => f.parse().map_err(|_| MailError::Address(f.clone()))?,
            None => self.from.clone(),
        };
        let builder = Message::builder().from(from).to(to).subject(email.subject.clone());
        match &email.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(email.body.clone(), html.clone())),
            None => builder.singlepart(SinglePart::plain(body)),
        }
        .map_err(|e| MailError::Build(e.to_string()))
    }

    /// Sends one email, giving up after the configured timeout.
    pub async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = self.message(email)?;
        let work = async {
            match &self.transport {
                Transport::Outbox(dir) => write_outbox(dir, &message.formatted()).await,
                Transport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| MailError::Smtp(e.to_string())),
            }
        };
        tokio::time::timeout(Duration::from_secs(self.timeout_secs), work)
            .await
            .map_err(|_| MailError::Timeout(self.timeout_secs))?
    }
}

/// Writes the message under a unique name, complete or not at all (temp file + rename).
async fn write_outbox(dir: &std::path::Path, bytes: &[u8]) -> Result<(), MailError> {
    tokio::fs::create_dir_all(dir).await?;
    let name = format!("{}.eml", crate::secrets::random_token());
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, dir.join(name)).await?;
    Ok(())
}

/// Fills `{{name}}` placeholders with plain values, in one pass (a value can never
/// bring in another placeholder). Unknown names become empty.
pub fn fill_text(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 128);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        if let Some((_, v)) = vars.iter().find(|(k, _)| *k == name) {
            out.push_str(v);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Email as the flows send it: texts from the (overridable) templates with the brand's
/// name, sends bounded by the mailer's timeout, failures logged without the body (it
/// holds a ticket) and audited. Cheap to clone.
#[derive(Clone)]
pub struct Mail {
    mailer: Mailer,
    /// The configuration the tenant's provider inherits from (timeout, `From:`).
    config: MailConfig,
    data_dir: PathBuf,
    /// The mailer of the tenant's provider, kept while its settings and password stay
    /// the same.
    provider: Arc<Mutex<Option<ProviderMailer>>>,
    audit: AuditLog,
    /// The configured name; the tenant's, when set (console or API), is read at each email.
    brand_name: String,
    store: gatehouse_store::Store,
    template_dir: Option<PathBuf>,
}

/// A mailer built for the tenant's provider, and what it was built from.
struct ProviderMailer {
    provider: EmailProvider,
    password: Option<String>,
    mailer: Mailer,
}

/// What to record when a send fails.
pub struct OnFailure {
    /// Auth0 log code (`fv`, `fcpr`, …).
    pub kind: &'static str,
    pub user_id: Option<String>,
    pub connection: Option<(String, String)>,
}

impl Mail {
    pub fn new(
        config: &MailConfig,
        data_dir: &std::path::Path,
        audit: AuditLog,
        brand_name: String,
        store: gatehouse_store::Store,
        template_dir: Option<PathBuf>,
    ) -> Result<Self, MailError> {
        Ok(Self {
            mailer: Mailer::new(config, data_dir)?,
            config: config.clone(),
            data_dir: data_dir.to_path_buf(),
            provider: Arc::new(Mutex::new(None)),
            audit,
            brand_name,
            store,
            template_dir,
        })
    }

    /// The tenant's provider's mailer when one is set and enabled, else the configured one.
    async fn mailer(&self) -> Mailer {
        let active = match crate::email_settings::active_provider(&self.store).await {
            Ok(active) => active,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the email provider; using [mail]");
                None
            }
        };
        let Some((provider, password)) = active else { return self.mailer.clone() };
        let mut cached = self.provider.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = cached.as_ref().filter(|c| c.provider == provider && c.password == password) {
            return c.mailer.clone();
        }
        let config = crate::email_settings::provider_mail_config(&provider, password.as_deref(), &self.config);
        match Mailer::new(&config, &self.data_dir) {
            Ok(mailer) => {
                *cached = Some(ProviderMailer { provider, password, mailer: mailer.clone() });
                mailer
            }
            Err(e) => {
                tracing::warn!(error = %e, "the email provider's settings do not make a mailer; using [mail]");
                self.mailer.clone()
            }
        }
    }

    /// Builds an email from template `name` (`Subject: …` on its first line, a blank
    /// line, then the body).
    pub async fn compose(&self, name: &str, to: &str, vars: &[(&str, &str)]) -> Email {
        let tenant = crate::branding::tenant_settings(&self.store).await;
        let brand_name = tenant.friendly_name.clone().unwrap_or_else(|| self.brand_name.clone());
        let mut all: Vec<(&str, &str)> = vars.to_vec();
        all.push(("brand_name", &brand_name));
        let text = fill_text(&crate::templates::load(self.template_dir.as_deref(), name, EMBEDDED).await, &all);
        let (subject, body) = match text.strip_prefix("Subject:").and_then(|t| t.split_once('\n')) {
            Some((subject, body)) => (subject.trim().to_string(), body.trim_start_matches(['\r', '\n']).to_string()),
            None => (brand_name.clone(), text),
        };
        let mut email = Email { to: to.to_string(), subject, body, html: None, from: None };
        let Some(template_name) = gatehouse_core::email::template_for(name) else { return email };
        let template = match crate::email_settings::template(&self.store, template_name).await {
            Ok(Some(t)) if t.enabled => t,
            Ok(_) => return email,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the email template; sending the built-in text");
                return email;
            }
        };
        let var = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        let facts = crate::email_settings::EmailFacts {
            to,
            url: var("link"),
            code: var("code"),
            friendly_name: &brand_name,
            support_email: tenant.support_email.as_deref().unwrap_or_default(),
            support_url: tenant.support_url.as_deref().unwrap_or_default(),
        };
        if let Some(rendered) = crate::email_settings::render(&template, &facts) {
            if !rendered.subject.is_empty() {
                email.subject = rendered.subject;
            }
            email.html = Some(rendered.html);
            email.from = rendered.from;
        }
        email
    }

    /// Sends without holding the caller: the send runs on its own task.
    pub fn send_in_background(&self, email: Email, on_failure: OnFailure) -> tokio::task::JoinHandle<()> {
        let mail = self.clone();
        tokio::spawn(async move {
            mail.deliver(&email, on_failure).await;
        })
    }

    /// Sends now; a failure is reported as `false`.
    pub async fn deliver(&self, email: &Email, on_failure: OnFailure) -> bool {
        let Err(e) = self.mailer().await.send(email).await else { return true };
        tracing::warn!(error = %e, subject = %email.subject, "sending an email failed");
        let mut event = self.audit.event(on_failure.kind);
        event.user_id = on_failure.user_id;
        if let Some((id, name)) = on_failure.connection {
            event.connection_id = Some(id);
            event.connection = Some(name);
        }
        event.description = Some(format!("Sending the email failed: {e}"));
        self.audit.record(event).await;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_templates_fill_in_one_pass() {
        assert_eq!(fill_text("Hi {{ name }}, {{link}}{{x}}", &[("name", "{{link}}"), ("link", "L")]), "Hi {{link}}, L");
        assert_eq!(fill_text("open {{end", &[]), "open {{end");
    }

    #[tokio::test]
    async fn outbox_writes_one_rfc5322_file_per_message() {
        let dir = std::env::temp_dir().join(format!("gh-outbox-{}", crate::secrets::random_token()));
        let config = MailConfig { transport: MailTransport::Outbox { dir: Some(dir.clone()) }, ..Default::default() };
        let mailer = Mailer::new(&config, std::path::Path::new("unused")).unwrap_or_else(|e| unreachable!("{e}"));
        let link = format!("http://127.0.0.1/u/email-verification?ticket={}", "x".repeat(120));
        let email = Email {
            to: "ada@example.com".into(),
            subject: "Verify".into(),
            body: format!("Open {link}\n"),
            html: None,
            from: None,
        };
        mailer.send(&email).await.unwrap_or_else(|e| unreachable!("{e}"));
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap_or_else(|e| unreachable!("{e}")).flatten().collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(files[0].path()).unwrap_or_default();
        assert!(text.contains("To: ada@example.com") && text.contains("Subject: Verify"), "{text}");
        assert!(text.contains("Content-Transfer-Encoding: quoted-printable"), "{text}");
        let decoded = text.replace("=\r\n", "").replace("=3D", "=");
        assert!(decoded.contains(&link), "{decoded}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
