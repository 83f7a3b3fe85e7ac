//! Secrets sealed at rest, and the one AEAD Gatehouse seals with.
//!
//! [`JweKey`] seals bytes as a compact JWE (RFC 7516) with `dir` + `A256GCM` and the key's
//! id in the protected header (which is also the additional authenticated data): the
//! opaque access tokens of `gatehouse-services::keys` and the secrets below share it.
//!
//! [`SecretKeys`] is the key-encryption key ring from configuration (`secrets.keys`): the
//! first key seals, every key opens, so a rotation adds the new key first and keeps the
//! old ones until [`crate::Store::reseal_secrets`] has re-sealed what they sealed. The
//! store seals on every write and opens on every read of: signing keys' private halves,
//! server secrets, the secret options of connections
//! ([`gatehouse_core::connection::SECRET_OPTION_PATHS`], custom databases' `configuration`
//! among them), Actions' secrets (`crate::actions`) and MFA factors' secrets, so no path
//! writes one in plaintext and a database dump alone reveals none of them.
//!
//! A value that is not a sealed one is a plaintext one written before sealing existed: it
//! is read as it is and sealed by the next write or re-seal. A sealed value whose key is
//! not configured is an error, never read as plaintext.

use crate::error::StoreError;
use crate::sql::SqlValue;
use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// A `dir`/`A256GCM` content key and the protected header naming it.
pub struct JweKey {
    key: RandomizedNonceKey,
    /// `base64url(header)`: the protected header, also the additional authenticated data.
    header_b64: String,
}

impl std::fmt::Debug for JweKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JweKey(<redacted>)")
    }
}

/// The five parts of a compact JWE with `dir` + `A256GCM`, and the `kid` its header names.
#[derive(Debug)]
pub struct JweParts<'a> {
    pub kid: String,
    header_b64: &'a str,
    iv: &'a str,
    ciphertext: &'a str,
    tag: &'a str,
}

impl JweParts<'_> {
    /// Splits `token` if it is a compact `dir`/`A256GCM` JWE with a `kid`; nothing is
    /// decrypted.
    pub fn parse(token: &str) -> Option<JweParts<'_>> {
        let mut it = token.split('.');
        let (header_b64, key, iv, ciphertext, tag) = (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || !key.is_empty() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header_b64).ok()?).ok()?;
        if header["alg"] != "dir" || header["enc"] != "A256GCM" {
            return None;
        }
        let kid = header["kid"].as_str()?.to_owned();
        Some(JweParts { kid, header_b64, iv, ciphertext, tag })
    }
}

impl JweKey {
    pub fn new(kid: &str, content_key: &[u8; 32]) -> Result<Self, String> {
        // Random 96-bit nonces: after a billion values under one key the chance that two
        // share a nonce is below 10^-11 (birthday bound), and keys rotate long before.
        let key = RandomizedNonceKey::new(&AES_256_GCM, content_key).map_err(|_| "bad AES key".to_string())?;
        let header = json!({"alg": "dir", "enc": "A256GCM", "kid": kid});
        Ok(Self { key, header_b64: URL_SAFE_NO_PAD.encode(header.to_string()) })
    }

    /// `header..iv.ciphertext.tag` (the encrypted key is empty with `dir`).
    pub fn seal(&self, plain: &[u8]) -> Result<String, String> {
        let mut payload = plain.to_vec();
        let (nonce, tag) = self
            .key
            .seal_in_place_separate_tag(Aad::from(self.header_b64.as_bytes()), &mut payload)
            .map_err(|_| "AES-GCM sealing failed".to_string())?;
        let mut token = String::with_capacity(self.header_b64.len() + (payload.len() + 28) * 4 / 3 + 6);
        token.push_str(&self.header_b64);
        token.push_str("..");
        URL_SAFE_NO_PAD.encode_string(nonce.as_ref(), &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag.as_ref(), &mut token);
        Ok(token)
    }

    /// The plaintext of a value this key sealed, or `None` if it did not, or it was altered.
    pub fn open(&self, parts: &JweParts<'_>) -> Option<Vec<u8>> {
        let nonce = Nonce::try_assume_unique_for_key(&URL_SAFE_NO_PAD.decode(parts.iv).ok()?).ok()?;
        let mut in_out = URL_SAFE_NO_PAD.decode(parts.ciphertext).ok()?;
        in_out.extend_from_slice(&URL_SAFE_NO_PAD.decode(parts.tag).ok()?);
        let plain = self.key.open_in_place(nonce, Aad::from(parts.header_b64.as_bytes()), &mut in_out).ok()?;
        Some(plain.to_vec())
    }
}

