//! Connections: where users live and the rules they sign up under. Database
//! connections (strategy `auth0`) keep their `options` as given, after the checks below;
//! social and OpenID Connect connections (`social.rs`) have their options resolved and
//! validated there, and their secrets are never returned.

use crate::error::Error;
use crate::validate::{validate_connection_name, Body, Patch};
use serde_json::{json, Map, Value};

pub const DEFAULT_DATABASE_CONNECTION: &str = "Username-Password-Authentication";

/// The passwordless strategies: a one-time code (or, by email, a link) instead of a password.
pub const PASSWORDLESS_STRATEGIES: &[&str] = &["email", "sms"];

/// How long a passwordless code lives unless `options.totp.time_step` says otherwise
/// (Auth0: 300 s).
pub const DEFAULT_CODE_LIFETIME_SECS: i64 = 300;
/// Digits of a passwordless code unless `options.totp.length` says otherwise (Auth0: 6).
pub const DEFAULT_CODE_LENGTH: usize = 6;

/// The `options` values (dotted paths) that are secrets Gatehouse must read back in
/// plaintext: an upstream provider's client secret or key, a legacy store's credentials
/// (its URL may carry a password). The store seals them at rest.
pub const SECRET_OPTION_PATHS: &[&str] = &[
    "client_secret",
    "app_secret",
    "legacy_store.secret",
    "legacy_store.bind_password",
    "legacy_store.client_secret",
    "legacy_store.url",
    // Every value of a custom database's `configuration` (its scripts' secrets).
    "configuration.*",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub id: String,
    pub name: String,
    pub display_name: Option<String>,
    pub strategy: String,
    pub options: Map<String, Value>,
    pub enabled_clients: Vec<String>,
    pub realms: Vec<String>,
    pub is_domain_connection: bool,
    pub metadata: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

impl Connection {
    /// A database connection with Auth0's default options for a new tenant.
    pub fn new_database(id: String, name: String, now: String) -> Self {
        let options = json!({
            "passwordPolicy": "good",
            "brute_force_protection": true,
            "strategy_version": 2,
        });
        let Value::Object(options) = options else { unreachable!("a json! object literal") };
        Self {
            id,
            realms: vec![name.clone()],
            name,
            display_name: None,
            strategy: "auth0".into(),
            options,
            enabled_clients: Vec::new(),
            is_domain_connection: false,
            metadata: Map::new(),
            created_at: now.clone(),
            updated_at: now,
        }
    }

    /// A connection of the strategy: database connections get Auth0's defaults, social
    /// and OpenID Connect ones start with empty options.
    pub fn new_of_strategy(id: String, name: String, strategy: &str, now: String) -> Self {
        let mut c = Self::new_database(id, name, now);
        if PASSWORDLESS_STRATEGIES.contains(&strategy) {
            c.strategy = strategy.to_string();
            let defaults = json!({
                "disable_signup": false,
                "brute_force_protection": true,
                "totp": {"time_step": DEFAULT_CODE_LIFETIME_SECS, "length": DEFAULT_CODE_LENGTH},
            });
            c.options = defaults.as_object().cloned().unwrap_or_default();
        } else if strategy != "auth0" {
            c.strategy = strategy.to_string();
            c.options = Map::new();
            if crate::social::is_social_strategy(strategy) {
                c.realms = Vec::new();
            }
        }
        c
    }

    /// Whether users may ask for a password-reset email themselves
    /// (`options.disable_self_service_change_password` not set).
    pub fn self_service_password_change(&self) -> bool {
        !self.options.get("disable_self_service_change_password").and_then(Value::as_bool).unwrap_or(false)
    }

    /// How users of this database connection may sign in: Auth0's
    /// `options.authentication_methods` and `options.passkey_options` (passkeys off, the
    /// password on, unless the options say otherwise).
    pub fn authentication_methods(&self) -> AuthenticationMethods {
        let methods = AuthenticationMethods::of(&self.options);
        AuthenticationMethods { passkey: methods.passkey && self.strategy == "auth0", ..methods }
    }

    /// Whether users of this connection sign in with a one-time code (`email`, `sms`).
    pub fn is_passwordless(&self) -> bool {
        PASSWORDLESS_STRATEGIES.contains(&self.strategy.as_str())
    }

    /// Whether new users may sign up (on first use, for passwordless connections).
    pub fn signup_allowed(&self) -> bool {
        !self.options.get("disable_signup").and_then(Value::as_bool).unwrap_or(false)
    }

    /// A passwordless code's lifetime and digits: `options.totp.{time_step,length}`.
    pub fn code_settings(&self) -> (i64, usize) {
        let totp = self.options.get("totp");
        let step = totp.and_then(|t| t.get("time_step")).and_then(Value::as_i64).unwrap_or(DEFAULT_CODE_LIFETIME_SECS);
        let length = totp
            .and_then(|t| t.get("length"))
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(DEFAULT_CODE_LENGTH);
        (step, length)
    }

    /// Whether users of this connection sign in at another provider (social or OIDC).
    pub fn is_upstream(&self) -> bool {
        crate::social::is_upstream_strategy(&self.strategy)
    }

    pub fn requires_username(&self) -> bool {
        self.options.get("requires_username").and_then(Value::as_bool).unwrap_or(false)
    }

    /// `options.validation.username.{min,max}`, defaulting to Auth0's 1–15.
    pub fn username_bounds(&self) -> (usize, usize) {
        let bound = |k: &str, d: usize| {
            self.options
                .get("validation")
                .and_then(|v| v.get("username"))
                .and_then(|v| v.get(k))
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(d)
        };
        (bound("min", 1), bound("max", 15))
    }

    pub fn to_auth0_json(&self, include_options: bool) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("name".into(), json!(self.name));
        if let Some(d) = &self.display_name {
            m.insert("display_name".into(), json!(d));
        }
        m.insert("strategy".into(), json!(self.strategy));
        if include_options {
            let mut options = self.options.clone();
            if self.is_upstream() {
                for secret in crate::social::SECRET_OPTIONS {
                    options.remove(*secret);
                }
            }
            m.insert("options".into(), Value::Object(options));
        }
        m.insert("enabled_clients".into(), json!(self.enabled_clients));
        m.insert("realms".into(), json!(self.realms));
        m.insert("is_domain_connection".into(), json!(self.is_domain_connection));
        if !self.metadata.is_empty() {
            m.insert("metadata".into(), Value::Object(self.metadata.clone()));
        }
        Value::Object(m)
    }
}

