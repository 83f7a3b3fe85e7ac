//! APIs, roles and permissions: the Management API's shapes, errors and cascades, and
//! what access tokens carry — RBAC, the permissions claim, RFC 9068, offline access,
//! refreshes that never widen and narrow when a role goes, client grants for M2M.

use crate::kit::{auth0_error, jwt_claims, Backend, Server};
use crate::login::fixture::{login, password_grant, start, LoginServer, PASSWORD, SPA, WEB, WEB_SECRET};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

const INVOICES: &str = "https://invoices.test/";

/// An API with three scopes, RBAC on, permissions in the token, refresh tokens allowed.
async fn invoices_api(srv: &Server, extra: Value) -> Value {
    let mut body = json!({
        "name": "Invoices",
        "identifier": INVOICES,
        "scopes": [
            {"value": "read:invoices", "description": "Read invoices"},
            {"value": "write:invoices", "description": "Write invoices"},
            {"value": "delete:invoices", "description": "Delete invoices"},
        ],
        "enforce_policies": true,
        "token_dialect": "access_token_authz",
        "allow_offline_access": true,
    });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let (s, api) = srv.api("POST", "/api/v2/resource-servers", Some(body)).await;
    assert_eq!(s, 201, "{api}");
    api
}

async fn create_role(srv: &Server, name: &str, permissions: &[&str]) -> String {
    let (s, role) = srv.api("POST", "/api/v2/roles", Some(json!({"name": name, "description": "d"}))).await;
    assert_eq!(s, 200, "{role}");
    let id = role["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("rol_"), "{id}");
    if !permissions.is_empty() {
        let (s, body) = srv.api("POST", &format!("/api/v2/roles/{id}/permissions"), Some(perms(permissions))).await;
        assert_eq!(s, 201, "{body}");
    }
    id
}

fn perms(names: &[&str]) -> Value {
    let list: Vec<Value> =
        names.iter().map(|n| json!({"resource_server_identifier": INVOICES, "permission_name": n})).collect();
    json!({ "permissions": list })
}

async fn give_role(srv: &Server, user_id: &str, role_id: &str) {
    let (s, body) = srv.api("POST", &format!("/api/v2/users/{user_id}/roles"), Some(json!({"roles": [role_id]}))).await;
    assert_eq!(s, 204, "{body}");
}

fn header(jwt: &str) -> Value {
    let h = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
}

async fn refresh_web(srv: &Server, rt: &str) -> (u16, Value) {
    srv.token(&[
        ("grant_type", "refresh_token"),
        ("client_id", WEB),
        ("client_secret", WEB_SECRET),
        ("refresh_token", rt),
    ])
    .await
}

async fn invoices_token(srv: &LoginServer, scope: &str) -> (u16, Value) {
    password_grant(srv, "alice@example.com", PASSWORD, &[("audience", INVOICES), ("scope", scope)]).await
}

async fn apis_have_auth0s_shape_and_the_management_api_is_the_system_one(backend: Backend) {
    let srv = Server::start(backend).await;
    let api = invoices_api(&srv, json!({})).await;
    let id = api["id"].as_str().unwrap();
    assert_eq!(id.len(), 24, "{api}");
    assert_eq!(api["is_system"], false);
    assert_eq!((api["token_lifetime"].as_i64(), api["token_lifetime_for_web"].as_i64()), (Some(86_400), Some(7_200)));
    assert_eq!(api["signing_alg"], "RS256");
    assert_eq!(api["scopes"][1], json!({"value": "write:invoices", "description": "Write invoices"}));

    let (s, again) = srv.api("POST", "/api/v2/resource-servers", Some(json!({"identifier": INVOICES}))).await;
    assert_eq!(s, 409, "{again}");
    let (s, bad) = srv
        .api("POST", "/api/v2/resource-servers", Some(json!({"identifier": "x", "scopes": [{"value": "a b"}]})))
        .await;
    assert!(auth0_error(s, &bad, "invalid_body").contains("scopes[0].value"), "{bad}");
    let (s, bad) =
        srv.api("POST", "/api/v2/resource-servers", Some(json!({"identifier": "x", "signing_alg": "HS256"}))).await;
    assert!(auth0_error(s, &bad, "invalid_body").contains("signing_alg"), "{bad}");

    // Read by id or by identifier (URL-encoded), as Auth0 reads it.
    let (s, by_id) = srv.api("GET", &format!("/api/v2/resource-servers/{id}"), None).await;
    assert_eq!((s, &by_id), (200, &api));
    let encoded = url::form_urlencoded::byte_serialize(INVOICES.as_bytes()).collect::<String>();
    let (s, by_identifier) = srv.api("GET", &format!("/api/v2/resource-servers/{encoded}"), None).await;
    assert_eq!((s, &by_identifier["id"]), (200, &json!(id)));

    let (s, moved) =
        srv.api("PATCH", &format!("/api/v2/resource-servers/{id}"), Some(json!({"identifier": "https://b/"}))).await;
    assert_eq!(s, 400, "the identifier never changes: {moved}");
    let (s, patched) =
        srv.api("PATCH", &format!("/api/v2/resource-servers/{id}"), Some(json!({"token_lifetime": 600}))).await;
    assert_eq!(
        (s, patched["token_lifetime"].as_i64(), patched["token_lifetime_for_web"].as_i64()),
        (200, Some(600), Some(600))
    );

    let (s, list) = srv.api("GET", "/api/v2/resource-servers?include_totals=true", None).await;
    // The Management API, the admin console's API (every store has both) and Invoices.
    assert_eq!((s, list["total"].as_u64()), (200, Some(3)), "{list}");
    let system = &list["resource_servers"][0];
    assert_eq!(
        (system["is_system"].as_bool(), system["identifier"].as_str()),
        (Some(true), Some(&*srv.state.config.management_audience()))
    );
    assert!(system["scopes"].as_array().unwrap().iter().any(|s| s["value"] == "read:users"), "{system}");
    let system_id = system["id"].as_str().unwrap();
    let (s, body) = srv.api("DELETE", &format!("/api/v2/resource-servers/{system_id}"), None).await;
    auth0_error(s, &body, "operation_not_supported");
    let (s, body) =
        srv.api("PATCH", &format!("/api/v2/resource-servers/{system_id}"), Some(json!({"name": "x"}))).await;
    auth0_error(s, &body, "operation_not_supported");

    let (s, _) = srv.api("DELETE", &format!("/api/v2/resource-servers/{id}"), None).await;
    assert_eq!(s, 204);
    let (s, body) = srv.api("GET", &format!("/api/v2/resource-servers/{id}"), None).await;
    auth0_error(s, &body, "inexistent_resource_server");
    assert_eq!(s, 404);
}

async fn with_rbac_a_token_carries_only_what_the_user_holds(backend: Backend) {
    let srv = start(backend).await;
    invoices_api(&srv, json!({})).await;
    let reader = create_role(&srv, "Invoice reader", &["read:invoices"]).await;
    give_role(&srv, "auth0|alice", &reader).await;
    let (s, body) = srv.api("POST", "/api/v2/users/auth0|alice/permissions", Some(perms(&["write:invoices"]))).await;
    assert_eq!(s, 201, "{body}");

    let (s, tokens) = invoices_token(&srv, "openid read:invoices delete:invoices offline_access").await;
    assert_eq!(s, 200, "{tokens}");
    assert_eq!(tokens["scope"], "openid offline_access read:invoices", "delete:invoices is not held");
    let access = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["scope"], "openid offline_access read:invoices");
    assert_eq!(access["permissions"], json!(["read:invoices", "write:invoices"]), "every permission held");
    assert_eq!(access["aud"], json!([INVOICES, format!("{}userinfo", srv.issuer)]));
    assert_eq!(tokens["expires_in"], 86_400);

    // The role goes: the next refresh is narrower; a permission given later never widens it.
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let (s, body) = srv.api("DELETE", "/api/v2/users/auth0|alice/roles", Some(json!({"roles": [reader]}))).await;
    assert_eq!(s, 204, "{body}");
    let (s, body) = srv.api("POST", "/api/v2/users/auth0|alice/permissions", Some(perms(&["delete:invoices"]))).await;
    assert_eq!(s, 201, "{body}");
    let (s, refreshed) = refresh_web(&srv, &rt).await;
    assert_eq!(s, 200, "{refreshed}");
    assert_eq!(
        refreshed["scope"], "openid offline_access",
        "read:invoices is no longer held; delete was never granted"
    );
    let access = jwt_claims(refreshed["access_token"].as_str().unwrap());
    assert_eq!(access["permissions"], json!(["delete:invoices", "write:invoices"]));

    // Without a permission, the scope is dropped, not refused.
    let (s, tokens) = invoices_token(&srv, "read:invoices").await;
    assert_eq!((s, &tokens["scope"]), (200, &json!("")), "{tokens}");
}

