//! A browser (a cookie jar that does not follow redirects), the application's side of
//! the code flow, and the world every test starts from.

use super::op::{Op, RP_CLIENT_ID, RP_SECRET};
use crate::kit::{authorize_path as kit_authorize_path, jwt_claims, Backend, Server, VERIFIER};
pub use crate::kit::{hidden, query_param, Answer, Browser, CALLBACK};
use serde_json::{json, Value};

pub const PASSWORD: &str = "Correct-Horse-Battery-9";

/// `authorize?…` of the social tests, naming the `connection` to sign in with, if any.
pub fn authorize_path(client_id: &str, connection: Option<&str>) -> String {
    let mut params = vec![("scope", "openid profile email"), ("state", "st-123"), ("nonce", "app-nonce")];
    params.extend(connection.map(|c| ("connection", c)));
    kit_authorize_path(client_id, &params)
}

/// Gatehouse, the upstream provider, an SPA client with the OIDC connection `corp` and
/// the default database connection enabled.
pub struct World {
    pub gh: Server,
    pub op: Op,
    pub client_id: String,
}

impl World {
    pub async fn start(backend: Backend) -> Self {
        let gh = Server::start(backend).await;
        let op = Op::start().await;
        let (s, client) = gh
            .api(
                "POST",
                "/api/v2/clients",
                Some(json!({"name": "Social app", "app_type": "spa", "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code"], "callbacks": [CALLBACK]})),
            )
            .await;
        assert_eq!(s, 201, "{client}");
        let client_id = client["client_id"].as_str().unwrap().to_string();
        let (s, c) = gh
            .api(
                "POST",
                "/api/v2/connections",
                Some(json!({"name": "corp", "strategy": "oidc", "enabled_clients": [client_id],
                    "options": {"client_id": RP_CLIENT_ID, "client_secret": RP_SECRET,
                        "discovery_url": op.discovery_url(), "scope": "openid profile email"}})),
            )
            .await;
        assert_eq!(s, 201, "{c}");
        let (_, list) = gh.api("GET", "/api/v2/connections?name=Username-Password-Authentication", None).await;
        let db = &list[0];
        let (s, body) = gh
            .api(
                "PATCH",
                &format!("/api/v2/connections/{}", db["id"].as_str().unwrap()),
                Some(json!({"enabled_clients": [client_id]})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        Self { gh, op, client_id }
    }

    pub fn browser(&self) -> Browser {
        self.gh.browser()
    }

    /// `/authorize?connection=corp` → the provider (the user consents as `sub` with
    /// `claims`) → the callback: Gatehouse's answer to the callback.
    pub async fn sign_in(&self, b: &mut Browser, sub: &str, claims: Value) -> Answer {
        let a = b.get(&authorize_path(&self.client_id, Some("corp"))).await;
        assert_eq!(a.status, 302, "{}", a.body);
        let upstream = a.location.unwrap();
        assert!(upstream.starts_with(&self.op.base), "{upstream}");
        let callback = self.op.approve(&upstream, sub, claims);
        b.get(&callback).await
    }

    /// The application redeems the code of a successful answer: the ID token's claims.
    pub async fn redeem(&self, a: &Answer) -> Value {
        assert_eq!(a.status, 303, "{}", a.body);
        let loc = a.location.clone().unwrap();
        assert!(loc.starts_with(CALLBACK), "{loc}");
        assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
        let code = query_param(&loc, "code").unwrap();
        let (status, body) = self
            .gh
            .token(&[
                ("grant_type", "authorization_code"),
                ("client_id", self.client_id.as_str()),
                ("code", code.as_str()),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ])
            .await;
        assert_eq!(status, 200, "{body}");
        jwt_claims(body["id_token"].as_str().unwrap())
    }

    pub async fn users(&self) -> Vec<Value> {
        let (s, users) = self.gh.api("GET", "/api/v2/users", None).await;
        assert_eq!(s, 200, "{users}");
        users.as_array().unwrap().clone()
    }

    /// The descriptions of the audit events of `kind`.
    pub async fn events(&self, kind: &str) -> Vec<String> {
        let (s, logs) = self.gh.api("GET", "/api/v2/logs", None).await;
        assert_eq!(s, 200, "{logs}");
        logs.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == kind)
            .map(|e| e["description"].as_str().unwrap_or("").to_string())
            .collect()
    }
}
