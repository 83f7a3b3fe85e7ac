//! The tenant's email settings in Auth0's documents: the email templates
//! (`/api/v2/email-templates`) that replace the text of the emails Gatehouse sends, and
//! the email provider (`/api/v2/emails/provider`) they are sent through. The rules for
//! what a document may hold live here; storing and sending are the services'.

use crate::validate::{Body, Patch};
use crate::Error;
use serde_json::{json, Map, Value};

/// Auth0's template names that Gatehouse sends, with the built-in email each replaces.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("verify_email", "email-verification.txt"),
    ("reset_email", "reset-password.txt"),
    ("blocked_account", "unblock.txt"),
    ("mfa_oob_code", "mfa-code.txt"),
];

/// Auth0's other template names: refused with a reason rather than stored and never sent.
const NOT_SENT: &[&str] = &[
    "verify_email_by_code",
    "reset_email_by_code",
    "welcome_email",
    "stolen_credentials",
    "enrollment_email",
    "change_password",
    "password_reset",
    "user_invitation",
    "async_approval",
];

/// Auth0's bound on a template body.
pub const MAX_BODY: usize = 102_400;

/// One email template as Auth0 shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailTemplate {
    pub template: String,
    /// Liquid HTML.
    pub body: String,
    pub from: String,
    /// Liquid text.
    pub subject: String,
    /// Where the user lands after following the email's link.
    pub result_url: Option<String>,
    /// How long the email's link works, when not the default.
    pub url_lifetime_secs: Option<i64>,
    pub include_email_in_redirect: bool,
    pub enabled: bool,
}

const FIELDS: &[&str] = &[
    "template",
    "body",
    "from",
    "subject",
    "syntax",
    "resultUrl",
    "urlLifetimeInSeconds",
    "includeEmailInRedirect",
    "enabled",
];

/// Checks a template name from a path or a body.
pub fn check_template_name(name: &str) -> Result<(), Error> {
    if TEMPLATES.iter().any(|(n, _)| *n == name) {
        return Ok(());
    }
    if NOT_SENT.contains(&name) {
        return Err(Error::invalid_field(
            "template",
            format!("Gatehouse does not send the {name} email, so its template would never be used"),
        ));
    }
    Err(Error::invalid_field("template", format!("No enum match for: \"{name}\"")))
}

/// Whether `name` is one of Auth0's template names (read as "never set" when Gatehouse
/// does not send it, so a tool reading every template does not stop at one).
pub fn is_auth0_template(name: &str) -> bool {
    TEMPLATES.iter().any(|(n, _)| *n == name) || NOT_SENT.contains(&name)
}

/// The Auth0 template that replaces built-in email `builtin`, if any.
pub fn template_for(builtin: &str) -> Option<&'static str> {
    TEMPLATES.iter().find(|(_, b)| *b == builtin).map(|(n, _)| *n)
}

impl EmailTemplate {
    /// A template from `POST`'s (or `PUT`'s) whole document; `template` is the path's name
    /// for `PUT`.
    pub fn create(body: &Value, template: Option<&str>) -> Result<Self, Error> {
        let b = Body::new(body, FIELDS)?;
        let name = match (template, b.string("template", 1, 64)?) {
            (Some(path), Patch::Set(named)) if named != path => {
                return Err(Error::invalid_field("template", "must be the template named in the path"))
            }
            (Some(path), _) => path.to_string(),
            (None, Patch::Set(named)) => named,
            (None, _) => return Err(Error::missing_field("template")),
        };
        check_template_name(&name)?;
        if !b.has("body") {
            return Err(Error::missing_field("body"));
        }
        if !b.has("enabled") {
            return Err(Error::missing_field("enabled"));
        }
        let empty = Self {
            template: name,
            body: String::new(),
            from: String::new(),
            subject: String::new(),
            result_url: None,
            url_lifetime_secs: None,
            include_email_in_redirect: false,
            enabled: false,
        };
        empty.apply(&b)
    }

    /// `PATCH`: the fields present replace the stored ones.
    pub fn patched(&self, body: &Value) -> Result<Self, Error> {
        let b = Body::new(body, FIELDS)?;
        if let Patch::Set(name) = b.string("template", 1, 64)? {
            if name != self.template {
                return Err(Error::invalid_field("template", "a template cannot be renamed"));
            }
        }
        self.apply(&b)
    }

