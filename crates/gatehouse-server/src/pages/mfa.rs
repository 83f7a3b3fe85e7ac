//! `/u/mfa`: the second step of a hosted login. A login that passed its first factor
//! (password, sign-up, an upstream provider) and needs a second is parked server-side
//! (`gatehouse_services::mfa::challenge`), bound to the browser, and the browser is sent
//! here with its handle: the challenge for an enrolled factor (an authenticator app's
//! code, an emailed code, or the recovery code), or, when the policy requires MFA and the
//! user has none, the enrolment of an authenticator app (a QR code drawn on the server,
//! the secret as text), or of a security key or this device (WebAuthn). No session exists
//! until the factor passes. Everything but WebAuthn works without JavaScript; a WebAuthn
//! screen says it needs it (`/u/webauthn.js`, same-origin) and offers the other ways.

use super::{cookies, or_error_page, render, Page};
use crate::auth::authorize::AuthorizeRequest;
use crate::auth::ClientIp;
use crate::error::PageError;
use crate::extract::read_body;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::mfa::FactorKind;
use gatehouse_services::mfa::challenge::{self, Authenticator, CodeError, Need, Pending, Proof, REMEMBER_SECS};
use gatehouse_services::mfa::webauthn;
use gatehouse_services::secrets::{csrf_token, ct_eq};
use gatehouse_services::Services;
use serde_json::json;
use std::collections::HashMap;

const MAX_FORM: usize = 8 * 1024;

fn expired() -> PageError {
    PageError::bad_request(
        "invalid_request",
        "This verification has expired or is not valid. Please go back to the application and log in again.",
    )
}

/// After a first factor: the login's response if no second factor is needed, else the
/// redirect to the challenge (or enrolment). `amr` says how the first factor was passed.
pub(crate) async fn after_first_factor(
    state: &Services,
    headers: &HeaderMap,
    req: &AuthorizeRequest,
    user_id: &str,
    amr: &str,
    ip: Option<&str>,
) -> Result<Response, PageError> {
    let user = state.store.user(user_id).await?.ok_or_else(expired)?;
    let remembered = cookies::get(headers, cookies::MFA_REMEMBER);
    match challenge::needed(state, &user, remembered.as_deref()).await? {
        Need::Nothing => super::login::finish_login(state, headers, req, user_id, &[amr], ip).await,
        Need::Unavailable => Err(PageError::forbidden(
            "mfa_unavailable",
            "This application requires a second factor, but none is available. Contact the administrator.",
        )),
        Need::Challenge(_) | Need::Enrol => {
            let (browser, set_browser) = super::browser_secret(state, headers);
            let context = json!({"request": req, "amr": [amr]});
            let handle = challenge::begin(state, &user, &req.client_id, Some(&browser), &context).await?;
            let mut r = Redirect::to(&format!("/u/mfa?state={handle}")).into_response();
            *r.status_mut() = StatusCode::SEE_OTHER;
            if let Some(c) = set_browser.and_then(|c| HeaderValue::from_str(&c).ok()) {
                r.headers_mut().append("set-cookie", c);
            }
            Ok(r)
        }
    }
}

fn query(uri: &Uri, key: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.to_string())
}

/// The live wait for this handle, begun by this browser.
async fn waiting(state: &Services, headers: &HeaderMap, handle: &str) -> Result<(Pending, String), PageError> {
    let browser = cookies::get(headers, cookies::BROWSER).ok_or_else(expired)?;
    let p = challenge::pending(state, handle, Some(&browser)).await?.ok_or_else(expired)?;
    Ok((p, browser))
}

/// Which page a factor name (`?factor=`, the form's `factor`) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Screen {
    Otp,
    Email,
    RecoveryCode,
    SecurityKey,
    Platform,
    /// Enrolment of an authenticator app.
    Enrol,
    EnrolSecurityKey,
    EnrolPlatform,
}

impl Screen {
    const CHALLENGES: [Screen; 5] =
        [Screen::SecurityKey, Screen::Platform, Screen::Otp, Screen::Email, Screen::RecoveryCode];
    const ENROLMENTS: [Screen; 3] = [Screen::Enrol, Screen::EnrolSecurityKey, Screen::EnrolPlatform];

