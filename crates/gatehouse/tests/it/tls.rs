//! `gatehouse serve` over HTTPS: with `tls.self_signed` it makes a certificate under
//! `data_dir` and serves with it; a client whose only trust root is that certificate
//! connects (and one trusting the usual roots does not); the next start reuses it, and the
//! same files given as `tls.cert_file`/`tls.key_file` serve too.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn spawn(dir: &Path, env: &[(&str, String)]) -> (Child, u16) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::fs::File::create(dir.join(format!("serve-{port}.log"))).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("GATEHOUSE_DATABASE_URL", format!("sqlite://{}", dir.join("gatehouse.db").display()))
        .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_DATA_DIR", dir.join("data"))
        .env("GATEHOUSE_ADMIN_CLIENT_ID", "tls-admin")
        .env("GATEHOUSE_ADMIN_CLIENT_SECRET", "tls-admin-secret-0123456789")
        .env("GATEHOUSE_LOG", "warn")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log));
    for (k, v) in env {
        cmd.env(k, v);
    }
    (cmd.spawn().unwrap(), port)
}

fn trusting(cert_pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem).unwrap())
        .build()
        .unwrap()
}

/// Waits for the discovery document over HTTPS; its issuer.
async fn discovery(child: &mut Child, port: u16, cert: &Path) -> String {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("gatehouse serve exited with {status}");
        }
        if let Ok(pem) = std::fs::read(cert) {
            let url = format!("https://localhost:{port}/.well-known/openid-configuration");
            if let Ok(r) = trusting(&pem).get(&url).send().await {
                assert_eq!(r.status(), 200);
                let v: serde_json::Value = r.json().await.unwrap();
                return v["issuer"].as_str().unwrap().to_string();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no HTTPS answer after 30 s");
}

fn stop(mut child: Child) {
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_https_with_a_self_signed_certificate_it_keeps() {
    let dir = std::env::temp_dir().join(format!("gh_tls_{}_{:016x}", std::process::id(), rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("data/tls/self-signed.crt");
    let key = dir.join("data/tls/self-signed.key");

    let (mut child, port) = spawn(&dir, &[("GATEHOUSE_TLS__SELF_SIGNED", "true".into())]);
    let issuer = discovery(&mut child, port, &cert).await;
    assert_eq!(issuer, format!("https://127.0.0.1:{port}/"), "the default issuer is https");
    // The usual trust roots do not know it; plain HTTP gets no answer.
    let url = format!("https://127.0.0.1:{port}/.well-known/openid-configuration");
    assert!(reqwest::Client::new().get(&url).send().await.is_err());
    let plain = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
    assert!(reqwest::Client::new().get(&plain).send().await.map(|r| r.status() != 200).unwrap_or(true));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o077, 0, "the key is private");
    }
    let first = std::fs::read(&cert).unwrap();
    stop(child);

    let (mut child, port) = spawn(&dir, &[("GATEHOUSE_TLS__SELF_SIGNED", "true".into())]);
    discovery(&mut child, port, &cert).await;
    assert_eq!(std::fs::read(&cert).unwrap(), first, "the certificate is reused");
    stop(child);

    let files = [
        ("GATEHOUSE_TLS__CERT_FILE", cert.display().to_string()),
        ("GATEHOUSE_TLS__KEY_FILE", key.display().to_string()),
    ];
    let (mut child, port) = spawn(&dir, &files);
    discovery(&mut child, port, &cert).await;
    stop(child);
    let _ = std::fs::remove_dir_all(&dir);
}