const CREATE_FIELDS: &[&str] = &[
    "name",
    "display_name",
    "strategy",
    "options",
    "enabled_clients",
    "realms",
    "is_domain_connection",
    "metadata",
    "show_as_button",
];
const PATCH_FIELDS: &[&str] =
    &["display_name", "options", "enabled_clients", "realms", "is_domain_connection", "metadata", "show_as_button"];

/// Validates a `POST /api/v2/connections` body into a new connection.
pub fn new_connection(body: &Value, id: String, now: &str) -> Result<Connection, Error> {
    let b = Body::new(body, CREATE_FIELDS)?;
    let name = b.required_string("name", 1, 128)?;
    validate_connection_name(&name).map_err(|r| Error::invalid_field("name", r))?;
    let strategy = b.required_string("strategy", 1, 64)?;
    let known = strategy == "auth0"
        || PASSWORDLESS_STRATEGIES.contains(&strategy.as_str())
        || crate::social::is_upstream_strategy(&strategy);
    if !known {
        return Err(Error::body(format!(
            "Payload validation error: 'strategy {strategy:?} is not supported; supported: auth0, email, sms, oidc, {}' on property strategy.",
            crate::social::SOCIAL_STRATEGIES.join(", ")
        )));
    }
    let mut c = Connection::new_of_strategy(id, name, &strategy, now.to_string());
    if c.is_upstream() && !b.has("options") {
        return Err(Error::body(
            "Payload validation error: 'Missing required property: options' (client_id, client_secret…).",
        ));
    }
    apply_common(&b, &mut c)?;
    Ok(c)
}