    fn apply(&self, b: &Body<'_>) -> Result<Self, Error> {
        let mut next = self.clone();
        match b.string("body", 0, MAX_BODY)? {
            Patch::Set(v) => next.body = v,
            Patch::Null => next.body.clear(),
            Patch::Absent => {}
        }
        match b.string("from", 0, 320)? {
            Patch::Set(v) => next.from = v,
            Patch::Null => next.from.clear(),
            Patch::Absent => {}
        }
        match b.string("subject", 0, 998)? {
            Patch::Set(v) => next.subject = v,
            Patch::Null => next.subject.clear(),
            Patch::Absent => {}
        }
        if let Patch::Set(syntax) = b.string("syntax", 1, 16)? {
            if syntax != "liquid" {
                return Err(Error::invalid_field("syntax", format!("No enum match for: \"{syntax}\"")));
            }
        }
        match b.string("resultUrl", 0, 2048)? {
            Patch::Set(v) if v.is_empty() => next.result_url = None,
            Patch::Set(v) => {
                crate::branding::check_image_url("resultUrl", &v)?;
                next.result_url = Some(v);
            }
            Patch::Null => next.result_url = None,
            Patch::Absent => {}
        }
        match b.integer("urlLifetimeInSeconds", 0, 30 * 24 * 3600)? {
            Patch::Set(0) | Patch::Null => next.url_lifetime_secs = None,
            Patch::Set(v) => next.url_lifetime_secs = Some(v),
            Patch::Absent => {}
        }
        if let Patch::Set(v) = b.boolean("includeEmailInRedirect")? {
            next.include_email_in_redirect = v;
        }
        if let Patch::Set(v) = b.boolean("enabled")? {
            next.enabled = v;
        }
        Ok(next)
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "template": self.template,
            "body": self.body,
            "from": self.from,
            "subject": self.subject,
            "syntax": "liquid",
            "includeEmailInRedirect": self.include_email_in_redirect,
            "enabled": self.enabled,
        });
        if let Some(url) = &self.result_url {
            v["resultUrl"] = json!(url);
        }
        if let Some(secs) = self.url_lifetime_secs {
            v["urlLifetimeInSeconds"] = json!(secs);
        }
        v
    }

    /// The stored document (written by [`EmailTemplate::to_json`]).
    pub fn from_stored(v: &Value) -> Option<Self> {
        let name = v.get("template")?.as_str()?;
        Self::create(v, Some(name)).ok()
    }
}

/// Auth0's provider names; Gatehouse speaks SMTP only, and says so for the others.
const PROVIDERS: &[&str] =
    &["mandrill", "sendgrid", "sparkpost", "mailgun", "ses", "smtp", "azure_cs", "ms365", "custom"];

/// The email provider: an SMTP server set at run time, over the configuration's `[mail]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailProvider {
    pub enabled: bool,
    pub default_from_address: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_user: Option<String>,
    /// Auth0's `settings` object, kept as given.
    pub settings: Map<String, Value>,
}

/// A provider document and, apart, the password it carried (sealed by the store).
#[derive(Debug)]
pub struct ProviderChange {
    pub provider: EmailProvider,
    /// `Some` when the body set `credentials.smtp_pass`.
    pub smtp_pass: Option<String>,
}

const PROVIDER_FIELDS: &[&str] = &["name", "enabled", "default_from_address", "credentials", "settings"];
const CREDENTIAL_FIELDS: &[&str] = &["smtp_host", "smtp_port", "smtp_user", "smtp_pass"];

impl EmailProvider {
    /// `POST /api/v2/emails/provider`: `name` and `credentials` are required.
    pub fn create(body: &Value) -> Result<ProviderChange, Error> {
        let b = Body::new(body, PROVIDER_FIELDS)?;
        if !b.has("name") {
            return Err(Error::missing_field("name"));
        }
        if !b.has("credentials") {
            return Err(Error::missing_field("credentials"));
        }
        let empty = Self {
            enabled: true,
            default_from_address: String::new(),
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_user: None,
            settings: Map::new(),
        };
        let change = empty.apply(&b)?;
        if change.provider.smtp_host.is_empty() {
            return Err(Error::missing_field("credentials.smtp_host"));
        }
        Ok(change)
    }

    /// `PATCH /api/v2/emails/provider`.
    pub fn patched(&self, body: &Value) -> Result<ProviderChange, Error> {
        self.apply(&Body::new(body, PROVIDER_FIELDS)?)
    }

