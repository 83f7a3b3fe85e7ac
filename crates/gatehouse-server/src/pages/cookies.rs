//! The hosted pages' cookies. All are `HttpOnly` and `SameSite=Lax`, and `Secure`
//! whenever the issuer is https.

use axum::http::header::COOKIE;
use axum::http::HeaderMap;
use gatehouse_services::state::ServerConfig;

/// The single sign-on session.
pub const SESSION: &str = "gh_session";
/// A per-browser secret that binds login transactions (and their CSRF tokens) to the
/// browser that started them.
pub const BROWSER: &str = "gh_browser";

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

fn attributes(config: &ServerConfig) -> &'static str {
    if config.secure_cookies() {
        "; Path=/; HttpOnly; SameSite=Lax; Secure"
    } else {
        "; Path=/; HttpOnly; SameSite=Lax"
    }
}

/// `Set-Cookie` for a cookie living `max_age` seconds (`None`: a browser-session cookie).
pub fn set(config: &ServerConfig, name: &str, value: &str, max_age: Option<i64>) -> String {
    match max_age {
        Some(secs) => format!("{name}={value}; Max-Age={secs}{}", attributes(config)),
        None => format!("{name}={value}{}", attributes(config)),
    }
}

pub fn clear(config: &ServerConfig, name: &str) -> String {
    format!("{name}=; Max-Age=0{}", attributes(config))
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
