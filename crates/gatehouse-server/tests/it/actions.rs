//! Auth0 Actions: the Management API's shapes, and Auth0's documentation examples (a
//! claim from `app_metadata`, the user's roles in the access token, deny by email
//! domain, metadata set at sign-up, claims on M2M tokens) changing real tokens and
//! sign-ups; a failing, slow or greedy action fails its flow, writes nothing half, is
//! logged, and leaves the server serving.

use crate::kit::{jwt_claims, Backend, Server, DB};
use crate::login::fixture::{
    authorize_path, login, login_code, password_grant, query_param, redeem, start, start_with, CALLBACK, PASSWORD, SPA,
    WEB,
};
use serde_json::{json, Value};
use std::time::Duration;

/// Creates `code` as an action for `trigger`, deploys it and returns its id.
async fn deployed(srv: &Server, name: &str, trigger: &str, code: &str, secrets: Value) -> String {
    let body = json!({"name": name, "supported_triggers": [{"id": trigger, "version": "v3"}], "code": code,
        "runtime": "node22", "secrets": secrets});
    let (s, a) = srv.api("POST", "/api/v2/actions/actions", Some(body)).await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let (s, v) = srv.api("POST", &format!("/api/v2/actions/actions/{id}/deploy"), None).await;
    assert_eq!(s, 202, "{v}");
    id
}

/// Binds the named actions to `trigger`, in order.
async fn bind(srv: &Server, trigger: &str, names: &[&str]) {
    let bindings: Vec<Value> =
        names.iter().map(|n| json!({"ref": {"type": "action_name", "value": n}, "display_name": n})).collect();
    let (s, b) = srv
        .api("PATCH", &format!("/api/v2/actions/triggers/{trigger}/bindings"), Some(json!({"bindings": bindings})))
        .await;
    assert_eq!(s, 200, "{b}");
}

async fn logs_of(srv: &Server, kind: &str) -> Vec<Value> {
    srv.state.audit.flush().await;
    let (s, logs) = srv.api("GET", &format!("/api/v2/logs?q=type:{kind}"), None).await;
    assert_eq!(s, 200, "{logs}");
    logs.as_array().unwrap().clone()
}

