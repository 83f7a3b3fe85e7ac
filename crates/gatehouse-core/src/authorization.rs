//! Authorization's domain: APIs (Auth0's resource servers) with their scopes and token
//! settings, roles, the permissions roles and users hold, and the rules that decide
//! what an access token for an API carries.
//!
//! A permission is an API's scope held by a role or a user: `(API identifier, scope)`.
//! With RBAC on (`enforce_policies`), a user's token carries only the requested scopes
//! the user holds, through a role or directly.

use crate::validate::{Body, Patch};
use crate::Error;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The OpenID Connect scopes, granted to any user token whatever the API.
pub const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// Auth0's defaults and bounds for an API's access-token lifetimes, in seconds.
pub const DEFAULT_TOKEN_LIFETIME: i64 = 86_400;
pub const DEFAULT_TOKEN_LIFETIME_FOR_WEB: i64 = 7_200;
pub const MAX_TOKEN_LIFETIME: i64 = 2_592_000;

/// The one signing algorithm Gatehouse signs API tokens with.
pub const SIGNING_ALG: &str = "RS256";

/// Bounds on what one request may name.
pub const MAX_SCOPES_PER_API: usize = 1_000;
pub const MAX_ITEMS_PER_REQUEST: usize = 1_000;

/// What an API's access tokens look like (Auth0's `token_dialect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenDialect {
    /// Auth0's access token: `scope`, `azp`.
    #[default]
    AccessToken,
    /// The same, with a `permissions` claim.
    AccessTokenAuthz,
    /// RFC 9068's JWT profile: `typ: at+jwt`, `client_id`, `jti`.
    Rfc9068Profile,
    /// RFC 9068's profile with a `permissions` claim.
    Rfc9068ProfileAuthz,
}

impl TokenDialect {
    const NAMES: [(Self, &'static str); 4] = [
        (Self::AccessToken, "access_token"),
        (Self::AccessTokenAuthz, "access_token_authz"),
        (Self::Rfc9068Profile, "rfc9068_profile"),
        (Self::Rfc9068ProfileAuthz, "rfc9068_profile_authz"),
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES.iter().find(|(d, _)| *d == self).map_or("access_token", |(_, n)| n)
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(_, n)| *n == name).map(|(d, _)| *d)
    }

    /// Whether tokens carry the `permissions` claim.
    pub fn carries_permissions(self) -> bool {
        matches!(self, Self::AccessTokenAuthz | Self::Rfc9068ProfileAuthz)
    }

    /// Whether tokens follow RFC 9068.
    pub fn is_rfc9068(self) -> bool {
        matches!(self, Self::Rfc9068Profile | Self::Rfc9068ProfileAuthz)
    }
}

/// A scope an API defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiScope {
    pub value: String,
    #[serde(default)]
    pub description: String,
}

/// An API whose access tokens Gatehouse issues (Auth0's resource server).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceServer {
    pub id: String,
    pub name: String,
    /// The `audience` a token request names; never changes.
    pub identifier: String,
    /// The Management API: listed, never changed or deleted through the API.
    pub is_system: bool,
    pub scopes: Vec<ApiScope>,
    pub signing_alg: String,
    pub token_lifetime: i64,
    /// For tokens issued to browsers by the implicit and hybrid flows, which Gatehouse
    /// does not offer: kept so a configuration carries over unchanged.
    pub token_lifetime_for_web: i64,
    pub allow_offline_access: bool,
    /// Gatehouse shows no consent screen, so this changes nothing; kept and reported.
    pub skip_consent_for_verifiable_first_party_clients: bool,
    /// RBAC: a user's token carries only scopes the user holds as permissions.
    pub enforce_policies: bool,
    pub token_dialect: TokenDialect,
    pub created_at: String,
    pub updated_at: String,
}

/// The fields a new API may be given; a PATCH takes the same but `identifier`.
const API_FIELDS: &[&str] = &[
    "name",
    "identifier",
    "scopes",
    "signing_alg",
    "token_lifetime",
    "token_lifetime_for_web",
    "allow_offline_access",
    "skip_consent_for_verifiable_first_party_clients",
    "enforce_policies",
    "token_dialect",
];

