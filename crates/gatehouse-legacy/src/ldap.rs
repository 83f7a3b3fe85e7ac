//! The `ldap` legacy store: a directory (OpenLDAP, Active Directory…). A service
//! account finds the user with the configured filter (the login escaped per RFC 4515);
//! the password is checked by binding as the user's DN. An empty password is refused
//! before any bind: it would be an anonymous bind, which servers accept.

use crate::config::LdapConfig;
use crate::profile::Profile;
use crate::{LegacyError, ListedUser, Login, Page};
use gatehouse_core::secret::Secret;
use gatehouse_hash::Hasher;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// `invalidCredentials` (RFC 4511).
const INVALID_CREDENTIALS: u32 = 49;

/// Escapes a value for use inside an LDAP search filter (RFC 4515 §3): `*`, `(`, `)`,
/// `\` and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`.
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Debug)]
pub(crate) struct LdapStore {
    url: String,
    starttls: bool,
    bind_dn: String,
    bind_password: Secret,
    base_dn: String,
    user_filter: String,
    list_filter: String,
    attributes: BTreeMap<String, String>,
    timeout: Duration,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> LegacyError {
    LegacyError::unavailable(what, e)
}

impl LdapStore {
    pub(crate) fn new(c: LdapConfig, timeout: Duration) -> Self {
        Self {
            url: c.url,
            starttls: c.starttls,
            bind_dn: c.bind_dn,
            bind_password: Secret::new(c.bind_password),
            base_dn: c.base_dn,
            user_filter: c.user_filter,
            list_filter: c.list_filter,
            attributes: c.attributes,
            timeout,
        }
    }

    /// A connection bound as the service account.
    async fn connect(&self) -> Result<Ldap, LegacyError> {
        let settings = LdapConnSettings::new().set_conn_timeout(self.timeout).set_starttls(self.starttls);
        let (conn, mut ldap) =
            LdapConnAsync::with_settings(settings, &self.url).await.map_err(|e| unavailable("LDAP connect", e))?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        ldap.with_timeout(self.timeout);
        let r = ldap
            .simple_bind(&self.bind_dn, self.bind_password.expose())
            .await
            .map_err(|e| unavailable("LDAP service bind", e))?;
        if r.rc != 0 {
            return Err(LegacyError::Unavailable(format!("LDAP service bind refused (rc {}): {}", r.rc, r.text)));
        }
        Ok(ldap)
    }

    fn attrs(&self) -> Vec<String> {
        let mut v: Vec<String> = self.attributes.values().filter(|a| *a != "dn").cloned().collect();
        v.sort();
        v.dedup();
        v
    }

