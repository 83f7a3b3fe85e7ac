//! Passkeys on the hosted login and sign-up pages of a database connection that enables
//! them (`gatehouse_services::passkeys` holds the rules). The login page carries a
//! sign-in ceremony (a "Sign in with a passkey" button, the username field's autofill, or
//! both, per `passkey_options.challenge_ui`), answered at `POST /u/login/passkey`; the
//! sign-up page's "Sign up with a passkey" shows the registration ceremony, answered at
//! `POST /u/signup/passkey`. Both ceremonies need `/u/webauthn.js`; without it the pages
//! say so and the password forms work as before. A passkey login ends like any other
//! (`login::finish_login`: the session, the code), with the passkey's `amr` and no second
//! factor asked.

use super::login::{expired, login_form, submitted, FormState, Submitted};
use super::{cookies, or_error_page, render, Page};
use crate::auth::authorize::AuthorizeRequest;
use crate::auth::ClientIp;
use crate::error::{login_refusal, PageError};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::Client;
use gatehouse_core::connection::Connection;
use gatehouse_core::user::User;
use gatehouse_services::login::connection_for;
use gatehouse_services::mfa::challenge::{self, Need};
use gatehouse_services::passkeys::{self, PasskeyError, PASSKEY_AMR};
use gatehouse_services::secrets::{csrf_token, hash_secret};
use gatehouse_services::signup::SignupError;
use gatehouse_services::Services;
use serde::Serialize;

/// The login page's passkey ceremony.
#[derive(Serialize)]
pub(super) struct PasskeyOffer {
    /// The options for `navigator.credentials.get` (JSON).
    options: String,
    button: bool,
    autofill: bool,
}

/// What the login page offers for `req`'s connection: whether a password (`true` unless
/// the connection turned it off), and a passkey ceremony where passkeys are enabled.
pub(super) async fn login_offer(
    state: &Services,
    tx: &str,
    req: &AuthorizeRequest,
    client: &Client,
) -> (bool, Option<PasskeyOffer>) {
    let Ok(connection) = connection_for(state, client, req.connection.as_deref()).await else { return (true, None) };
    let methods = connection.authentication_methods();
    if !methods.passkey {
        return (methods.password, None);
    }
    match passkeys::start_login(state, &connection, &hash_secret(tx)).await {
        Ok(options) => {
            let offer = PasskeyOffer {
                options: options.to_string(),
                button: methods.challenge_ui.button(),
                autofill: methods.challenge_ui.autofill(),
            };
            (methods.password, Some(offer))
        }
        Err(PasskeyError::Unavailable) => (methods.password, None),
        Err(e) => {
            tracing::warn!(error = %e, "cannot start a passkey sign-in for the login page");
            (methods.password, None)
        }
    }
}

async fn connection(state: &Services, client: &Client, req: &AuthorizeRequest) -> Result<Connection, PageError> {
    connection_for(state, client, req.connection.as_deref())
        .await
        .map_err(|e| PageError::bad_request("invalid_request", e.to_string()))
}

/// Ends the transaction of a user who just proved who they are with a passkey: the
/// session and the code, with the passkey's `amr`. One answer finishes a transaction.
async fn signed_in(
    state: &Services,
    headers: &HeaderMap,
    tx: &str,
    req: &AuthorizeRequest,
    user_id: &str,
    ip: Option<&str>,
) -> Result<Response, PageError> {
    super::login::spend_transaction(state, tx).await?;
    super::login::finish_login(state, headers, req, user_id, &PASSKEY_AMR, ip).await
}

/// What the page says of a refused passkey: the status and the sentence.
pub(super) fn refusal(e: PasskeyError) -> Result<(StatusCode, String), PageError> {
    match e {
        PasskeyError::Store(e) => Err(e.into()),
        PasskeyError::Refused(e) => login_refusal(e),
        PasskeyError::Signup(SignupError::Internal(e)) => Err(PageError::internal(e)),
        PasskeyError::Signup(SignupError::TooManyAttempts) => {
            Ok((StatusCode::TOO_MANY_REQUESTS, SignupError::TooManyAttempts.to_string()))
        }
        PasskeyError::Signup(SignupError::Disabled) => {
            Err(PageError::forbidden("signup_disabled", "Sign-up is not available for this application."))
        }
        e @ (PasskeyError::Unavailable
        | PasskeyError::Expired
        | PasskeyError::NotAccepted
        | PasskeyError::Signup(_)) => Ok((StatusCode::BAD_REQUEST, e.to_string())),
    }
}

