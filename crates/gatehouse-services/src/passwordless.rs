//! Passwordless connections (strategies `email` and `sms`): Auth0's `/passwordless/start`
//! sends a one-time code (or, by email, a magic link), and the code signs the user in
//! through the `passwordless/otp` grant, `/co/authenticate` or the link; a user the
//! connection does not know yet is signed up on first use unless it disables sign-ups.
//!
//! Codes are short-lived (`options.totp.time_step`), single use (the check that matches
//! deletes it), stored only as a salted SHA-256, tried at most [`MAX_CODE_ATTEMPTS`]
//! times, and every check runs under the brute-force protection of logins. Sending is
//! rate-limited per address and identifier. Codes never reach a log: the mail and SMS
//! senders log failures without the text.
//!
//! `start` answers the same whether or not the user exists, so it tells nobody which
//! addresses have accounts: where sign-ups are disabled an unknown identifier simply gets
//! no code.

use crate::attack::{LoginGuard, Refusal};
use crate::login::{login_event, LoginError};
use crate::mail::OnFailure;
use crate::ratelimit::{Quota, Unavailable};
use crate::secrets::{ct_eq, hash_secret, random_token};
use crate::Services;
use gatehouse_core::client::Client;
use gatehouse_core::connection::Connection;
use gatehouse_core::ids::new_user_local_id;
use gatehouse_core::log_event::codes;
use gatehouse_core::user::{passwordless_user, User};
use gatehouse_core::validate::{check_phone_number, Email};
use gatehouse_store::{Arrival, ConflictOn, LoginRecord, PasswordlessCode, StoreError};
use rand::Rng;
use serde_json::{Map, Value};

/// Checks a code may get before it is void (a new `/passwordless/start` gives a new one).
pub const MAX_CODE_ATTEMPTS: i64 = 3;

/// Codes sent per IP and identifier.
const START_QUOTA: Quota = Quota { limit: 10, window_secs: 3600 };

/// Auth0's log code for a code or link sent.
pub const CODE_LINK_SENT: &str = "cls";

/// The authorization parameters a magic link carries back to `/authorize`'s checks, in
/// their snake-case names (auth0.js sends some camel-cased).
const AUTH_PARAMS: &[(&str, &str)] = &[
    ("response_type", "responseType"),
    ("response_mode", "responseMode"),
    ("redirect_uri", "redirectUri"),
    ("scope", "scope"),
    ("state", "state"),
    ("nonce", "nonce"),
    ("audience", "audience"),
    ("code_challenge", "codeChallenge"),
    ("code_challenge_method", "codeChallengeMethod"),
];