    /// Maps an entry's attributes to profile fields (`dn` names the entry's DN).
    fn fields(&self, e: &SearchEntry) -> Map<String, Value> {
        let mut m = Map::new();
        for (field, attr) in &self.attributes {
            let value = if attr.eq_ignore_ascii_case("dn") {
                Some(e.dn.clone())
            } else {
                e.attrs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(attr))
                    .and_then(|(_, v)| v.first().cloned())
                    .or_else(|| {
                        e.bin_attrs
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(attr))
                            .and_then(|(_, v)| v.first())
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                    })
            };
            if let Some(v) = value {
                m.insert(field.clone(), Value::String(v));
            }
        }
        m
    }

    /// The one entry the user filter finds for `login` (none when zero or several match).
    async fn find(&self, ldap: &mut Ldap, login: &str) -> Result<Option<SearchEntry>, LegacyError> {
        let filter = self.user_filter.replace("{login}", &escape_filter_value(login));
        let (entries, _) = ldap
            .search(&self.base_dn, Scope::Subtree, &filter, self.attrs())
            .await
            .and_then(|r| r.success())
            .map_err(|e| unavailable("LDAP search", e))?;
        if entries.len() > 1 {
            tracing::warn!(matches = entries.len(), "the LDAP user filter matched several entries; refusing the login");
            return Ok(None);
        }
        Ok(entries.into_iter().next().map(SearchEntry::construct))
    }

    fn profile(&self, e: &SearchEntry) -> Result<Profile, LegacyError> {
        Profile::from_fields(&self.fields(e))
            .map_err(|err| LegacyError::Unavailable(format!("LDAP entry {}: {err}", e.dn)))
    }

    pub(crate) async fn login(&self, login: &str, password: &str) -> Result<Login, LegacyError> {
        if password.is_empty() || login.is_empty() {
            return Ok(Login::Rejected);
        }
        let mut ldap = self.connect().await?;
        let found = self.find(&mut ldap, login).await;
        let entry = match found {
            Ok(Some(e)) => e,
            Ok(None) => {
                let _ = ldap.unbind().await;
                return Ok(Login::Rejected);
            }
            Err(e) => return Err(e),
        };
        let profile = self.profile(&entry)?;
        // The password is checked by the directory: bind as the user.
        let r = ldap.simple_bind(&entry.dn, password).await.map_err(|e| unavailable("LDAP user bind", e))?;
        let _ = ldap.unbind().await;
        match r.rc {
            0 => Ok(Login::Verified(profile)),
            INVALID_CREDENTIALS => Ok(Login::Rejected),
            rc => Err(LegacyError::Unavailable(format!("LDAP user bind failed (rc {rc}): {}", r.text))),
        }
    }

    pub(crate) async fn get_user(&self, login: &str) -> Result<Option<Profile>, LegacyError> {
        if login.is_empty() {
            return Ok(None);
        }
        let mut ldap = self.connect().await?;
        let found = self.find(&mut ldap, login).await?;
        let _ = ldap.unbind().await;
        found.map(|e| self.profile(&e)).transpose()
    }

    /// Sets a new password with the Password Modify extended operation (RFC 3062), as the
    /// service account; the directory hashes it. `false` when there is no such user.
    pub(crate) async fn change_password(&self, email: &str, password: &str) -> Result<bool, LegacyError> {
        if password.is_empty() {
            return Err(LegacyError::Unavailable("refusing to set an empty LDAP password".into()));
        }
        let mut ldap = self.connect().await?;
        let Some(entry) = self.find(&mut ldap, email).await? else {
            let _ = ldap.unbind().await;
            return Ok(false);
        };
        let exop = ldap3::exop::PasswordModify { user_id: Some(&entry.dn), old_pass: None, new_pass: Some(password) };
        let r = ldap.extended(exop).await.map_err(|e| unavailable("LDAP password modify", e))?;
        let _ = ldap.unbind().await;
        if r.1.rc != 0 {
            return Err(LegacyError::Unavailable(format!(
                "LDAP password modify refused (rc {}): {}",
                r.1.rc, r.1.text
            )));
        }
        Ok(true)
    }

    /// Every entry of the list filter, read with the paged results control. One page
    /// holds them all (`next` is always `None`).
    pub(crate) async fn list(&self, _after: Option<&str>, _limit: u32, hasher: &Hasher) -> Result<Page, LegacyError> {
        let mut ldap = self.connect().await?;
        let adapters: Vec<Box<dyn Adapter<_, _>>> =
            vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(500))];
        let mut search = ldap
            .streaming_search_with(adapters, &self.base_dn, Scope::Subtree, &self.list_filter, self.attrs())
            .await
            .map_err(|e| unavailable("LDAP search", e))?;
        let mut users = Vec::new();
        while let Some(entry) = search.next().await.map_err(|e| unavailable("LDAP search", e))? {
            let entry = SearchEntry::construct(entry);
            let fields = self.fields(&entry);
            let Ok(profile) = Profile::from_fields(&fields) else {
                tracing::warn!(dn = %entry.dn, "an LDAP entry has no user_id attribute; skipped");
                continue;
            };
            let hash = match fields.get("password_hash").and_then(Value::as_str) {
                Some(h) => hasher.parse_password_hash(h).map(Some).unwrap_or_else(|e| {
                    tracing::warn!(dn = %entry.dn, error = %e, "an LDAP password hash is unusable; imported without it");
                    None
                }),
                None => None,
            };
            users.push(ListedUser { profile, hash });
        }
        let _ = search.finish().await;
        let _ = ldap.unbind().await;
        Ok(Page { users, next: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4515_escaping() {
        assert_eq!(escape_filter_value("ada@example.com"), "ada@example.com");
        assert_eq!(escape_filter_value("*"), "\\2a");
        assert_eq!(escape_filter_value("a*)(uid=*"), "a\\2a\\29\\28uid=\\2a");
        assert_eq!(escape_filter_value("x\\y\0z"), "x\\5cy\\00z");
        assert_eq!(escape_filter_value("ünï(c)"), "ünï\\28c\\29");
        // An injection attempt becomes one literal value inside the filter.
        let filter = "(|(mail={login})(uid={login}))".replace("{login}", &escape_filter_value("*)(uid=*))(|(uid=*"));
        assert_eq!(filter, "(|(mail=\\2a\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a)(uid=\\2a\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a))");
    }
}