async fn without_rbac_the_api_decides_and_offline_access_only_where_allowed(backend: Backend) {
    let srv = start(backend).await;
    invoices_api(&srv, json!({"enforce_policies": false, "token_dialect": "access_token", "allow_offline_access": false, "token_lifetime": 900})).await;
    let (s, tokens) = invoices_token(&srv, "openid read:invoices made:up offline_access").await;
    assert_eq!(s, 200, "{tokens}");
    assert_eq!(tokens["scope"], "openid read:invoices");
    assert!(tokens.get("refresh_token").is_none(), "the API allows no offline access: {tokens}");
    assert_eq!(tokens["expires_in"], 900);
    let access = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert!(access.get("permissions").is_none(), "{access}");
    assert_eq!(access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(), 900);

    // An unknown API is refused, and so is the Management API for a user.
    let (s, body) = password_grant(&srv, "alice@example.com", PASSWORD, &[("audience", "https://nope.test/")]).await;
    assert_eq!((s, body["error"].as_str()), (403, Some("access_denied")), "{body}");
    assert_eq!(body["error_description"], "Service not found: https://nope.test/");
    let management = srv.state.config.management_audience();
    let (s, body) =
        password_grant(&srv, "alice@example.com", PASSWORD, &[("audience", &management), ("scope", "read:users")])
            .await;
    assert_eq!((s, body["error"].as_str()), (403, Some("access_denied")), "{body}");
}

