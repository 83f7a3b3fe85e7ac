//! `/co/verify`: the end of a cross-origin login whose browser did not send Gatehouse's
//! verifier cookie with `/authorize` (third-party cookies blocked). The page loads the
//! application's `cross_origin_loc` page in a hidden frame, asks it (by `postMessage`,
//! auth0.js's protocol) for the `co_verifier` the application kept, and posts it back
//! here; the login ticket is redeemed only with it. Without JavaScript the page offers
//! the hosted login of the same transaction instead.

use super::{cookies, error_page, or_error_page, render, Page};
use crate::auth::authorize::{finish_ticket, AuthorizeError};
use crate::auth::response::AuthorizationResponse;
use crate::error::PageError;
use crate::pages::login::{expired, query_state, submitted, transaction, Submitted};
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_services::cross_origin;
use gatehouse_services::secrets::csrf_token;
use gatehouse_services::Services;

/// `GET /co/verify?state=…`.
pub async fn show(State(state): State<Services>, headers: HeaderMap, uri: Uri) -> Response {
    or_error_page(&state, page(&state, &headers, &uri).await).await
}

async fn page(state: &Services, headers: &HeaderMap, uri: &Uri) -> Result<Response, PageError> {
    let tx = query_state(uri).ok_or_else(expired)?;
    let browser = cookies::get(headers, cookies::BROWSER).ok_or_else(expired)?;
    let (_, req, client) = transaction(state, &tx, &browser).await?;
    let hash = req.login_ticket_hash.as_deref().ok_or_else(expired)?;
    let loc = client.cross_origin_loc.clone().ok_or_else(expired)?;
    let loc_origin = crate::cors::origin_of(&loc).ok_or_else(expired)?;
    let pending = cross_origin::pending(state, &client.client_id, hash).await?.ok_or_else(expired)?;
    let issuer_origin = crate::cors::origin_of(&state.config.issuer).unwrap_or_default();
    let frame_src =
        format!("{loc}#origin={}", url::form_urlencoded::byte_serialize(issuer_origin.as_bytes()).collect::<String>());
    let page: Page = render(
        state,
        StatusCode::OK,
        "Logging you in",
        "co-verify.html",
        minijinja::context! {
            state => tx,
            csrf_token => csrf_token(&browser, &tx),
            co_id => pending.co_id(),
            loc_origin => loc_origin,
            frame_src => frame_src,
            client_name => client.name,
        },
    )
    .await;
    let mut r = page.into_response();
    // The one page that frames another: the application's verification page, only. Its
    // form posts here, and the answer redirects to the application's callback: browsers
    // hold `form-action` to the redirect's target too, so the callback's origin is
    // allowed (a callback without one, a native app's scheme, leaves the directive out,
    // as on every other hosted page).
    let form_action = match crate::cors::origin_of(&req.redirect_uri) {
        Some(callback) => format!("; form-action 'self' {callback}"),
        None => String::new(),
    };
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src https: http: data:; \
         frame-src {loc_origin}; frame-ancestors 'none'; base-uri 'none'{form_action}"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        r.headers_mut().insert(HeaderName::from_static("content-security-policy"), v);
    }
    Ok(r)
}

/// `POST /co/verify`: the verifier the application's page gave back.
pub async fn submit(
    State(state): State<Services>,
    headers: HeaderMap,
    ip: crate::auth::ClientIp,
    body: Body,
) -> Response {
    match redeem(&state, &headers, ip.0.as_deref(), body).await {
        Ok(r) => r,
        Err(AuthorizeError::Page(e)) => error_page(&state, &e).await.into_response(),
        Err(AuthorizeError::Redirect(response)) => response.deliver(StatusCode::SEE_OTHER),
    }
}

async fn redeem(
    state: &Services,
    headers: &HeaderMap,
    ip: Option<&str>,
    body: Body,
) -> Result<Response, AuthorizeError> {
    let Submitted { form, tx, req, client, .. } = submitted(state, headers, None, body).await?;
    let hash = req.login_ticket_hash.clone().ok_or_else(expired)?;
    let fail = |error: &'static str, description: &str| {
        AuthorizeError::Redirect(AuthorizationResponse::error(
            &req.redirect_uri,
            req.response_mode,
            error,
            description,
            req.state.as_deref(),
        ))
    };
    // One submission ends the transaction, whatever it brought.
    super::login::spend_transaction(state, &tx).await?;
    let Some(pending) = cross_origin::pending(state, &client.client_id, &hash).await? else {
        return Err(fail("access_denied", "Invalid or expired login ticket."));
    };
    let verifier = form.get("verifier").map(String::as_str).unwrap_or_default();
    match cross_origin::redeem(state, &pending, verifier).await? {
        Some(redeemed) => finish_ticket(state, headers, ip, &client, &req, redeemed).await,
        None => Err(fail("invalid_request", "No verifier returned from client.")),
    }
}

/// `GET /co/verify.js`.
pub async fn script() -> Response {
    let mut r = include_str!("co-verify.js").into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    h.insert(HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff"));
    r
}