impl ResourceServer {
    /// The Management API as an API: its scopes are the management scopes.
    pub fn management(id: String, identifier: String, token_lifetime: i64, now: &str) -> Self {
        let scopes = crate::scope::MANAGEMENT_SCOPES
            .iter()
            .map(|s| ApiScope { value: s.to_string(), description: management_scope_description(s) })
            .collect();
        Self {
            // Auth0's name: tools that carry a tenant's APIs (the Deploy CLI) know the
            // Management API by it and leave it out, as its identifier is each server's own.
            name: "Auth0 Management API".into(),
            is_system: true,
            scopes,
            token_lifetime,
            token_lifetime_for_web: token_lifetime.min(DEFAULT_TOKEN_LIFETIME_FOR_WEB),
            ..Self::new(id, identifier, now)
        }
    }

    /// An API with Auth0's defaults.
    pub fn new(id: String, identifier: String, now: &str) -> Self {
        Self {
            id,
            name: identifier.clone(),
            identifier,
            is_system: false,
            scopes: Vec::new(),
            signing_alg: SIGNING_ALG.into(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            token_lifetime_for_web: DEFAULT_TOKEN_LIFETIME_FOR_WEB,
            allow_offline_access: false,
            skip_consent_for_verifiable_first_party_clients: false,
            enforce_policies: false,
            token_dialect: TokenDialect::AccessToken,
            created_at: now.to_string(),
            updated_at: now.to_string(),
        }
    }

    /// A new API from a create body (Auth0's `POST /resource-servers`).
    pub fn from_create_body(body: &Value, id: String, now: &str) -> Result<Self, Error> {
        let b = Body::new(body, API_FIELDS)?;
        let identifier = b.required_string("identifier", 1, 600)?;
        if identifier.chars().any(char::is_whitespace) {
            return Err(Error::invalid_field("identifier", "must not contain whitespace"));
        }
        let mut api = Self::new(id, identifier, now);
        api.apply(&b, true)?;
        Ok(api)
    }

    /// Applies a PATCH body; `identifier` cannot change.
    pub fn apply_patch(&mut self, body: &Value, now: &str) -> Result<(), Error> {
        if self.is_system {
            return Err(Error::Rejected {
                code: "operation_not_supported",
                message: "The Management API is a system API and cannot be changed.".into(),
            });
        }
        let allowed: Vec<&str> = API_FIELDS.iter().copied().filter(|f| *f != "identifier").collect();
        let b = Body::new(body, &allowed)?;
        self.apply(&b, false)?;
        self.updated_at = now.to_string();
        Ok(())
    }

    fn apply(&mut self, b: &Body<'_>, creating: bool) -> Result<(), Error> {
        if let Patch::Set(name) = b.string("name", 1, 200)? {
            if name.contains(['<', '>']) {
                return Err(Error::invalid_field("name", "must not contain < or >"));
            }
            self.name = name;
        }
        if let Some(raw) = b.raw("scopes").filter(|v| !v.is_null()) {
            self.scopes = parse_scopes(raw)?;
        }
        if let Patch::Set(alg) = b.string("signing_alg", 1, 16)? {
            if alg != SIGNING_ALG {
                return Err(Error::invalid_field(
                    "signing_alg",
                    format!("Gatehouse signs API tokens with {SIGNING_ALG} only; {alg} is not supported"),
                ));
            }
        }
        let lifetime = b.integer("token_lifetime", 1, MAX_TOKEN_LIFETIME)?;
        let for_web = b.integer("token_lifetime_for_web", 1, MAX_TOKEN_LIFETIME)?;
        if let Patch::Set(t) = lifetime {
            self.token_lifetime = t;
        }
        match for_web {
            Patch::Set(t) if t > self.token_lifetime => {
                return Err(Error::invalid_field(
                    "token_lifetime_for_web",
                    format!("must not be greater than token_lifetime ({})", self.token_lifetime),
                ));
            }
            Patch::Set(t) => self.token_lifetime_for_web = t,
            // A shorter token_lifetime takes the web lifetime down with it.
            _ if creating || !lifetime.is_absent() => {
                self.token_lifetime_for_web = self.token_lifetime_for_web.min(self.token_lifetime)
            }
            _ => {}
        }
        if let Patch::Set(v) = b.boolean("allow_offline_access")? {
            self.allow_offline_access = v;
        }
        if let Patch::Set(v) = b.boolean("skip_consent_for_verifiable_first_party_clients")? {
            self.skip_consent_for_verifiable_first_party_clients = v;
        }
        if let Patch::Set(v) = b.boolean("enforce_policies")? {
            self.enforce_policies = v;
        }
        if let Patch::Set(d) = b.string("token_dialect", 1, 64)? {
            self.token_dialect = TokenDialect::parse(&d).ok_or_else(|| {
                Error::invalid_field(
                    "token_dialect",
                    "must be one of access_token, access_token_authz, rfc9068_profile, rfc9068_profile_authz",
                )
            })?;
        }
        if self.token_dialect.carries_permissions() && !self.enforce_policies {
            return Err(Error::invalid_field(
                "token_dialect",
                format!("{} needs RBAC: set enforce_policies to true", self.token_dialect.as_str()),
            ));
        }
        Ok(())
    }

    /// Whether the API defines `scope`.
    pub fn defines(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s.value == scope)
    }