async fn rfc_9068_tokens_are_typed_and_name_the_client(backend: Backend) {
    let srv = start(backend).await;
    invoices_api(&srv, json!({"token_dialect": "rfc9068_profile_authz"})).await;
    let role = create_role(&srv, "Writer", &["write:invoices"]).await;
    give_role(&srv, "auth0|alice", &role).await;
    let (s, tokens) = invoices_token(&srv, "write:invoices").await;
    assert_eq!(s, 200, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    assert_eq!(header(token)["typ"], "at+jwt");
    let access = jwt_claims(token);
    assert_eq!((access["client_id"].as_str(), access["sub"].as_str()), (Some(WEB), Some("auth0|alice")));
    assert!(access["jti"].as_str().is_some_and(|j| j.len() >= 32), "{access}");
    assert!(access["auth_time"].is_i64(), "{access}");
    assert!(access.get("azp").is_none() && access.get("gty").is_none(), "{access}");
    assert_eq!(access["permissions"], json!(["write:invoices"]));
    let (_, again) = invoices_token(&srv, "write:invoices").await;
    assert_ne!(jwt_claims(again["access_token"].as_str().unwrap())["jti"], access["jti"], "a jti per token");
}

async fn the_code_flow_applies_rbac_when_the_code_is_exchanged(backend: Backend) {
    let srv = start(backend).await;
    invoices_api(&srv, json!({})).await;
    let role = create_role(&srv, "Reader", &["read:invoices"]).await;
    give_role(&srv, "auth0|alice", &role).await;
    let mut b = srv.browser();
    let path = crate::kit::authorize_path(
        SPA,
        &[("audience", INVOICES), ("scope", "openid read:invoices write:invoices"), ("state", "s"), ("nonce", "n")],
    );
    let a = login(&mut b, &path, "alice@example.com", PASSWORD).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let code = crate::kit::query_param(&a.location.unwrap(), "code").unwrap();
    let (s, tokens) = crate::login::fixture::redeem(&srv, &code).await;
    assert_eq!(s, 200, "{tokens}");
    assert_eq!(tokens["scope"], "openid read:invoices");
    assert_eq!(jwt_claims(tokens["access_token"].as_str().unwrap())["permissions"], json!(["read:invoices"]));

    // An unknown audience never reaches the login page.
    let path = crate::login::fixture::authorize_path(SPA, &[("audience", "https://nope.test/")]);
    let a = b.get(&path).await;
    let location = a.location.unwrap();
    assert_eq!(crate::kit::query_param(&location, "error").as_deref(), Some("access_denied"), "{location}");
}

async fn client_grants_give_machines_tokens_for_any_api(backend: Backend) {
    let srv = Server::start(backend).await;
    invoices_api(&srv, json!({"token_dialect": "access_token_authz", "token_lifetime": 3600})).await;
    let (s, client) =
        srv.api("POST", "/api/v2/clients", Some(json!({"name": "worker", "app_type": "non_interactive"}))).await;
    assert_eq!(s, 201, "{client}");
    let (id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
    let form = |scope: Option<&'static str>| {
        let mut f = vec![
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("audience", INVOICES),
        ];
        f.extend(scope.map(|s| ("scope", s)));
        f
    };
    let (s, body) = srv.token(&form(None)).await;
    assert_eq!((s, body["error"].as_str()), (403, Some("access_denied")), "no client grant yet: {body}");

    let grant = |scope: Value| json!({"client_id": id, "audience": INVOICES, "scope": scope});
    let (s, body) = srv.api("POST", "/api/v2/client-grants", Some(grant(json!(["fly:planes"])))).await;
    assert!(auth0_error(s, &body, "invalid_body").contains("fly:planes"), "{body}");
    let (s, body) = srv
        .api(
            "POST",
            "/api/v2/client-grants",
            Some(json!({"client_id": id, "audience": "https://nope.test/", "scope": []})),
        )
        .await;
    auth0_error(s, &body, "inexistent_resource_server");
    let (s, body) =
        srv.api("POST", "/api/v2/client-grants", Some(grant(json!(["read:invoices", "write:invoices"])))).await;
    assert_eq!(s, 201, "{body}");

    let (s, tokens) = srv.token(&form(None)).await;
    assert_eq!(s, 200, "{tokens}");
    assert_eq!(
        (tokens["scope"].as_str(), tokens["expires_in"].as_i64()),
        (Some("read:invoices write:invoices"), Some(3600))
    );
    let access = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["aud"], INVOICES);
    assert_eq!(access["sub"], format!("{id}@clients"));
    assert_eq!(access["gty"], "client-credentials");
    assert_eq!(access["permissions"], json!(["read:invoices", "write:invoices"]));
    let (s, tokens) = srv.token(&form(Some("read:invoices"))).await;
    assert_eq!((s, tokens["scope"].as_str()), (200, Some("read:invoices")));
    let (s, body) = srv.token(&form(Some("delete:invoices"))).await;
    assert_eq!((s, body["error"].as_str()), (403, Some("access_denied")), "{body}");

    // The token is no Management API token.
    let token = tokens["access_token"].as_str().unwrap();
    let (s, _) = srv.call("GET", "/api/v2/users", None, Some(token)).await;
    assert_eq!(s, 401);
}