    fn parse(s: &str) -> Option<Self> {
        Self::CHALLENGES.into_iter().chain(Self::ENROLMENTS).find(|x| x.as_str() == s)
    }
    fn as_str(self) -> &'static str {
        match self {
            Self::Otp => "otp",
            Self::Email => "email",
            Self::RecoveryCode => "recovery-code",
            Self::SecurityKey => "webauthn-roaming",
            Self::Platform => "webauthn-platform",
            Self::Enrol => "enrol",
            Self::EnrolSecurityKey => "enrol-webauthn-roaming",
            Self::EnrolPlatform => "enrol-webauthn-platform",
        }
    }
    /// The factor a challenge screen asks for.
    fn kind(self) -> Option<FactorKind> {
        match self {
            Self::Otp => Some(FactorKind::Totp),
            Self::Email => Some(FactorKind::Email),
            Self::RecoveryCode => Some(FactorKind::RecoveryCode),
            Self::SecurityKey => Some(FactorKind::WebauthnRoaming),
            Self::Platform => Some(FactorKind::WebauthnPlatform),
            Self::Enrol | Self::EnrolSecurityKey | Self::EnrolPlatform => None,
        }
    }
    /// The factor an enrolment screen sets up.
    fn enrols(self) -> Option<FactorKind> {
        match self {
            Self::Enrol => Some(FactorKind::Totp),
            Self::EnrolSecurityKey => Some(FactorKind::WebauthnRoaming),
            Self::EnrolPlatform => Some(FactorKind::WebauthnPlatform),
            _ => None,
        }
    }
    /// The WebAuthn credential kind this screen works with, if it is a WebAuthn screen.
    fn webauthn(self) -> Option<FactorKind> {
        self.kind().or(self.enrols()).filter(|k| k.is_webauthn())
    }
    /// The link to this screen from another.
    fn offer(self) -> &'static str {
        match self {
            Self::Otp => "Use your authenticator app",
            Self::Email => "Email me a code",
            Self::RecoveryCode => "Use your recovery code",
            Self::SecurityKey => "Use your security key",
            Self::Platform => "Use this device (fingerprint, face or screen lock)",
            Self::Enrol => "Set up an authenticator app",
            Self::EnrolSecurityKey => "Set up a security key",
            Self::EnrolPlatform => "Set up this device (fingerprint, face or screen lock)",
        }
    }
}

/// The screens this user may switch between: their factors' challenges, or, without a
/// factor, the enrolments the tenant offers.
fn screens(factors: &[Authenticator], enrollable: &[FactorKind]) -> Vec<Screen> {
    if factors.is_empty() {
        Screen::ENROLMENTS.into_iter().filter(|s| s.enrols().is_some_and(|k| enrollable.contains(&k))).collect()
    } else {
        Screen::CHALLENGES
            .into_iter()
            .filter(|s| s.kind().is_some_and(|k| factors.iter().any(|a| a.kind == k)))
            .collect()
    }
}

/// The screen to show: the one asked for if the user may use it, else the first of
/// theirs (a security key, this device, an app, email, a recovery code), else enrolment.
fn screen_for(asked: Option<Screen>, factors: &[Authenticator], enrollable: &[FactorKind]) -> Screen {
    let offered = screens(factors, enrollable);
    asked.filter(|s| offered.contains(s)).or(offered.first().copied()).unwrap_or(Screen::Enrol)
}

/// `GET /u/mfa?state=…[&factor=…]`.
pub async fn show(State(state): State<Services>, headers: HeaderMap, uri: Uri) -> Response {
    let result = async {
        let handle = query(&uri, "state").ok_or_else(expired)?;
        let (p, browser) = waiting(&state, &headers, &handle).await?;
        if p.passed {
            return Err(expired());
        }
        let factors = challenge::user_authenticators(&state, &p.user).await?;
        let enrollable = challenge::enrolment_kinds(&state).await?;
        let screen = screen_for(query(&uri, "factor").as_deref().and_then(Screen::parse), &factors, &enrollable);
        let mut notice = None;
        if screen == Screen::Email {
            if let Some(a) = factors.iter().find(|a| a.kind == FactorKind::Email) {
                if challenge::send_email_code(&state, &p, a, false).await.map_err(code_page_error)?.is_some() {
                    notice = Some(format!("We sent a code to {}.", a.email.as_deref().unwrap_or("your email address")));
                }
            }
        }
        let form = Form {
            handle: &handle,
            browser: &browser,
            screen,
            factors: &factors,
            enrollable: &enrollable,
            error: None,
            notice,
        };
        page(&state, &p, StatusCode::OK, form).await
    }
    .await;
    or_error_page(&state, result).await
}

fn code_page_error(e: CodeError) -> PageError {
    match e {
        CodeError::Store(e) => e.into(),
        _ => expired(),
    }
}

/// What one rendering of the page shows.
struct Form<'a> {
    handle: &'a str,
    browser: &'a str,
    screen: Screen,
    factors: &'a [Authenticator],
    enrollable: &'a [FactorKind],
    error: Option<String>,
    notice: Option<String>,
}

