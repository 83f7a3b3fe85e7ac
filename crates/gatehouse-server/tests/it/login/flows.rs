use super::fixture::*;
use crate::kit::Backend;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

async fn discovery_describes_the_provider(backend: Backend) {
    let srv = start(backend).await;
    let (_, d) = srv.call("GET", ".well-known/openid-configuration", None, None).await;
    assert_eq!(d["issuer"], srv.issuer);
    assert_eq!(d["authorization_endpoint"], format!("{}authorize", srv.issuer));
    assert_eq!(d["userinfo_endpoint"], format!("{}userinfo", srv.issuer));
    assert_eq!(d["end_session_endpoint"], format!("{}oidc/logout", srv.issuer));
    assert_eq!(d["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert!(d["grant_types_supported"].as_array().unwrap().iter().any(|g| g == "refresh_token"));
}

async fn code_flow_with_pkce_issues_valid_tokens_and_records_the_login(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let code = login_code(&mut b, SPA).await;
    let (status, body) = redeem(&srv, &code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "openid profile email offline_access");
    assert!(body["refresh_token"].is_string());
    let id = jwt_claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], "auth0|alice");
    assert_eq!(id["aud"], SPA);
    assert_eq!(id["iss"], srv.issuer);
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["nickname"], "alice");
    assert_eq!(id["name"], "Name of alice");
    assert!(id["sid"].is_string() && id["auth_time"].is_i64() && id["updated_at"].is_string());
    // No audience was asked for: the access token only serves /userinfo and, as
    // Auth0's, is opaque (a JWE only Gatehouse can read).
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(access.split('.').count(), 5, "{access}");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(access.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!((header["alg"].as_str(), header["enc"].as_str()), (Some("dir"), Some("A256GCM")));
    assert!(!access.contains(&URL_SAFE_NO_PAD.encode("alice")[..4]));

    let (_, info) = userinfo(&srv, body["access_token"].as_str().unwrap()).await;
    assert_eq!(info["sub"], "auth0|alice");
    assert_eq!(info["email"], "alice@example.com");

    let alice = srv.state.store.user("auth0|alice").await.unwrap().unwrap();
    assert_eq!(alice.logins_count, 1);
    assert!(alice.last_login.is_some());
    assert_eq!(alice.last_ip.as_deref(), Some("127.0.0.1"));
}

async fn session_cookie_is_http_only_lax_and_not_secure_on_http(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let a = login(&mut b, &authorize_path(SPA, &[]), "alice@example.com", PASSWORD).await;
    let session = a.set_cookies.iter().find(|c| c.starts_with("gh_session=")).unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
    assert!(!session.contains("Secure"));
}