/// `POST /u/login/passkey`: the answer to the login page's ceremony.
pub async fn login(State(state): State<Services>, headers: HeaderMap, uri: Uri, ip: ClientIp, body: Body) -> Response {
    let ip = ip.0.as_deref();
    let result = async {
        let Submitted { form, tx, browser, req, client } = submitted(&state, &headers, Some(&uri), body).await?;
        let connection = connection(&state, &client, &req).await?;
        let response = form.get("response").map(String::as_str).unwrap_or_default();
        match passkeys::finish_login(&state, &connection, &hash_secret(&tx), response, ip).await {
            Ok(user) => signed_in(&state, &headers, &tx, &req, &user.user_id, ip).await,
            Err(e) => {
                let (status, message) = refusal(e)?;
                let f = FormState { form_error: Some(message), ..FormState::default() };
                Ok(login_form(&state, status, &tx, &browser, &req, &client, f).await.into_response())
            }
        }
    }
    .await;
    or_error_page(&state, result).await
}

/// The sign-up page's passkey step: the registration ceremony for the fields checked.
pub(super) async fn signup_ceremony(
    state: &Services,
    tx: &str,
    browser: &str,
    client: &Client,
    connection: &Connection,
    options: &serde_json::Value,
) -> Page {
    let context = minijinja::context! {
        password => connection.authentication_methods().password,
        state => tx,
        csrf_token => csrf_token(browser, tx),
        client_name => &client.name,
        options => options.to_string(),
    };
    render(state, StatusCode::OK, "Create your passkey", "signup-passkey.html", context).await
}

/// `POST /u/signup/passkey`: the new passkey; the user is created with it.
pub async fn signup(State(state): State<Services>, headers: HeaderMap, uri: Uri, ip: ClientIp, body: Body) -> Response {
    let ip = ip.0.as_deref();
    let result = async {
        let Submitted { form, tx, browser, req, client } = submitted(&state, &headers, Some(&uri), body).await?;
        let connection = connection(&state, &client, &req).await?;
        let response = form.get("response").map(String::as_str).unwrap_or_default();
        let tx_hash = hash_secret(&tx);
        match passkeys::finish_signup(&state, &connection, &tx_hash, response, Some(&client.client_id), ip).await {
            Ok(user) => signed_in(&state, &headers, &tx, &req, &user.user_id, ip).await,
            Err(e) => {
                // The ceremony is spent: back to the sign-up form, which says why.
                let (status, message) = refusal(e)?;
                super::signup::form_with_error(&state, status, &tx, &browser, &client, &connection, message).await
            }
        }
    }
    .await;
    or_error_page(&state, result).await
}

/// After a password login: the page offering to create a passkey (once; see
/// `passkeys::offer_enrolment`), when the login needs no second factor. An offer that
/// cannot be made never stops a login.
#[allow(clippy::too_many_arguments)]
pub(super) async fn progressive_offer(
    state: &Services,
    headers: &HeaderMap,
    connection: &Connection,
    tx: &str,
    browser: &str,
    client: &Client,
    user: &User,
) -> Result<Option<Response>, PageError> {
    let methods = connection.authentication_methods();
    if !methods.passkey || !methods.progressive_enrollment {
        return Ok(None);
    }
    let remembered = cookies::get(headers, cookies::MFA_REMEMBER);
    if challenge::needed(state, user, remembered.as_deref()).await? != Need::Nothing {
        return Ok(None);
    }
    let options = match passkeys::offer_enrolment(state, connection, &hash_secret(tx), user).await {
        Ok(Some(options)) => options,
        Ok(None) => return Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, "cannot offer a passkey after a password login");
            return Ok(None);
        }
    };
    let context = minijinja::context! {
        state => tx,
        csrf_token => csrf_token(browser, tx),
        client_name => &client.name,
        options => options.to_string(),
    };
    Ok(Some(render(state, StatusCode::OK, "Create a passkey", "passkey-enrol.html", context).await.into_response()))
}

/// `POST /u/login/passkey-enrol`: the answer to the offer, a new passkey or "not now";
/// the login goes on either way (with the password's `amr`).
pub async fn enrol(State(state): State<Services>, headers: HeaderMap, uri: Uri, ip: ClientIp, body: Body) -> Response {
    let ip = ip.0.as_deref();
    let result = async {
        let Submitted { form, tx, req, .. } = submitted(&state, &headers, Some(&uri), body).await?;
        let response = form.get("response").map(String::as_str).filter(|r| !r.is_empty() && !form.contains_key("skip"));
        match passkeys::answer_enrolment(&state, &hash_secret(&tx), response, ip).await {
            Ok((user_id, _)) => super::login::complete(&state, &headers, &tx, &req, &user_id, ip).await,
            Err(PasskeyError::Store(e)) => Err(e.into()),
            Err(_) => Err(expired()),
        }
    }
    .await;
    or_error_page(&state, result).await
}