/// The id of the development key, used when no `secrets.keys` are configured.
pub const DEVELOPMENT_KEY_ID: &str = "dev";

/// A problem with the configured keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secrets.keys: {0}")]
pub struct KeyConfigError(pub String);

/// The key-encryption keys: the first seals, all open.
pub struct SecretKeys {
    keys: Vec<(String, JweKey)>,
}

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "SecretKeys({ids:?})")
    }
}

impl Default for SecretKeys {
    fn default() -> Self {
        Self::development()
    }
}

/// The development key's bytes: public, so what it seals is as good as plaintext.
fn development_key() -> [u8; 32] {
    Sha256::digest(b"gatehouse development secrets key: NOT SECRET").into()
}

impl SecretKeys {
    /// Only the development key (no `secrets.keys` configured): fine for a laptop, and
    /// said loudly at start-up, because anyone can open what it seals.
    pub fn development() -> Self {
        // The key is 32 bytes, so this cannot fail; if it ever did, an empty ring refuses
        // every seal rather than writing plaintext.
        let keys = JweKey::new(DEVELOPMENT_KEY_ID, &development_key()).map(|k| vec![(DEVELOPMENT_KEY_ID.into(), k)]);
        Self { keys: keys.unwrap_or_default() }
    }

    /// The configured keys, newest first: each `ID:KEY` where KEY is 32 bytes in base64
    /// (standard or URL-safe, padded or not) and ID is 1 to 32 of `[A-Za-z0-9_-]`; or
    /// `dev`, the development key, to open what it sealed until a re-seal.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, KeyConfigError> {
        let bad = |s: String| KeyConfigError(s);
        let mut keys: Vec<(String, JweKey)> = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            let (id, bytes) = match entry.split_once(':') {
                None if entry == DEVELOPMENT_KEY_ID => (DEVELOPMENT_KEY_ID, development_key()),
                None => return Err(bad("each key is ID:BASE64 (32 bytes), or \"dev\"".into())),
                Some((id, b64)) => {
                    let b64 = b64.trim().trim_end_matches('=');
                    let raw = STANDARD_NO_PAD
                        .decode(b64)
                        .or_else(|_| URL_SAFE_NO_PAD.decode(b64))
                        .map_err(|_| bad(format!("key {id:?} is not base64")))?;
                    let bytes: [u8; 32] =
                        raw.try_into().map_err(|_| bad(format!("key {id:?} must be 32 bytes (256 bits)")))?;
                    (id, bytes)
                }
            };
            if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
                return Err(bad(format!("key id {id:?}: 1 to 32 of A-Z a-z 0-9 - _")));
            }
            if id == DEVELOPMENT_KEY_ID && bytes != development_key() {
                return Err(bad(format!("the key id {DEVELOPMENT_KEY_ID:?} is the development key's")));
            }
            if keys.iter().any(|(k, _)| k == id) {
                return Err(bad(format!("key id {id:?} is given twice")));
            }
            keys.push((id.to_owned(), JweKey::new(id, &bytes).map_err(bad)?));
        }
        if keys.is_empty() {
            return Err(bad("no key given".into()));
        }
        Ok(Self { keys })
    }

    /// A fresh key entry for the configuration: `ID:BASE64`.
    pub fn generate_entry(id: &str) -> String {
        let mut bytes = [0u8; 32];
        // aws-lc's system RNG; a failure leaves no usable key, so it is reported.
        match aws_lc_rs::rand::fill(&mut bytes) {
            Ok(()) => format!("{id}:{}", STANDARD.encode(bytes)),
            Err(_) => String::new(),
        }
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        self.keys.first().map(|(id, _)| id.as_str()).unwrap_or("")
    }

    /// Whether the sealing key is the (public) development key.
    pub fn is_development(&self) -> bool {
        self.current_id() == DEVELOPMENT_KEY_ID
    }

    /// `plain` sealed under the current key.
    pub fn seal(&self, plain: &str) -> Result<String, StoreError> {
        let (_, key) = self.keys.first().ok_or_else(|| StoreError::Sealed("no key to seal with".into()))?;
        key.seal(plain.as_bytes()).map_err(StoreError::Sealed)
    }

    /// The plaintext of `stored`: opened if it is sealed, as it is if it predates sealing.
    pub fn open(&self, stored: &str) -> Result<String, StoreError> {
        let Some(parts) = JweParts::parse(stored) else { return Ok(stored.to_owned()) };
        let (_, key) = self.keys.iter().find(|(id, _)| *id == parts.kid).ok_or_else(|| {
            StoreError::Sealed(format!(
                "a secret is sealed under key {:?}, which secrets.keys does not list (keep old keys until `gatehouse secrets rotate` has run)",
                parts.kid
            ))
        })?;
        let plain = key
            .open(&parts)
            .ok_or_else(|| StoreError::Sealed(format!("a secret sealed under {:?} is damaged", parts.kid)))?;
        String::from_utf8(plain).map_err(|_| StoreError::Sealed("a sealed secret is not text".into()))
    }

    /// Whether `stored` is sealed under the current key (a re-seal leaves it alone).
    pub fn is_current(&self, stored: &str) -> bool {
        JweParts::parse(stored).is_some_and(|p| p.kid == self.current_id())
    }

    /// `options` with every secret ([`gatehouse_core::connection::SECRET_OPTION_PATHS`])
    /// sealed; other values as they are.
    pub fn seal_options(&self, options: &Map<String, Value>) -> Result<Map<String, Value>, StoreError> {
        let mut out = options.clone();
        self.each_secret_option(&mut out, |s| self.seal(s))?;
        Ok(out)
    }

    /// `options` with every sealed secret opened.
    pub fn open_options(&self, options: &mut Map<String, Value>) -> Result<(), StoreError> {
        self.each_secret_option(options, |s| self.open(s))
    }

    /// Whether every secret of `options` is sealed under the current key.
    pub fn options_current(&self, options: &Map<String, Value>) -> bool {
        let mut current = true;
        let mut copy = options.clone();
        let _ = self.each_secret_option(&mut copy, |s| {
            current &= self.is_current(s);
            Ok(s.to_owned())
        });
        current
    }

    fn each_secret_option(
        &self,
        options: &mut Map<String, Value>,
        mut f: impl FnMut(&str) -> Result<String, StoreError>,
    ) -> Result<(), StoreError> {
        for path in gatehouse_core::connection::SECRET_OPTION_PATHS {
            let mut at = &mut *options;
            let mut keys = path.split('.').peekable();
            while let Some(key) = keys.next() {
                if keys.peek().is_none() && key == "*" {
                    // Every string value of the object reached.
                    for v in at.values_mut() {
                        if let Value::String(s) = v {
                            *s = f(s)?;
                        }
                    }
                    break;
                }
                if keys.peek().is_none() {
                    if let Some(Value::String(s)) = at.get_mut(key) {
                        *s = f(s)?;
                    }
                    break;
                }
                match at.get_mut(key) {
                    Some(Value::Object(inner)) => at = inner,
                    _ => break,
                }
            }
        }
        Ok(())
    }
}