async fn deleting_an_api_a_role_or_a_user_leaves_nothing_behind(backend: Backend) {
    let srv = start(backend).await;
    let api = invoices_api(&srv, json!({})).await;
    let role = create_role(&srv, "Reader", &["read:invoices", "write:invoices"]).await;
    give_role(&srv, "auth0|alice", &role).await;
    give_role(&srv, "auth0|legacy", &role).await;
    let (s, _) = srv.api("POST", "/api/v2/users/auth0|alice/permissions", Some(perms(&["delete:invoices"]))).await;
    assert_eq!(s, 201);
    let (_, tokens) = invoices_token(&srv, "openid offline_access read:invoices").await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();

    // A scope the API drops goes from every role and user holding it.
    let api_path = format!("/api/v2/resource-servers/{}", api["id"].as_str().unwrap());
    let (s, body) = srv
        .api("PATCH", &api_path, Some(json!({"scopes": [{"value": "read:invoices"}, {"value": "delete:invoices"}]})))
        .await;
    assert_eq!(s, 200, "{body}");
    let (_, held) = srv.api("GET", &format!("/api/v2/roles/{role}/permissions"), None).await;
    let names: Vec<&str> = held.as_array().unwrap().iter().map(|p| p["permission_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["read:invoices"]);

    // The API goes: its permissions, client grants and refresh grants with it.
    let (s, _) = srv.api("DELETE", &api_path, None).await;
    assert_eq!(s, 204);
    let (_, held) = srv.api("GET", &format!("/api/v2/roles/{role}/permissions"), None).await;
    assert_eq!(held, json!([]));
    let (_, held) = srv.api("GET", "/api/v2/users/auth0|alice/permissions", None).await;
    assert_eq!(held, json!([]));
    let (s, body) = refresh_web(&srv, &rt).await;
    assert_eq!((s, body["error"].as_str()), (403, Some("invalid_grant")), "{body}");

    // The role goes: no user holds it.
    let (s, _) = srv.api("DELETE", &format!("/api/v2/roles/{role}"), None).await;
    assert_eq!(s, 200);
    let (_, roles) = srv.api("GET", "/api/v2/users/auth0|alice/roles", None).await;
    assert_eq!(roles, json!([]));
    let (s, body) = srv.api("GET", &format!("/api/v2/roles/{role}"), None).await;
    auth0_error(s, &body, "inexistent_role");

    // A user goes: their memberships with them.
    let other = create_role(&srv, "Other", &[]).await;
    give_role(&srv, "auth0|legacy", &other).await;
    let (s, _) = srv.api("DELETE", "/api/v2/users/auth0|legacy", None).await;
    assert_eq!(s, 204);
    let (_, members) = srv.api("GET", &format!("/api/v2/roles/{other}/users?include_totals=true"), None).await;
    assert_eq!((members["total"].as_u64(), &members["users"]), (Some(0), &json!([])));
}

async fn roles_page_and_name_their_members_and_sources(backend: Backend) {
    let srv = start(backend).await;
    invoices_api(&srv, json!({})).await;
    let readers = create_role(&srv, "Readers", &["read:invoices"]).await;
    let admins = create_role(&srv, "Admins", &["read:invoices", "write:invoices"]).await;
    let (s, body) = srv.api("POST", "/api/v2/roles", Some(json!({"name": "Readers"}))).await;
    assert_eq!(s, 409, "{body}");

    // Many users at once; an unknown one refuses the whole request.
    let users = json!({"users": ["auth0|alice", "auth0|legacy", "auth0|nobody"]});
    let (s, body) = srv.api("POST", &format!("/api/v2/roles/{readers}/users"), Some(users)).await;
    assert!(auth0_error(s, &body, "inexistent_user").contains("auth0|nobody"), "{body}");
    let (_, members) = srv.api("GET", &format!("/api/v2/roles/{readers}/users"), None).await;
    assert_eq!(members, json!([]), "nothing half-written");
    let users = json!({"users": ["auth0|alice", "auth0|legacy", "auth0|bob"]});
    let (s, body) = srv.api("POST", &format!("/api/v2/roles/{readers}/users"), Some(users)).await;
    assert_eq!(s, 200, "{body}");
    let (s, page) =
        srv.api("GET", &format!("/api/v2/roles/{readers}/users?per_page=2&page=0&include_totals=true"), None).await;
    assert_eq!((s, page["total"].as_u64()), (200, Some(3)), "{page}");
    assert_eq!(
        page["users"][0],
        json!({"user_id": "auth0|alice", "email": "alice@example.com", "name": "Name of alice", "picture": "https://img.test/p.png"})
    );
    let (_, first) = srv.api("GET", &format!("/api/v2/roles/{readers}/users?take=2"), None).await;
    assert_eq!(first["users"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().unwrap();
    let (_, rest) = srv.api("GET", &format!("/api/v2/roles/{readers}/users?take=2&from={next}"), None).await;
    assert_eq!(rest["users"].as_array().unwrap().len(), 1, "{rest}");
    assert!(rest.get("next").is_none());

    // Effective permissions: each once, with every source.
    give_role(&srv, "auth0|alice", &admins).await;
    let (s, body) = srv.api("POST", "/api/v2/users/auth0|alice/permissions", Some(perms(&["read:invoices"]))).await;
    assert_eq!(s, 201, "{body}");
    let (_, held) = srv.api("GET", "/api/v2/users/auth0|alice/permissions", None).await;
    assert_eq!(held.as_array().unwrap().len(), 2, "{held}");
    assert_eq!(held[0]["permission_name"], "read:invoices");
    assert_eq!(held[0]["resource_server_name"], "Invoices");
    assert_eq!(held[0]["description"], "Read invoices");
    let sources: Vec<&str> =
        held[0]["sources"].as_array().unwrap().iter().map(|s| s["source_type"].as_str().unwrap()).collect();
    assert_eq!(sources, ["DIRECT", "ROLE", "ROLE"]);
    assert_eq!(held[1]["sources"], json!([{"source_id": admins, "source_name": "Admins", "source_type": "ROLE"}]));

    // The same for one API, as Auth0's effective permissions read them, by checkpoint.
    let encoded = url::form_urlencoded::byte_serialize(INVOICES.as_bytes()).collect::<String>();
    let path = format!("/api/v2/users/auth0|alice/effective-permissions?resource_server_identifier={encoded}&take=1");
    let (s, first) = srv.api("GET", &path, None).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["permissions"][0]["sources"], json!(["direct", "roles"]));
    assert_eq!(first["next"], "read:invoices");
    let (_, rest) = srv.api("GET", &format!("{path}&from=read:invoices"), None).await;
    assert_eq!(rest["permissions"][0]["permission_name"], "write:invoices");
    assert_eq!(rest["permissions"][0]["sources"], json!(["roles"]));
    assert!(rest.get("next").is_none(), "{rest}");

    let (_, roles) = srv.api("GET", "/api/v2/users/auth0|alice/roles?include_totals=true", None).await;
    let names: Vec<&str> = roles["roles"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!((names, roles["total"].as_u64()), (vec!["Admins", "Readers"], Some(2)));
    let (_, filtered) = srv.api("GET", "/api/v2/roles?name_filter=adm", None).await;
    let names: Vec<&str> = filtered.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Admins", "Console administrator"], "{filtered}");

    // A permission must be a scope its API defines.
    let bad = json!({"permissions": [{"resource_server_identifier": INVOICES, "permission_name": "fly:planes"}]});
    let (s, body) = srv.api("POST", &format!("/api/v2/roles/{readers}/permissions"), Some(bad)).await;
    assert!(auth0_error(s, &body, "invalid_body").contains("permissions[0].permission_name"), "{body}");
    let bad = json!({"permissions": [{"resource_server_identifier": "https://nope.test/", "permission_name": "x"}]});
    let (s, body) = srv.api("POST", "/api/v2/users/auth0|alice/permissions", Some(bad)).await;
    auth0_error(s, &body, "inexistent_resource_server");
}

async fn reading_a_users_roles_needs_both_scopes(backend: Backend) {
    let srv = start(backend).await;
    let users_only = srv.token_with(&["read:users"]).await;
    let (s, body) = srv.call("GET", "/api/v2/users/auth0|alice/roles", None, Some(&users_only)).await;
    assert_eq!(s, 403, "{body}");
    assert!(auth0_error(s, &body, "insufficient_scope").contains("read:roles"), "{body}");
    let both = srv.token_with(&["read:users", "read:roles"]).await;
    let (s, body) = srv.call("GET", "/api/v2/users/auth0|alice/roles", None, Some(&both)).await;
    assert_eq!((s, body), (200, json!([])));
    let (s, body) = srv.call("GET", "/api/v2/users/auth0|nobody/roles", None, Some(&both)).await;
    auth0_error(s, &body, "inexistent_user");
}

crate::on_both_backends!(
    apis_have_auth0s_shape_and_the_management_api_is_the_system_one,
    with_rbac_a_token_carries_only_what_the_user_holds,
    without_rbac_the_api_decides_and_offline_access_only_where_allowed,
    rfc_9068_tokens_are_typed_and_name_the_client,
    the_code_flow_applies_rbac_when_the_code_is_exchanged,
    client_grants_give_machines_tokens_for_any_api,
    deleting_an_api_a_role_or_a_user_leaves_nothing_behind,
    roles_page_and_name_their_members_and_sources,
    reading_a_users_roles_needs_both_scopes,
);
