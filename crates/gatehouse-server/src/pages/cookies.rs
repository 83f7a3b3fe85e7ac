//! The hosted pages' (and the console's) cookies. All are `HttpOnly` and `SameSite=Lax`
//! (but the cross-origin login's verifier, set from another site's request), and
//! `Secure` whenever the issuer is https.

use axum::http::header::COOKIE;
use axum::http::HeaderMap;
use gatehouse_services::state::ServerConfig;

/// The single sign-on session.
pub const SESSION: &str = "gh_session";
/// A per-browser secret that binds login transactions (and their CSRF tokens) to the
/// browser that started them.
pub const BROWSER: &str = "gh_browser";
/// A browser remembered after a second factor (30 days): only its hash is stored.
pub const MFA_REMEMBER: &str = "gh_mfa_rb";
/// The `co_verifier` of the browser's last cross-origin login, sent back to `/authorize`
/// with its `login_ticket`.
pub const CO_VERIFIER: &str = "gh_co";

/// The value of cookie `name`, if present and shaped like our 43-character tokens.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

fn attributes(config: &ServerConfig, path: &str) -> String {
    let secure = if config.secure_cookies() { "; Secure" } else { "" };
    format!("; Path={path}; HttpOnly; SameSite=Lax{secure}")
}

/// `Set-Cookie` for a cookie living `max_age` seconds (`None`: a browser-session cookie).
pub fn set(config: &ServerConfig, name: &str, value: &str, max_age: Option<i64>) -> String {
    set_under(config, "/", name, value, max_age)
}

/// [`set`] for a cookie sent only to `path` and below (the console's, to `/admin`).
pub fn set_under(config: &ServerConfig, path: &str, name: &str, value: &str, max_age: Option<i64>) -> String {
    match max_age {
        Some(secs) => format!("{name}={value}; Max-Age={secs}{}", attributes(config, path)),
        None => format!("{name}={value}{}", attributes(config, path)),
    }
}

/// A cookie set by a cross-origin request (an embedded login page calling
/// `/co/authenticate`) and wanted back on `path`: `SameSite=None` so the browser keeps it
/// from a cross-site response, which requires `Secure`; without https, `Lax` (enough when
/// the application is on the same site, as in local development).
pub fn set_cross_site(config: &ServerConfig, path: &str, name: &str, value: &str, max_age: i64) -> String {
    let same_site = if config.secure_cookies() { "None; Secure" } else { "Lax" };
    format!("{name}={value}; Max-Age={max_age}; Path={path}; HttpOnly; SameSite={same_site}")
}

/// Ends a cookie of [`set_cross_site`].
pub fn clear_cross_site(config: &ServerConfig, path: &str, name: &str) -> String {
    set_cross_site(config, path, name, "", 0)
}

pub fn clear(config: &ServerConfig, name: &str) -> String {
    format!("{name}=; Max-Age=0{}", attributes(config, "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_only_on_https() {
        let https = ServerConfig::new("https://id.example.com");
        let http = ServerConfig::new("http://127.0.0.1:8080");
        assert_eq!(
            set(&https, SESSION, "v", Some(60)),
            "gh_session=v; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(set(&http, BROWSER, "v", None), "gh_browser=v; Path=/; HttpOnly; SameSite=Lax");
        assert_eq!(clear(&http, SESSION), "gh_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax");
    }

    #[test]
    fn reads_only_well_formed_values() {
        let mut h = HeaderMap::new();
        let good = "a".repeat(43);
        h.insert(COOKIE, format!("x=1; {SESSION}={good}; {BROWSER}=short").parse().unwrap());
        assert_eq!(get(&h, SESSION), Some(good));
        assert_eq!(get(&h, BROWSER), None);
    }
}