/// What [`crate::Store::reseal_secrets`] re-sealed under the current key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    pub connections: u64,
    pub signing_keys: u64,
    pub server_secrets: u64,
    pub mfa_factors: u64,
    pub actions: u64,
}

/// Values re-sealed per write.
const RESEAL_PAGE: u32 = 1_000;

/// The columns that hold one sealed value each: (table, key column, secret column).
const SEALED_COLUMNS: &[(&str, &str, &str)] =
    &[("signing_keys", "kid", "private_pem"), ("server_secrets", "name", "value"), ("mfa_factors", "id", "secret")];

impl crate::Store {
    /// Re-seals, under the current key, every sealed secret that is not sealed under it
    /// (sealed under an older key, or plaintext from before sealing). Afterwards the older
    /// keys can be removed from the configuration. Safe to run on a live store and more
    /// than once: each value is re-read and written back only if unchanged.
    pub async fn reseal_secrets(&self) -> Result<Resealed, StoreError> {
        let keys = &self.secrets;
        let mut done = Resealed::default();
        // Connections: their secrets are inside `options`.
        let stored = self
            .db
            .all("SELECT id, options FROM connections ORDER BY id", &[], |r| {
                Ok((r.get::<String>("id")?, r.json::<Map<String, Value>>("options")?))
            })
            .await?;
        for (id, options) in stored {
            if keys.options_current(&options) {
                continue;
            }
            let mut opened = options.clone();
            keys.open_options(&mut opened)?;
            let resealed = SqlValue::json(&keys.seal_options(&opened)?);
            // Written back only if unchanged since read: a concurrent edit wins.
            let sql = "UPDATE connections SET options = $2 WHERE id = $1 AND options = $3";
            done.connections += self.db.execute(sql, values![&id, resealed, SqlValue::json(&options)]).await?;
        }
        // Actions: each secret's value sealed inside `secrets`.
        let stored = self
            .db
            .all("SELECT id, secrets FROM actions ORDER BY id", &[], |r| {
                Ok((r.get::<String>("id")?, r.json::<Vec<Value>>("secrets")?))
            })
            .await?;
        for (id, secrets) in stored {
            if action_secrets_current(keys, &secrets) {
                continue;
            }
            let mut resealed = secrets.clone();
            for value in resealed.iter_mut().filter_map(|s| s.get_mut("value")) {
                if let Value::String(v) = value {
                    *v = keys.seal(&keys.open(v)?)?;
                }
            }
            // Written back only if unchanged since read: a concurrent edit wins.
            let sql = "UPDATE actions SET secrets = $2 WHERE id = $1 AND secrets = $3";
            done.actions +=
                self.db.execute(sql, values![&id, SqlValue::json(&resealed), SqlValue::json(&secrets)]).await?;
        }
        // Single values: (table, key column, secret column).
        for &(table, key, column) in SEALED_COLUMNS {
            let mut after = String::new();
            loop {
                let select = format!(
                    "SELECT {key} AS k, {column} AS v FROM {table} WHERE {key} > $1 AND {column} IS NOT NULL \
                     ORDER BY {key} LIMIT $2"
                );
                let page = self
                    .db
                    .all(&select, &values![&after, RESEAL_PAGE], |r| Ok((r.get::<String>("k")?, r.get::<String>("v")?)))
                    .await?;
                let Some((last, _)) = page.last() else { break };
                after = last.clone();
                let mut rows = Vec::new();
                for (k, v) in &page {
                    if !keys.is_current(v) {
                        rows.push(Vec::from(values![k, keys.seal(&keys.open(v)?)?, v]));
                    }
                }
                let update = format!("UPDATE {table} SET {column} = $2 WHERE {key} = $1 AND {column} = $3");
                let changed = self
                    .db
                    .transaction(move |mut c| {
                        Box::pin(async move {
                            let mut changed = 0;
                            for row in &rows {
                                changed += c.execute(&update, row).await?;
                            }
                            Ok(changed)
                        })
                    })
                    .await?;
                match table {
                    "signing_keys" => done.signing_keys += changed,
                    "server_secrets" => done.server_secrets += changed,
                    _ => done.mfa_factors += changed,
                }
                if page.len() < RESEAL_PAGE as usize {
                    break;
                }
            }
        }
        self.config.forget_all();
        Ok(done)
    }

