//! The hosted pages' templates: minijinja, autoescaped, embedded in the binary and parsed
//! once. An operator's `template_dir` replaces any of them file by file, read at each
//! render so an edit shows on the next page load; an override that does not parse or
//! render is logged (name, line, reason) and the embedded template answers instead, so a
//! typo never takes the login page down.
//!
//! A page renders in two steps: its own template (the content), then `layout.html`
//! around it (`{{ content }}`: `head.html` and `widget.html`), so an override of one page
//! stays a fragment. Auth0's page template, when one is stored, takes the layout's place
//! (`gatehouse_services::page_template`).

use minijinja::{AutoEscape, Environment, ErrorKind, Output, State, UndefinedBehavior, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Every hosted template: the operator may replace each of them.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("head.html", include_str!("templates/head.html")),
    ("widget.html", include_str!("templates/widget.html")),
    ("forms.html", include_str!("templates/forms.html")),
    ("login.html", include_str!("templates/login.html")),
    ("login-email.html", include_str!("templates/login-email.html")),
    ("login-email-code.html", include_str!("templates/login-email-code.html")),
    ("error.html", include_str!("templates/error.html")),
    ("message.html", include_str!("templates/message.html")),
    ("signup.html", include_str!("templates/signup.html")),
    ("signup-passkey.html", include_str!("templates/signup-passkey.html")),
    ("passkey-enrol.html", include_str!("templates/passkey-enrol.html")),
    ("reset-request.html", include_str!("templates/reset-request.html")),
    ("reset-password.html", include_str!("templates/reset-password.html")),
    ("social_buttons.html", include_str!("templates/social_buttons.html")),
    ("link.html", include_str!("templates/link.html")),
    ("home.html", include_str!("templates/home.html")),
    ("co-verify.html", include_str!("templates/co-verify.html")),
    ("mfa.html", include_str!("templates/mfa.html")),
    ("mfa-recovery-code.html", include_str!("templates/mfa-recovery-code.html")),
];

/// Pages that carry an authorization response: never replaced, since their markup is
/// what the CSP's script hash and the client's parser rely on.
const FIXED: &[(&str, &str)] = &[
    ("form_post.html", include_str!("templates/form_post.html")),
    ("web_message.html", include_str!("templates/web_message.html")),
];

fn configure(env: &mut Environment<'_>) {
    // A name a template misspells is an error (caught by the tests for the embedded ones,
    // and answered by the embedded template for an override), not an empty string.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_formatter(formatter);
}

/// Strings are escaped as everywhere else in the pages (`&<>"'`); minijinja's default
/// also escapes `/`, which would turn every URL in a page into entities.
fn formatter(out: &mut Output<'_>, state: &State<'_, '_>, value: &Value) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(s) if !value.is_safe() && matches!(state.auto_escape(), AutoEscape::Html) => {
            out.write_str(&super::escape(s)).map_err(|e| minijinja::Error::new(ErrorKind::WriteFailure, e.to_string()))
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

fn embedded() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        configure(&mut env);
        for (name, source) in TEMPLATES.iter().chain(FIXED) {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "hosted page template does not parse");
            }
        }
        env
    })
}

/// An environment whose templates come from `dir` where it has a file of that name. Only
/// the names in [`TEMPLATES`] are looked up, so a template cannot include other files.
fn with_overrides(dir: PathBuf) -> Environment<'static> {
    let mut env = Environment::new();
    configure(&mut env);
    env.set_loader(move |name| {
        let Some((_, default)) = TEMPLATES.iter().find(|(n, _)| *n == name) else { return Ok(None) };
        match std::fs::read_to_string(dir.join(name)) {
            Ok(source) => Ok(Some(source)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Some((*default).to_string())),
            Err(e) => Err(minijinja::Error::new(ErrorKind::TemplateNotFound, format!("cannot read the override: {e}"))),
        }
    });
    env
}

fn render_in(env: &Environment<'_>, name: &str, context: &Value) -> Result<String, minijinja::Error> {
    env.get_template(name)?.render(context)
}

/// Renders hosted template `name`, from the operator's `dir` when one is configured.
pub async fn render(dir: Option<&Path>, name: &'static str, context: Value) -> Result<String, minijinja::Error> {
    let Some(dir) = dir.map(Path::to_path_buf) else { return render_in(embedded(), name, &context) };
    // The override files are read from disk: off the async threads.
    let attempt = {
        let context = context.clone();
        tokio::task::spawn_blocking(move || render_in(&with_overrides(dir), name, &context)).await
    };
    match attempt {
        Ok(Ok(html)) => Ok(html),
        Ok(Err(e)) => {
            tracing::error!(template = name, error = %e, detail = ?e.detail(), line = ?e.line(),
                "the template override cannot be used; the embedded template answers");
            render_in(embedded(), name, &context)
        }
        Err(e) => Err(minijinja::Error::new(ErrorKind::InvalidOperation, e.to_string())),
    }
}

/// Renders one of the fixed pages (never overridden).
pub fn render_fixed(name: &str, context: Value) -> Result<String, minijinja::Error> {
    render_in(embedded(), name, &context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES.iter().chain(FIXED) {
            assert!(embedded().get_template(name).is_ok(), "{name} does not parse");
        }
    }

    #[tokio::test]
    async fn a_broken_override_falls_back_and_unknown_names_stay_unknown() {
        let dir = std::env::temp_dir().join(format!("gh_view_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| unreachable!("{e}"));
        std::fs::write(dir.join("message.html"), "{% if %}").unwrap_or_else(|e| unreachable!("{e}"));
        let context = minijinja::context! { message => "<hi>", back => () };
        let html = render(Some(&dir), "message.html", context).await.unwrap_or_else(|e| unreachable!("{e}"));
        assert!(html.contains("&lt;hi&gt;"), "{html}");
        std::fs::write(dir.join("message.html"), r#"{% include "../secret" %}"#)
            .unwrap_or_else(|e| unreachable!("{e}"));
        let html = render(Some(&dir), "message.html", minijinja::context! { message => "x", back => () }).await;
        assert!(html.is_ok_and(|h| h.contains('x')));
        std::fs::remove_dir_all(&dir).unwrap_or_else(|e| unreachable!("{e}"));
    }
}
