//! The listener's TLS identity from configuration: a PEM certificate chain and key, or a
//! self-signed certificate for `localhost`, `127.0.0.1` and `::1`, made at the first
//! start under `data_dir/tls/` and reused after (so a browser or a CLI told to trust it
//! once keeps trusting it).

use crate::config::Tls;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// The self-signed certificate's and key's files under `data_dir`.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("self-signed.crt"), dir.join("self-signed.key"))
}

/// The rustls configuration `tls` describes; a self-signed certificate is made if there
/// is none yet.
pub fn server_config(tls: &Tls, data_dir: &Path) -> anyhow::Result<gatehouse_server::tls::TlsConfig> {
    let (cert_file, key_file) = match tls {
        Tls::Files { cert_file, key_file } => (cert_file.clone(), key_file.clone()),
        Tls::SelfSigned => {
            let (cert, key) = self_signed_paths(data_dir);
            if !cert.exists() || !key.exists() {
                make_self_signed(&cert, &key)?;
                tracing::info!(certificate = %cert.display(), "made a self-signed TLS certificate for localhost and 127.0.0.1 (development only)");
            }
            (cert, key)
        }
    };
    let cert = std::fs::read(&cert_file).with_context(|| format!("tls: cannot read {}", cert_file.display()))?;
    let key = std::fs::read(&key_file).with_context(|| format!("tls: cannot read {}", key_file.display()))?;
    gatehouse_server::tls::server_config(&cert, &key)
        .map_err(|e| anyhow::anyhow!("tls: {e} ({}, {})", cert_file.display(), key_file.display()))
}

fn make_self_signed(cert: &Path, key: &Path) -> anyhow::Result<()> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    let made = rcgen::generate_simple_self_signed(names).context("tls: cannot make a self-signed certificate")?;
    if let Some(dir) = cert.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("tls: cannot create {}", dir.display()))?;
    }
    write_private(key, made.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(cert, made.cert.pem()).with_context(|| format!("tls: cannot write {}", cert.display()))?;
    Ok(())
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).with_context(|| format!("tls: cannot write {}", path.display()))?;
    f.write_all(bytes).with_context(|| format!("tls: cannot write {}", path.display()))?;
    Ok(())
}