/// Why a passwordless request was refused. The messages are Auth0's `error_description`s.
#[derive(Debug, thiserror::Error)]
pub enum PasswordlessError {
    /// Unknown connection, not passwordless, or not enabled for the client.
    #[error("{0}")]
    BadConnection(&'static str),
    /// A field is missing or malformed: Auth0's `bad.email`, `bad.phone_number`,
    /// `bad.send`, `bad.authParams`.
    #[error("{1}")]
    Invalid(&'static str, String),
    /// Too many codes asked for this identifier from this address.
    #[error("Too many requests. Please wait before asking for another code.")]
    TooManyRequests,
    /// The rate limiter could not count the request and fails closed.
    #[error("The service is temporarily unavailable. Try again later.")]
    Unavailable(Unavailable),
    /// No live code matched (wrong, expired, used, or tried too often).
    #[error("Wrong {0} or verification code.")]
    WrongCode(&'static str),
    /// Attack protection or a blocked user.
    #[error(transparent)]
    Login(LoginError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How the user gets the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Code,
    Link,
}

/// What `/passwordless/start` was sent (the client already known).
pub struct Start<'a> {
    pub connection: &'a str,
    pub email: Option<&'a str>,
    pub phone_number: Option<&'a str>,
    /// `code` or `link`; absent means `link` for email (Auth0's default) and `code` for SMS.
    pub send: Option<&'a str>,
    pub auth_params: Option<&'a Value>,
}

/// A code that went out: to whom, for Auth0's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The normalized email address or phone number.
    pub identifier: String,
    pub sms: bool,
}

/// The passwordless connection `name` if `client` may use it.
pub async fn connection_for(state: &Services, client: &Client, name: &str) -> Result<Connection, PasswordlessError> {
    let c = state
        .store
        .connection_by_name(name)
        .await?
        .filter(Connection::is_passwordless)
        .ok_or(PasswordlessError::BadConnection("Connection does not exist"))?;
    if !c.enabled_clients.iter().any(|id| id == &client.client_id) {
        return Err(PasswordlessError::BadConnection("The connection is not enabled for this client"));
    }
    Ok(c)
}

/// The passwordless email connection the hosted login page offers `client` ("Email me a
/// code"): the one `named` by the authorization request if it is one, else the first
/// enabled for the client; none when the request named another connection.
pub async fn email_connection_for(
    state: &Services,
    client: &Client,
    named: Option<&str>,
) -> Result<Option<Connection>, StoreError> {
    let (all, _) = state.store.connections(Some("email"), None, None, 0, 100).await?;
    Ok(all
        .into_iter()
        .find(|c| c.enabled_clients.iter().any(|id| id == &client.client_id) && named.is_none_or(|n| n == c.name)))
}

/// The identifier `raw` as the connection keys its users: a normalized email address, or
/// an E.164 phone number.
pub fn identifier(connection: &Connection, raw: &str) -> Result<String, PasswordlessError> {
    if connection.strategy == "sms" {
        let p = raw.trim();
        check_phone_number(p).map_err(|r| PasswordlessError::Invalid("bad.phone_number", r))?;
        Ok(p.to_string())
    } else {
        Email::parse(raw)
            .map(Email::into_string)
            .map_err(|r| PasswordlessError::Invalid("bad.email", format!("Invalid email: {r}")))
    }
}

/// `authParams` kept for the magic link: the known parameters, string values only.
fn auth_params(raw: Option<&Value>) -> Result<Map<String, Value>, PasswordlessError> {
    let mut kept = Map::new();
    let Some(raw) = raw else { return Ok(kept) };
    let Value::Object(given) = raw else {
        return Err(PasswordlessError::Invalid("bad.authParams", "authParams must be an object".into()));
    };
    for (snake, camel) in AUTH_PARAMS {
        let value = given.get(*snake).or_else(|| given.get(*camel));
        if let Some(Value::String(v)) = value {
            if v.len() > 2048 {
                return Err(PasswordlessError::Invalid("bad.authParams", format!("authParams.{snake} is too long")));
            }
            kept.insert((*snake).to_string(), Value::String(v.clone()));
        }
    }
    Ok(kept)
}

/// `n` random decimal digits.
fn digits(n: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..n).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}

fn code_hash(id: &str, code: &str) -> String {
    hash_secret(&format!("{id}:{code}"))
}

/// `/passwordless/start`: sends a code (or a magic link) for `client` through the
/// connection, replacing any earlier one.
pub async fn start(
    state: &Services,
    client: &Client,
    req: Start<'_>,
    ip: Option<&str>,
) -> Result<Started, PasswordlessError> {
    let connection = connection_for(state, client, req.connection).await?;
    let sms = connection.strategy == "sms";
    let raw = if sms {
        req.phone_number.ok_or_else(|| {
            PasswordlessError::Invalid("bad.phone_number", "Missing required parameter: phone_number".into())
        })?
    } else {
        req.email.ok_or_else(|| PasswordlessError::Invalid("bad.email", "Missing required parameter: email".into()))?
    };
    let identifier = identifier(&connection, raw)?;
    let delivery = match req.send {
        Some("code") => Delivery::Code,
        Some("link") if !sms => Delivery::Link,
        None if !sms => Delivery::Link,
        None => Delivery::Code,
        Some(other) => {
            return Err(PasswordlessError::Invalid(
                "bad.send",
                format!("send must be code{} (was {other:?})", if sms { "" } else { " or link" }),
            ))
        }
    };
    let params = auth_params(req.auth_params)?;
    let now = state.clock.now().unix_timestamp();
    let key = hash_secret(&format!("{}|{}|{identifier}", ip.unwrap_or("unknown"), connection.id));
    match state.rate_limiter.hit("pwdless", &key[..32], START_QUOTA, now).await {
        Ok(d) if d.allowed => {}
        Ok(_) => return Err(PasswordlessError::TooManyRequests),
        Err(unavailable) => return Err(PasswordlessError::Unavailable(unavailable)),
    }
    let started = Started { identifier: identifier.clone(), sms };
    let user = existing_user(state, &connection, &identifier).await?;
    // The same answer either way: nobody learns whether the identifier has an account.
    if user.as_ref().is_some_and(|u| u.blocked) || (user.is_none() && !connection.signup_allowed()) {
        login_event(
            state,
            codes::FAILED_LOGIN,
            &connection,
            user.as_ref().map(|u| u.user_id.as_str()),
            &identifier,
            ip,
            Some("No code sent: the user is blocked, or unknown where sign-ups are disabled"),
        )
        .await;
        return Ok(started);
    }
    let (ttl, length) = connection.code_settings();
    let secret = match delivery {
        Delivery::Code => digits(length),
        Delivery::Link => random_token(),
    };
    let id = random_token();
    let row = PasswordlessCode {
        code_hash: code_hash(&id, &secret),
        id,
        connection_id: connection.id.clone(),
        identifier: identifier.clone(),
        client_id: client.client_id.clone(),
        send: if delivery == Delivery::Code { "code" } else { "link" }.to_string(),
        auth_params: params.clone(),
        attempts: 0,
        created_at: now,
        expires_at: now + ttl,
    };
    state.store.put_passwordless_code(&row).await?;
    let minutes = (ttl / 60).max(1).to_string();
    let on_failure = || OnFailure {
        kind: codes::FAILED_LOGIN,
        user_id: user.as_ref().map(|u| u.user_id.clone()),
        connection: Some((connection.id.clone(), connection.name.clone())),
    };
    if sms {
        let text = crate::mail::fill_text(
            &crate::templates::load(state.config.template_dir.as_deref(), "passwordless-sms.txt", SMS_TEMPLATES).await,
            &[("code", &secret), ("ttl_minutes", &minutes), ("brand_name", &state.config.branding.name)],
        );
        let sms = crate::sms::Sms { to: identifier.clone(), body: text.trim_end().to_string() };
        let sender = state.sms.clone();
        tokio::spawn(async move {
            if let Err(e) = sender.send(&sms).await {
                tracing::warn!(error = %e, "sending a text message failed");
            }
        });
    } else {
        let email = match delivery {
            Delivery::Code => {
                state
                    .mail
                    .compose("passwordless-code.txt", &identifier, &[("code", &secret), ("ttl_minutes", &minutes)])
                    .await
            }
            Delivery::Link => {
                let link = magic_link(state, client, &connection, &identifier, &secret, &params);
                state
                    .mail
                    .compose("passwordless-link.txt", &identifier, &[("link", &link), ("ttl_minutes", &minutes)])
                    .await
            }
        };
        state.mail.send_in_background(email, on_failure());
    }
    login_event(state, CODE_LINK_SENT, &connection, user.as_ref().map(|u| u.user_id.as_str()), &identifier, ip, None)
        .await;
    Ok(started)
}

const SMS_TEMPLATES: &[(&str, &str)] = &[("passwordless-sms.txt", include_str!("../templates/passwordless-sms.txt"))];

/// Auth0's magic link: `/passwordless/verify_redirect` with the authorization parameters
/// of the start, the connection, the client, the email and the one-time secret.
fn magic_link(
    state: &Services,
    client: &Client,
    connection: &Connection,
    email: &str,
    secret: &str,
    params: &Map<String, Value>,
) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if let Value::String(v) = v {
            query.append_pair(k, v);
        }
    }
    query.append_pair("verification_code", secret);
    query.append_pair("connection", &connection.name);
    query.append_pair("client_id", &client.client_id);
    query.append_pair("email", email);
    format!("{}passwordless/verify_redirect?{}", state.config.issuer, query.finish())
}

