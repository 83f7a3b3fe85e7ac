//! A provider vouching for the email of an existing database account: the user proves
//! that account (its password) on a hosted page before the accounts are linked; an
//! unverified email never leads there.

use super::world::{hidden, World, PASSWORD};
use crate::kit::Backend;
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(verified_email_links_after_proof, unverified_email_never_links, separate_account_on_request);

async fn verified_email_links_after_proof(backend: Backend) {
    let w = World::start(backend).await;
    let db =
        w.gh.create_user(json!({"email": "grace@example.com", "password": PASSWORD, "email_verified": true})).await;
    let db_id = db["user_id"].as_str().unwrap().to_string();
    let mut b = w.browser();
    let a = w.sign_in(&mut b, "grace-1", json!({"email": "grace@example.com", "email_verified": true})).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let link = a.location.unwrap();
    assert!(link.starts_with("/u/link?state="), "{link}");
    assert!(!b.cookies.contains_key("gh_session"), "nobody is signed in before the proof");

    let page = b.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("grace@example.com"));
    let st = hidden(&page.body, "state");
    let csrf = hidden(&page.body, "csrf_token");

    // A forged form (no CSRF token) and a wrong password change nothing.
    let forged = b.post_form(&link, &[("state", &st), ("password", PASSWORD)]).await;
    assert_eq!(forged.status, 403);
    let wrong = b.post_form(&link, &[("state", &st), ("csrf_token", &csrf), ("password", "nope")]).await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("Wrong password"), "{}", wrong.body);
    assert!(wrong.body.contains(r#"aria-describedby="password-error""#));
    // Another browser cannot use the pending link.
    let mut other = w.browser();
    other.cookies.insert("gh_browser".into(), "x".repeat(43));
    let stolen = other.post_form(&link, &[("state", &st), ("csrf_token", &csrf), ("password", PASSWORD)]).await;
    assert_eq!(stolen.status, 403);
    let (_, user) = w.gh.api("GET", &format!("/api/v2/users/{db_id}"), None).await;
    assert_eq!(user["identities"].as_array().unwrap().len(), 1);

    let ok = b.post_form(&link, &[("state", &st), ("csrf_token", &csrf), ("password", PASSWORD)]).await;
    let claims = w.redeem(&ok).await;
    assert_eq!(claims["sub"], db_id.as_str(), "signed in as the existing account");
    let (_, user) = w.gh.api("GET", &format!("/api/v2/users/{db_id}"), None).await;
    let ids = user["identities"].as_array().unwrap();
    assert_eq!(ids.len(), 2, "{user}");
    assert_eq!(ids[1]["provider"], "oidc");
    assert_eq!(ids[1]["user_id"], "corp|grace-1");
    assert_eq!(ids[1]["profileData"]["email"], "grace@example.com");
    assert_eq!(w.users().await.len(), 1, "no second user");
    // The pending link is single use.
    let replay = b.post_form(&link, &[("state", &st), ("csrf_token", &csrf), ("password", PASSWORD)]).await;
    assert_eq!(replay.status, 400);

    // Next time the provider signs the user straight into the linked account.
    let mut b2 = w.browser();
    let again = w.sign_in(&mut b2, "grace-1", json!({"email": "grace@example.com", "email_verified": true})).await;
    assert_eq!(w.redeem(&again).await["sub"], db_id.as_str());
    assert_eq!(w.users().await.len(), 1);
    w.gh.stop().await;
}

async fn unverified_email_never_links(backend: Backend) {
    let w = World::start(backend).await;
    let db = w.gh.create_user(json!({"email": "hopper@example.com", "password": PASSWORD})).await;
    let mut b = w.browser();
    let a = w.sign_in(&mut b, "imposter", json!({"email": "hopper@example.com", "email_verified": false})).await;
    let claims = w.redeem(&a).await;
    assert_eq!(claims["sub"], "oidc|corp|imposter", "a separate account, no link page");
    assert_eq!(claims["email_verified"], false);
    let (_, user) = w.gh.api("GET", &format!("/api/v2/users/{}", db["user_id"].as_str().unwrap()), None).await;
    assert_eq!(user["identities"].as_array().unwrap().len(), 1);
    assert_eq!(w.users().await.len(), 2);
    w.gh.stop().await;
}

async fn separate_account_on_request(backend: Backend) {
    let w = World::start(backend).await;
    w.gh.create_user(json!({"email": "kay@example.com", "password": PASSWORD, "email_verified": true})).await;
    let mut b = w.browser();
    let a = w.sign_in(&mut b, "kay-9", json!({"email": "kay@example.com", "email_verified": true})).await;
    let link = a.location.unwrap();
    let page = b.get(&link).await;
    let (st, csrf) = (hidden(&page.body, "state"), hidden(&page.body, "csrf_token"));
    let r = b.post_form(&link, &[("state", &st), ("csrf_token", &csrf), ("action", "separate")]).await;
    assert_eq!(w.redeem(&r).await["sub"], "oidc|corp|kay-9");
    assert_eq!(w.users().await.len(), 2);
    w.gh.stop().await;
}