    /// Stores secret `name` sealed, replacing any value it had.
    pub async fn put_secret(&self, name: &str, value: &str, now: &str) -> Result<(), StoreError> {
        let sql = "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (name) DO UPDATE SET value = excluded.value, created_at = excluded.created_at";
        self.db.execute(sql, values![name, self.secrets.seal(value)?, now]).await?;
        Ok(())
    }

    /// Secret `name`, opened, if one is stored.
    pub async fn secret(&self, name: &str) -> Result<Option<String>, StoreError> {
        let sql = "SELECT value FROM server_secrets WHERE name = $1";
        let stored = self.db.opt(sql, &values![name], crate::rows::first_string).await?;
        stored.map(|v| self.secrets.open(&v)).transpose()
    }

    pub async fn delete_secret(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute("DELETE FROM server_secrets WHERE name = $1", values![name]).await? > 0)
    }

    /// How many stored secrets are not sealed under the current key (for start-up's
    /// warning and the rotate command's check).
    pub async fn unsealed_secret_count(&self) -> Result<u64, StoreError> {
        let keys = &self.secrets;
        let mut n = 0;
        for &(table, _, column) in SEALED_COLUMNS {
            let sql = format!("SELECT {column} FROM {table} WHERE {column} IS NOT NULL");
            let values = self.db.scan(&sql, &[], crate::rows::first_string).await?;
            n += values.iter().filter(|v| !keys.is_current(v)).count() as u64;
        }
        let options =
            self.db.all("SELECT options FROM connections", &[], |r| r.json::<Map<String, Value>>("options")).await?;
        n += options.iter().filter(|o| !keys.options_current(o)).count() as u64;
        let actions = self.db.all("SELECT secrets FROM actions", &[], |r| r.json::<Vec<Value>>("secrets")).await?;
        n += actions.iter().filter(|s| !action_secrets_current(keys, s)).count() as u64;
        Ok(n)
    }
}