async fn existing_user(
    state: &Services,
    connection: &Connection,
    identifier: &str,
) -> Result<Option<User>, StoreError> {
    if connection.strategy == "sms" {
        state.store.user_by_phone(&connection.id, identifier).await
    } else {
        state.store.user_by_login(&connection.id, identifier).await
    }
}

/// Checks `otp` for `username` (an email address or phone number) under attack
/// protection, uses the code up, and returns the user, signed up now if the connection
/// did not know them (and allows sign-ups). The login is recorded like a password's.
pub async fn verify(
    state: &Services,
    connection: &Connection,
    username: &str,
    otp: &str,
    ip: Option<&str>,
) -> Result<User, PasswordlessError> {
    let what = if connection.strategy == "sms" { "phone number" } else { "email" };
    let wrong = PasswordlessError::WrongCode(what);
    let identifier = identifier(connection, username).map_err(|_| PasswordlessError::WrongCode(what))?;
    let mut guard = LoginGuard::new(state, connection, &identifier, ip).await?;
    if let Some(refusal) = guard.check(state).await? {
        let (kind, error) = match refusal {
            Refusal::IdentifierBlocked => (codes::BLOCKED_ACCOUNT, LoginError::TooManyAttempts),
            Refusal::IpThrottled => (codes::BLOCKED_IP, LoginError::SuspiciousIp),
        };
        login_event(state, kind, connection, None, &identifier, ip, Some(&error.to_string())).await;
        return Err(PasswordlessError::Login(error));
    }
    let now = state.clock.now().unix_timestamp();
    let attempt = state.store.attempt_passwordless_code(&connection.id, &identifier, MAX_CODE_ATTEMPTS, now).await?;
    let matched = match attempt {
        Some(row) if ct_eq(&code_hash(&row.id, otp.trim()), &row.code_hash) => {
            state.store.consume_passwordless_code(&row.id).await?
        }
        _ => false,
    };
    if !matched {
        let user_id = existing_user(state, connection, &identifier).await?.map(|u| u.user_id);
        if guard.failed(state, user_id.as_deref()).await? {
            login_event(
                state,
                codes::BLOCKED_ACCOUNT,
                connection,
                user_id.as_deref(),
                &identifier,
                ip,
                Some("Too many wrong codes from this IP; further attempts are blocked"),
            )
            .await;
        }
        login_event(
            state,
            codes::FAILED_LOGIN,
            connection,
            user_id.as_deref(),
            &identifier,
            ip,
            Some(&wrong.to_string()),
        )
        .await;
        return Err(wrong);
    }
    guard.succeeded(state).await?;
    let user = match existing_user(state, connection, &identifier).await? {
        Some(u) => u,
        None if connection.signup_allowed() => sign_up(state, connection, &identifier, ip).await?,
        None => return Err(wrong),
    };
    if user.blocked {
        login_event(
            state,
            codes::FAILED_LOGIN,
            connection,
            Some(&user.user_id),
            &identifier,
            ip,
            Some("user is blocked"),
        )
        .await;
        return Err(PasswordlessError::Login(LoginError::Blocked));
    }
    let now = state.now();
    let record = LoginRecord { now: &now, ip, upgrade: None };
    let updated = state.store.record_login(&user.user_id, &record).await?.ok_or(wrong)?;
    login_event(state, codes::SUCCESS_LOGIN, connection, Some(&updated.user_id), &identifier, ip, None).await;
    Ok(updated)
}

