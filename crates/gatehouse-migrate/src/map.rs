//! Mapping each source format's user object to Auth0's bulk-import user object.
//!
//! Mapping never fails a file and never drops a record: what cannot be mapped becomes a
//! [`FieldError`] attached to the record, reported together with the validator's
//! errors. Source fields with no Auth0 counterpart (timestamps, provider links) are left
//! out; Auth0-schema fields are passed through as found, so the validator judges them.

use crate::error::{type_name, FieldError};
use crate::format::ReadOptions;
use serde_json::{json, Map, Value};

/// The top-level fields of Auth0's bulk-import schema.
pub(crate) const IMPORT_FIELDS: &[&str] = &[
    "email",
    "email_verified",
    "phone_number",
    "phone_verified",
    "user_id",
    "username",
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "blocked",
    "password_hash",
    "custom_password_hash",
    "app_metadata",
    "user_metadata",
    "mfa_factors",
];

/// Fields of Auth0's (and Gatehouse's) export that import does not accept; an export
/// re-imports without them.
pub(crate) const EXPORT_ONLY_FIELDS: &[&str] = &[
    "created_at",
    "updated_at",
    "identities",
    "last_ip",
    "last_login",
    "logins_count",
    "last_password_reset",
    "multifactor",
    "multifactor_last_modified",
    "identities[0].connection",
    "identities[0].provider",
    "identities[0].user_id",
    "Connection",
    "Created At",
    "Updated At",
];

/// The column titles of the User Import/Export extension's default export (AUTH0-SPEC §8).
pub(crate) fn extension_alias(title: &str) -> Option<&'static str> {
    Some(match title {
        "Id" => "user_id",
        "Given Name" => "given_name",
        "Family Name" => "family_name",
        "Nickname" => "nickname",
        "Name" => "name",
        "Email" => "email",
        "Email Verified" => "email_verified",
        "Picture" => "picture",
        _ => return None,
    })
}

/// `auth0|abc` → `abc`: exported ids carry the provider, imported ones must not.
pub(crate) fn strip_auth0_prefix(v: &mut Value) {
    if let Some(s) = v.as_str().and_then(|s| s.strip_prefix("auth0|")) {
        *v = Value::String(s.to_string());
    }
}

/// One line of an Auth0 (or Gatehouse) NDJSON export.
pub(crate) fn from_auth0_export(v: Value) -> (Value, Vec<FieldError>) {
    let Value::Object(m) = v else { return (v, Vec::new()) };
    let mut out = Map::with_capacity(m.len());
    for (k, mut val) in m {
        if EXPORT_ONLY_FIELDS.contains(&k.as_str()) {
            continue;
        }
        let key = extension_alias(&k).map(str::to_string).unwrap_or(k);
        if key == "user_id" {
            strip_auth0_prefix(&mut val);
        }
        out.insert(key, val);
    }
    (Value::Object(out), Vec::new())
}

/// A source field's value; `null` and `""` count as absent (exports write both for
/// "not set", e.g. Firebase's `passwordHash` of a social-only user).
fn take_str(m: &Map<String, Value>, k: &str) -> Option<Value> {
    m.get(k).filter(|v| !v.is_null() && v.as_str() != Some("")).cloned()
}

