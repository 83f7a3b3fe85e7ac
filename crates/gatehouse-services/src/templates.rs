//! Customer-overridable templates: a template is looked up by name in the configured
//! template directory (`ServerConfig::template_dir`) first, then among the embedded
//! defaults its surface passes in (the server's HTML pages, this crate's email texts).

use std::path::Path;

/// The text of template `name`: the operator's override when there is one, else the
/// embedded default (empty when `name` is unknown).
pub async fn load(dir: Option<&Path>, name: &str, embedded: &[(&str, &'static str)]) -> String {
    if let Some(dir) = dir {
        match tokio::fs::read_to_string(dir.join(name)).await {
            Ok(t) => return t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, template = name, "cannot read template override; using the default"),
        }
    }
    embedded.iter().find(|(n, _)| *n == name).map(|(_, t)| (*t).to_string()).unwrap_or_default()
}
