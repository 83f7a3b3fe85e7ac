//! `options.legacy_store`: strict parsing (unknown keys and wrong types are errors that
//! name the option) and redaction of the secrets it holds.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// What the API shows instead of a secret. Sending it back in a PATCH keeps the stored
/// value.
pub const MASK: &str = "********";

const ROOT: &str = "options.legacy_store";

/// A configuration problem, naming the option under `options.legacy_store`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Payload validation error: '{reason}' on property {ROOT}{field}.")]
pub struct ConfigError {
    /// `""` for `legacy_store` itself, else `.name` (with a leading dot).
    pub field: String,
    pub reason: String,
}

fn err(field: &str, reason: impl Into<String>) -> ConfigError {
    let field = if field.is_empty() { String::new() } else { format!(".{field}") };
    ConfigError { field, reason: reason.into() }
}

pub(crate) struct Parsed {
    pub import_mode: bool,
    pub timeout: Duration,
    pub kind: KindConfig,
}

pub(crate) enum KindConfig {
    Sql(SqlConfig),
    Http(HttpConfig),
    Ldap(LdapConfig),
    Auth0(Auth0Config),
    /// Auth0's custom database scripts (`options.customScripts`).
    Scripts(crate::scripts::ScriptsConfig),
}

pub(crate) struct Auth0Config {
    /// The tenant's base URL, ending in `/`.
    pub domain: url::Url,
    pub client_id: String,
    pub client_secret: String,
    /// The old tenant's database connection (the password-realm `realm`).
    pub connection: String,
    /// How long `list` may wait for a users export.
    pub export_timeout: Duration,
}

pub(crate) struct SqlConfig {
    pub url: String,
    /// Query name → SQL text with named parameters.
    pub queries: BTreeMap<String, String>,
    pub custom_password_hash: Option<Value>,
    pub max_connections: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum HttpAuth {
    Bearer,
    Hmac,
}

pub(crate) struct HttpConfig {
    /// Endpoint name (`login`, `get_user`, …) → URL.
    pub urls: BTreeMap<String, url::Url>,
    pub secret: String,
    pub auth: HttpAuth,
}

pub(crate) struct LdapConfig {
    pub url: String,
    pub starttls: bool,
    pub bind_dn: String,
    pub bind_password: String,
    pub base_dn: String,
    pub user_filter: String,
    pub list_filter: String,
    /// Profile field → LDAP attribute.
    pub attributes: BTreeMap<String, String>,
}

/// Profile fields a store may map (SQL columns, HTTP JSON fields, LDAP attributes).
pub(crate) const PROFILE_FIELDS: &[&str] = &[
    "user_id",
    "email",
    "email_verified",
    "username",
    "name",
    "given_name",
    "family_name",
    "nickname",
    "picture",
    "password_hash",
];

const SQL_QUERIES: &[&str] = &["login", "get_user", "create", "verify", "change_password", "delete", "list"];
const HTTP_ENDPOINTS: &[&str] = &["login", "get_user", "create", "verify", "change_password", "delete", "list"];

struct Obj<'a> {
    m: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Obj<'a> {
    fn path(&self, k: &str) -> String {
        if self.prefix.is_empty() {
            k.to_string()
        } else {
            format!("{}.{k}", self.prefix)
        }
    }

    fn only(&self, allowed: &[&str]) -> Result<(), ConfigError> {
        match self.m.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(err(&self.path(k), format!("unknown option; expected one of {}", allowed.join(", ")))),
            None => Ok(()),
        }
    }

    fn string(&self, k: &str, max: usize) -> Result<Option<String>, ConfigError> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Err(err(&self.path(k), "must not be empty")),
            Some(Value::String(s)) if s.len() > max => {
                Err(err(&self.path(k), format!("must be at most {max} characters")))
            }
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(err(&self.path(k), "Expected type string")),
        }
    }

    fn required(&self, k: &str, max: usize) -> Result<String, ConfigError> {
        self.string(k, max)?.ok_or_else(|| err(&self.path(k), "is required"))
    }

    fn boolean(&self, k: &str) -> Result<Option<bool>, ConfigError> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(err(&self.path(k), "Expected type boolean")),
        }
    }

    fn integer(&self, k: &str, min: u64, max: u64) -> Result<Option<u64>, ConfigError> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(err(&self.path(k), format!("must be an integer from {min} to {max}"))),
            },
        }
    }

    fn object(&self, k: &str) -> Result<Option<&'a Map<String, Value>>, ConfigError> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(_) => Err(err(&self.path(k), "Expected type object")),
        }
    }
}