    pub fn scope_description(&self, scope: &str) -> Option<&str> {
        self.scopes.iter().find(|s| s.value == scope).map(|s| s.description.as_str())
    }

    /// Whether issuing a user token for this API needs the user's permissions.
    pub fn reads_permissions(&self) -> bool {
        self.enforce_policies || self.token_dialect.carries_permissions()
    }

    pub fn to_auth0_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "identifier": self.identifier,
            "is_system": self.is_system,
            "scopes": self.scopes,
            "signing_alg": self.signing_alg,
            "token_lifetime": self.token_lifetime,
            "token_lifetime_for_web": self.token_lifetime_for_web,
            "allow_offline_access": self.allow_offline_access,
            "skip_consent_for_verifiable_first_party_clients": self.skip_consent_for_verifiable_first_party_clients,
            "enforce_policies": self.enforce_policies,
            "token_dialect": self.token_dialect.as_str(),
        })
    }
}

/// `read:users` → "Read users".
fn management_scope_description(scope: &str) -> String {
    let (verb, object) = scope.split_once(':').unwrap_or((scope, ""));
    let mut words = format!("{verb} {}", object.replace('_', " "));
    if let Some(first) = words.get(..1) {
        words.replace_range(..1, &first.to_uppercase());
    }
    words
}

/// An API's `scopes`: `[{value, description}]`, each value once, no whitespace in it.
fn parse_scopes(raw: &Value) -> Result<Vec<ApiScope>, Error> {
    let Value::Array(items) = raw else {
        return Err(Error::invalid_field("scopes", "Expected type array"));
    };
    if items.len() > MAX_SCOPES_PER_API {
        return Err(Error::invalid_field("scopes", format!("at most {MAX_SCOPES_PER_API} scopes")));
    }
    let mut scopes: Vec<ApiScope> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let b = Body::new(item, &["value", "description"])
            .map_err(|_| Error::invalid_field(format!("scopes[{i}]"), "must be an object {value, description}"))?;
        let value = b.required_string("value", 1, 280).map_err(|e| renamed(e, i))?;
        if value.chars().any(char::is_whitespace) {
            return Err(Error::invalid_field(format!("scopes[{i}].value"), "must not contain whitespace"));
        }
        let description = match b.string("description", 0, 500).map_err(|e| renamed(e, i))? {
            Patch::Set(d) => d,
            _ => String::new(),
        };
        if scopes.iter().any(|s| s.value == value) {
            return Err(Error::invalid_field(format!("scopes[{i}].value"), format!("{value:?} is listed twice")));
        }
        scopes.push(ApiScope { value, description });
    }
    Ok(scopes)
}

