//! The tenant's email settings, set at run time through the Management API (and so by
//! Auth0's Deploy CLI): the Liquid email templates that replace the built-in texts, and
//! the SMTP provider that replaces the configuration's `[mail]` transport. Stored as
//! settings documents; the provider's password sealed apart, never shown.

use crate::attack::SettingsError;
use crate::liquid_templates::{escape_html, render as render_liquid};
use crate::mail::{MailConfig, MailTransport, SmtpSecurity};
use crate::Services;
use gatehouse_core::email::{check_template_name, is_auth0_template, EmailProvider, EmailTemplate, ProviderChange};
use gatehouse_core::secret::Secret;
use gatehouse_core::Error;
use gatehouse_store::{Store, StoreError};
use serde_json::{json, Value};

const TEMPLATE_SETTING: &str = "email_templates.";
const PROVIDER_SETTING: &str = "emails.provider";
const PROVIDER_PASSWORD: &str = "emails.provider.smtp_pass";

fn template_not_found() -> Error {
    Error::NotFound { code: "inexistent_email_template", message: "The template does not exist.".into() }
}

fn provider_not_found() -> Error {
    Error::NotFound { code: "inexistent_email_provider", message: "There is no email provider.".into() }
}

/// Template `name` as stored, if it was ever set.
pub async fn template(store: &Store, name: &str) -> Result<Option<EmailTemplate>, StoreError> {
    let stored = store.setting(&template_setting(name)).await?;
    Ok(stored.and_then(|v| EmailTemplate::from_stored(&v)))
}

/// `GET /api/v2/email-templates/{name}`.
pub async fn get_template(state: &Services, name: &str) -> Result<EmailTemplate, SettingsError> {
    if !is_auth0_template(name) {
        check_template_name(name)?;
    }
    Ok(template(&state.store, name).await?.ok_or_else(template_not_found)?)
}

/// `POST /api/v2/email-templates`: a template that does not exist yet.
pub async fn create_template(state: &Services, body: &Value) -> Result<EmailTemplate, SettingsError> {
    let t = EmailTemplate::create(body, None)?;
    check(&t)?;
    // Written only where none is stored: of two creations, one wins and one is told.
    if !state.store.swap_setting(&template_setting(&t.template), None, &t.to_json(), &state.now()).await? {
        return Err(Error::Conflict {
            code: "template_conflict",
            message: format!("Template {} already exists.", t.template),
        }
        .into());
    }
    Ok(t)
}

/// `PUT /api/v2/email-templates/{name}`: the whole template, created or replaced.
pub async fn put_template(state: &Services, name: &str, body: &Value) -> Result<EmailTemplate, SettingsError> {
    let t = EmailTemplate::create(body, Some(name))?;
    check(&t)?;
    state.store.put_setting(&template_setting(&t.template), &t.to_json(), &state.now()).await?;
    Ok(t)
}

/// `PATCH /api/v2/email-templates/{name}`.
pub async fn patch_template(state: &Services, name: &str, body: &Value) -> Result<EmailTemplate, SettingsError> {
    if !is_auth0_template(name) {
        check_template_name(name)?;
    }
    crate::settings::update(state, &template_setting(name), |stored| {
        let t = stored.and_then(EmailTemplate::from_stored).ok_or_else(template_not_found)?.patched(body)?;
        check(&t)?;
        let doc = t.to_json();
        Ok((t, doc))
    })
    .await
}

fn template_setting(name: &str) -> String {
    format!("{TEMPLATE_SETTING}{name}")
}

/// The link an email carries, as its enabled template sets it: how long it works
/// (`urlLifetimeInSeconds`, else `default_ttl_secs`) and where the user lands after it
/// (`resultUrl`). A store that cannot be read leaves the defaults: the email still goes.
pub async fn link_settings(store: &Store, template_name: &str, default_ttl_secs: i64) -> (i64, Option<String>) {
    match template(store, template_name).await {
        Ok(Some(t)) if t.enabled => (t.url_lifetime_secs.unwrap_or(default_ttl_secs), t.result_url),
        Ok(_) => (default_ttl_secs, None),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the email template; the link keeps its defaults");
            (default_ttl_secs, None)
        }
    }
}

/// What a template may read, in Auth0's names. Every value is HTML-escaped (Liquid
/// escapes nothing) except in the subject, which is text.
pub struct EmailFacts<'a> {
    pub to: &'a str,
    /// The link the email carries (`url`), or its one-time code (`code`).
    pub url: Option<&'a str>,
    pub code: Option<&'a str>,
    pub friendly_name: &'a str,
    pub support_email: &'a str,
    pub support_url: &'a str,
}

fn globals(facts: &EmailFacts<'_>, escape: bool) -> liquid::Object {
    let e = |s: &str| if escape { escape_html(s) } else { s.to_string() };
    let value = json!({
        "url": facts.url.map(e).unwrap_or_default(),
        "code": facts.code.map(e).unwrap_or_default(),
        "user": { "email": e(facts.to), "name": e(facts.to) },
        "friendly_name": e(facts.friendly_name),
        "tenant": e(facts.friendly_name),
        "support_email": e(facts.support_email),
        "support_url": e(facts.support_url),
        "application": { "name": e(facts.friendly_name) },
        "request_language": "en",
    });
    liquid::to_object(&value).unwrap_or_default()
}

