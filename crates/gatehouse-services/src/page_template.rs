//! Auth0's Universal Login page template (`/api/v2/branding/templates/universal-login`):
//! a whole HTML page in Liquid that places the hosted page's head and form with
//! `{%- auth0:head -%}` and `{%- auth0:widget -%}`, and may read `locale`, `application`,
//! `branding`, `tenant` and `prompt`. Gatehouse renders it with the `liquid` crate; every
//! value it hands the template is HTML-escaped first, since Liquid escapes nothing.

use crate::attack::SettingsError;
use crate::liquid_templates::{self, escape_html};
use crate::Services;
use gatehouse_core::Error;
use gatehouse_store::StoreError;
use serde::Serialize;
use serde_json::json;

pub const SETTING: &str = "branding.templates.universal_login";

/// Auth0's bound on a template.
pub const MAX_LENGTH: usize = 102_400;

/// What a template may read besides the head and the widget.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PageFacts {
    pub application_name: Option<String>,
    pub tenant_name: String,
    pub logo_url: Option<String>,
    pub primary_color: String,
    pub page_background: String,
    /// Auth0's prompt: `login`, `signup`, `reset-password`, …
    pub prompt: String,
}

/// The template with Auth0's two tags turned into variables; an error names what is
/// wrong with it.
fn translate(source: &str) -> Result<String, Error> {
    if source.len() > MAX_LENGTH {
        return Err(Error::invalid_field("template", format!("must be at most {MAX_LENGTH} characters")));
    }
    let mut out = String::with_capacity(source.len());
    let (mut head, mut widget) = (false, false);
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        out.push_str(&rest[..start]);
        // The closing `%}` is looked for after the opening `{%`: in `{%}` they overlap.
        let Some(inner_len) = rest[start + 2..].find("%}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let end = start + 2 + inner_len + 2;
        let tag = &rest[start..end];
        match rest[start + 2..start + 2 + inner_len].trim_matches(|c: char| c == '-' || c.is_whitespace()) {
            "auth0:head" => {
                head = true;
                out.push_str("{{ auth0_head }}");
            }
            "auth0:widget" => {
                widget = true;
                out.push_str("{{ auth0_widget }}");
            }
            _ => out.push_str(tag),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    if !(head && widget) {
        return Err(Error::invalid_field(
            "template",
            "must contain the tags {%- auth0:head -%} and {%- auth0:widget -%}",
        ));
    }
    Ok(out)
}

fn globals(facts: &PageFacts, head: &str, widget: &str) -> liquid::Object {
    let e = |s: &str| escape_html(s);
    let value = json!({
        "auth0_head": head,
        "auth0_widget": widget,
        "locale": "en",
        "dir": "ltr",
        "application": { "name": facts.application_name.as_deref().map(e).unwrap_or_default() },
        "tenant": { "friendly_name": e(&facts.tenant_name) },
        "branding": {
            "logo_url": facts.logo_url.as_deref().map(e).unwrap_or_default(),
            "colors": { "primary": e(&facts.primary_color), "page_background": e(&facts.page_background) },
        },
        "prompt": { "name": e(&facts.prompt), "screen": { "name": e(&facts.prompt) } },
    });
    liquid::to_object(&value).unwrap_or_default()
}

/// Renders `source` around a page's `head` and `widget` (both HTML already).
pub fn render(source: &str, facts: &PageFacts, head: &str, widget: &str) -> Result<String, Error> {
    liquid_templates::render(&translate(source)?, &globals(facts, head, widget), "template")
}

/// Checks a template as a page would use it: it parses, has both tags, and renders with
/// what Gatehouse provides (a name it does not provide is refused here, not at login).
pub fn check(source: &str) -> Result<(), Error> {
    render(source, &PageFacts { prompt: "login".into(), ..PageFacts::default() }, "", "").map(|_| ())
}

/// The stored template, if any.
pub async fn stored(state: &Services) -> Result<Option<String>, StoreError> {
    Ok(state.store.setting(SETTING).await?.and_then(|v| v["template"].as_str().map(str::to_string)))
}

/// Stores `source` after [`check`]; whether it is new (none was stored).
pub async fn set(state: &Services, source: &str) -> Result<bool, SettingsError> {
    check(source)?;
    let created = stored(state).await?.is_none();
    state.store.put_setting(SETTING, &json!({ "template": source }), &state.now()).await?;
    Ok(created)
}

/// Removes the template (the built-in layout is used again); whether there was one.
pub async fn delete(state: &Services) -> Result<bool, StoreError> {
    state.store.delete_setting(SETTING).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH0_SAMPLE: &str = "<!DOCTYPE html>{% assign resolved_dir = dir | default: \"auto\" %}<html lang=\"{{locale}}\" dir=\"{{resolved_dir}}\"><head>{%- auth0:head -%}</head><body class=\"_widget-auto-layout\">{%- auth0:widget -%}</body></html>";

    #[test]
    fn auth0s_sample_renders_around_the_page() {
        let facts =
            PageFacts { application_name: Some("<b>App</b>".into()), prompt: "login".into(), ..PageFacts::default() };
        let html = render(AUTH0_SAMPLE, &facts, "<title>T</title>", "<main>form</main>")
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            html,
            "<!DOCTYPE html><html lang=\"en\" dir=\"ltr\"><head><title>T</title></head><body class=\"_widget-auto-layout\"><main>form</main></body></html>"
        );
        let named = "{%- auth0:head -%}{%- auth0:widget -%}<p>{{ application.name }}</p>";
        assert!(
            render(named, &facts, "", "").is_ok_and(|h| h.contains("&lt;b&gt;App&lt;/b&gt;")),
            "values are escaped"
        );
    }

    #[test]
    fn templates_are_refused_with_a_reason() {
        let field = |s: &str| check(s).err().and_then(|e| e.field().map(str::to_string));
        assert_eq!(field("<html>{%- auth0:widget -%}</html>").as_deref(), Some("template"), "no head");
        assert!(check("{%- auth0:head -%}{% if %}{%- auth0:widget -%}").is_err(), "does not parse");
        assert!(check("{%- auth0:head -%}{{ unknown.thing }}{%- auth0:widget -%}").is_err(), "unknown variable");
        assert!(check(&"x".repeat(MAX_LENGTH + 1)).is_err());
        assert!(check("{% auth0:head %}{%auth0:widget%}").is_ok());
        // A tag whose `%}` overlaps its `{%` (found by the fuzz target `liquid_templates`).
        assert!(check("{%%%}{%}{A").is_err());
        assert!(check("{%}{%- auth0:head -%}{%- auth0:widget -%}").is_err());
    }
}