/// A `firebase auth:export` user.
pub(crate) fn from_firebase(v: Value, opts: &ReadOptions) -> (Value, Vec<FieldError>) {
    let Value::Object(m) = v else { return (v, Vec::new()) };
    let mut out = Map::new();
    let mut errors = Vec::new();
    for (from, to) in [
        ("localId", "user_id"),
        ("email", "email"),
        ("emailVerified", "email_verified"),
        ("displayName", "name"),
        ("photoUrl", "picture"),
        ("phoneNumber", "phone_number"),
        ("disabled", "blocked"),
    ] {
        if let Some(val) = take_str(&m, from) {
            out.insert(to.into(), val);
        }
    }
    if let Some(hash) = take_str(&m, "passwordHash") {
        match &opts.firebase {
            Some(cfg) => {
                let mut c = json!({
                    "algorithm": "firebase-scrypt",
                    "hash": {"value": hash, "encoding": "base64"},
                    "firebase": cfg.to_custom_params(),
                });
                if let (Some(salt), Value::Object(cm)) = (take_str(&m, "salt"), &mut c) {
                    cm.insert("salt".into(), json!({"value": salt, "encoding": "base64"}));
                }
                out.insert("custom_password_hash".into(), c);
            }
            None => errors.push(FieldError::new(
                "NOT_PASSED",
                "custom_password_hash",
                "the user has a Firebase passwordHash but the project's hash parameters (signer key, salt separator, rounds, mem_cost) were not given",
            )),
        }
    }
    // Custom claims are authorization data, which Auth0 keeps in app_metadata.
    if let Some(attrs) = take_str(&m, "customAttributes") {
        let parsed = match &attrs {
            Value::String(s) => serde_json::from_str::<Value>(s).map_err(|e| e.to_string()),
            other => Ok(other.clone()),
        };
        match parsed {
            Ok(Value::Object(o)) => {
                out.insert("app_metadata".into(), Value::Object(o));
            }
            Ok(other) => errors.push(FieldError::new(
                "INVALID_TYPE",
                "app_metadata",
                format!("Firebase customAttributes must be a JSON object, found {}", type_name(&other)),
            )),
            Err(e) => errors.push(FieldError::new(
                "FORMAT",
                "app_metadata",
                format!("Firebase customAttributes is not valid JSON: {e}"),
            )),
        }
    }
    (Value::Object(out), errors)
}

/// Keycloak stores `secretData`/`credentialData` as JSON *strings*; accept objects too.
fn json_member(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::String(s) => serde_json::from_str(s).ok(),
        o @ Value::Object(_) => Some(o.clone()),
        _ => None,
    }
}

/// Base64 without padding, as PHC strings carry it (standard alphabet kept).
fn unpad(s: &str) -> &str {
    s.trim_end_matches('=')
}

/// A Keycloak user (realm export or users export).
pub(crate) fn from_keycloak(v: Value, opts: &ReadOptions) -> (Value, Vec<FieldError>) {
    let Value::Object(m) = v else { return (v, Vec::new()) };
    let mut out = Map::new();
    let mut errors = Vec::new();
    for (from, to) in [("id", "user_id"), ("email", "email"), ("firstName", "given_name"), ("lastName", "family_name")]
    {
        if let Some(val) = take_str(&m, from) {
            out.insert(to.into(), val);
        }
    }
    if opts.keep_usernames {
        if let Some(u) = take_str(&m, "username") {
            out.insert("username".into(), u);
        }
    }
    out.insert("email_verified".into(), m.get("emailVerified").cloned().unwrap_or(Value::Bool(false)));
    if let Some(Value::Bool(enabled)) = m.get("enabled") {
        out.insert("blocked".into(), Value::Bool(!enabled));
    }
    let first = m.get("firstName").and_then(Value::as_str).unwrap_or("");
    let last = m.get("lastName").and_then(Value::as_str).unwrap_or("");
    let full = format!("{first} {last}");
    if !full.trim().is_empty() {
        out.insert("name".into(), Value::String(full.trim().to_string()));
    }
    if let Some(attrs) = take_str(&m, "attributes") {
        out.insert("user_metadata".into(), attrs);
    }
    let mut app = Map::new();
    for (from, to) in [("realmRoles", "roles"), ("groups", "groups")] {
        if let Some(Value::Array(a)) = m.get(from) {
            if !a.is_empty() {
                app.insert(to.into(), Value::Array(a.clone()));
            }
        }
    }
    if !app.is_empty() {
        out.insert("app_metadata".into(), Value::Object(app));
    }
    let creds = m.get("credentials").and_then(Value::as_array);
    let password = creds
        .and_then(|c| c.iter().enumerate().find(|(_, c)| c.get("type").and_then(Value::as_str) == Some("password")));
    if let Some((i, cred)) = password {
        match keycloak_hash(cred) {
            Ok(phc) => {
                out.insert("password_hash".into(), Value::String(phc));
            }
            Err(reason) => {
                errors.push(FieldError::new("FORMAT", "password_hash", format!("Keycloak credentials[{i}]: {reason}")))
            }
        }
    }
    (Value::Object(out), errors)
}