/// Checks `options.legacy_store` (when present) without building anything. For
/// connection create/update.
pub fn validate_options(options: &Map<String, Value>) -> Result<(), ConfigError> {
    parse_store(options).map(|_| ())
}

/// The parsed configuration, `None` unless custom databases are enabled and a store is
/// configured.
pub(crate) fn parse(options: &Map<String, Value>) -> Result<Option<Parsed>, ConfigError> {
    let parsed = parse_store(options)?;
    let enabled = options.get("enabledDatabaseCustomization").and_then(Value::as_bool).unwrap_or(false);
    if !enabled {
        return Ok(None);
    }
    Ok(parsed.or_else(|| parse_scripts(options)))
}

/// Auth0's custom database scripts, when `customScripts` has a `login` script (and no
/// `legacy_store` is configured): the scripts Gatehouse runs, and `configuration`.
fn parse_scripts(options: &Map<String, Value>) -> Option<Parsed> {
    let scripts = options.get("customScripts")?.as_object()?;
    let mut chosen = BTreeMap::new();
    for name in crate::scripts::SCRIPT_NAMES {
        if let Some(source) = scripts.get(*name).and_then(Value::as_str).filter(|s| !s.trim().is_empty()) {
            chosen.insert(name.to_string(), source.to_string());
        }
    }
    if !chosen.contains_key("login") {
        return None;
    }
    let configuration = options.get("configuration").and_then(Value::as_object).cloned().unwrap_or_default();
    let import_mode = options.get("import_mode").and_then(Value::as_bool).unwrap_or(false);
    Some(Parsed {
        import_mode,
        timeout: Duration::from_secs(20),
        kind: KindConfig::Scripts(crate::scripts::ScriptsConfig { scripts: chosen, configuration }),
    })
}

fn parse_store(options: &Map<String, Value>) -> Result<Option<Parsed>, ConfigError> {
    let Some(raw) = options.get("legacy_store") else { return Ok(None) };
    let Value::Object(m) = raw else { return Err(err("", "Expected type object")) };
    let o = Obj { m, prefix: "" };
    let import_mode = options.get("import_mode").and_then(Value::as_bool).unwrap_or(false);
    let timeout = Duration::from_millis(o.integer("timeout_ms", 100, 30_000)?.unwrap_or(5_000));
    let kind = match o.required("kind", 16)?.as_str() {
        "sql" => KindConfig::Sql(parse_sql(&o)?),
        "http" => KindConfig::Http(parse_http(&o)?),
        "ldap" => KindConfig::Ldap(parse_ldap(&o)?),
        "auth0" => KindConfig::Auth0(parse_auth0(&o)?),
        other => return Err(err("kind", format!("{other:?} is not one of sql, http, ldap, auth0"))),
    };
    Ok(Some(Parsed { import_mode, timeout, kind }))
}

fn parse_sql(o: &Obj) -> Result<SqlConfig, ConfigError> {
    o.only(&["kind", "timeout_ms", "url", "queries", "custom_password_hash", "max_connections"])?;
    let url = o.required("url", 2048)?;
    if !["mysql://", "mariadb://", "postgres://", "postgresql://", "sqlite:"].iter().any(|p| url.starts_with(p)) {
        return Err(err("url", "must start with mysql://, mariadb://, postgres://, postgresql:// or sqlite:"));
    }
    let queries_raw = o.object("queries")?.ok_or_else(|| err("queries", "is required"))?;
    let q = Obj { m: queries_raw, prefix: "queries" };
    q.only(SQL_QUERIES)?;
    let mut queries = BTreeMap::new();
    for name in SQL_QUERIES {
        if let Some(sql) = q.string(name, 100_000)? {
            // Checks the named parameters now, so a typo is reported at configuration time.
            crate::sql::check_query(name, &sql, &url).map_err(|reason| err(&format!("queries.{name}"), reason))?;
            queries.insert(name.to_string(), sql);
        }
    }
    for required in ["login", "get_user"] {
        if !queries.contains_key(required) {
            return Err(err(&format!("queries.{required}"), "is required"));
        }
    }
    let custom_password_hash = match o.m.get("custom_password_hash") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => return Err(err("custom_password_hash", "Expected type object")),
    };
    let max_connections = o.integer("max_connections", 1, 64)?.unwrap_or(4) as u32;
    Ok(SqlConfig { url, queries, custom_password_hash, max_connections })
}