    fn apply(&self, b: &Body<'_>) -> Result<ProviderChange, Error> {
        let mut next = self.clone();
        let mut smtp_pass = None;
        if let Patch::Set(name) = b.string("name", 1, 32)? {
            if name != "smtp" {
                let reason = if PROVIDERS.contains(&name.as_str()) {
                    format!("Gatehouse sends email over SMTP only; use {name}'s SMTP relay with the name \"smtp\"")
                } else {
                    format!("No enum match for: \"{name}\"")
                };
                return Err(Error::invalid_field("name", reason));
            }
        }
        if let Patch::Set(v) = b.boolean("enabled")? {
            next.enabled = v;
        }
        if let Patch::Set(from) = b.string("default_from_address", 0, 320)? {
            if !from.is_empty() && !from.contains('@') {
                return Err(Error::invalid_field("default_from_address", "must be an email address"));
            }
            next.default_from_address = from;
        }
        if let Some(c) = b.object("credentials", CREDENTIAL_FIELDS)? {
            if let Patch::Set(host) = c.string("smtp_host", 1, 253)? {
                if host.chars().any(|ch| ch.is_whitespace() || ch == '/' || ch == '@') {
                    return Err(Error::invalid_field("credentials.smtp_host", "must be a host name or address"));
                }
                next.smtp_host = host;
            }
            if let Patch::Set(port) = c.integer("smtp_port", 1, 65_535)? {
                next.smtp_port = u16::try_from(port).unwrap_or(next.smtp_port);
            }
            match c.string("smtp_user", 0, 256)? {
                Patch::Set(u) if !u.is_empty() => next.smtp_user = Some(u),
                Patch::Set(_) | Patch::Null => next.smtp_user = None,
                Patch::Absent => {}
            }
            if let Patch::Set(p) = c.string("smtp_pass", 0, 1024)? {
                smtp_pass = Some(p);
            }
        }
        if let Patch::Set(settings) = b.json_object("settings")? {
            next.settings = settings;
        }
        Ok(ProviderChange { provider: next, smtp_pass })
    }

    /// As Auth0 shows it: the password never.
    pub fn to_json(&self) -> Value {
        let mut credentials = json!({ "smtp_host": self.smtp_host, "smtp_port": self.smtp_port });
        if let Some(user) = &self.smtp_user {
            credentials["smtp_user"] = json!(user);
        }
        json!({
            "name": "smtp",
            "enabled": self.enabled,
            "default_from_address": self.default_from_address,
            "credentials": credentials,
            "settings": self.settings,
        })
    }

    pub fn from_stored(v: &Value) -> Option<Self> {
        Self::create(v).ok().map(|c| c.provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_gatehouse_sends_are_kept_the_others_refused_with_a_reason() {
        let body = json!({"template": "verify_email", "body": "<p>{{ url }}</p>", "enabled": true, "syntax": "liquid",
            "subject": "Verify", "from": "a@example.com", "resultUrl": "https://app.example.com/done", "urlLifetimeInSeconds": 3600});
        let t = EmailTemplate::create(&body, None).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(EmailTemplate::from_stored(&t.to_json()), Some(t.clone()));
        assert_eq!(t.to_json()["resultUrl"], "https://app.example.com/done");
        let refused = |b: Value| EmailTemplate::create(&b, None).err().map(|e| e.to_string());
        assert!(refused(json!({"template": "welcome_email", "body": "", "enabled": true}))
            .is_some_and(|m| m.contains("does not send")));
        assert!(refused(json!({"template": "verify_email", "enabled": true})).is_some_and(|m| m.contains("body")));
        assert!(refused(json!({"template": "verify_email", "body": "", "enabled": true, "syntax": "md"})).is_some());
        assert!(refused(json!({"template": "verify_email", "body": "", "enabled": true, "resultUrl": "javascript:x"}))
            .is_some());
        let patched = t.patched(&json!({"enabled": false, "resultUrl": null})).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(!patched.enabled && patched.result_url.is_none() && patched.body == t.body);
        assert!(t.patched(&json!({"template": "reset_email"})).is_err(), "no renaming");
    }

    #[test]
    fn the_provider_is_smtp_and_never_shows_its_password() {
        let body = json!({"name": "smtp", "default_from_address": "no-reply@example.com",
            "credentials": {"smtp_host": "smtp.example.com", "smtp_port": 2525, "smtp_user": "u", "smtp_pass": "p4ss"}});
        let change = EmailProvider::create(&body).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(change.smtp_pass.as_deref(), Some("p4ss"));
        let shown = change.provider.to_json();
        assert!(!shown.to_string().contains("p4ss"));
        assert_eq!(shown["credentials"]["smtp_port"], 2525);
        assert_eq!(EmailProvider::from_stored(&shown), Some(change.provider.clone()));
        let sendgrid = EmailProvider::create(&json!({"name": "sendgrid", "credentials": {"api_key": "k"}}));
        assert!(sendgrid.is_err());
        let no_host = EmailProvider::create(&json!({"name": "smtp", "credentials": {}}));
        assert!(no_host.err().is_some_and(|e| e.field() == Some("credentials.smtp_host")));
        let off = change.provider.patched(&json!({"enabled": false})).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(!off.provider.enabled && off.smtp_pass.is_none());
    }
}