async fn the_management_api_keeps_actions_as_auth0_shows_them(backend: Backend) {
    let srv = Server::start(backend).await;
    let body = json!({"name": "add-plan", "supported_triggers": [{"id": "post-login", "version": "v3"}],
        "code": "exports.onExecutePostLogin = async (event, api) => {};",
        "dependencies": [{"name": "axios", "version": "1.6.0"}],
        "secrets": [{"name": "API_KEY", "value": "sk_live_very_secret"}]});
    let (s, a) = srv.api("POST", "/api/v2/actions/actions", Some(body)).await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    assert_eq!(a["secrets"][0]["name"], "API_KEY");
    assert!(a["secrets"][0].get("value").is_none() && !a.to_string().contains("sk_live"), "{a}");
    assert_eq!(a["all_changes_deployed"], false);
    assert_eq!(a["runtime"], "node22");
    // The store opens what it sealed (the dump test of `gatehouse-store` shows it sealed).
    let stored = srv.state.store.action(&id).await.unwrap().unwrap();
    assert_eq!(stored.secrets[0].value, "sk_live_very_secret");

    // Binding an action never deployed is refused.
    let (s, e) = srv
        .api(
            "PATCH",
            "/api/v2/actions/triggers/post-login/bindings",
            Some(json!({"bindings": [{"ref": {"type": "action_id", "value": id}}]})),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("has not been deployed"), "{e}");

    let (s, v1) = srv.api("POST", &format!("/api/v2/actions/actions/{id}/deploy"), None).await;
    assert_eq!(s, 202, "{v1}");
    assert_eq!((v1["number"].clone(), v1["deployed"].clone()), (json!(1), json!(true)));
    let (_, a) = srv.api("GET", &format!("/api/v2/actions/actions/{id}"), None).await;
    assert_eq!(a["all_changes_deployed"], true);
    assert_eq!(a["deployed_version"]["number"], 1);

    // A change is a draft until deployed again; the older version can be deployed back.
    let (s, a) = srv
        .api(
            "PATCH",
            &format!("/api/v2/actions/actions/{id}"),
            Some(json!({"code": "exports.onExecutePostLogin = async () => {}; // v2"})),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["all_changes_deployed"], false);
    assert_eq!(a["secrets"][0]["name"], "API_KEY", "secrets stay when not named");
    let (_, v2) = srv.api("POST", &format!("/api/v2/actions/actions/{id}/deploy"), None).await;
    assert_eq!(v2["number"], 2);
    let (s, versions) = srv.api("GET", &format!("/api/v2/actions/actions/{id}/versions"), None).await;
    assert_eq!(s, 200);
    assert_eq!(versions["total"], 2);
    assert_eq!(versions["versions"][0]["number"], 2);
    assert_eq!(versions["versions"][1]["deployed"], false);
    let v1_id = v1["id"].as_str().unwrap();
    let (s, back) = srv.api("POST", &format!("/api/v2/actions/actions/{id}/versions/{v1_id}/deploy"), None).await;
    assert_eq!((s, back["deployed"].clone(), back["number"].clone()), (202, json!(true), json!(1)));

    // Bindings, in Auth0's shapes.
    let (s, b) = srv
        .api(
            "PATCH",
            "/api/v2/actions/triggers/post-login/bindings",
            Some(json!({"bindings": [{"ref": {"type": "action_name", "value": "add-plan"}, "display_name": "Plan"}]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["bindings"][0]["display_name"], "Plan");
    assert_eq!(b["bindings"][0]["trigger_id"], "post-login");
    assert_eq!(b["bindings"][0]["action"]["id"], json!(id));
    let (_, listed) = srv.api("GET", "/api/v2/actions/triggers/post-login/bindings", None).await;
    assert_eq!(listed["total"], 1);
    let (_, triggers) = srv.api("GET", "/api/v2/actions/triggers", None).await;
    let ids: Vec<&str> = triggers["triggers"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "post-login",
            "credentials-exchange",
            "pre-user-registration",
            "post-user-registration",
            "post-change-password"
        ]
    );
    let (_, list) = srv.api("GET", "/api/v2/actions/actions?triggerId=post-login&deployed=true", None).await;
    assert_eq!(list["total"], 1);

    // What Gatehouse cannot run is refused with the field named.
    let (s, e) = srv
        .api(
            "POST",
            "/api/v2/actions/actions",
            Some(json!({"name": "x", "supported_triggers": [{"id": "post-login"}],
            "dependencies": [{"name": "lodash", "version": "4.17.21"}]})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(e["message"].as_str().unwrap().contains("dependencies[0].name"), "{e}");
    let (s, _) = srv.api("GET", "/api/v2/actions/triggers/send-phone-message/bindings", None).await;
    assert_eq!(s, 404);

    // A bound action goes only with force; its bindings go with it.
    let (s, e) = srv.api("DELETE", &format!("/api/v2/actions/actions/{id}"), None).await;
    assert_eq!(s, 400, "{e}");
    let (s, _) = srv.api("DELETE", &format!("/api/v2/actions/actions/{id}?force=true"), None).await;
    assert_eq!(s, 204);
    let (_, listed) = srv.api("GET", "/api/v2/actions/triggers/post-login/bindings", None).await;
    assert_eq!(listed["total"], 0);
    // Without the scopes, nothing.
    let token = srv.token_with(&["read:users"]).await;
    let (s, _) = srv.call("GET", "/api/v2/actions/actions", None, Some(&token)).await;
    assert_eq!(s, 403);
}

async fn a_claim_from_app_metadata_and_the_roles_reach_real_tokens(backend: Backend) {
    let srv = start(backend).await;
    let (s, _) = srv.api("PATCH", "/api/v2/users/auth0|alice", Some(json!({"app_metadata": {"plan": "gold"}}))).await;
    assert_eq!(s, 200);
    let (_, role) = srv.api("POST", "/api/v2/roles", Some(json!({"name": "editor"}))).await;
    let role_id = role["id"].as_str().unwrap();
    let (s, _) = srv.api("POST", "/api/v2/users/auth0|alice/roles", Some(json!({"roles": [role_id]}))).await;
    assert!(s == 204 || s == 200, "{s}");
    // Auth0's documentation examples: a claim from app_metadata, the roles on both tokens.
    let code = r#"
exports.onExecutePostLogin = async (event, api) => {
  const namespace = 'https://my-app.example.com';
  if (event.user.app_metadata.plan) {
    api.idToken.setCustomClaim(`${namespace}/plan`, event.user.app_metadata.plan);
  }
  if (event.authorization) {
    api.idToken.setCustomClaim(`${namespace}/roles`, event.authorization.roles);
    api.accessToken.setCustomClaim(`${namespace}/roles`, event.authorization.roles);
  }
  api.idToken.setCustomClaim('sub', 'not-alice');
  api.user.setAppMetadata('last_action_login', event.transaction.protocol);
};"#;
    deployed(&srv, "claims", "post-login", code, json!([])).await;
    bind(&srv, "post-login", &["claims"]).await;

    // The code flow.
    let mut b = srv.browser();
    let code = login_code(&mut b, SPA).await;
    let (s, body) = redeem(&srv, &code).await;
    assert_eq!(s, 200, "{body}");
    let id = jwt_claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["https://my-app.example.com/plan"], "gold");
    assert_eq!(id["https://my-app.example.com/roles"], json!(["editor"]));
    assert_eq!(id["sub"], "auth0|alice", "a token's own claims stay");
    let alice = srv.state.store.user("auth0|alice").await.unwrap().unwrap();
    assert_eq!(alice.app_metadata["last_action_login"], "oidc-basic-profile");
    assert_eq!(alice.app_metadata["plan"], "gold");

    // The refresh carries them too.
    let (s, refreshed) = srv
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", SPA),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(s, 200, "{refreshed}");
    assert_eq!(jwt_claims(refreshed["id_token"].as_str().unwrap())["https://my-app.example.com/plan"], "gold");

    // The password grant, with an API: the access token has the roles.
    let (_, api) = srv
        .api(
            "POST",
            "/api/v2/resource-servers",
            Some(json!({"name": "Orders", "identifier": "https://orders.example.com/"})),
        )
        .await;
    assert!(api["id"].is_string(), "{api}");
    let (s, body) = password_grant(
        &srv,
        "alice@example.com",
        PASSWORD,
        &[("audience", "https://orders.example.com/"), ("scope", "openid")],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let access = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["https://my-app.example.com/roles"], json!(["editor"]));
    assert_eq!(access["sub"], "auth0|alice");
    let alice = srv.state.store.user("auth0|alice").await.unwrap().unwrap();
    assert_eq!(alice.app_metadata["last_action_login"], "oauth2-password");
}

async fn deny_by_email_domain_refuses_the_login_and_writes_nothing(backend: Backend) {
    let srv = start(backend).await;
    let first = "exports.onExecutePostLogin = async (event, api) => { api.user.setUserMetadata('seen', true); };";
    // Auth0's documentation example, naming the fixture's web application.
    let second = format!(
        r#"
exports.onExecutePostLogin = async (event, api) => {{
  if (event.user.email && event.user.email.endsWith("@example.com") && event.client.name === "Test app {WEB}") {{
    api.access.deny(`Access to ${{event.client.name}} is not allowed.`);
  }}
}};"#
    );
    deployed(&srv, "mark", "post-login", first, json!([])).await;
    deployed(&srv, "deny-domain", "post-login", &second, json!([])).await;
    bind(&srv, "post-login", &["mark", "deny-domain"]).await;
    let (s, body) = password_grant(&srv, "alice@example.com", PASSWORD, &[]).await;
    let denied = format!("Access to Test app {WEB} is not allowed.");
    assert_eq!((s, body), (403, json!({"error": "access_denied", "error_description": denied})));
    let alice = srv.state.store.user("auth0|alice").await.unwrap().unwrap();
    assert!(alice.user_metadata.get("seen").is_none(), "a denied login writes nothing the actions set");
    // The SPA is allowed.
    let mut b = srv.browser();
    let code = login_code(&mut b, SPA).await;
    let (s, body) = redeem(&srv, &code).await;
    assert_eq!(s, 200, "{body}");
    let alice = srv.state.store.user("auth0|alice").await.unwrap().unwrap();
    assert_eq!(alice.user_metadata["seen"], true);
}

async fn the_hosted_login_runs_post_login_before_the_code_and_a_deny_goes_to_the_callback(backend: Backend) {
    let srv = start(backend).await;
    let code = r#"
exports.onExecutePostLogin = async (event, api) => {
  api.user.setAppMetadata('logins_seen', (event.user.app_metadata.logins_seen || 0) + 1);
  api.idToken.setCustomClaim('https://my-app.example.com/seen', (event.user.app_metadata.logins_seen || 0) + 1);
  if (event.user.app_metadata.blocked_by_action) {
    api.access.deny('Your account is under review.');
  }
};"#;
    deployed(&srv, "review", "post-login", code, json!([])).await;
    bind(&srv, "post-login", &["review"]).await;

    // Allowed: post-login ran once, at the login; the exchange carries its claims
    // without running it again.
    let mut b = srv.browser();
    let code = login_code(&mut b, SPA).await;
    let alice = srv.state.store.user("auth0|alice").await.unwrap().unwrap();
    assert_eq!(alice.app_metadata["logins_seen"], 1, "post-login ran before the code was issued");
    let (s, body) = redeem(&srv, &code).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(jwt_claims(body["id_token"].as_str().unwrap())["https://my-app.example.com/seen"], 1);
    let alice = srv.state.store.user("auth0|alice").await.unwrap().unwrap();
    assert_eq!(alice.app_metadata["logins_seen"], 1, "the exchange does not run it again");

    // Denied: the callback gets access_denied with the reason and the state, no code,
    // and the browser no session.
    let (s, _) =
        srv.api("PATCH", "/api/v2/users/auth0|alice", Some(json!({"app_metadata": {"blocked_by_action": true}}))).await;
    assert_eq!(s, 200);
    let mut b = srv.browser();
    let a = login(&mut b, &authorize_path(SPA, &[]), "alice@example.com", PASSWORD).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let loc = a.location.unwrap();
    assert!(loc.starts_with(CALLBACK), "{loc}");
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&loc, "error_description").as_deref(), Some("Your account is under review."));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    assert_eq!(query_param(&loc, "code"), None);
    let alice = srv.state.store.user("auth0|alice").await.unwrap().unwrap();
    assert_eq!(alice.app_metadata["logins_seen"], 1, "a denied login writes nothing the actions set");
    let again = b.get(&authorize_path(SPA, &[("prompt", "none")])).await;
    let loc = again.location.unwrap();
    assert_eq!(query_param(&loc, "error").as_deref(), Some("login_required"), "{loc}");

    // The token-time behaviour stays for the other grants.
    let (s, body) = password_grant(&srv, "alice@example.com", PASSWORD, &[]).await;
    assert_eq!(
        (s, body),
        (403, json!({"error": "access_denied", "error_description": "Your account is under review."}))
    );
}

async fn a_failing_or_runaway_action_fails_the_login_is_logged_and_the_server_serves(backend: Backend) {
    let srv = start_with(backend, |c| {
        c.scripts.timeout = Duration::from_millis(500);
        c.scripts.memory_bytes = 16 << 20;
    })
    .await;
    let throws = "exports.onExecutePostLogin = async (event, api) => { throw new Error('the CRM is down (key ' + event.secrets.KEY + ')'); };";
    deployed(&srv, "throws", "post-login", throws, json!([{"name": "KEY", "value": "crm-key-123"}])).await;
    bind(&srv, "post-login", &["throws"]).await;
    let (s, body) = password_grant(&srv, "alice@example.com", PASSWORD, &[]).await;
    assert_eq!(
        (s, body),
        (403, json!({"error": "access_denied", "error_description": "the CRM is down (key [redacted])"}))
    );
    let failed = logs_of(&srv, "actions_execution_failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["user_id"], "auth0|alice");
    let execution_id = failed[0]["details"]["actions"]["executions"][0].as_str().unwrap();
    let (s, ex) = srv.api("GET", &format!("/api/v2/actions/executions/{execution_id}"), None).await;
    assert_eq!(s, 200, "{ex}");
    assert_eq!(ex["trigger_id"], "post-login");
    assert_eq!(ex["status"], "partial");
    assert_eq!(ex["results"][0]["action_name"], "throws");
    assert_eq!(ex["results"][0]["error"]["msg"], "the CRM is down (key [redacted])");

    // An endless loop and an allocation bomb: stopped, the login refused, the server fine.
    for (name, code) in [
        ("spins", "exports.onExecutePostLogin = async () => { for (;;) {} };"),
        (
            "bomb",
            "exports.onExecutePostLogin = async () => { const a = []; for (;;) a.push('x'.repeat(4096) + a.length); };",
        ),
    ] {
        deployed(&srv, name, "post-login", code, json!([])).await;
        bind(&srv, "post-login", &[name]).await;
        let started = std::time::Instant::now();
        let (s, body) = password_grant(&srv, "alice@example.com", PASSWORD, &[]).await;
        assert_eq!(s, 403, "{body}");
        assert_eq!(body["error"], "access_denied");
        assert!(started.elapsed() < Duration::from_secs(5), "{name} took {:?}", started.elapsed());
        let (s, _) = srv.call("GET", ".well-known/openid-configuration", None, None).await;
        assert_eq!(s, 200);
    }
    let described: Vec<String> = logs_of(&srv, "actions_execution_failed")
        .await
        .iter()
        .map(|l| l["description"].as_str().unwrap().to_string())
        .collect();
    assert!(described.iter().any(|d| d == "spins: Script execution time exceeded"), "{described:?}");
    assert!(described.iter().any(|d| d == "bomb: Script exceeded its memory limit"), "{described:?}");
    // Unbound, logins work again.
    bind(&srv, "post-login", &[]).await;
    let (s, body) = password_grant(&srv, "alice@example.com", PASSWORD, &[]).await;
    assert_eq!(s, 200, "{body}");
}

async fn sign_ups_get_metadata_or_are_denied_before_anything_is_written(backend: Backend) {
    let srv = Server::start(backend).await;
    let client = srv.spa_client().await;
    // Auth0's documentation examples: metadata at sign-up, deny by email domain.
    let code = r#"
exports.onExecutePreUserRegistration = async (event, api) => {
  if (event.user.email.endsWith('@blocked.example')) {
    api.access.deny('blocked_domain', 'Sign-ups from this domain are not allowed.');
  }
  api.user.setUserMetadata('signup_source', event.client ? event.client.name : 'api');
  api.user.setAppMetadata('plan', 'trial');
};"#;
    deployed(&srv, "pre-reg", "pre-user-registration", code, json!([])).await;
    bind(&srv, "pre-user-registration", &["pre-reg"]).await;
    let post =
        "exports.onExecutePostUserRegistration = async (event) => { console.log('welcome', event.user.email); };";
    deployed(&srv, "post-reg", "post-user-registration", post, json!([])).await;
    bind(&srv, "post-user-registration", &["post-reg"]).await;
    let signup =
        |email: &str| json!({"client_id": client, "connection": DB, "email": email, "password": "Analytical-1843"});
    let (s, body) = srv.call("POST", "/dbconnections/signup", Some(signup("ada@blocked.example")), None).await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"name": "BadRequestError", "code": "extensibility_error",
            "description": "Sign-ups from this domain are not allowed.", "statusCode": 400})
        )
    );
    let (_, found) = srv.api("GET", "/api/v2/users-by-email?email=ada@blocked.example", None).await;
    assert_eq!(found, json!([]), "a denied sign-up writes no user");
    let (s, body) = srv.call("POST", "/dbconnections/signup", Some(signup("grace@navy.example")), None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["user_metadata"]["signup_source"], "Single-page app");
    let user = srv.state.store.user(&format!("auth0|{}", body["_id"].as_str().unwrap())).await.unwrap().unwrap();
    assert_eq!(user.app_metadata["plan"], "trial");
    assert_eq!(user.user_metadata["signup_source"], "Single-page app");
}