fn parse_http(o: &Obj) -> Result<HttpConfig, ConfigError> {
    let mut allowed = vec!["kind", "timeout_ms", "secret", "auth"];
    let keys: Vec<String> = HTTP_ENDPOINTS.iter().map(|e| format!("{e}_url")).collect();
    allowed.extend(keys.iter().map(String::as_str));
    o.only(&allowed)?;
    let mut urls = BTreeMap::new();
    for (name, key) in HTTP_ENDPOINTS.iter().zip(&keys) {
        if let Some(raw) = o.string(key, 2048)? {
            let parsed = url::Url::parse(&raw).map_err(|e| err(key, format!("is not a URL: {e}")))?;
            if !["http", "https"].contains(&parsed.scheme()) {
                return Err(err(key, "must be an http:// or https:// URL"));
            }
            urls.insert(name.to_string(), parsed);
        }
    }
    for required in ["login", "get_user"] {
        if !urls.contains_key(required) {
            return Err(err(&format!("{required}_url"), "is required"));
        }
    }
    let secret = o.required("secret", 1024)?;
    if secret.len() < 16 {
        return Err(err("secret", "must be at least 16 characters"));
    }
    let auth = match o.string("auth", 16)?.as_deref() {
        None | Some("bearer") => HttpAuth::Bearer,
        Some("hmac") => HttpAuth::Hmac,
        Some(other) => return Err(err("auth", format!("{other:?} is not one of bearer, hmac"))),
    };
    Ok(HttpConfig { urls, secret, auth })
}

fn parse_ldap(o: &Obj) -> Result<LdapConfig, ConfigError> {
    o.only(&[
        "kind",
        "timeout_ms",
        "url",
        "starttls",
        "bind_dn",
        "bind_password",
        "base_dn",
        "user_filter",
        "list_filter",
        "attributes",
    ])?;
    let url = o.required("url", 2048)?;
    if !url.starts_with("ldap://") && !url.starts_with("ldaps://") {
        return Err(err("url", "must start with ldap:// or ldaps://"));
    }
    let starttls = o.boolean("starttls")?.unwrap_or(false);
    if starttls && url.starts_with("ldaps://") {
        return Err(err("starttls", "cannot be combined with an ldaps:// url"));
    }
    let bind_dn = o.required("bind_dn", 1024)?;
    // An empty password would be an anonymous ("unauthenticated") bind.
    let bind_password = o.required("bind_password", 1024)?;
    let base_dn = o.required("base_dn", 1024)?;
    let user_filter = o.string("user_filter", 1024)?.unwrap_or_else(|| "(|(mail={login})(uid={login}))".into());
    if !user_filter.contains("{login}") || !user_filter.starts_with('(') {
        return Err(err("user_filter", "must be an LDAP filter in parentheses containing {login}"));
    }
    let list_filter = o.string("list_filter", 1024)?.unwrap_or_else(|| "(objectClass=inetOrgPerson)".into());
    if !list_filter.starts_with('(') {
        return Err(err("list_filter", "must be an LDAP filter in parentheses"));
    }
    let mut attributes: BTreeMap<String, String> = [
        ("user_id", "uid"),
        ("email", "mail"),
        ("username", "uid"),
        ("name", "cn"),
        ("given_name", "givenName"),
        ("family_name", "sn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(m) = o.object("attributes")? {
        let a = Obj { m, prefix: "attributes" };
        a.only(PROFILE_FIELDS)?;
        for field in PROFILE_FIELDS {
            if let Some(attr) = a.string(field, 128)? {
                attributes.insert(field.to_string(), attr);
            }
        }
    }
    Ok(LdapConfig { url, starttls, bind_dn, bind_password, base_dn, user_filter, list_filter, attributes })
}

fn parse_auth0(o: &Obj) -> Result<Auth0Config, ConfigError> {
    o.only(&["kind", "timeout_ms", "domain", "client_id", "client_secret", "connection", "export_timeout_ms"])?;
    let raw = o.required("domain", 2048)?;
    let with_scheme = if raw.contains("://") { raw.clone() } else { format!("https://{raw}") };
    let mut domain = url::Url::parse(&with_scheme).map_err(|e| err("domain", format!("is not a URL: {e}")))?;
    let loopback = match domain.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    };
    match domain.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(err("domain", "must be an https:// URL (http:// only to a loopback address)")),
    }
    if domain.query().is_some() || domain.fragment().is_some() || !domain.username().is_empty() {
        return Err(err("domain", "must be the tenant's base URL, without credentials, query or fragment"));
    }
    if !domain.path().ends_with('/') {
        let path = format!("{}/", domain.path());
        domain.set_path(&path);
    }
    let client_id = o.required("client_id", 256)?;
    let client_secret = o.required("client_secret", 1024)?;
    let connection = o.required("connection", 128)?;
    let export_timeout = Duration::from_millis(o.integer("export_timeout_ms", 1_000, 86_400_000)?.unwrap_or(3_600_000));
    Ok(Auth0Config { domain, client_id, client_secret, connection, export_timeout })
}