/// Applies a `PATCH /api/v2/connections/{id}` body. `options` is replaced wholesale, as
/// Auth0 does — except that the secrets of a social or OIDC connection, which the API
/// never returns, are kept when the new options leave them out.
pub fn patch_connection(body: &Value, c: &mut Connection, now: &str) -> Result<(), Error> {
    let b = Body::new(body, PATCH_FIELDS)?;
    let kept: Vec<(&str, Value)> = if c.is_upstream() {
        crate::social::SECRET_OPTIONS.iter().filter_map(|k| c.options.get(*k).map(|v| (*k, v.clone()))).collect()
    } else {
        Vec::new()
    };
    if let (true, Some(Value::Object(new))) = (c.is_upstream(), b.raw("options")) {
        let mut merged = new.clone();
        for (k, v) in kept {
            merged.entry(k.to_string()).or_insert(v);
        }
        let mut body = body.clone();
        body["options"] = Value::Object(merged);
        let b = Body::new(&body, PATCH_FIELDS)?;
        apply_common(&b, c)?;
        c.updated_at = now.to_string();
        return Ok(());
    }
    apply_common(&b, c)?;
    c.updated_at = now.to_string();
    Ok(())
}

fn apply_common(b: &Body, c: &mut Connection) -> Result<(), Error> {
    b.boolean("show_as_button")?;
    b.string("display_name", 1, 128)?.apply_to(&mut c.display_name);
    if let Patch::Set(options) = b.json_object("options")? {
        if c.is_upstream() {
            crate::social::validate_upstream_options(&c.strategy, &options)?;
        } else if c.is_passwordless() {
            validate_passwordless_options(&options)?;
        } else {
            validate_database_options(&options)?;
        }
        c.options = options;
    }
    if let Patch::Set(v) = b.string_array("enabled_clients", 1000)? {
        c.enabled_clients = v;
    }
    if let Patch::Set(v) = b.string_array("realms", 10)? {
        c.realms = v;
    }
    if let Patch::Set(v) = b.boolean("is_domain_connection")? {
        c.is_domain_connection = v;
    }
    if let Patch::Set(m) = b.json_object("metadata")? {
        if m.len() > 10 || m.values().any(|v| v.as_str().is_none_or(|s| s.len() > 255)) {
            return Err(Error::invalid_field(
                "metadata",
                "metadata may have at most 10 keys with string values of at most 255 characters",
            ));
        }
        c.metadata = m;
    }
    Ok(())
}

/// How a passkey is asked for on the login page (Auth0's `passkey_options.challenge_ui`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeUi {
    /// A "Sign in with a passkey" button and the browser's autofill.
    Both,
    /// Only the browser's autofill on the username field (conditional mediation).
    Autofill,
    /// Only the button.
    Button,
}

impl ChallengeUi {
    pub const NAMES: [&'static str; 3] = ["both", "autofill", "button"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "both" => Some(Self::Both),
            "autofill" => Some(Self::Autofill),
            "button" => Some(Self::Button),
            _ => None,
        }
    }

    /// Whether the login page shows the passkey button.
    pub fn button(self) -> bool {
        matches!(self, Self::Both | Self::Button)
    }

    /// Whether the username field offers passkeys in the browser's autofill.
    pub fn autofill(self) -> bool {
        matches!(self, Self::Both | Self::Autofill)
    }
}