/// An error about a field of `scopes[i]`, named by its full path.
fn renamed(e: Error, i: usize) -> Error {
    match e {
        Error::InvalidField { field, reason } => Error::InvalidField { field: format!("scopes[{i}].{field}"), reason },
        Error::MissingField { field } => Error::MissingField { field: format!("scopes[{i}].{field}") },
        other => other,
    }
}

/// A named set of permissions users are given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Role {
    /// A new role from a create body (Auth0's `POST /roles`).
    pub fn from_create_body(body: &Value, id: String, now: &str) -> Result<Self, Error> {
        let b = Body::new(body, &["name", "description"])?;
        let name = b.required_string("name", 1, 255)?;
        let mut role = Self { id, name, description: None, created_at: now.into(), updated_at: now.into() };
        b.string("description", 0, 1024)?.apply_to(&mut role.description);
        Ok(role)
    }

    pub fn apply_patch(&mut self, body: &Value, now: &str) -> Result<(), Error> {
        let b = Body::new(body, &["name", "description"])?;
        if let Patch::Set(name) = b.string("name", 1, 255)? {
            self.name = name;
        }
        b.string("description", 0, 1024)?.apply_to(&mut self.description);
        self.updated_at = now.into();
        Ok(())
    }

    pub fn to_auth0_json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "description": self.description})
    }
}

/// A scope of an API, as a role or a user holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Permission {
    pub resource_server_identifier: String,
    pub permission_name: String,
}

impl Permission {
    /// Auth0's permission object, with what the API says of it.
    pub fn to_auth0_json(&self, api: Option<&ResourceServer>) -> Value {
        json!({
            "permission_name": self.permission_name,
            "description": api.and_then(|a| a.scope_description(&self.permission_name)),
            "resource_server_name": api.map(|a| a.name.as_str()),
            "resource_server_identifier": self.resource_server_identifier,
        })
    }
}

/// How a user holds a permission: directly, or through a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionSource {
    Direct,
    Role { id: String, name: String },
}

impl PermissionSource {
    pub fn to_auth0_json(&self) -> Value {
        match self {
            Self::Direct => json!({"source_id": "", "source_name": "", "source_type": "DIRECT"}),
            Self::Role { id, name } => json!({"source_id": id, "source_name": name, "source_type": "ROLE"}),
        }
    }
}

/// The body of Auth0's permission writes: `{"permissions": [{resource_server_identifier,
/// permission_name}]}`, at least one.
pub fn parse_permissions(body: &Value) -> Result<Vec<Permission>, Error> {
    let b = Body::new(body, &["permissions"])?;
    let Some(Value::Array(items)) = b.raw("permissions") else {
        return Err(match b.raw("permissions") {
            None => Error::missing_field("permissions"),
            Some(_) => Error::invalid_field("permissions", "Expected type array"),
        });
    };
    if items.is_empty() || items.len() > MAX_ITEMS_PER_REQUEST {
        return Err(Error::invalid_field(
            "permissions",
            format!("must list between 1 and {MAX_ITEMS_PER_REQUEST} permissions"),
        ));
    }
    let mut permissions = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = |name: &str| format!("permissions[{i}].{name}");
        let b = Body::new(item, &["resource_server_identifier", "permission_name"]).map_err(|_| {
            Error::invalid_field(format!("permissions[{i}]"), "must be {resource_server_identifier, permission_name}")
        })?;
        let get = |key: &str| match b.raw(key) {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 600 => Ok(s.clone()),
            Some(_) => Err(Error::invalid_field(field(key), "must be a non-empty string")),
            None => Err(Error::missing_field(field(key))),
        };
        permissions.push(Permission {
            resource_server_identifier: get("resource_server_identifier")?,
            permission_name: get("permission_name")?,
        });
    }
    permissions.sort();
    permissions.dedup();
    Ok(permissions)
}

