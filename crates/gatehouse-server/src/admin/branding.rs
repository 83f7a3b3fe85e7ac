//! The console's branding: the tenant's name, the logo and colours of the hosted pages
//! and Auth0's page template (Auth0's tenant settings, branding document and Universal
//! Login template, changed through `gatehouse_services::branding` and `page_template` as
//! the Management API's calls are), with a preview of the login page as the form stands,
//! before anything is saved.

use super::{AdminForm, Console, ConsoleError, Page};
use crate::pages::{BrandView, Look};
use axum::extract::{Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::branding::Branding;
use gatehouse_services::attack::SettingsError;
use gatehouse_services::branding::{change_settings, change_tenant, stored};
use gatehouse_services::page_template;
use gatehouse_services::Services;
use minijinja::{context, Value as View};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The form's fields: empty means "as configured".
const FIELDS: &[&str] = &["name", "logo_url", "primary_color", "page_background", "page_template"];

async fn branding_page(
    console: &Console,
    state: &Services,
    status: StatusCode,
    form: Option<&HashMap<String, String>>,
    extra: View,
) -> Result<Page, ConsoleError> {
    let (settings, tenant) = stored(state).await?;
    let saved: HashMap<&str, String> = [
        ("name", tenant.friendly_name),
        ("logo_url", settings.logo_url.or(tenant.picture_url)),
        ("primary_color", settings.primary_color),
        ("page_background", settings.page_background),
        ("page_template", page_template::stored(state).await?),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.unwrap_or_default()))
    .collect();
    // After a refusal the form shows what was typed, not what is saved.
    let value =
        |k: &str| form.and_then(|f| f.get(k).cloned()).unwrap_or_else(|| saved.get(k).cloned().unwrap_or_default());
    let configured = &state.config.branding;
    let base = context! {
        title => "Branding",
        nav => "branding",
        fields => FIELDS.iter().map(|k| (*k, value(k))).collect::<HashMap<_, _>>(),
        configured => context! {
            name => configured.name,
            logo_url => configured.logo_url,
            primary_color => configured.primary_color,
            page_background => configured.page_background,
        },
        error => (),
        done => (),
    };
    console.page(status, "branding.html", context! { ..extra, ..base })
}

/// `GET /admin/branding`.
pub async fn show(
    console: Console,
    State(state): State<Services>,
    Query(q): Query<super::Done>,
) -> Result<Page, ConsoleError> {
    let done = q.saved();
    branding_page(&console, &state, StatusCode::OK, None, context! { done }).await
}

fn text(form: &HashMap<String, String>, key: &str) -> Value {
    match form.get(key).map(|v| v.trim()) {
        Some(v) if !v.is_empty() => json!(v),
        _ => Value::Null,
    }
}

/// The two documents the form stands for: Auth0's tenant settings and branding bodies.
fn bodies(form: &HashMap<String, String>) -> (Value, Value) {
    let tenant = json!({ "friendly_name": text(form, "name") });
    let branding = json!({
        "logo_url": text(form, "logo_url"),
        "colors": { "primary": text(form, "primary_color"), "page_background": text(form, "page_background") },
    });
    (tenant, branding)
}

/// `POST /admin/branding`.
pub async fn save(
    State(state): State<Services>,
    AdminForm { console, form }: AdminForm<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let (tenant, branding) = bodies(&form);
    let template = template_of(&form);
    // Everything is checked before anything is written: a refused field changes nothing.
    let (settings, current) = stored(&state).await?;
    let checked = current
        .patched(&tenant)
        .and_then(|_| settings.patched(&branding))
        .and_then(|_| template.map_or(Ok(()), page_template::check));
    let outcome = match checked {
        Err(e) => Err(SettingsError::Refused(e)),
        Ok(()) => save_all(&state, &tenant, &branding, template).await,
    };
    match outcome {
        Ok(()) => Ok(super::view::see_other("/admin/branding?done=saved", Vec::new())),
        Err(SettingsError::Refused(e)) => {
            let error = e.to_string();
            let page =
                branding_page(&console, &state, StatusCode::BAD_REQUEST, Some(&form), context! { error }).await?;
            Ok(page.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The page template of the form: none when the field is empty.
fn template_of(form: &HashMap<String, String>) -> Option<&str> {
    form.get("page_template").map(|t| t.trim()).filter(|t| !t.is_empty())
}

async fn save_all(
    state: &Services,
    tenant: &Value,
    branding: &Value,
    template: Option<&str>,
) -> Result<(), SettingsError> {
    change_tenant(state, tenant).await?;
    change_settings(state, branding).await?;
    match template {
        Some(t) => page_template::set(state, t).await.map(|_| ()),
        None => page_template::delete(state).await.map(|_| ()).map_err(SettingsError::from),
    }
}

/// `GET /admin/branding/preview`: the hosted login page as saved, for the console's
/// sandboxed frame.
pub async fn preview_saved(_: Console, State(state): State<Services>) -> Result<Response, ConsoleError> {
    Ok(preview(&state, Look::current(&state).await).await)
}

/// `POST /admin/branding/preview`: the hosted login page in the brand the form stands for.
/// It changes nothing, so any console role may ask (the form's CSRF token is checked).
pub async fn preview_form(
    console: Console,
    State(state): State<Services>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    console.check_token(form.get("csrf").map_or("", String::as_str))?;
    let (settings, tenant) = stored(&state).await?;
    let (tenant_body, branding_body) = bodies(&form);
    let template = template_of(&form);
    let checked =
        (tenant.patched(&tenant_body), settings.patched(&branding_body), template.map_or(Ok(()), page_template::check));
    match checked {
        (Ok(t), Ok(s), Ok(())) => {
            let brand = BrandView::of(&Branding::effective(&state.config.branding, &t, &s));
            Ok(preview(&state, Look { brand, page_template: template.map(str::to_string) }).await)
        }
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            let mut r = (StatusCode::BAD_REQUEST, format!("Not previewed: {e}")).into_response();
            frame_headers(&mut r);
            Ok(r)
        }
    }
}

async fn preview(state: &Services, look: Look) -> Response {
    // The login form with nothing behind it: the frame is sandboxed (no forms, no scripts).
    let context = context! {
        state => "preview",
        csrf_token => "preview",
        client_name => "Your application",
        password => true,
        passkey => (),
        username => "",
        screen_hint => "",
        username_error => (),
        password_error => (),
        form_error => (),
        social => Vec::<()>::new(),
        email_code => false,
    };
    let page = crate::pages::render_in(state, &look, StatusCode::OK, "Log in", "login.html", context).await;
    let mut r = page.into_response();
    frame_headers(&mut r);
    r
}

/// The preview may be framed by the console (and only by it); it runs nothing.
fn frame_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'",
        ),
    );
    h.insert(HeaderName::from_static("x-frame-options"), HeaderValue::from_static("SAMEORIGIN"));
    h.insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