async fn credentials_exchange_puts_claims_on_m2m_tokens_or_denies(backend: Backend) {
    let srv = Server::start(backend).await;
    let (_, api) = srv
        .api(
            "POST",
            "/api/v2/resource-servers",
            Some(json!({"name": "Billing", "identifier": "https://billing.example.com/",
            "scopes": [{"value": "read:invoices"}]})),
        )
        .await;
    assert!(api["id"].is_string(), "{api}");
    let (_, c) =
        srv.api("POST", "/api/v2/clients", Some(json!({"name": "Worker", "app_type": "non_interactive"}))).await;
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let (s, g) = srv
        .api(
            "POST",
            "/api/v2/client-grants",
            Some(json!({"client_id": id, "audience": "https://billing.example.com/", "scope": ["read:invoices"]})),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let code = r#"
exports.onExecuteCredentialsExchange = async (event, api) => {
  if (event.client.name === 'Blocked worker') {
    api.access.deny('invalid_request', 'This worker is retired.');
  }
  api.accessToken.setCustomClaim('https://billing.example.com/tier', event.secrets.TIER);
};"#;
    deployed(&srv, "m2m", "credentials-exchange", code, json!([{"name": "TIER", "value": "gold"}])).await;
    bind(&srv, "credentials-exchange", &["m2m"]).await;
    let form = |id: &str, secret: &str| {
        vec![
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("client_id".to_string(), id.to_string()),
            ("client_secret".to_string(), secret.to_string()),
            ("audience".to_string(), "https://billing.example.com/".to_string()),
        ]
    };
    let f = form(id, secret);
    let pairs: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (s, body) = srv.token(&pairs).await;
    assert_eq!(s, 200, "{body}");
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["https://billing.example.com/tier"], "gold");
    assert_eq!(claims["scope"], "read:invoices");
    let (s, _) = srv.api("PATCH", &format!("/api/v2/clients/{id}"), Some(json!({"name": "Blocked worker"}))).await;
    assert_eq!(s, 200);
    let (s, body) = srv.token(&pairs).await;
    assert_eq!((s, body), (400, json!({"error": "invalid_request", "error_description": "This worker is retired."})));
}

