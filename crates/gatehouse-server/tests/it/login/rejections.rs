use super::fixture::*;
use crate::kit::Backend;

async fn unknown_client_and_bad_redirect_uri_show_a_page_and_never_redirect(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    for path in [
        authorize_path("nope", &[]),
        authorize_path(SPA, &[]).replace("callback", "callback%2Fevil"),
        authorize_path(SPA, &[]).replace("app.test", "evil.test"),
        authorize_path(SPA, &[]).replace("redirect_uri=", "x="),
    ] {
        let a = b.get(&path).await;
        assert_eq!(a.status, 400, "{path}");
        assert!(a.location.is_none());
        assert!(a.body.contains("<!DOCTYPE html>"));
    }
}

async fn pkce_is_required_for_public_clients_and_plain_is_refused(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let without =
        authorize_path(SPA, &[]).replace(&format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"), "");
    let plain = authorize_path(SPA, &[]).replace("code_challenge_method=S256", "code_challenge_method=plain");
    for path in [without, plain] {
        let a = b.get(&path).await;
        let loc = a.location.unwrap();
        assert!(loc.starts_with(CALLBACK));
        assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_request"), "{loc}");
        assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    }
    let a = b.get(&authorize_path(SPA, &[]).replace("response_type=code", "response_type=token")).await;
    assert_eq!(query_param(&a.location.unwrap(), "error").as_deref(), Some("unsupported_response_type"));
}

async fn wrong_or_missing_verifier_and_redirect_mismatch_are_invalid_grant(backend: Backend) {
    let srv = start(backend).await;
    let other = "x".repeat(43);
    for form in [
        vec![("code_verifier", other.as_str()), ("redirect_uri", CALLBACK)],
        vec![("redirect_uri", CALLBACK)],
        vec![("code_verifier", VERIFIER), ("redirect_uri", "http://app.test/other")],
    ] {
        let code = login_code(&mut srv.browser(), SPA).await;
        let mut f = vec![("grant_type", "authorization_code"), ("client_id", SPA), ("code", code.as_str())];
        f.extend(form);
        let (status, body) = srv.token(&f).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("invalid_grant")), "{body}");
    }
    assert_eq!(s256(VERIFIER), CHALLENGE);
}

async fn code_replay_is_refused_and_revokes_its_tokens(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let code = login_code(&mut b, SPA).await;
    let (status, first) = redeem(&srv, &code).await;
    assert_eq!(status, 200);
    let (status, again) = redeem(&srv, &code).await;
    assert_eq!((status, again["error"].as_str()), (403, Some("invalid_grant")));
    let (status, _) = refresh(&srv, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 403, "the refresh token issued from a replayed code is revoked");
}

async fn concurrent_redemptions_of_one_code_have_one_winner(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let code = login_code(&mut b, SPA).await;
    let (a, b2) = tokio::join!(redeem(&srv, &code), redeem(&srv, &code));
    let wins = [a.0, b2.0].iter().filter(|s| **s == 200).count();
    assert_eq!(wins, 1);
}

async fn expired_code_is_refused(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let code = login_code(&mut b, SPA).await;
    srv.clock.advance_secs(61);
    let (status, body) = redeem(&srv, &code).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_grant")));
}

async fn wrong_password_and_unknown_user_look_the_same(backend: Backend) {
    let srv = start(backend).await;
    let grant = |user: &'static str| {
        vec![
            ("grant_type", "password"),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("username", user),
            ("password", "not the password"),
        ]
    };
    let wrong = srv.token(&grant("alice@example.com")).await;
    let unknown = srv.token(&grant("nobody@example.com")).await;
    assert_eq!(wrong, unknown);
    // Only the audit log, which admins read, tells them apart; it never holds the password.
    srv.state.audit.flush().await;
    let (logs, _) = srv
        .state
        .store
        .logs(&gatehouse_store::LogQuery { limit: 100, descending: true, ..Default::default() })
        .await
        .unwrap();
    let kinds: Vec<(&str, &str)> =
        logs.iter().map(|l| (l["type"].as_str().unwrap(), l["user_name"].as_str().unwrap_or(""))).collect();
    assert!(kinds.contains(&("fp", "alice@example.com")), "{kinds:?}");
    assert!(kinds.contains(&("fu", "nobody@example.com")), "{kinds:?}");
    assert!(!serde_json::Value::Array(logs).to_string().contains("not the password"));
    assert_eq!(wrong.0, 403);
    assert_eq!(wrong.1, serde_json::json!({"error": "invalid_grant", "error_description": "Wrong email or password."}));
    // The same on the hosted page.
    let mut pages = Vec::new();
    for user in ["alice@example.com", "nobody@example.com"] {
        let mut b = srv.browser();
        let a = login(&mut b, &authorize_path(SPA, &[]), user, "not the password").await;
        assert_eq!(a.status, 400);
        assert!(a.body.contains("Wrong email or password."));
        assert!(a.body.contains(r#"aria-describedby="form-error""#));
        let strip = |s: &str| {
            let v = hidden(s, "csrf_token");
            let t = hidden(s, "state");
            s.replace(&v, "").replace(&t, "").replace(user, "")
        };
        pages.push(strip(&a.body));
    }
    assert_eq!(pages[0], pages[1]);
}

async fn blocked_users_are_refused_after_the_right_password(backend: Backend) {
    let srv = start(backend).await;
    let form = |password: &'static str| {
        vec![
            ("grant_type", "password"),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("username", "bob@example.com"),
            ("password", password),
        ]
    };
    let (status, body) = srv.token(&form(PASSWORD)).await;
    assert_eq!(status, 401);
    assert_eq!(body, serde_json::json!({"error": "unauthorized", "error_description": "user is blocked"}));
    let (status, body) = srv.token(&form("wrong")).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_grant")));
    let mut b = srv.browser();
    let a = login(&mut b, &authorize_path(SPA, &[]), "bob@example.com", PASSWORD).await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("blocked"));
    assert!(!b.cookies.contains_key("gh_session"));
}