/// The QR code of `uri` as inline SVG (no XML declaration): dark modules on white, with a
/// quiet zone, named for screen readers.
fn qr_svg(uri: &str) -> String {
    let Ok(code) = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M) else {
        return String::new();
    };
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build();
    let Some(start) = svg.find("<svg") else { return String::new() };
    let svg = &svg[start..];
    let Some(open_end) = svg.find('>') else { return String::new() };
    format!(
        r#"<svg role="img" aria-labelledby="qr-title"{}><title id="qr-title">QR code for your authenticator app</title>{}"#,
        &svg[4..open_end],
        &svg[open_end + 1..]
    )
}

/// A Base32 secret in groups of four, as people copy it.
fn grouped(secret: &str) -> String {
    secret.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// A way to switch to another of the user's factors.
#[derive(serde::Serialize)]
struct OtherWay {
    factor: &'static str,
    text: &'static str,
}

/// A WebAuthn screen's ceremony: `create` (enrolment) or `get`, and the options (JSON)
/// for the browser.
#[derive(serde::Serialize)]
struct Ceremony {
    action: &'static str,
    options: String,
}

async fn page(state: &Services, p: &Pending, status: StatusCode, f: Form<'_>) -> Result<Page, PageError> {
    let others: Vec<OtherWay> = screens(f.factors, f.enrollable)
        .into_iter()
        .filter(|s| *s != f.screen)
        .map(|s| OtherWay { factor: s.as_str(), text: s.offer() })
        .collect();
    // A WebAuthn screen: a new ceremony (its challenge kept server-side, replacing any
    // earlier one of this login).
    let ceremony = match f.screen.webauthn() {
        Some(kind) => {
            let (action, options) = if f.screen.enrols().is_some() {
                ("create", webauthn::start_registration(state, p, kind).await)
            } else {
                ("get", webauthn::start_assertion(state, p, kind).await)
            };
            Some(Ceremony { action, options: options.map_err(code_page_error)?.to_string() })
        }
        None => None,
    };
    // Enrolment: the app's secret, as a QR code (inline SVG, drawn here) and as text.
    let (qr, secret) = if f.screen == Screen::Enrol {
        let e = challenge::totp_enrolment(state, &p.user, false).await?;
        (Some(minijinja::Value::from_safe_string(qr_svg(&e.uri))), Some(grouped(e.secret.expose())))
    } else {
        (None, None)
    };
    let title = match f.screen {
        Screen::RecoveryCode => "Use your recovery code",
        Screen::Enrol | Screen::EnrolSecurityKey | Screen::EnrolPlatform => "Secure your account",
        _ => "Verify your identity",
    };
    let context = minijinja::context! {
        state => f.handle,
        csrf_token => csrf_token(f.browser, f.handle),
        factor => f.screen.as_str(),
        code_error => f.error,
        notice => f.notice,
        others,
        qr,
        secret,
        ceremony,
    };
    Ok(render(state, status, title, "mfa.html", context).await)
}

/// `POST /u/mfa`: a code for the factor the form was for.
pub async fn submit(State(state): State<Services>, headers: HeaderMap, ip: ClientIp, body: Body) -> Response {
    or_error_page(&state, handle_submit(&state, &headers, ip.0.as_deref(), body).await).await
}

async fn read_form(body: Body) -> Result<HashMap<String, String>, PageError> {
    let bytes = read_body(body, MAX_FORM)
        .await
        .map_err(|_| PageError::bad_request("invalid_request", "The form is too large."))?;
    Ok(url::form_urlencoded::parse(&bytes).into_owned().collect())
}

/// The form's wait, after its CSRF token (nothing else is looked at for a forged POST).
async fn checked(
    state: &Services,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(Pending, String, String), PageError> {
    let handle = form.get("state").cloned().ok_or_else(expired)?;
    let browser = cookies::get(headers, cookies::BROWSER).ok_or_else(super::login::csrf_refused)?;
    let presented = form.get("csrf_token").ok_or_else(super::login::csrf_refused)?;
    if !ct_eq(presented, &csrf_token(&browser, &handle)) {
        return Err(super::login::csrf_refused());
    }
    let (p, browser) = waiting(state, headers, &handle).await?;
    Ok((p, browser, handle))
}

async fn handle_submit(
    state: &Services,
    headers: &HeaderMap,
    ip: Option<&str>,
    body: Body,
) -> Result<Response, PageError> {
    let form = read_form(body).await?;
    let (p, browser, handle) = checked(state, headers, &form).await?;
    let factors = challenge::user_authenticators(state, &p.user).await?;
    let enrollable = challenge::enrolment_kinds(state).await?;
    let asked = form.get("factor").and_then(|f| Screen::parse(f));
    let screen = screen_for(asked, &factors, &enrollable);
    let code = form.get("code").map(|c| c.trim().to_string()).unwrap_or_default();
    let remember = form.get("remember").is_some_and(|v| v == "1");
    let refuse = |error: String| Form {
        handle: &handle,
        browser: &browser,
        screen,
        factors: &factors,
        enrollable: &enrollable,
        error: Some(error),
        notice: None,
    };
    let response = form.get("response").map(String::as_str).unwrap_or_default();
    if screen.webauthn().is_some() && response.is_empty() {
        let error = "Use the button above: your browser asks for your security key or device.".to_string();
        return Ok(page(state, &p, StatusCode::BAD_REQUEST, refuse(error)).await?.into_response());
    }
    if screen.webauthn().is_none() && code.is_empty() {
        return Ok(page(state, &p, StatusCode::BAD_REQUEST, refuse("Enter the code.".into())).await?.into_response());
    }
    let result = match screen {
        Screen::Otp => challenge::prove(state, &p, Proof::Otp(&code), ip).await,
        Screen::Email => challenge::prove(state, &p, Proof::EmailCode(&code), ip).await,
        Screen::RecoveryCode => challenge::prove(state, &p, Proof::RecoveryCode(&code), ip).await,
        Screen::Enrol => {
            let e = challenge::totp_enrolment(state, &p.user, false).await?;
            challenge::confirm_totp(state, &p, &e.factor_id, &code, ip).await
        }
        Screen::SecurityKey | Screen::Platform => {
            let kind = screen.kind().unwrap_or(FactorKind::WebauthnRoaming);
            challenge::prove(state, &p, Proof::Webauthn { kind, response }, ip).await
        }
        Screen::EnrolSecurityKey | Screen::EnrolPlatform => {
            let kind = screen.enrols().unwrap_or(FactorKind::WebauthnRoaming);
            webauthn::finish_registration(state, &p, kind, response, ip).await
        }
    };
    match result {
        Ok(passed) => match passed.recovery_code {
            // Shown once, before the login goes on.
            Some(code) => Ok(recovery_code_page(state, &handle, &browser, &code, remember).await.into_response()),
            None => finish(state, headers, &p, remember, ip).await,
        },
        Err(CodeError::Store(e)) => Err(e.into()),
        Err(CodeError::Spent) => Err(expired()),
        Err(e) => {
            let status = if matches!(e, CodeError::TooManyAttempts) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::BAD_REQUEST
            };
            let message = match e {
                CodeError::Wrong => "That code is not right. Check it and try again.".to_string(),
                CodeError::Expired if screen.webauthn().is_some() => "That took too long. Try again.".to_string(),
                other => other.to_string(),
            };
            Ok(page(state, &p, status, refuse(message)).await?.into_response())
        }
    }
}

async fn recovery_code_page(state: &Services, handle: &str, browser: &str, code: &str, remember: bool) -> Page {
    let context = minijinja::context! {
        state => handle,
        csrf_token => csrf_token(browser, handle),
        recovery_code => code,
        remember,
    };
    render(state, StatusCode::OK, "Save your recovery code", "mfa-recovery-code.html", context).await
}

/// `POST /u/mfa/continue`: after the recovery code was shown.
pub async fn continue_login(State(state): State<Services>, headers: HeaderMap, ip: ClientIp, body: Body) -> Response {
    let result = async {
        let form = read_form(body).await?;
        let (p, _, _) = checked(&state, &headers, &form).await?;
        let remember = form.get("remember").is_some_and(|v| v == "1");
        finish(&state, &headers, &p, remember, ip.0.as_deref()).await
    }
    .await;
    or_error_page(&state, result).await
}

/// Ends a wait whose factor passed (once): the session, the code back to the application,
/// and the remember-me cookie when asked for.
async fn finish(
    state: &Services,
    headers: &HeaderMap,
    p: &Pending,
    remember: bool,
    ip: Option<&str>,
) -> Result<Response, PageError> {
    // Only a wait whose factor passed can finish, and only once.
    if !challenge::finish(state, p).await? {
        return Err(expired());
    }
    let req: AuthorizeRequest = serde_json::from_value(p.context["request"].clone()).map_err(PageError::internal)?;
    let first = p.context["amr"][0].as_str().unwrap_or("pwd").to_string();
    let mut r = super::login::finish_login(state, headers, &req, &p.user.user_id, &[&first, "mfa"], ip).await?;
    if remember {
        let token = challenge::remember_browser(state, &p.user.user_id).await?;
        let cookie = cookies::set(&state.config, cookies::MFA_REMEMBER, &token, Some(REMEMBER_SECS));
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().append("set-cookie", v);
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_inline_svg_with_a_name() {
        let svg = qr_svg("otpauth://totp/Gatehouse:a%40b.c?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Gatehouse");
        assert!(svg.starts_with("<svg role=\"img\""), "{svg}");
        assert!(svg.contains("<title id=\"qr-title\">") && svg.ends_with("</svg>"), "{svg}");
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }
}