crate::on_both_backends!(
    the_management_api_keeps_actions_as_auth0_shows_them,
    a_claim_from_app_metadata_and_the_roles_reach_real_tokens,
    deny_by_email_domain_refuses_the_login_and_writes_nothing,
    the_hosted_login_runs_post_login_before_the_code_and_a_deny_goes_to_the_callback,
    a_failing_or_runaway_action_fails_the_login_is_logged_and_the_server_serves,
    sign_ups_get_metadata_or_are_denied_before_anything_is_written,
    credentials_exchange_puts_claims_on_m2m_tokens_or_denies,
);

/// `scripts/bench-actions`: the latency a post-login action adds to a token request, at
/// p50, side by side with the same request without one. The request is the refresh-token
/// grant (post-login runs on it too, and no password hash drowns the difference); rounds
/// alternate between the action bound and not, on one server (SQLite). In the test suite
/// it runs one short pair of rounds, which still checks that every binding change shows
/// in the very next token; the script asks for the benchmark's size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_post_login_latency() {
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let per_round: usize = std::env::var("BENCH_PER_ROUND").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    // No rate limit: the benchmark sends far more than an IP may.
    let unlimited = gatehouse_services::ratelimit::Quota { limit: 1_000_000, window_secs: 60 };
    let srv = start_with(Backend::Sqlite, |c| {
        c.rate_limits.authentication_per_ip = unlimited;
        c.rate_limits.management_per_token = unlimited;
    })
    .await;
    let (s, _) = srv.api("PATCH", "/api/v2/users/auth0|alice", Some(json!({"app_metadata": {"plan": "gold"}}))).await;
    assert_eq!(s, 200);
    let code = r#"
