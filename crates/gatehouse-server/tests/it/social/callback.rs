//! The callback believes nothing unchecked: every spoiled ID token, a replayed or
//! foreign state, a denied consent and an unreachable provider end on a hosted error
//! page (never a 500, never a redirect), with an audit event, and no user is created.

use super::op::Tweak;
use super::world::{authorize_path, query_param, World};
use crate::kit::Backend;
use crate::on_both_backends;
use serde_json::{json, Value};

on_both_backends!(
    new_and_returning_user,
    spoiled_id_tokens_are_refused,
    replayed_and_foreign_state_is_refused,
    denied_consent_and_unreachable_provider,
    key_rotation_is_followed_boundedly,
    github_reads_verified_email,
);

async fn new_and_returning_user(backend: Backend) {
    let w = World::start(backend).await;
    let mut b = w.browser();
    let profile = json!({"email": "Ada@Example.com", "email_verified": true, "name": "Ada Lovelace",
        "given_name": "Ada", "picture": "https://img.example/ada.png"});
    let a = w.sign_in(&mut b, "ada-123", profile.clone()).await;
    let claims = w.redeem(&a).await;
    assert_eq!(claims["sub"], "oidc|corp|ada-123");
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(claims["email_verified"], true);
    let (s, user) = w.gh.api("GET", "/api/v2/users/oidc%7Ccorp%7Cada-123", None).await;
    assert_eq!(s, 200, "{user}");
    assert_eq!(
        user["identities"],
        json!([{"connection": "corp", "user_id": "corp|ada-123", "provider": "oidc", "isSocial": false}])
    );
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["given_name"], "Ada");
    assert_eq!(user["logins_count"], 1);
    // The userinfo endpoint was read too (its extra claim is not a root attribute,
    // but the call must not have failed the sign-in).
    assert_eq!(w.events("ss").await.len(), 1);

    // Returning, in a fresh browser: the same user, refreshed profile, no duplicate.
    let mut b2 = w.browser();
    let mut renamed = profile.clone();
    renamed["name"] = json!("Ada King");
    let claims = w.redeem(&w.sign_in(&mut b2, "ada-123", renamed).await).await;
    assert_eq!(claims["sub"], "oidc|corp|ada-123");
    let users = w.users().await;
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["name"], "Ada King");
    assert_eq!(users[0]["logins_count"], 2);

    // Single sign-on: the session of a social user serves the next request.
    let a = b2.get(&authorize_path(&w.client_id, None)).await;
    assert_eq!(a.status, 302);
    assert!(a.location.as_deref().unwrap().starts_with(super::world::CALLBACK), "{:?}", a.location);

    // The upstream request carried state, nonce and an S256 challenge.
    let mut b3 = w.browser();
    let a = b3.get(&authorize_path(&w.client_id, Some("corp"))).await;
    let up = a.location.unwrap();
    for k in ["state", "nonce", "code_challenge"] {
        assert_eq!(query_param(&up, k).map(|v| v.len()), Some(43), "{k} in {up}");
    }
    assert_eq!(query_param(&up, "redirect_uri"), Some(format!("{}login/callback", w.gh.issuer)));
    w.gh.stop().await;
}

async fn spoiled_id_tokens_are_refused(backend: Backend) {
    let w = World::start(backend).await;
    let cases = [
        (Tweak::Issuer("http://evil.example"), "wrong issuer"),
        (Tweak::Audience(json!("someone-else")), "wrong audience"),
        (Tweak::Audience(json!([super::op::RP_CLIENT_ID, "other"])), "azp"),
        (Tweak::Nonce("replayed-nonce"), "nonce"),
        (Tweak::ExpiredFor(600), "expired"),
        (Tweak::AlgNone, "\"none\" is not allowed"),
        (Tweak::Hs256WithPublicKey, "\"HS256\" is not allowed"),
        (Tweak::BadSignature, "bad signature"),
    ];
    for (tweak, reason) in cases {
        w.op.set_tweak(tweak.clone());
        let mut b = w.browser();
        let a = w.sign_in(&mut b, "mallory", json!({"email": "m@example.com", "email_verified": true})).await;
        assert_eq!(a.status, 502, "{tweak:?}: {}", a.body);
        assert!(a.location.is_none());
        assert!(a.body.contains("could not be verified"), "{tweak:?}: {}", a.body);
        assert!(!b.cookies.contains_key("gh_session"), "{tweak:?} signed someone in");
        let events = w.events("f").await;
        assert!(events.iter().any(|e| e.contains(reason)), "{tweak:?}: {events:?}");
    }
    assert_eq!(w.users().await.len(), 0, "no user is created from a refused token");
    w.gh.stop().await;
}