async fn login_post_without_valid_csrf_is_forbidden(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let a = b.get(&authorize_path(SPA, &[])).await;
    let page = b.get(&a.location.unwrap()).await;
    let tx = hidden(&page.body, "state");
    let csrf = hidden(&page.body, "csrf_token");
    let creds = [("username", "alice@example.com"), ("password", PASSWORD)];
    // Missing token.
    let a = b.post_form("u/login", &[("state", &tx), creds[0], creds[1]]).await;
    assert_eq!(a.status, 403);
    assert!(a.body.contains("CSRF"));
    // Wrong token.
    let a = b.post_form("u/login", &[("state", &tx), ("csrf_token", "forged"), creds[0], creds[1]]).await;
    assert_eq!(a.status, 403);
    // Right token from another browser (no browser cookie): refused too.
    let a = srv.browser().post_form("u/login", &[("state", &tx), ("csrf_token", &csrf), creds[0], creds[1]]).await;
    assert_eq!(a.status, 403);
    // The real form still works, once.
    let ok = [("state", tx.as_str()), ("csrf_token", csrf.as_str()), creds[0], creds[1]];
    assert_eq!(b.post_form("u/login", &ok).await.status, 303);
    assert_eq!(b.post_form("u/login", &ok).await.status, 400);
}

async fn grant_types_client_auth_and_audiences_are_enforced(backend: Backend) {
    let srv = start(backend).await;
    // SPA may not use the password grant.
    let (status, body) = srv
        .token(&[
            ("grant_type", "password"),
            ("client_id", SPA),
            ("username", "alice@example.com"),
            ("password", PASSWORD),
        ])
        .await;
    assert_eq!((status, body["error"].as_str()), (403, Some("unauthorized_client")));
    // Wrong secret.
    let (status, body) = srv
        .token(&[
            ("grant_type", "password"),
            ("client_id", WEB),
            ("client_secret", "wrong"),
            ("username", "alice@example.com"),
            ("password", PASSWORD),
        ])
        .await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    // Users never get Management API tokens.
    let mgmt = format!("{}api/v2/", srv.issuer);
    let (status, body) = srv
        .token(&[
            ("grant_type", "password"),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("username", "alice@example.com"),
            ("password", PASSWORD),
            ("audience", &mgmt),
            ("scope", "openid read:users"),
        ])
        .await;
    assert_eq!((status, body["error"].as_str()), (403, Some("access_denied")));
    // Missing parameters.
    let (status, body) = srv.token(&[("grant_type", "authorization_code"), ("client_id", SPA)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
}

async fn userinfo_requires_a_user_token(backend: Backend) {
    let srv = start(backend).await;
    let r = srv.http.get(format!("{}userinfo", srv.issuer)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("www-authenticate").is_some());
    let r = srv.http.get(format!("{}userinfo", srv.issuer)).bearer_auth("a.b.c").send().await.unwrap();
    assert_eq!(r.status(), 401);
}

async fn an_opaque_access_token_is_refused_once_altered_or_expired(backend: Backend) {
    let srv = start(backend).await;
    let (status, body) = password_grant(&srv, "alice@example.com", PASSWORD, &[("scope", "openid")]).await;
    assert_eq!(status, 200, "{body}");
    let opaque = body["access_token"].as_str().unwrap().to_string();
    let status_of = |t: String| {
        let srv = &srv;
        async move { userinfo(srv, &t).await.0 }
    };
    assert_eq!(status_of(opaque.clone()).await, 200);
    // Every part is covered: the header (as additional data), IV, ciphertext and tag.
    let parts: Vec<&str> = opaque.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        let mut altered = parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        let flipped = if part.starts_with('A') { 'B' } else { 'A' };
        altered[i] = format!("{flipped}{}", &part[1..]);
        assert_eq!(status_of(altered.join(".")).await, 401, "part {i} altered");
    }
    // The ID token's signature is no key for it, nor is an ID token a bearer token.
    assert_eq!(status_of(body["id_token"].as_str().unwrap().to_string()).await, 401);
    srv.clock.advance_secs(srv.state.config.access_token_ttl_secs + 31);
    assert_eq!(status_of(opaque).await, 401, "expired");
}

async fn logout_refuses_unlisted_return_urls(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let a = b.get(&format!("v2/logout?client_id={SPA}&returnTo=http://evil.test/")).await;
    assert_eq!(a.status, 400);
    assert!(a.location.is_none());
    let a = b.get(&format!("oidc/logout?client_id={SPA}&post_logout_redirect_uri=http://evil.test/")).await;
    assert_eq!(a.status, 400);
    let a = b.get("oidc/logout?id_token_hint=not.a.jwt").await;
    assert_eq!(a.status, 400);
}

crate::on_both_backends!(
    unknown_client_and_bad_redirect_uri_show_a_page_and_never_redirect,
    pkce_is_required_for_public_clients_and_plain_is_refused,
    wrong_or_missing_verifier_and_redirect_mismatch_are_invalid_grant,
    code_replay_is_refused_and_revokes_its_tokens,
    concurrent_redemptions_of_one_code_have_one_winner,
    expired_code_is_refused,
    wrong_password_and_unknown_user_look_the_same,
    blocked_users_are_refused_after_the_right_password,
    login_post_without_valid_csrf_is_forbidden,
    grant_types_client_auth_and_audiences_are_enforced,
    userinfo_requires_a_user_token,
    an_opaque_access_token_is_refused_once_altered_or_expired,
    logout_refuses_unlisted_return_urls,
);