exports.onExecutePostLogin = async (event, api) => {
  if (event.user.app_metadata.plan) {
    api.idToken.setCustomClaim('https://my-app.example.com/plan', event.user.app_metadata.plan);
  }
};"#;
    deployed(&srv, "plan-claim", "post-login", code, json!([])).await;
    let mut b = srv.browser();
    let code = login_code(&mut b, SPA).await;
    let (_, body) = redeem(&srv, &code).await;
    let mut refresh = body["refresh_token"].as_str().unwrap().to_string();
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for round in 0..rounds * 2 {
        let bound = round % 2 == 1;
        bind(&srv, "post-login", if bound { &["plan-claim"] } else { &[] }).await;
        for i in 0..per_round + 5 {
            let started = std::time::Instant::now();
            let (s, body) =
                srv.token(&[("grant_type", "refresh_token"), ("client_id", SPA), ("refresh_token", &refresh)]).await;
            let took = started.elapsed();
            assert_eq!(s, 200, "{body}");
            let id = jwt_claims(body["id_token"].as_str().unwrap());
            assert_eq!(id.get("https://my-app.example.com/plan").is_some(), bound);
            refresh = body["refresh_token"].as_str().unwrap().to_string();
            // The first requests of a round warm the configuration cache.
            if i >= 5 {
                if bound {
                    with.push(took)
                } else {
                    without.push(took)
                }
            }
        }
    }
    let p = |v: &mut Vec<Duration>, q: f64| {
        v.sort();
        v[((v.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0
    };
    let (w50, w95, n50, n95) = (p(&mut with, 0.5), p(&mut with, 0.95), p(&mut without, 0.5), p(&mut without, 0.95));
    println!("requests per side: {}", with.len());
    println!("| refresh_token grant | p50 ms | p95 ms |");
    println!("|---|---|---|");
    println!("| no action bound | {n50:.2} | {n95:.2} |");
    println!("| one post-login action (a claim from app_metadata) | {w50:.2} | {w95:.2} |");
    println!("| added by the action | {:.2} | {:.2} |", w50 - n50, w95 - n95);
}