/// How users of a database connection may sign in (see
/// [`Connection::authentication_methods`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticationMethods {
    /// `authentication_methods.password.enabled` (default true).
    pub password: bool,
    /// `authentication_methods.passkey.enabled` (default false).
    pub passkey: bool,
    /// `passkey_options.challenge_ui` (default `both`).
    pub challenge_ui: ChallengeUi,
    /// `passkey_options.progressive_enrollment_enabled` (default true, as Auth0's): after a
    /// password login, a user without a passkey is offered to create one, once.
    pub progressive_enrollment: bool,
    /// `passkey_options.local_enrollment_enabled` (default true, as Auth0's): kept and
    /// returned; Gatehouse has no cross-device sign-in that would act on it.
    pub local_enrollment: bool,
}

impl AuthenticationMethods {
    /// The methods database connection options `o` set.
    fn of(o: &Map<String, Value>) -> Self {
        let enabled = |method: &str, default: bool| {
            o.get("authentication_methods")
                .and_then(|m| m.get(method))
                .and_then(|m| m.get("enabled"))
                .and_then(Value::as_bool)
                .unwrap_or(default)
        };
        let passkey = o.get("passkey_options");
        let flag = |name: &str| passkey.and_then(|p| p.get(name)).and_then(Value::as_bool).unwrap_or(true);
        let challenge_ui = passkey
            .and_then(|p| p.get("challenge_ui"))
            .and_then(Value::as_str)
            .and_then(ChallengeUi::parse)
            .unwrap_or(ChallengeUi::Both);
        Self {
            password: enabled("password", true),
            passkey: enabled("passkey", false),
            challenge_ui,
            progressive_enrollment: flag("progressive_enrollment_enabled"),
            local_enrollment: flag("local_enrollment_enabled"),
        }
    }
}

/// Checks Auth0's `authentication_methods` and `passkey_options` of a database
/// connection: their shapes, and that some way to sign in stays enabled.
fn validate_authentication_methods(o: &Map<String, Value>) -> Result<(), Error> {
    let bad = |field: &str, reason: &str| Error::invalid_field(format!("options.{field}"), reason);
    if let Some(methods) = o.get("authentication_methods") {
        let Some(methods) = methods.as_object() else {
            return Err(bad("authentication_methods", "Expected type object"));
        };
        for (name, method) in methods {
            if !["password", "passkey"].contains(&name.as_str()) {
                return Err(bad(
                    &format!("authentication_methods.{name}"),
                    "is not an authentication method (password, passkey)",
                ));
            }
            let Some(method) = method.as_object() else {
                return Err(bad(&format!("authentication_methods.{name}"), "Expected type object"));
            };
            if let Some(key) = method.keys().find(|k| k.as_str() != "enabled") {
                return Err(bad(&format!("authentication_methods.{name}.{key}"), "is not a known property (enabled)"));
            }
            if method.get("enabled").is_some_and(|v| !v.is_boolean()) {
                return Err(bad(&format!("authentication_methods.{name}.enabled"), "Expected type boolean"));
            }
        }
    }
    if let Some(passkey) = o.get("passkey_options") {
        let Some(passkey) = passkey.as_object() else { return Err(bad("passkey_options", "Expected type object")) };
        for (key, v) in passkey {
            match key.as_str() {
                "challenge_ui" => {
                    if v.as_str().and_then(ChallengeUi::parse).is_none() {
                        return Err(bad("passkey_options.challenge_ui", "must be one of both, autofill, button"));
                    }
                }
                "progressive_enrollment_enabled" | "local_enrollment_enabled" => {
                    if !v.is_boolean() {
                        return Err(bad(&format!("passkey_options.{key}"), "Expected type boolean"));
                    }
                }
                other => return Err(bad(
                    &format!("passkey_options.{other}"),
                    "is not a known property (challenge_ui, progressive_enrollment_enabled, local_enrollment_enabled)",
                )),
            }
        }
    }
    let m = AuthenticationMethods::of(o);
    if !m.password && !m.passkey {
        return Err(bad("authentication_methods", "at least one of password and passkey must be enabled"));
    }
    Ok(())
}