/// A Keycloak password credential as a PHC string gatehouse-hash verifies exactly like
/// Keycloak does: `$pbkdf2-<digest>$i=…,l=…$salt$hash` for the PBKDF2 providers (the
/// default up to Keycloak 24), `$argon2<type>$v=…$m=…,t=…,p=…$salt$hash` for argon2
/// (the default since 25).
fn keycloak_hash(cred: &Value) -> Result<String, String> {
    let secret = json_member(cred.get("secretData")).ok_or("secretData is missing or not a JSON object")?;
    let data = json_member(cred.get("credentialData")).ok_or("credentialData is missing or not a JSON object")?;
    let value = secret.get("value").and_then(Value::as_str).ok_or("secretData.value is missing")?;
    let salt = secret.get("salt").and_then(Value::as_str).ok_or("secretData.salt is missing")?;
    let iterations =
        data.get("hashIterations").and_then(Value::as_u64).ok_or("credentialData.hashIterations is missing")?;
    let algorithm = data.get("algorithm").and_then(Value::as_str).unwrap_or("pbkdf2-sha256");
    let digest = match algorithm {
        "pbkdf2" => "sha1",
        "pbkdf2-sha256" => "sha256",
        "pbkdf2-sha512" => "sha512",
        "argon2" => return keycloak_argon2(&data, iterations, salt, value),
        other => {
            return Err(format!(
                "Keycloak hash algorithm {other:?} is not supported (pbkdf2, pbkdf2-sha256, pbkdf2-sha512, argon2)"
            ))
        }
    };
    let len = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, value)
        .map_err(|e| format!("secretData.value is not base64: {e}"))?
        .len();
    Ok(format!("$pbkdf2-{digest}$i={iterations},l={len}${}${}", unpad(salt), unpad(value)))
}