async fn replayed_and_foreign_state_is_refused(backend: Backend) {
    let w = World::start(backend).await;
    let mut b = w.browser();
    let a = b.get(&authorize_path(&w.client_id, Some("corp"))).await;
    let callback = w.op.approve(&a.location.unwrap(), "eve", json!({}));

    // Another browser (an attacker's link) cannot use the state.
    let mut other = w.browser();
    let r = other.get(&callback).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("another browser") || r.body.contains("expired"), "{}", r.body);

    // No state, an unknown state.
    assert_eq!(b.get("login/callback?code=x").await.status, 400);
    assert_eq!(b.get("login/callback?code=x&state=forged").await.status, 400);

    // The right browser, once; the replay is refused.
    let ok = b.get(&callback).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let again = b.get(&callback).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert_eq!(w.users().await.len(), 1);
    assert!(w.events("f").await.iter().filter(|e| e.contains("invalid state")).count() >= 3);
    w.gh.stop().await;
}

async fn denied_consent_and_unreachable_provider(backend: Backend) {
    let w = World::start(backend).await;
    let mut b = w.browser();
    let a = b.get(&authorize_path(&w.client_id, Some("corp"))).await;
    let st = query_param(&a.location.unwrap(), "state").unwrap();
    let r = b.get(&format!("login/callback?error=access_denied&error_description=%3Cscript%3E&state={st}")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("did not allow access"), "{}", r.body);
    assert!(!r.body.contains("<script>"));
    assert!(w.events("f").await.iter().any(|e| e.contains("access denied")));

    // A connection whose provider does not answer: a page, at /authorize already.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (s, body) =
        w.gh.api(
            "POST",
            "/api/v2/connections",
            Some(json!({"name": "down", "strategy": "oidc", "enabled_clients": [w.client_id],
                "options": {"client_id": "x", "client_secret": "y",
                    "discovery_url": format!("http://127.0.0.1:{closed}/.well-known/openid-configuration")}})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let r = b.get(&authorize_path(&w.client_id, Some("down"))).await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("could not be reached"), "{}", r.body);
    assert_eq!(w.users().await.len(), 0);
    w.gh.stop().await;
}

async fn key_rotation_is_followed_boundedly(backend: Backend) {
    let w = World::start(backend).await;
    let mut b = w.browser();
    w.redeem(&w.sign_in(&mut b, "rot", json!({})).await).await;
    let hits = w.op.jwks_hits();
    // The provider rotates: the new kid is unknown, so the JWKS is fetched again.
    w.op.rotate().await;
    let mut b = w.browser();
    w.redeem(&w.sign_in(&mut b, "rot", json!({})).await).await;
    assert_eq!(w.op.jwks_hits(), hits + 1);
    // Tokens naming unknown keys do not make Gatehouse hammer the provider.
    w.op.set_tweak(Tweak::UnknownKid);
    for _ in 0..3 {
        let mut b = w.browser();
        let a = w.sign_in(&mut b, "rot", json!({})).await;
        assert_eq!(a.status, 502, "{}", a.body);
    }
    assert!(w.op.jwks_hits() <= hits + 2, "{} fetches", w.op.jwks_hits() - hits);
    w.gh.stop().await;
}

async fn github_reads_verified_email(backend: Backend) {
    let w = World::start(backend).await;
    let op = &w.op.base;
    let (s, c) =
        w.gh.api(
            "POST",
            "/api/v2/connections",
            Some(json!({"name": "github", "strategy": "github", "enabled_clients": [w.client_id],
                "options": {"client_id": super::op::RP_CLIENT_ID, "client_secret": super::op::RP_SECRET,
                    "authorization_endpoint": format!("{op}/login/oauth/authorize"),
                    "token_endpoint": format!("{op}/login/oauth/access_token"),
                    "userinfo_endpoint": format!("{op}/user")}})),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    let mut b = w.browser();
    let a = b.get(&authorize_path(&w.client_id, Some("github"))).await;
    let up = a.location.unwrap();
    assert!(up.starts_with(&format!("{op}/login/oauth/authorize")), "{up}");
    assert_eq!(query_param(&up, "scope").as_deref(), Some("read:user user:email"));
    let emails = json!([{"email": "old@example.com", "primary": false, "verified": true},
        {"email": "octo@example.com", "primary": true, "verified": true},
        {"email": "unverified@example.com", "primary": false, "verified": false}]);
    let cb = w.op.approve(&up, "4242", json!({"emails": emails}));
    let claims = w.redeem(&b.get(&cb).await).await;
    assert_eq!(claims["sub"], "github|4242");
    let (_, user) = w.gh.api("GET", "/api/v2/users/github%7C4242", None).await;
    assert_eq!(user["email"], "octo@example.com");
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["nickname"], "octocat");
    assert_eq!(user["picture"], "https://avatars.example/u/4242");
    assert_eq!(
        user["identities"][0],
        json!({"connection": "github", "user_id": "4242", "provider": "github", "isSocial": true})
    );

    // Without a verified address, GitHub's public email is kept but not verified.
    let mut b = w.browser();
    let a = b.get(&authorize_path(&w.client_id, Some("github"))).await;
    let cb = w.op.approve(
        &a.location.unwrap(),
        "77",
        json!({"emails": [{"email": "x@example.com", "primary": true, "verified": false}]}),
    );
    w.redeem(&b.get(&cb).await).await;
    let (_, user): (u16, Value) = w.gh.api("GET", "/api/v2/users/github%7C77", None).await;
    assert_eq!(user["email"], "public@example.com");
    assert_eq!(user["email_verified"], false);
    w.gh.stop().await;
}