/// Type checks for the `auth0` strategy options Gatehouse understands. Unknown options
/// are kept (Auth0 has many), known ones must have the right shape.
fn validate_database_options(o: &Map<String, Value>) -> Result<(), Error> {
    let bad = |field: &str, reason: &str| Error::invalid_field(format!("options.{field}"), reason);
    if let Some(p) = o.get("passwordPolicy") {
        let ok = p.is_null() || p.as_str().is_some_and(|s| ["none", "low", "fair", "good", "excellent"].contains(&s));
        if !ok {
            return Err(bad("passwordPolicy", "must be one of none, low, fair, good, excellent"));
        }
    }
    validate_authentication_methods(o)?;
    for flag in [
        "requires_username",
        "brute_force_protection",
        "disable_signup",
        "enabledDatabaseCustomization",
        "import_mode",
        "disable_self_service_change_password",
    ] {
        if o.get(flag).is_some_and(|v| !v.is_boolean()) {
            return Err(bad(flag, "Expected type boolean"));
        }
    }
    if let Some(v) = o.get("validation") {
        let username = v.get("username");
        let min = username.and_then(|u| u.get("min")).and_then(Value::as_u64);
        let max = username.and_then(|u| u.get("max")).and_then(Value::as_u64);
        match (min, max) {
            (Some(min), Some(max)) if 1 <= min && min <= max && max <= 128 => {}
            _ => return Err(bad("validation.username", "min and max are required, with 1 <= min <= max <= 128")),
        }
    }
    if let Some(v) = o.get("password_complexity_options") {
        let min = v.get("min_length").and_then(Value::as_u64);
        if !min.is_some_and(|m| (1..=128).contains(&m)) {
            return Err(bad("password_complexity_options.min_length", "must be an integer from 1 to 128"));
        }
    }
    for (field, limit) in [("password_history", 24u64), ("password_dictionary", 0)] {
        if let Some(v) = o.get(field) {
            if !v.get("enable").is_some_and(Value::is_boolean) {
                return Err(bad(&format!("{field}.enable"), "is required and must be a boolean"));
            }
            if limit > 0 && v.get("size").is_some_and(|s| s.as_u64().is_none_or(|n| n > limit)) {
                return Err(bad(&format!("{field}.size"), "must be an integer from 0 to 24"));
            }
        }
    }
    Ok(())
}