/// The first sign-in of `identifier`: a new user, the identifier verified by the code.
async fn sign_up(
    state: &Services,
    connection: &Connection,
    identifier: &str,
    ip: Option<&str>,
) -> Result<User, PasswordlessError> {
    let now = state.now();
    let user = passwordless_user(connection, identifier, new_user_local_id(), &now);
    match state.store.insert_arrived_user(&user, Arrival::SignUp, &now).await {
        Ok(()) => {
            login_event(state, codes::SUCCESS_SIGNUP, connection, Some(&user.user_id), identifier, ip, None).await;
            Ok(user)
        }
        // Signed up meanwhile by another request: that user it is.
        Err(StoreError::Conflict(ConflictOn::Email | ConflictOn::Id)) => existing_user(state, connection, identifier)
            .await?
            .ok_or(PasswordlessError::Store(StoreError::Conflict(ConflictOn::Email))),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn auth_params_keep_the_known_parameters_in_snake_case() {
        let given = json!({"redirectUri": "https://app/cb", "response_type": "code", "scope": "openid",
            "responseType": "token", "nope": "x", "state": 7});
        let kept = auth_params(Some(&given)).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            Value::Object(kept),
            json!({"response_type": "code", "redirect_uri": "https://app/cb", "scope": "openid"})
        );
        assert!(auth_params(Some(&json!("x"))).is_err());
    }

    #[test]
    fn codes_are_digits_and_hashes_are_salted() {
        let c = digits(6);
        assert_eq!(c.len(), 6);
        assert!(c.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(code_hash("a", "123456"), code_hash("b", "123456"));
    }
}
