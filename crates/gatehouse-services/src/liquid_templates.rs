//! Auth0's Liquid templates (the Universal Login page template, the email templates):
//! one parser with Liquid's standard library, built once, and the HTML escaping every
//! value handed to a template gets first, since Liquid escapes nothing.

use gatehouse_core::Error;
use std::sync::OnceLock;

fn parser() -> Result<&'static liquid::Parser, Error> {
    static PARSER: OnceLock<Result<liquid::Parser, String>> = OnceLock::new();
    PARSER
        .get_or_init(|| liquid::ParserBuilder::with_stdlib().build().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::body(format!("the Liquid parser cannot be built: {e}")))
}

/// Renders `source` with `globals`; an error names `field`, the template's field.
pub fn render(source: &str, globals: &liquid::Object, field: &str) -> Result<String, Error> {
    let template = parser()?.parse(source).map_err(|e| Error::invalid_field(field, e.to_string()))?;
    template.render(globals).map_err(|e| Error::invalid_field(field, e.to_string()))
}

/// HTML-escapes text (`&<>"'`).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
