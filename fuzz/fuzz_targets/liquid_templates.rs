//! Customers' Liquid templates (the login page template, the email templates): checking
//! and rendering never panic, and a template accepted when it is stored renders for any
//! page or email, whatever the values it is given, so no user meets a template that fails.
//! The input is a template, then optionally a NUL and the value every fact takes.
#![no_main]

use gatehouse_core::email::EmailTemplate;
use gatehouse_services::email_settings::{self, EmailFacts};
use gatehouse_services::page_template::{self, PageFacts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (source, value) = text.split_once('\0').unwrap_or((text, "<b>\"O'Brien\" & co</b>"));
    if page_template::check(source).is_ok() {
        let facts = PageFacts {
            application_name: Some(value.into()),
            tenant_name: value.into(),
            logo_url: Some(value.into()),
            primary_color: value.into(),
            page_background: value.into(),
            prompt: "signup".into(),
        };
        if let Err(e) = page_template::render(source, &facts, "<title>t</title>", "<main></main>") {
            panic!("an accepted page template fails to render: {e}");
        }
    }
    let template = EmailTemplate {
        template: "verify_email".into(),
        body: source.into(),
        from: String::new(),
        subject: source.into(),
        result_url: None,
        url_lifetime_secs: None,
        include_email_in_redirect: false,
        enabled: true,
    };
    if email_settings::check(&template).is_ok() {
        let facts = EmailFacts {
            to: value,
            url: Some(value),
            code: None,
            friendly_name: value,
            support_email: value,
            support_url: value,
        };
        assert!(email_settings::render(&template, &facts).is_some(), "an accepted email template fails to render");
    }
});