async fn single_sign_on_prompt_and_max_age(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    login_code(&mut b, SPA).await;
    // A valid session: a code comes straight back, also for prompt=none.
    for extra in [vec![], vec![("prompt", "none")]] {
        let a = b.get(&authorize_path(SPA, &extra)).await;
        assert_eq!(a.status, 302);
        let loc = a.location.unwrap();
        assert!(loc.starts_with(CALLBACK) && query_param(&loc, "code").is_some(), "{loc}");
    }
    // prompt=login forces the page.
    let a = b.get(&authorize_path(SPA, &[("prompt", "login")])).await;
    assert!(a.location.unwrap().starts_with("/u/login"));
    // max_age exceeded: log in again; with prompt=none: login_required.
    srv.clock.advance_secs(120);
    let a = b.get(&authorize_path(SPA, &[("max_age", "60")])).await;
    assert!(a.location.unwrap().starts_with("/u/login"));
    let a = b.get(&authorize_path(SPA, &[("max_age", "60"), ("prompt", "none")])).await;
    assert_eq!(query_param(&a.location.unwrap(), "error").as_deref(), Some("login_required"));
    // Another browser has no session.
    let a = srv.browser().get(&authorize_path(SPA, &[("prompt", "none")])).await;
    let loc = a.location.unwrap();
    assert_eq!(query_param(&loc, "error").as_deref(), Some("login_required"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
}

async fn refresh_rotates_and_reuse_revokes_the_family(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let code = login_code(&mut b, SPA).await;
    let (_, body) = redeem(&srv, &code).await;
    let rt1 = body["refresh_token"].as_str().unwrap().to_string();
    let (status, second) = refresh(&srv, &rt1).await;
    assert_eq!(status, 200, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    assert_eq!(jwt_claims(second["id_token"].as_str().unwrap())["sub"], "auth0|alice");
    // Reusing rt1 is refused and revokes rt2 with it.
    let (status, body) = refresh(&srv, &rt1).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "invalid_grant");
    let (status, _) = refresh(&srv, &rt2).await;
    assert_eq!(status, 403);
}

async fn confidential_client_code_flow_without_pkce_and_basic_auth(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let mut path = authorize_path(WEB, &[]);
    path = path.replace(&format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"), "");
    let a = login(&mut b, &path, "alice@example.com", PASSWORD).await;
    let code = query_param(&a.location.unwrap(), "code").unwrap();
    let r = srv
        .http
        .post(format!("{}oauth/token", srv.issuer))
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn password_grants_and_legacy_hash_upgrade(backend: Backend) {
    let srv = start(backend).await;
    let (status, body) = srv
        .token(&[
            ("grant_type", "password"),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("username", "legacy@example.com"),
            ("password", LEGACY_PASSWORD),
            ("scope", "openid email"),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(jwt_claims(body["id_token"].as_str().unwrap())["email"], "legacy@example.com");
    assert!(body.get("refresh_token").is_none());
    let legacy = srv.state.store.user("auth0|legacy").await.unwrap().unwrap();
    assert!(legacy.password_hash.unwrap().starts_with("$argon2id$"));
    assert_eq!(legacy.logins_count, 1);
    // The upgraded hash still accepts the password, through password-realm this time.
    let (status, body) = srv
        .token(&[
            ("grant_type", "http://auth0.com/oauth/grant-type/password-realm"),
            ("realm", "Username-Password-Authentication"),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("username", "LEGACY@example.com"),
            ("password", LEGACY_PASSWORD),
            ("scope", "openid offline_access"),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string());
}

/// With a core free beside the verify the password grant signs its tokens while the
/// password is checked (two hashing threads, one login at a time); with one hashing
/// thread it never does. Either way the tokens describe the user as the login leaves
/// them, and nobody but the right password of an unblocked user gets any.
async fn password_grant_tokens_signed_during_the_verify_or_after_it_alike(backend: Backend) {
    for threads in [2, 1] {
        let srv = start_with(backend.clone(), |c| c.hashing_threads = threads).await;
        let scope = [("scope", "openid profile email offline_access")];
        let (status, body) = password_grant(&srv, "alice@example.com", PASSWORD, &scope).await;
        assert_eq!(status, 200, "{threads} threads: {body}");
        let alice = srv.state.store.user("auth0|alice").await.unwrap().unwrap();
        assert_eq!(alice.logins_count, 1, "{threads} threads");
        let claims = jwt_claims(body["id_token"].as_str().unwrap());
        assert_eq!(claims["sub"], "auth0|alice");
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["aud"], WEB);
        // The claims are those of the user as the login's write left them.
        assert_eq!(claims["updated_at"].as_str(), Some(alice.updated_at.as_str()), "{threads} threads");
        assert!(
            claims["auth_time"].as_i64().unwrap() <= gatehouse_core::clock::Clock::now(&srv.clock).unix_timestamp()
        );
        let (status, _) = userinfo(&srv, body["access_token"].as_str().unwrap()).await;
        assert_eq!(status, 200);
        // The refresh token was stored before it was handed out.
        let rt = body["refresh_token"].as_str().unwrap();
        let refreshed = [("client_id", WEB), ("client_secret", WEB_SECRET), ("refresh_token", rt)];
        let (status, again) = srv.token(&[&[("grant_type", "refresh_token")], &refreshed[..]].concat()).await;
        assert_eq!(status, 200, "{threads} threads: {again}");

        for (who, password, status_wanted) in [
            ("alice@example.com", "wrong password", 403),
            ("nobody@example.com", PASSWORD, 403),
            ("bob@example.com", PASSWORD, 401),
        ] {
            let (status, body) = password_grant(&srv, who, password, &scope).await;
            assert_eq!(status, status_wanted, "{threads} threads, {who}: {body}");
            for field in ["access_token", "id_token", "refresh_token"] {
                assert!(body.get(field).is_none(), "{threads} threads, {who}: {body}");
            }
        }
        let alice = srv.state.store.user("auth0|alice").await.unwrap().unwrap();
        assert_eq!(alice.logins_count, 1, "{threads} threads: a failed login counted");
    }
}

/// `Server-Timing: hash;dur=<ms>` appears only where configured, and only on responses
/// that waited on a password hash: a login, right or wrong, not a client_credentials grant.
async fn server_timing_tells_the_hash_time_only_when_configured(backend: Backend) {
    let hash_timing = |r: &reqwest::Response| -> Option<f64> {
        let value = r.headers().get("server-timing")?.to_str().ok()?;
        value.strip_prefix("hash;dur=")?.parse().ok()
    };
    let login = |password: &'static str| {
        [
            ("grant_type", "password"),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("username", "alice@example.com"),
            ("password", password),
        ]
    };
    for configured in [true, false] {
        let srv = start_with(backend.clone(), |c| c.server_timing = configured).await;
        let url = format!("{}oauth/token", srv.issuer);
        for (password, status) in [(PASSWORD, 200), ("wrong password", 403)] {
            let r = srv.http.post(&url).form(&login(password)).send().await.unwrap();
            assert_eq!(r.status().as_u16(), status);
            match hash_timing(&r) {
                Some(ms) => assert!(configured && ms > 0.0, "{ms} ms, configured: {configured}"),
                None => assert!(!configured, "no hash time on a login, status {status}"),
            }
        }
        let cc = [("grant_type", "client_credentials"), ("client_id", WEB), ("client_secret", WEB_SECRET)];
        let r = srv.http.post(&url).form(&cc).send().await.unwrap();
        assert!(r.headers().get("server-timing").is_none(), "no hash, no header");
    }
}

/// `POST /oauth/revoke` (RFC 7009): a client revokes its own refresh token and with it
/// the family; another client's token is refused and stays alive; a token that is not
/// (or no longer) live is answered 200 all the same.
async fn a_client_revokes_its_own_refresh_tokens_only(backend: Backend) {
    let srv = start(backend).await;
    let revoke = |form: Vec<(&'static str, String)>| {
        let request = srv.http.post(format!("{}oauth/revoke", srv.issuer)).form(&form).send();
        async move {
            let r = request.await.unwrap();
            let status = r.status().as_u16();
            let no_store = r.headers().get("cache-control").is_some_and(|v| v == "no-store");
            (status, no_store, r.text().await.unwrap())
        }
    };
    let web = |token: &str| {
        vec![("client_id", WEB.to_string()), ("client_secret", WEB_SECRET.to_string()), ("token", token.to_string())]
    };
    let web_refresh = |rt: String| {
        let srv = &srv;
        async move {
            let form = [("grant_type", "refresh_token"), ("client_id", WEB), ("client_secret", WEB_SECRET)];
            srv.token(&[&form[..], &[("refresh_token", rt.as_str())]].concat()).await
        }
    };

    // The web app's token, rotated once: revoking the current one ends both.
    let (_, login) = password_grant(&srv, "alice@example.com", PASSWORD, &[("scope", "openid offline_access")]).await;
    let first = login["refresh_token"].as_str().unwrap().to_string();
    let (status, rotated) = web_refresh(first.clone()).await;
    assert_eq!(status, 200, "{rotated}");
    let current = rotated["refresh_token"].as_str().unwrap().to_string();
    // The single-page app's token, from the code flow (a public client: no secret).
    let mut b = srv.browser();
    let code = login_code(&mut b, SPA).await;
    let (_, spa_tokens) = redeem(&srv, &code).await;
    let spa_token = spa_tokens["refresh_token"].as_str().unwrap().to_string();

    // Someone else's token is refused, and still works for its own client.
    let (status, _, body) = revoke(web(&spa_token)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("invalid_grant"), "{body}");
    let (status, spa_rotated) = refresh(&srv, &spa_token).await;
    assert_eq!(status, 200, "{spa_rotated}");

    let (status, no_store, body) = revoke(web(&current)).await;
    assert_eq!((status, no_store, body.as_str()), (200, true, ""));
    for dead in [current.clone(), first] {
        let (status, body) = web_refresh(dead).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("invalid_grant")), "{body}");
    }
    // Already revoked, or never a token: 200, nothing said.
    assert_eq!(revoke(web(&current)).await.0, 200);
    assert_eq!(revoke(web("not-a-refresh-token")).await.0, 200);
    // The public client revokes its own with its client_id alone.
    let spa_current = spa_rotated["refresh_token"].as_str().unwrap().to_string();
    let form = vec![("client_id", SPA.to_string()), ("token", spa_current.clone())];
    assert_eq!(revoke(form).await.0, 200);
    assert_eq!(refresh(&srv, &spa_current).await.0, 403);

    // Each revocation is in the audit log (Auth0's `srrt`), the repeated one not.
    srv.state.audit.flush().await;
    let query = gatehouse_store::LogQuery { limit: 100, descending: true, ..Default::default() };
    let (logs, _) = srv.state.store.logs(&query).await.unwrap();
    let revocations: Vec<(&str, &str)> = logs
        .iter()
        .filter(|l| l["type"] == "srrt")
        .map(|l| (l["client_id"].as_str().unwrap_or(""), l["user_id"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(revocations.len(), 2, "{revocations:?}");
    assert!(revocations.contains(&(WEB, "auth0|alice")), "{revocations:?}");

    // Client authentication and the token parameter are required.
    let wrong = vec![("client_id", WEB.to_string()), ("client_secret", "wrong".to_string()), ("token", "x".into())];
    let (status, _, body) = revoke(wrong).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("invalid_client"), "{body}");
    let (status, _, body) =
        revoke(vec![("client_id", WEB.to_string()), ("client_secret", WEB_SECRET.to_string())]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Missing required parameter: token"), "{body}");
}

/// A refresh may narrow the scope, never widen it; a refused widening leaves the token
/// usable, and a blocked user's token is refused without being spent.
async fn a_refresh_narrows_the_scope_and_a_refusal_spends_nothing(backend: Backend) {
    let srv = start(backend).await;
    let grant = [("scope", "openid email offline_access")];
    let (_, login) = password_grant(&srv, "alice@example.com", PASSWORD, &grant).await;
    let rt = login["refresh_token"].as_str().unwrap().to_string();
    let refresh_with = |rt: String, scope: Option<&'static str>| {
        let srv = &srv;
        async move {
            let mut form = vec![("grant_type", "refresh_token"), ("client_id", WEB), ("client_secret", WEB_SECRET)];
            form.push(("refresh_token", rt.as_str()));
            form.extend(scope.map(|s| ("scope", s)));
            srv.token(&form).await
        }
    };
    let (status, body) = refresh_with(rt.clone(), Some("openid profile")).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_scope")), "{body}");
    let (status, body) = refresh_with(rt, Some("openid offline_access")).await;
    assert_eq!(status, 200, "the refused widening spent the token: {body}");
    assert_eq!(body["scope"], "openid offline_access");
    let rt = body["refresh_token"].as_str().unwrap().to_string();

    // Blocked meanwhile: refused, and usable again once unblocked.
    srv.state
        .store
        .modify_user::<(), _>("auth0|alice", |u| {
            u.blocked = true;
            Ok(())
        })
        .await
        .unwrap()
        .unwrap();
    let (status, body) = refresh_with(rt.clone(), None).await;
    assert_eq!(status, 401, "{body}");
    srv.state
        .store
        .modify_user::<(), _>("auth0|alice", |u| {
            u.blocked = false;
            Ok(())
        })
        .await
        .unwrap()
        .unwrap();
    let (status, body) = refresh_with(rt, None).await;
    assert_eq!(status, 200, "{body}");
}

/// A single-page app's page reads the token endpoint's answers only from an origin its
/// client allows (here: its callback's); discovery, JWKS and userinfo any page may read.
async fn a_browser_app_reads_token_answers_from_its_own_origin_only(backend: Backend) {
    let srv = start(backend).await;
    let url = format!("{}oauth/token", srv.issuer);
    let allow_origin = |r: &reqwest::Response| {
        r.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap_or("").to_string())
    };
    let preflight = srv
        .http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://elsewhere.test")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,auth0-client")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    assert_eq!(allow_origin(&preflight).as_deref(), Some("https://elsewhere.test"));
    assert_eq!(preflight.headers()["access-control-allow-headers"], "content-type,auth0-client");
    assert!(preflight.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));

    let bogus_code = serde_json::json!({
        "grant_type": "authorization_code", "client_id": SPA, "code": "nope",
        "redirect_uri": CALLBACK, "code_verifier": VERIFIER,
    });
    for (origin, readable) in [("http://app.test", true), ("http://evil.test", false), ("http://app.test:8080", false)]
    {
        let r = srv.http.post(&url).header("origin", origin).json(&bogus_code).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 403);
        assert_eq!(allow_origin(&r).as_deref(), readable.then_some(origin), "{origin}");
    }
    for path in [".well-known/openid-configuration", ".well-known/jwks.json", "userinfo"] {
        let r =
            srv.http.get(format!("{}{path}", srv.issuer)).header("origin", "http://evil.test").send().await.unwrap();
        assert_eq!(allow_origin(&r).as_deref(), Some("*"), "{path}");
    }
}

async fn an_api_audience_gets_a_jwt_that_also_serves_userinfo(backend: Backend) {
    const API: &str = "https://api.example.test/";
    let srv = start_with(backend, |c| c.api_audiences = vec![API.into()]).await;
    let (status, body) =
        password_grant(&srv, "alice@example.com", PASSWORD, &[("audience", API), ("scope", "openid email")]).await;
    assert_eq!(status, 200, "{body}");
    let access_token = body["access_token"].as_str().unwrap();
    let access = jwt_claims(access_token);
    assert_eq!(access["aud"], serde_json::json!([API, format!("{}userinfo", srv.issuer)]));
    assert_eq!((access["gty"].as_str(), access["sub"].as_str()), (Some("password"), Some("auth0|alice")));
    let (status, info) = userinfo(&srv, access_token).await;
    assert_eq!((status, &info["email"]), (200, &serde_json::json!("alice@example.com")));
}

async fn logout_ends_the_session(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let code = login_code(&mut b, SPA).await;
    let (_, tokens) = redeem(&srv, &code).await;
    // Auth0 /v2/logout with an allowed returnTo.
    let a = b.get(&format!("v2/logout?client_id={SPA}&returnTo={LOGOUT_URL}")).await;
    assert_eq!(a.status, 302);
    assert_eq!(a.location.as_deref(), Some(LOGOUT_URL));
    let a = b.get(&authorize_path(SPA, &[("prompt", "none")])).await;
    assert_eq!(query_param(&a.location.unwrap(), "error").as_deref(), Some("login_required"));
    // RP-initiated logout with id_token_hint and state.
    login_code(&mut b, SPA).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let a = b.get(&format!("oidc/logout?id_token_hint={hint}&post_logout_redirect_uri={LOGOUT_URL}&state=bye")).await;
    assert_eq!(a.location.as_deref(), Some(&*format!("{LOGOUT_URL}?state=bye")));
    let a = b.get(&authorize_path(SPA, &[("prompt", "none")])).await;
    assert_eq!(query_param(&a.location.unwrap(), "error").as_deref(), Some("login_required"));
    // No return URL: a page.
    let a = b.get("v2/logout").await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("You have been logged out."));
}

async fn login_page_is_accessible_and_self_contained(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    // (`screen_hint=signup` opens the sign-up page instead: the signup module.)
    let a = b.get(&authorize_path(SPA, &[("login_hint", "alice@example.com")])).await;
    let page = b.get(&a.location.unwrap()).await;
    let html = &page.body;
    assert!(html.contains(r#"<label for="username">"#) && html.contains(r#"<label for="password">"#));
    assert!(html.contains(r#"value="alice@example.com""#));
    assert!(!html.contains("<script"), "no JavaScript needed");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "no external assets");
    let tx = hidden(html, "state");
    let csrf = hidden(html, "csrf_token");
    // An empty field is reported on that field.
    let a = b
        .post_form(
            "u/login",
            &[("state", &tx), ("csrf_token", &csrf), ("username", "alice@example.com"), ("password", "")],
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains(r#"aria-describedby="password-error""#));
    assert!(a.body.contains(r#"id="password-error""#));
}

async fn branding_and_template_overrides(backend: Backend) {
    let dir = std::env::temp_dir().join(crate::kit::unique("gh_templates"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("message.html"), "<p id=custom>{{message}} (custom)</p>").unwrap();
    let srv = start_with(backend, |c| {
        c.branding.name = "Acme <Login>".into();
        c.branding.logo_url = Some("https://acme.test/logo.png".into());
        c.branding.primary_color = "#ff6600".into();
        c.template_dir = Some(dir.clone());
    })
    .await;
    let mut b = srv.browser();
    let a = b.get(&authorize_path(SPA, &[])).await;
    let page = b.get(&a.location.unwrap()).await;
    assert!(page.body.contains("Acme &lt;Login&gt;"), "brand name is escaped: {}", page.body);
    assert!(page.body.contains(r#"<img src="https://acme.test/logo.png""#));
    assert!(page.body.contains("--primary: #ff6600"));
    // login.html is not overridden: the embedded one is used.
    assert!(page.body.contains(r#"name="csrf_token""#));
    let a = b.get("v2/logout").await;
    assert!(a.body.contains("<p id=custom>You have been logged out. (custom)</p>"), "{}", a.body);
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn rp_initiated_logout_by_form_post(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let code = login_code(&mut b, SPA).await;
    let (_, tokens) = redeem(&srv, &code).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let a = b.post_form("oidc/logout", &[("id_token_hint", hint), ("post_logout_redirect_uri", LOGOUT_URL)]).await;
    assert_eq!(a.location.as_deref(), Some(LOGOUT_URL));
    assert!(a.set_cookies.iter().any(|c| c.starts_with("gh_session=;") && c.contains("Max-Age=0")));
    let a = b.get(&authorize_path(SPA, &[("prompt", "none")])).await;
    assert_eq!(query_param(&a.location.unwrap(), "error").as_deref(), Some("login_required"));
}

async fn an_administrator_sees_sessions_and_signs_a_user_out_everywhere(backend: Backend) {
    let srv = start(backend).await;
    let admin =
        srv.token_with(&["read:sessions", "delete:sessions", "read:refresh_tokens", "delete:refresh_tokens"]).await;
    let mut b = srv.browser();
    let (_, tokens) = redeem(&srv, &login_code(&mut b, SPA).await).await;
    let sid = jwt_claims(tokens["id_token"].as_str().unwrap())["sid"].as_str().unwrap().to_string();
    // Single sign-on into the second application from the same browser.
    let a = b.get(&authorize_path(WEB, &[])).await;
    assert!(query_param(&a.location.unwrap(), "code").is_some());
    let mut other = srv.browser();
    login_code(&mut other, SPA).await;

    let (status, page) = srv.call("GET", "/api/v2/users/auth0%7Calice/sessions?take=1", None, Some(&admin)).await;
    assert_eq!(status, 200, "{page}");
    let next = page["next"].as_str().unwrap().to_string();
    let (_, rest) =
        srv.call("GET", &format!("/api/v2/users/auth0%7Calice/sessions?take=1&from={next}"), None, Some(&admin)).await;
    assert!(rest.get("next").is_none(), "{rest}");
    let both: Vec<Value> = [&page, &rest].iter().flat_map(|p| p["sessions"].as_array().unwrap().clone()).collect();
    let mine = both.iter().find(|s| s["id"] == sid.as_str()).unwrap();
    assert_eq!(mine["clients"], json!([{"client_id": SPA}, {"client_id": WEB}]));
    assert_eq!(mine["authentication"]["methods"][0]["name"], "pwd");
    assert_eq!(both.len(), 2);
    let (_, grants) = srv.call("GET", "/api/v2/users/auth0%7Calice/refresh-tokens", None, Some(&admin)).await;
    assert_eq!(grants["tokens"][0]["session_id"], sid.as_str(), "{grants}");

    // Reading is not ending: a token that may only read is refused.
    let reader = srv.token_with(&["read:sessions"]).await;
    let (status, _) =
        srv.call("POST", "/api/v2/users/auth0%7Calice/revoke-access", Some(json!({})), Some(&reader)).await;
    assert_eq!(status, 403);
    // Someone else's session is not this user's to end.
    let (status, _) = srv
        .call(
            "POST",
            "/api/v2/users/auth0%7Clegacy/revoke-access",
            Some(json!({"session_id": sid, "preserve_refresh_tokens": true})),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = srv.call("GET", "/api/v2/users/auth0%7Cnobody/sessions", None, Some(&admin)).await;
    assert_eq!((status, body["errorCode"].as_str()), (404, Some("inexistent_user")));

    let (status, _) =
        srv.call("POST", "/api/v2/users/auth0%7Calice/revoke-access", Some(json!({})), Some(&admin)).await;
    assert_eq!(status, 202);
    for browser in [&mut b, &mut other] {
        let a = browser.get(&authorize_path(SPA, &[("prompt", "none")])).await;
        assert_eq!(query_param(&a.location.unwrap(), "error").as_deref(), Some("login_required"));
    }
    let (status, body) = refresh(&srv, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_grant")));
    let (_, page) = srv.call("GET", "/api/v2/users/auth0%7Calice/sessions", None, Some(&admin)).await;
    assert_eq!(page, json!({"sessions": []}));
}

async fn a_refresh_grant_ends_at_its_absolute_lifetime_however_often_it_rotates(backend: Backend) {
    let srv = start_with(backend, |c| {
        c.refresh_token_ttl_secs = 1_000;
        c.refresh_token_family_ttl_secs = 2_500;
    })
    .await;
    let mut b = srv.browser();
    let (_, tokens) = redeem(&srv, &login_code(&mut b, SPA).await).await;
    let mut rt = tokens["refresh_token"].as_str().unwrap().to_string();
    // Each exchange within the inactivity lifetime keeps the grant alive …
    for _ in 0..2 {
        srv.clock.advance_secs(900);
        let (status, body) = refresh(&srv, &rt).await;
        assert_eq!(status, 200, "{body}");
        rt = body["refresh_token"].as_str().unwrap().to_string();
    }
    // … but not past 2,500 s from the first token, however recent the last exchange.
    srv.clock.advance_secs(701);
    let (status, body) = refresh(&srv, &rt).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_grant")), "{body}");
}

async fn applications_hear_of_ended_sessions_on_their_back_channel(backend: Backend) {
    let apps = LogoutReceiver::start().await;
    let srv = start(backend).await;
    let admin = srv.token_with(&["update:clients", "delete:sessions", "delete:users"]).await;
    // The web app listens for logouts only (Auth0's default); the SPA for every ending.
    let web = json!({"oidc_logout": {"backchannel_logout_urls": [apps.url("web")]}});
    let spa = json!({"oidc_logout": {"backchannel_logout_urls": [apps.url("spa")],
        "backchannel_logout_initiators": {"mode": "all"}}});
    for (id, body) in [(WEB, web), (SPA, spa)] {
        let (status, client) = srv.call("PATCH", &format!("/api/v2/clients/{id}"), Some(body), Some(&admin)).await;
        assert_eq!(status, 200, "{client}");
    }
    // The user logs out: both applications are told, each by a token for it alone.
    let mut b = srv.browser();
    let first = sign_in_to_both(&srv, &mut b).await;
    b.get(&format!("v2/logout?client_id={SPA}")).await;
    for (app, client_id) in [("spa", SPA), ("web", WEB)] {
        let token = &apps.tokens(app, 1).await[0];
        let claims = verified_logout_token(&srv, token, client_id).await;
        assert_eq!((claims["sid"].as_str(), claims["sub"].as_str()), (Some(&*first), Some("auth0|alice")));
        assert_eq!(claims["events"], json!({"http://schemas.openid.net/event/backchannel-logout": {}}));
        assert!(claims.get("nonce").is_none() && claims["jti"].is_string());
        assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    }

    // An administrator ends the next session: only the application listening for that hears.
    let second = sign_in_to_both(&srv, &mut b).await;
    let (status, _) = srv.call("DELETE", &format!("/api/v2/sessions/{second}"), None, Some(&admin)).await;
    assert_eq!(status, 202);
    let spa_tokens = apps.tokens("spa", 2).await;
    assert_eq!(verified_logout_token(&srv, &spa_tokens[1], SPA).await["sid"], second.as_str());

    // The next reaches its lifetime: housekeeping ends it, and the SPA hears.
    let expiring = sign_in_to_both(&srv, &mut b).await;
    srv.clock.advance_secs(srv.state.config.session_ttl_secs);
    gatehouse_services::session_end::purge_expired(&srv.state).await.unwrap();
    let spa_tokens = apps.tokens("spa", 3).await;
    assert_eq!(verified_logout_token(&srv, &spa_tokens[2], SPA).await["sid"], expiring.as_str());

    // Deleting the user ends the last: the SPA hears; the web app has heard only the logout.
    let last = sign_in_to_both(&srv, &mut b).await;
    let (status, _) = srv.call("DELETE", "/api/v2/users/auth0%7Calice", None, Some(&admin)).await;
    assert_eq!(status, 204);
    let spa_tokens = apps.tokens("spa", 4).await;
    assert_eq!(verified_logout_token(&srv, &spa_tokens[3], SPA).await["sid"], last.as_str());
    let mut web_sids = Vec::new();
    for token in apps.tokens("web", 1).await {
        web_sids.push(verified_logout_token(&srv, &token, WEB).await["sid"].clone());
    }
    assert_eq!(web_sids, [json!(first)]);
}

/// Logs in to the SPA and signs in to the web app by single sign-on: the session's `sid`.
async fn sign_in_to_both(srv: &LoginServer, b: &mut Browser) -> String {
    let (_, tokens) = redeem(srv, &login_code(b, SPA).await).await;
    let a = b.get(&authorize_path(WEB, &[])).await;
    assert!(query_param(&a.location.unwrap(), "code").is_some());
    jwt_claims(tokens["id_token"].as_str().unwrap())["sid"].as_str().unwrap().to_string()
}

async fn a_new_password_signs_the_user_out_of_everything(backend: Backend) {
    let apps = LogoutReceiver::start().await;
    let srv = start(backend).await;
    let admin = srv.token_with(&["update:users", "update:clients"]).await;
    let listen = json!({"oidc_logout": {"backchannel_logout_urls": [apps.url("spa")],
        "backchannel_logout_initiators": {"mode": "custom", "selected_initiators": ["password-changed"]}}});
    assert_eq!(srv.call("PATCH", &format!("/api/v2/clients/{SPA}"), Some(listen), Some(&admin)).await.0, 200);
    let mut b = srv.browser();
    let (_, browser_tokens) = redeem(&srv, &login_code(&mut b, SPA).await).await;
    let (_, direct) = password_grant(&srv, "alice@example.com", PASSWORD, &[("scope", "openid offline_access")]).await;
    let new_password = "A-new-Passphrase-for-2027";
    let (status, body) =
        srv.call("PATCH", "/api/v2/users/auth0%7Calice", Some(json!({ "password": new_password })), Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    // The browser's session is over, and the application was told why it ended.
    let a = b.get(&authorize_path(SPA, &[("prompt", "none")])).await;
    assert_eq!(query_param(&a.location.unwrap(), "error").as_deref(), Some("login_required"));
    let sid = jwt_claims(browser_tokens["id_token"].as_str().unwrap())["sid"].clone();
    assert_eq!(verified_logout_token(&srv, &apps.tokens("spa", 1).await[0], SPA).await["sid"], sid);
    // Every refresh token, from the browser or from the password grant, is dead.
    let (status, body) = refresh(&srv, browser_tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_grant")));
    let rt = direct["refresh_token"].as_str().unwrap();
    let form =
        [("grant_type", "refresh_token"), ("client_id", WEB), ("client_secret", WEB_SECRET), ("refresh_token", rt)];
    let (status, body) = srv.token(&form).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_grant")));
    // The new password starts afresh.
    let (status, body) = password_grant(&srv, "alice@example.com", new_password, &[]).await;
    assert_eq!(status, 200, "{body}");
}

crate::on_both_backends!(
    discovery_describes_the_provider,
    code_flow_with_pkce_issues_valid_tokens_and_records_the_login,
    session_cookie_is_http_only_lax_and_not_secure_on_http,
    single_sign_on_prompt_and_max_age,
    refresh_rotates_and_reuse_revokes_the_family,
    confidential_client_code_flow_without_pkce_and_basic_auth,
    password_grants_and_legacy_hash_upgrade,
    password_grant_tokens_signed_during_the_verify_or_after_it_alike,
    server_timing_tells_the_hash_time_only_when_configured,
    a_client_revokes_its_own_refresh_tokens_only,
    a_refresh_narrows_the_scope_and_a_refusal_spends_nothing,
    a_browser_app_reads_token_answers_from_its_own_origin_only,
    an_api_audience_gets_a_jwt_that_also_serves_userinfo,
    logout_ends_the_session,
    login_page_is_accessible_and_self_contained,
    branding_and_template_overrides,
    rp_initiated_logout_by_form_post,
    an_administrator_sees_sessions_and_signs_a_user_out_everywhere,
    a_refresh_grant_ends_at_its_absolute_lifetime_however_often_it_rotates,
    applications_hear_of_ended_sessions_on_their_back_channel,
    a_new_password_signs_the_user_out_of_everything,
);