/// Checks that body and subject parse and render with what Gatehouse provides, so a
/// mistake is refused when saved, not found when a user waits for the email.
pub fn check(t: &EmailTemplate) -> Result<(), Error> {
    let facts = EmailFacts {
        to: "user@example.com",
        url: Some("https://example.com/"),
        code: Some("123456"),
        friendly_name: "Tenant",
        support_email: "",
        support_url: "",
    };
    render_liquid(&t.body, &globals(&facts, true), "body")?;
    render_liquid(&t.subject, &globals(&facts, false), "subject")?;
    Ok(())
}

/// An email rendered from a customer's template.
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub from: Option<String>,
}

/// Renders `t` for one email; `None` (the built-in text is sent) when it fails to render.
pub fn render(t: &EmailTemplate, facts: &EmailFacts<'_>) -> Option<Rendered> {
    let html = render_liquid(&t.body, &globals(facts, true), "body");
    let subject = render_liquid(&t.subject, &globals(facts, false), "subject");
    match (html, subject) {
        (Ok(html), Ok(subject)) => Some(Rendered {
            subject: subject.trim().to_string(),
            html,
            from: Some(t.from.clone()).filter(|f| !f.is_empty()),
        }),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(template = %t.template, error = %e, "an email template failed to render; sending the built-in text");
            None
        }
    }
}

/// The provider as stored, if one was set.
pub async fn provider(store: &Store) -> Result<Option<EmailProvider>, StoreError> {
    Ok(store.setting(PROVIDER_SETTING).await?.and_then(|v| EmailProvider::from_stored(&v)))
}

/// `GET /api/v2/emails/provider`.
pub async fn get_provider(state: &Services) -> Result<EmailProvider, SettingsError> {
    Ok(provider(&state.store).await?.ok_or_else(provider_not_found)?)
}

/// `POST /api/v2/emails/provider`: when none is set.
pub async fn create_provider(state: &Services, body: &Value) -> Result<EmailProvider, SettingsError> {
    let change = EmailProvider::create(body)?;
    // Written only where none is stored: of two creations, one wins and one is told.
    if !state.store.swap_setting(PROVIDER_SETTING, None, &change.provider.to_json(), &state.now()).await? {
        return Err(Error::Conflict {
            code: "email_provider_conflict",
            message: "An email provider is already set; change it with PATCH.".into(),
        }
        .into());
    }
    save_password(state, &change).await?;
    Ok(change.provider)
}

/// `PATCH /api/v2/emails/provider`.
pub async fn patch_provider(state: &Services, body: &Value) -> Result<EmailProvider, SettingsError> {
    let change = crate::settings::update(state, PROVIDER_SETTING, |stored| {
        let change = stored.and_then(EmailProvider::from_stored).ok_or_else(provider_not_found)?.patched(body)?;
        let doc = change.provider.to_json();
        Ok((change, doc))
    })
    .await?;
    save_password(state, &change).await?;
    Ok(change.provider)
}

/// `DELETE /api/v2/emails/provider`: email goes through `[mail]` again.
pub async fn delete_provider(state: &Services) -> Result<(), SettingsError> {
    if !state.store.delete_setting(PROVIDER_SETTING).await? {
        return Err(provider_not_found().into());
    }
    state.store.delete_secret(PROVIDER_PASSWORD).await?;
    Ok(())
}

/// The password a change carried, sealed apart from the provider's document.
async fn save_password(state: &Services, change: &ProviderChange) -> Result<(), StoreError> {
    if let Some(password) = &change.smtp_pass {
        state.store.put_secret(PROVIDER_PASSWORD, password, &state.now()).await?;
    }
    Ok(())
}

/// The stored provider when one is set and enabled, with its password.
pub async fn active_provider(store: &Store) -> Result<Option<(EmailProvider, Option<String>)>, StoreError> {
    let Some(p) = provider(store).await?.filter(|p| p.enabled) else { return Ok(None) };
    Ok(Some((p, store.secret(PROVIDER_PASSWORD).await?)))
}

/// The mail settings for sending through provider `p`, the rest from `configured`. Port
/// 465 is TLS from the first byte, any other port STARTTLS (required), so the provider's
/// password never crosses a network in clear; only a relay on this machine (a loopback
/// address) is spoken to without TLS.
pub fn provider_mail_config(p: &EmailProvider, password: Option<&str>, configured: &MailConfig) -> MailConfig {
    MailConfig {
        from: if p.default_from_address.is_empty() { configured.from.clone() } else { p.default_from_address.clone() },
        transport: MailTransport::Smtp {
            host: p.smtp_host.clone(),
            port: p.smtp_port,
            security: if is_loopback(&p.smtp_host) {
                SmtpSecurity::None
            } else if p.smtp_port == 465 {
                SmtpSecurity::Tls
            } else {
                SmtpSecurity::StartTls
            },
            username: p.smtp_user.clone(),
            password: password.map(Secret::new),
        },
        ..configured.clone()
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