/// The keys of `options.legacy_store` that hold a secret as a whole.
const SECRET_KEYS: [&str; 3] = ["bind_password", "secret", "client_secret"];

/// Replaces the secrets of `options.legacy_store` (a URL's password, `bind_password`,
/// `secret`, `client_secret`) by [`MASK`], for every answer of the API.
pub fn redact_options(options: &mut Map<String, Value>) {
    // A custom database's `configuration` holds its scripts' secrets.
    if let Some(Value::Object(configuration)) = options.get_mut("configuration") {
        for v in configuration.values_mut() {
            if v.is_string() {
                *v = Value::String(MASK.into());
            }
        }
    }
    let Some(Value::Object(store)) = options.get_mut("legacy_store") else { return };
    for key in SECRET_KEYS {
        if let Some(v) = store.get_mut(key) {
            if v.is_string() {
                *v = Value::String(MASK.into());
            }
        }
    }
    if let Some(Value::String(raw)) = store.get_mut("url") {
        if let Ok(mut u) = url::Url::parse(raw) {
            if u.password().is_some() && u.set_password(Some(MASK)).is_ok() {
                *raw = u.to_string();
            }
        }
    }
}

/// Before a PATCH replaces `options`: secrets sent back as [`MASK`] take the stored value
/// from `old`. A mask with nothing stored behind it is an error.
pub fn restore_masked(new: &mut Map<String, Value>, old: &Map<String, Value>) -> Result<(), ConfigError> {
    if let Some(Value::Object(configuration)) = new.get_mut("configuration") {
        let old_configuration = old.get("configuration").and_then(Value::as_object);
        for (k, v) in configuration.iter_mut() {
            if v.as_str() == Some(MASK) {
                let kept = old_configuration.and_then(|o| o.get(k)).filter(|v| v.is_string()).cloned();
                *v = kept.ok_or_else(|| ConfigError {
                    field: String::new(),
                    reason: format!("options.configuration.{k} is the redaction mask; send the real value"),
                })?;
            }
        }
    }
    let Some(Value::Object(store)) = new.get_mut("legacy_store") else { return Ok(()) };
    let old_store = old.get("legacy_store").and_then(Value::as_object);
    let stored = |key: &str| old_store.and_then(|o| o.get(key)).and_then(Value::as_str).map(str::to_string);
    for key in SECRET_KEYS {
        if store.get(key).and_then(Value::as_str) == Some(MASK) {
            let value = stored(key).ok_or_else(|| err(key, "is the redaction mask; send the real value"))?;
            store.insert(key.into(), Value::String(value));
        }
    }
    if let Some(Value::String(raw)) = store.get_mut("url") {
        if let Ok(mut u) = url::Url::parse(raw) {
            if u.password().is_some_and(|p| decode(p) == MASK) {
                let old_password = stored("url")
                    .and_then(|o| url::Url::parse(&o).ok())
                    .and_then(|o| o.password().map(str::to_string))
                    .ok_or_else(|| err("url", "its password is the redaction mask; send the real password"))?;
                // Already percent-encoded: set as is.
                u.set_password(Some(&decode(&old_password))).map_err(|()| err("url", "cannot carry a password"))?;
                *raw = u.to_string();
            }
        }
    }
    Ok(())
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn sql_options() -> Map<String, Value> {
        opts(json!({
            "enabledDatabaseCustomization": true,
            "import_mode": true,
            "legacy_store": {
                "kind": "sql",
                "url": "mysql://app:s3cr%40t@db.internal:3306/legacy",
                "queries": {
                    "login": "SELECT id AS user_id, mail AS email, pw AS password_hash FROM members WHERE mail = :email",
                    "get_user": "SELECT id AS user_id, mail AS email FROM members WHERE mail = :email"
                }
            }
        }))
    }

    #[test]
    fn errors_name_the_option() {
        let mut o = sql_options();
        o["legacy_store"]["queries"]["login"] = json!("SELECT * FROM t WHERE a = :emial");
        let e = validate_options(&o).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "Payload validation error: 'unknown parameter :emial; this query takes :email, :username' on property options.legacy_store.queries.login."
            )
        );
        let mut o = sql_options();
        o["legacy_store"]["queries"].as_object_mut().map(|q| q.remove("get_user"));
        assert_eq!(validate_options(&o).err().map(|e| e.field), Some(".queries.get_user".into()));
        let mut o = sql_options();
        o["legacy_store"]["bogus"] = json!(1);
        assert_eq!(validate_options(&o).err().map(|e| e.field), Some(".bogus".into()));
        let mut o = sql_options();
        o["legacy_store"]["kind"] = json!("mongo");
        assert_eq!(validate_options(&o).err().map(|e| e.field), Some(".kind".into()));
        let o = opts(json!({"legacy_store": {"kind": "ldap", "url": "ldap://x", "bind_dn": "cn=a",
            "bind_password": "", "base_dn": "dc=x"}}));
        assert_eq!(validate_options(&o).err().map(|e| e.field), Some(".bind_password".into()));
        let o = opts(json!({"legacy_store": {"kind": "http", "login_url": "ftp://x", "get_user_url": "http://x",
            "secret": "0123456789abcdef"}}));
        assert_eq!(validate_options(&o).err().map(|e| e.field), Some(".login_url".into()));
    }

    #[test]
    fn only_enabled_customization_builds_a_store() {
        let mut o = sql_options();
        assert!(parse(&o).ok().flatten().is_some());
        o.insert("enabledDatabaseCustomization".into(), json!(false));
        assert!(parse(&o).ok().flatten().is_none());
    }

    #[test]
    fn secrets_are_masked_and_restored() {
        let stored = sql_options();
        let mut shown = stored.clone();
        redact_options(&mut shown);
        let url = shown["legacy_store"]["url"].as_str().unwrap_or_default().to_string();
        assert!(!url.contains("s3cr"), "{url}");
        assert!(url.contains(MASK), "{url}");
        let mut patch = shown.clone();
        assert_eq!(restore_masked(&mut patch, &stored), Ok(()));
        assert_eq!(patch, stored);

        let mut http = opts(json!({"legacy_store": {"kind": "http", "login_url": "http://x/l",
            "get_user_url": "http://x/g", "secret": "0123456789abcdefXYZ"}}));
        let original = http.clone();
        redact_options(&mut http);
        assert_eq!(http["legacy_store"]["secret"], json!(MASK));
        assert_eq!(restore_masked(&mut http, &original), Ok(()));
        assert_eq!(http, original);
        // A mask with nothing behind it cannot be stored.
        let mut fresh = opts(json!({"legacy_store": {"kind": "http", "secret": MASK}}));
        assert_eq!(restore_masked(&mut fresh, &Map::new()).err().map(|e| e.field), Some(".secret".into()));

        let mut auth0 = opts(json!({"legacy_store": {"kind": "auth0", "domain": "https://old.eu.auth0.com",
            "client_id": "abc", "client_secret": "very-secret", "connection": "Username-Password-Authentication"}}));
        let original = auth0.clone();
        redact_options(&mut auth0);
        assert_eq!(auth0["legacy_store"]["client_secret"], json!(MASK));
        assert_eq!(restore_masked(&mut auth0, &original), Ok(()));
        assert_eq!(auth0, original);
    }

    #[test]
    fn auth0_domain_is_https_or_loopback() {
        let store = |domain: &str| {
            opts(json!({"legacy_store": {"kind": "auth0", "domain": domain, "client_id": "abc",
                "client_secret": "s", "connection": "db"}}))
        };
        for ok in [
            "https://old.eu.auth0.com",
            "old.eu.auth0.com",
            "http://127.0.0.1:8080",
            "http://[::1]:1/",
            "http://localhost:3000",
        ] {
            assert_eq!(validate_options(&store(ok)), Ok(()), "{ok}");
        }
        for bad in [
            "http://old.eu.auth0.com",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "https://u:p@old.auth0.com",
            "https://old.auth0.com/?x=1",
        ] {
            assert_eq!(validate_options(&store(bad)).err().map(|e| e.field), Some(".domain".into()), "{bad}");
        }
        let mut missing = store("https://old.auth0.com");
        missing["legacy_store"].as_object_mut().map(|m| m.remove("connection"));
        assert_eq!(validate_options(&missing).err().map(|e| e.field), Some(".connection".into()));
    }
}