/// The ids listed under `key` (`{"users": [...]}`, `{"roles": [...]}`), at least one.
pub fn parse_id_list(body: &Value, key: &str) -> Result<Vec<String>, Error> {
    let b = Body::new(body, &[key])?;
    let Patch::Set(mut ids) = b.string_array(key, MAX_ITEMS_PER_REQUEST)? else {
        return Err(Error::missing_field(key));
    };
    if ids.is_empty() {
        return Err(Error::invalid_field(key, "must list at least one id"));
    }
    if let Some(i) = ids.iter().position(|id| id.is_empty() || id.len() > 600) {
        return Err(Error::invalid_field(format!("{key}[{i}]"), "must be a non-empty id"));
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The scopes a user's token carries, space-separated: the OpenID Connect scopes
/// requested (`offline_access` only where the API allows it), then the requested scopes
/// the API defines — of those, where RBAC applies, only the ones in `held` (the user's
/// permissions for this API). `held` is `None` where RBAC does not apply (yet: an
/// authorization request, before the user is known, keeps what may be granted).
pub fn user_token_scope(requested: &str, api: Option<&ResourceServer>, held: Option<&[String]>) -> String {
    let requested: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    let offline = api.is_none_or(|a| a.allow_offline_access);
    let mut granted: Vec<&str> =
        OIDC_SCOPES.iter().copied().filter(|s| requested.contains(s) && (offline || *s != "offline_access")).collect();
    if let Some(api) = api {
        for s in &requested {
            let holds = held.is_none_or(|held| held.iter().any(|p| p == s));
            if !OIDC_SCOPES.contains(s) && api.defines(s) && holds && !granted.contains(s) {
                granted.push(s);
            }
        }
    }
    granted.join(" ")
}

/// The `permissions` claim of a token for `api`, if its dialect has one: what `held`
/// names that the API still defines, sorted.
pub fn permissions_claim(api: &ResourceServer, held: &[String]) -> Option<Vec<String>> {
    if !api.token_dialect.carries_permissions() {
        return None;
    }
    let mut claim: Vec<String> = held.iter().filter(|p| api.defines(p)).cloned().collect();
    claim.sort();
    claim.dedup();
    Some(claim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(body: Value) -> ResourceServer {
        ResourceServer::from_create_body(&body, "id".into(), "now").expect("valid API")
    }

    fn invoices(rbac: bool) -> ResourceServer {
        api(json!({
            "identifier": "https://invoices.test/",
            "scopes": [{"value": "read:invoices"}, {"value": "write:invoices", "description": "Write"}],
            "enforce_policies": rbac,
            "allow_offline_access": true,
        }))
    }

    #[test]
    fn a_new_api_takes_auth0_defaults() {
        let a = api(json!({"identifier": "https://api.test/"}));
        assert_eq!(a.name, "https://api.test/");
        assert_eq!((a.token_lifetime, a.token_lifetime_for_web), (86_400, 7_200));
        assert_eq!((a.allow_offline_access, a.enforce_policies), (false, false));
        assert_eq!(a.to_auth0_json()["token_dialect"], "access_token");
        assert_eq!(a.to_auth0_json()["signing_alg"], "RS256");
    }

    #[test]
    fn bad_api_bodies_name_the_field() {
        let bad = |body: Value| ResourceServer::from_create_body(&body, "id".into(), "now").unwrap_err();
        assert_eq!(bad(json!({"name": "x"})).field(), Some("identifier"));
        assert_eq!(bad(json!({"identifier": "a b"})).field(), Some("identifier"));
        let twice = bad(json!({"identifier": "a", "scopes": [{"value": "r"}, {"value": "r"}]}));
        assert_eq!(twice.field(), Some("scopes[1].value"));
        assert_eq!(bad(json!({"identifier": "a", "scopes": [{"description": "d"}]})).field(), Some("scopes[0].value"));
        assert_eq!(bad(json!({"identifier": "a", "signing_alg": "HS256"})).field(), Some("signing_alg"));
        assert_eq!(
            bad(json!({"identifier": "a", "token_dialect": "access_token_authz"})).field(),
            Some("token_dialect")
        );
        let longer_for_web = bad(json!({"identifier": "a", "token_lifetime": 60, "token_lifetime_for_web": 61}));
        assert_eq!(longer_for_web.field(), Some("token_lifetime_for_web"));
        assert!(matches!(bad(json!({"identifier": "a", "color": 1})), Error::InvalidBody(_)));
    }

    #[test]
    fn the_identifier_never_changes_and_the_management_api_not_at_all() {
        let mut a = invoices(false);
        assert!(a.apply_patch(&json!({"identifier": "other"}), "later").is_err());
        a.apply_patch(&json!({"token_lifetime": 3600}), "later").expect("patch");
        assert_eq!((a.token_lifetime, a.token_lifetime_for_web, a.updated_at.as_str()), (3600, 3600, "later"));
        let mut m = ResourceServer::management("m".into(), "https://id.test/api/v2/".into(), 86_400, "now");
        assert!(m.defines("read:users"));
        assert_eq!(m.scope_description("read:users"), Some("Read users"));
        assert!(matches!(m.apply_patch(&json!({"name": "x"}), "later"), Err(Error::Rejected { .. })));
    }

    #[test]
    fn without_rbac_a_token_carries_the_requested_scopes_the_api_defines() {
        let a = invoices(false);
        let scope = user_token_scope("openid write:invoices made:up offline_access email", Some(&a), None);
        assert_eq!(scope, "openid email offline_access write:invoices");
    }

    #[test]
    fn with_rbac_a_scope_the_user_does_not_hold_is_dropped() {
        let a = invoices(true);
        let held = vec!["read:invoices".to_string()];
        let requested = "openid read:invoices write:invoices";
        assert_eq!(user_token_scope(requested, Some(&a), Some(&held)), "openid read:invoices");
        assert_eq!(user_token_scope("write:invoices", Some(&a), Some(&[])), "");
        assert_eq!(user_token_scope(requested, Some(&a), None), requested, "before the user is known");
    }

    #[test]
    fn offline_access_only_where_the_api_allows_it() {
        let mut a = invoices(false);
        a.allow_offline_access = false;
        assert_eq!(user_token_scope("openid offline_access", Some(&a), None), "openid");
        assert_eq!(user_token_scope("openid offline_access", None, None), "openid offline_access");
        assert_eq!(user_token_scope("openid read:invoices", None, None), "openid");
    }

    #[test]
    fn the_permissions_claim_lists_what_the_api_still_defines() {
        let mut a = invoices(true);
        let held = vec!["write:invoices".to_string(), "gone:scope".to_string(), "read:invoices".to_string()];
        assert_eq!(permissions_claim(&a, &held), None);
        a.token_dialect = TokenDialect::AccessTokenAuthz;
        assert_eq!(permissions_claim(&a, &held), Some(vec!["read:invoices".to_string(), "write:invoices".to_string()]));
    }

    #[test]
    fn permission_bodies_are_checked_item_by_item() {
        let ok = parse_permissions(&json!({"permissions": [
            {"resource_server_identifier": "a", "permission_name": "r"},
            {"resource_server_identifier": "a", "permission_name": "r"},
        ]}))
        .expect("valid");
        assert_eq!(ok.len(), 1);
        let missing = parse_permissions(&json!({"permissions": [{"resource_server_identifier": "a"}]})).unwrap_err();
        assert_eq!(missing.field(), Some("permissions[0].permission_name"));
        assert_eq!(parse_permissions(&json!({"permissions": []})).unwrap_err().field(), Some("permissions"));
        assert_eq!(parse_id_list(&json!({"users": [""]}), "users").unwrap_err().field(), Some("users[0]"));
        assert_eq!(parse_id_list(&json!({}), "roles").unwrap_err().field(), Some("roles"));
    }
}