/// Type checks for the `email` and `sms` strategy options Gatehouse understands:
/// `disable_signup`, `brute_force_protection`, and `totp` (`time_step` 60 s to a day,
/// `length` 4 to 10 digits). Other options are kept.
fn validate_passwordless_options(o: &Map<String, Value>) -> Result<(), Error> {
    let bad = |field: &str, reason: &str| Error::invalid_field(format!("options.{field}"), reason);
    for flag in ["disable_signup", "brute_force_protection"] {
        if o.get(flag).is_some_and(|v| !v.is_boolean()) {
            return Err(bad(flag, "Expected type boolean"));
        }
    }
    if let Some(totp) = o.get("totp") {
        let Some(totp) = totp.as_object() else { return Err(bad("totp", "Expected type object")) };
        if totp.get("time_step").is_some_and(|v| v.as_i64().is_none_or(|n| !(60..=86_400).contains(&n))) {
            return Err(bad("totp.time_step", "must be an integer from 60 to 86400 (seconds)"));
        }
        if totp.get("length").is_some_and(|v| v.as_u64().is_none_or(|n| !(4..=10).contains(&n))) {
            return Err(bad("totp.length", "must be an integer from 4 to 10"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_database_connections_only() {
        let c = new_connection(
            &json!({"name": "db-1", "strategy": "auth0", "options": {"requires_username": true}}),
            "con_x".into(),
            "t",
        );
        let c = c.unwrap_or_else(|e| unreachable!("{e}"));
        assert!(c.requires_username());
        assert_eq!(c.realms, vec!["db-1".to_string()]);
        assert!(new_connection(&json!({"name": "-bad", "strategy": "auth0"}), "con_x".into(), "t").is_err());
        assert!(new_connection(&json!({"name": "g", "strategy": "saml"}), "con_x".into(), "t").is_err());
        let e = new_connection(
            &json!({"name": "g", "strategy": "auth0", "options": {"passwordPolicy": "great"}}),
            "con_x".into(),
            "t",
        );
        assert_eq!(
            e.err().map(|e| e.to_string()).as_deref(),
            Some("Payload validation error: 'must be one of none, low, fair, good, excellent' on property options.passwordPolicy.")
        );
    }

    #[test]
    fn authentication_methods_are_checked_and_passkeys_are_off_by_default() {
        let create = |options: Value| {
            new_connection(&json!({"name": "db-1", "strategy": "auth0", "options": options}), "con_x".into(), "t")
        };
        let c = create(json!({})).unwrap_or_else(|e| unreachable!("{e}"));
        let m = c.authentication_methods();
        assert!(m.password && !m.passkey);
        let c = create(json!({
            "authentication_methods": {"password": {"enabled": false}, "passkey": {"enabled": true}},
            "passkey_options": {"challenge_ui": "autofill", "progressive_enrollment_enabled": false}
        }))
        .unwrap_or_else(|e| unreachable!("{e}"));
        let m = c.authentication_methods();
        assert!(!m.password && m.passkey && !m.progressive_enrollment && m.local_enrollment);
        assert_eq!(m.challenge_ui, ChallengeUi::Autofill);
        assert!(m.challenge_ui.autofill() && !m.challenge_ui.button());
        for (options, property) in [
            (json!({"authentication_methods": []}), "options.authentication_methods"),
            (json!({"authentication_methods": {"otp": {"enabled": true}}}), "options.authentication_methods.otp"),
            (
                json!({"authentication_methods": {"passkey": {"enabled": "yes"}}}),
                "options.authentication_methods.passkey.enabled",
            ),
            (json!({"authentication_methods": {"passkey": {"on": true}}}), "options.authentication_methods.passkey.on"),
            (json!({"authentication_methods": {"password": {"enabled": false}}}), "options.authentication_methods"),
            (json!({"passkey_options": {"challenge_ui": "popup"}}), "options.passkey_options.challenge_ui"),
            (
                json!({"passkey_options": {"local_enrollment_enabled": 1}}),
                "options.passkey_options.local_enrollment_enabled",
            ),
            (json!({"passkey_options": {"autofill": true}}), "options.passkey_options.autofill"),
            (json!({"passkey_options": "both"}), "options.passkey_options"),
        ] {
            let e = create(options.clone()).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.ends_with(&format!("on property {property}.")), "{options}: {e}");
        }
    }

    #[test]
    fn social_connections_validate_and_hide_secrets() {
        let e = new_connection(&json!({"name": "g", "strategy": "google-oauth2"}), "con_x".into(), "t");
        assert!(e.is_err_and(|e| e.to_string().contains("options")));
        let e = new_connection(
            &json!({"name": "g", "strategy": "github", "options": {"client_id": "a"}}),
            "con_x".into(),
            "t",
        );
        assert!(e.is_err_and(|e| e.to_string().contains("options.client_secret")));
        let c = new_connection(
            &json!({"name": "gh", "strategy": "github", "options": {"client_id": "a", "client_secret": "s3cret"}}),
            "con_x".into(),
            "t",
        );
        let mut c = c.unwrap_or_else(|e| unreachable!("{e}"));
        let shown = c.to_auth0_json(true);
        assert_eq!(shown["options"], json!({"client_id": "a"}));
        assert!(!shown.to_string().contains("s3cret"));
        patch_connection(&json!({"options": {"client_id": "b"}}), &mut c, "t2").unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(c.options.get("client_secret"), Some(&json!("s3cret")), "an omitted secret is kept");
        assert_eq!(c.options.get("client_id"), Some(&json!("b")));
        patch_connection(&json!({"options": {"client_id": "b", "client_secret": "new"}}), &mut c, "t3")
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(c.options.get("client_secret"), Some(&json!("new")));
    }
}