/// Keycloak's argon2 provider keeps its parameters as lists of strings in
/// `credentialData.additionalParameters` (`type`, `version`, `memory`, `parallelism`);
/// absent ones take the provider's defaults (id, 1.3, 7168 KiB, 1).
fn keycloak_argon2(data: &Value, iterations: u64, salt: &str, value: &str) -> Result<String, String> {
    let param = |k: &str, default: &str| -> String {
        data.get("additionalParameters")
            .and_then(|p| p.get(k))
            .and_then(|v| v.get(0).or(Some(v)))
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    let variant = match param("type", "id").as_str() {
        "id" => "argon2id",
        "i" => "argon2i",
        "d" => "argon2d",
        other => return Err(format!("Keycloak argon2 type {other:?} is not id, i or d")),
    };
    let version = match param("version", "1.3").as_str() {
        "1.3" => 19,
        "1.0" => 16,
        other => return Err(format!("Keycloak argon2 version {other:?} is not 1.0 or 1.3")),
    };
    let number = |k: &str, default: &str| {
        let v = param(k, default);
        v.parse::<u32>().map_err(|_| format!("Keycloak argon2 {k} {v:?} is not a number"))
    };
    let (memory, parallelism) = (number("memory", "7168")?, number("parallelism", "1")?);
    Ok(format!("${variant}$v={version}$m={memory},t={iterations},p={parallelism}${}${}", unpad(salt), unpad(value)))
}

/// An Ory Kratos identity.
pub(crate) fn from_kratos(v: Value, opts: &ReadOptions) -> (Value, Vec<FieldError>) {
    let Value::Object(m) = v else { return (v, Vec::new()) };
    let mut out = Map::new();
    let mut errors = Vec::new();
    if let Some(id) = take_str(&m, "id") {
        out.insert("user_id".into(), id);
    }
    let mut rest = Map::new();
    if let Some(Value::Object(traits)) = m.get("traits") {
        for (k, val) in traits {
            match (k.as_str(), val) {
                ("email", _) => {
                    out.insert("email".into(), val.clone());
                }
                ("username", _) => {
                    if opts.keep_usernames {
                        out.insert("username".into(), val.clone());
                    }
                }
                ("phone" | "phone_number", _) => {
                    out.insert("phone_number".into(), val.clone());
                }
                ("name", Value::Object(n)) => {
                    if let Some(f) = take_str(n, "first") {
                        out.insert("given_name".into(), f);
                    }
                    if let Some(l) = take_str(n, "last") {
                        out.insert("family_name".into(), l);
                    }
                    let full: Vec<&str> = ["first", "last"].iter().filter_map(|k| n.get(*k)?.as_str()).collect();
                    if !full.is_empty() {
                        out.insert("name".into(), Value::String(full.join(" ")));
                    }
                }
                ("name", Value::String(_)) => {
                    out.insert("name".into(), val.clone());
                }
                ("picture", _) => {
                    out.insert("picture".into(), val.clone());
                }
                _ => {
                    rest.insert(k.clone(), val.clone());
                }
            }
        }
    }
    let email = out.get("email").and_then(Value::as_str).map(str::to_lowercase);
    let verified = m.get("verifiable_addresses").and_then(Value::as_array).is_some_and(|addrs| {
        addrs.iter().any(|a| {
            a.get("verified").and_then(Value::as_bool) == Some(true)
                && a.get("value").and_then(Value::as_str).map(str::to_lowercase) == email
        })
    });
    out.insert("email_verified".into(), Value::Bool(verified));
    let mut user_metadata = match m.get("metadata_public") {
        Some(Value::Object(o)) => o.clone(),
        _ => Map::new(),
    };
    // Traits without an Auth0 counterpart are profile data; keep them, apart from the
    // public metadata so neither overwrites the other.
    if !rest.is_empty() {
        user_metadata.insert("traits".into(), Value::Object(rest));
    }
    if !user_metadata.is_empty() {
        out.insert("user_metadata".into(), Value::Object(user_metadata));
    }
    if let Some(admin) = take_str(&m, "metadata_admin") {
        out.insert("app_metadata".into(), admin);
    }
    if let Some(state) = m.get("state").and_then(Value::as_str) {
        out.insert("blocked".into(), Value::Bool(state == "inactive"));
    }
    let config = m.get("credentials").and_then(|c| c.get("password")).and_then(|p| p.get("config"));
    if let Some(config) = config {
        if let Some(h) = take_str(config.as_object().unwrap_or(&Map::new()), "hashed_password") {
            out.insert("password_hash".into(), h);
        } else if config.get("password").is_some() {
            errors.push(FieldError::new(
                "NOT_PASSED",
                "password_hash",
                "Kratos cleartext passwords are not imported; export hashed_password instead",
            ));
        }
    }
    (Value::Object(out), errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keycloak_credential_becomes_phc() {
        let cred = json!({"type": "password",
            "secretData": "{\"value\":\"AAAA\",\"salt\":\"c2FsdA==\",\"additionalParameters\":{}}",
            "credentialData": "{\"hashIterations\":27500,\"algorithm\":\"pbkdf2-sha256\",\"additionalParameters\":{}}"});
        assert_eq!(keycloak_hash(&cred).as_deref(), Ok("$pbkdf2-sha256$i=27500,l=3$c2FsdA$AAAA"));
        let argon = json!({"type": "password", "secretData": {"value": "AAAA", "salt": "c2FsdA=="},
            "credentialData": {"hashIterations": 3, "algorithm": "argon2",
                "additionalParameters": {"memory": ["65536"], "type": ["id"], "version": ["1.3"]}}});
        assert_eq!(keycloak_hash(&argon).as_deref(), Ok("$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$AAAA"));
        let bad = json!({"type": "password", "secretData": {"value": "AAAA", "salt": "x"},
            "credentialData": {"hashIterations": 1, "algorithm": "sha-3"}});
        assert!(keycloak_hash(&bad).is_err());
    }

    #[test]
    fn export_lines_lose_prefix_and_export_only_fields() {
        let (v, e) = from_auth0_export(json!({"user_id": "auth0|abc", "Email": "a@b.co", "created_at": "x",
            "identities": [], "logins_count": 3}));
        assert!(e.is_empty());
        assert_eq!(v, json!({"user_id": "abc", "email": "a@b.co"}));
    }
}