/// Whether every value of an action's stored `secrets` is sealed under the current key.
fn action_secrets_current(keys: &SecretKeys, secrets: &[Value]) -> bool {
    secrets.iter().filter_map(|s| s["value"].as_str()).all(|v| keys.is_current(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_key_seals_every_key_opens() -> Result<(), Box<dyn std::error::Error>> {
        let old = SecretKeys::parse(&[format!("k1:{}", STANDARD.encode([1u8; 32]))])?;
        let sealed = old.seal("JBSWY3DPEHPK3PXP")?;
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert!(old.is_current(&sealed));
        let rotated = SecretKeys::parse(&[
            format!("k2:{}", URL_SAFE_NO_PAD.encode([2u8; 32])),
            format!("k1:{}", STANDARD.encode([1u8; 32])),
        ])?;
        assert_eq!(rotated.open(&sealed)?, "JBSWY3DPEHPK3PXP");
        assert!(!rotated.is_current(&sealed));
        assert!(rotated.is_current(&rotated.seal("x")?));
        // Without the old key the value cannot be opened, and is never taken as plaintext.
        let new_only = SecretKeys::parse(&[format!("k2:{}", STANDARD.encode([2u8; 32]))])?;
        assert!(matches!(new_only.open(&sealed), Err(StoreError::Sealed(_))));
        // A value written before sealing is read as it is.
        assert_eq!(new_only.open("-----BEGIN PRIVATE KEY-----")?, "-----BEGIN PRIVATE KEY-----");
        Ok(())
    }

    #[test]
    fn an_altered_value_is_refused() -> Result<(), Box<dyn std::error::Error>> {
        let keys = SecretKeys::parse(&[format!("k1:{}", STANDARD.encode([1u8; 32]))])?;
        let sealed = keys.seal("secret")?;
        let mut parts: Vec<String> = sealed.split('.').map(str::to_owned).collect();
        parts[3] = URL_SAFE_NO_PAD.encode(b"other!");
        assert!(matches!(keys.open(&parts.join(".")), Err(StoreError::Sealed(_))));
        Ok(())
    }

    #[test]
    fn key_entries_are_checked() {
        for bad in ["", "k1", "k1:short", "bad id:AAAA", "dev:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="] {
            assert!(SecretKeys::parse(&[bad]).is_err(), "{bad:?}");
        }
        let twice = format!("k:{}", STANDARD.encode([1u8; 32]));
        assert!(SecretKeys::parse(&[twice.clone(), twice]).is_err());
        assert!(SecretKeys::parse::<&str>(&[]).is_err());
        assert!(SecretKeys::development().is_development());
        let generated = SecretKeys::generate_entry("k9");
        assert!(SecretKeys::parse(&[generated, "dev".into()]).is_ok_and(|k| !k.is_development()));
    }

    #[test]
    fn connection_secrets_are_sealed_in_place() -> Result<(), Box<dyn std::error::Error>> {
        let keys = SecretKeys::parse(&[format!("k1:{}", STANDARD.encode([1u8; 32]))])?;
        let options = json!({"client_id": "id", "client_secret": "s3cret", "legacy_store": {"kind": "ldap",
            "bind_password": "pw", "url": "ldap://h", "base_dn": "dc=x"}});
        let Value::Object(options) = options else { return Err("not an object".into()) };
        let sealed = keys.seal_options(&options)?;
        let text = Value::Object(sealed.clone()).to_string();
        assert!(!text.contains("s3cret") && !text.contains("\"pw\"") && !text.contains("ldap://h"), "{text}");
        assert!(text.contains("dc=x") && text.contains("\"id\""));
        assert!(keys.options_current(&sealed) && !keys.options_current(&options));
        let mut opened = sealed;
        keys.open_options(&mut opened)?;
        assert_eq!(opened, options);
        Ok(())
    }
}
