//! `response_mode=form_post` (OAuth 2.0 Form Post Response Mode) and explicit or unknown
//! response modes on `/authorize`.

use super::fixture::*;
use crate::kit::Backend;

/// The form of a form_post page: its action and its hidden fields, unescaped.
struct PostedForm {
    action: String,
    fields: Vec<(String, String)>,
}

impl PostedForm {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// The value of `attr="…"` in `tag`, unescaped.
fn attr(tag: &str, name: &str) -> Option<String> {
    let marker = format!(r#" {name}=""#);
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + end]))
}

/// Reads the one form of the page; panics on anything that is not a form_post page.
fn posted_form(a: &Answer) -> PostedForm {
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.location.is_none(), "a form_post answer never redirects");
    let html = &a.body;
    assert_eq!(html.matches("<form").count(), 1, "{html}");
    let open = &html[html.find("<form").unwrap()..];
    let tag = &open[..open.find('>').unwrap()];
    assert_eq!(attr(tag, "method").as_deref(), Some("post"));
    let body = &open[..open.find("</form>").unwrap()];
    let mut fields = Vec::new();
    for input in body.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap()];
        if attr(tag, "type").as_deref() == Some("hidden") {
            fields.push((attr(tag, "name").unwrap(), attr(tag, "value").unwrap()));
        }
    }
    // Without JavaScript a visible button submits the same form.
    let noscript = &body[body.find("<noscript>").expect("a <noscript> fallback")..];
    assert!(noscript.contains(r#"<button type="submit">"#), "{html}");
    PostedForm { action: attr(tag, "action").unwrap(), fields }
}

async fn discovery_advertises_query_form_post_and_web_message(backend: Backend) {
    let srv = start(backend).await;
    let (_, d) = srv.call("GET", ".well-known/openid-configuration", None, None).await;
    assert_eq!(d["response_modes_supported"], serde_json::json!(["query", "form_post", "web_message"]));
}

async fn form_post_login_posts_an_escaped_code_to_the_exact_redirect_uri_and_the_code_redeems(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let state = r#"a"b'<c>&d é"#;
    let encoded: String = url::form_urlencoded::byte_serialize(state.as_bytes()).collect();
    let path =
        authorize_path(SPA, &[("response_mode", "form_post")]).replace("&state=st-123", &format!("&state={encoded}"));
    let a = login(&mut b, &path, "alice@example.com", PASSWORD).await;
    // The raw page never carries the state unescaped.
    assert!(!a.body.contains(state) && a.body.contains("a&quot;b&#39;&lt;c&gt;&amp;d é"), "{}", a.body);
    let form = posted_form(&a);
    assert_eq!(form.action, CALLBACK);
    assert_eq!(form.get("state"), Some(state));
    assert_eq!(form.fields.len(), 2, "only code and state: {:?}", form.fields);
    // The login still set the session cookie on the page.
    assert!(a.set_cookies.iter().any(|c| c.starts_with("gh_session=")), "{:?}", a.set_cookies);

    let (status, body) = redeem(&srv, form.get("code").unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(jwt_claims(body["id_token"].as_str().unwrap())["sub"], "auth0|alice");
}

async fn form_post_page_only_runs_its_own_hashed_script(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let r = {
        login_code(&mut b, SPA).await;
        // Single sign-on: the GET /authorize itself answers with the form.
        let url = srv.url(&authorize_path(SPA, &[("response_mode", "form_post")]));
        let cookie = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        srv.http.get(url).header("cookie", cookie).send().await.unwrap()
    };
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let csp = h["content-security-policy"].to_str().unwrap().to_string();
    let script_src = csp.split(';').map(str::trim).find(|d| d.starts_with("script-src")).unwrap();
    // Exactly the hash of `document.forms[0].submit()`: no 'unsafe-inline', no origins.
    assert_eq!(script_src, "script-src 'sha256-ePniVEkSivX/c7XWBGafqh8tSpiRrKiqYeqbG7N1TOE='");
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(html.contains("<script>document.forms[0].submit()</script>"), "{html}");
    assert_eq!(html.matches("<script").count(), 1);
}

async fn single_sign_on_and_redirected_errors_honour_form_post(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    login_code(&mut b, SPA).await;
    let a = b.get(&authorize_path(SPA, &[("response_mode", "form_post"), ("prompt", "none")])).await;
    let form = posted_form(&a);
    assert_eq!(form.action, CALLBACK);
    assert_eq!(form.get("state"), Some("st-123"));
    let (status, body) = redeem(&srv, form.get("code").unwrap()).await;
    assert_eq!(status, 200, "{body}");

    // prompt=none without a session: login_required, posted.
    let a = srv.browser().get(&authorize_path(SPA, &[("response_mode", "form_post"), ("prompt", "none")])).await;
    let form = posted_form(&a);
    assert_eq!(form.action, CALLBACK);
    assert_eq!(form.get("error"), Some("login_required"));
    assert_eq!(form.get("error_description"), Some("Login required"));
    assert_eq!(form.get("state"), Some("st-123"));
    assert_eq!(form.get("code"), None);

    // An unknown API: access_denied, posted.
    let a = srv
        .browser()
        .get(&authorize_path(SPA, &[("response_mode", "form_post"), ("audience", "https://nope.test/")]))
        .await;
    let form = posted_form(&a);
    assert_eq!(form.get("error"), Some("access_denied"));
    assert_eq!(form.get("error_description"), Some("Service not found: https://nope.test/"));

    // Errors found after the mode is known travel by it, also the response_type check.
    let path =
        authorize_path(SPA, &[("response_mode", "form_post")]).replace("response_type=code", "response_type=token");
    let form = posted_form(&srv.browser().get(&path).await);
    assert_eq!(form.get("error"), Some("unsupported_response_type"));
}

async fn explicit_query_mode_redirects_and_unknown_modes_are_refused(backend: Backend) {
    let srv = start(backend).await;
    let mut b = srv.browser();
    let a = login(&mut b, &authorize_path(SPA, &[("response_mode", "query")]), "alice@example.com", PASSWORD).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let loc = a.location.unwrap();
    assert!(loc.starts_with(&format!("{CALLBACK}?code=")), "{loc}");
    let (status, _) = redeem(&srv, &query_param(&loc, "code").unwrap()).await;
    assert_eq!(status, 200);

    // A mode we do not support is answered in the query, never guessed at.
    for mode in ["fragment", "form-post"] {
        let a = srv.browser().get(&authorize_path(SPA, &[("response_mode", mode)])).await;
        assert_eq!(a.status, 302, "{mode}: {}", a.body);
        let loc = a.location.unwrap();
        assert!(loc.starts_with(&format!("{CALLBACK}?")), "{loc}");
        assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_request"));
        assert_eq!(query_param(&loc, "error_description"), Some(format!("Unsupported response_mode: {mode}")));
        assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
        assert_eq!(query_param(&loc, "code"), None);
    }
    // A web message needs the redirect URI's origin among the client's web origins (this
    // client lists none): a page, never a message or a redirect.
    let a = srv.browser().get(&authorize_path(SPA, &[("response_mode", "web_message")])).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.location.is_none());
    assert!(a.body.contains("not in the list of allowed web origins"), "{}", a.body);
    assert!(!a.body.contains("authorization_response"), "{}", a.body);
}

async fn a_bad_redirect_uri_gets_the_error_page_not_a_form(backend: Backend) {
    let srv = start(backend).await;
    let path = authorize_path(SPA, &[("response_mode", "form_post")]).replace(
        &url::form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>(),
        "http%3A%2F%2Fevil.test%2Fcb",
    );
    let a = srv.browser().get(&path).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.location.is_none());
    assert!(!a.body.contains("<form method=\"post\" action=\"http://evil.test"), "{}", a.body);
    assert!(a.body.contains("Callback URL mismatch"), "{}", a.body);
}

crate::on_both_backends!(
    discovery_advertises_query_form_post_and_web_message,
    form_post_login_posts_an_escaped_code_to_the_exact_redirect_uri_and_the_code_redeems,
    form_post_page_only_runs_its_own_hashed_script,
    single_sign_on_and_redirected_errors_honour_form_post,
    explicit_query_mode_redirects_and_unknown_modes_are_refused,
    a_bad_redirect_uri_gets_the_error_page_not_a_form,
);
