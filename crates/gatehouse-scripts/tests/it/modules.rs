//! The modules Auth0's templates `require`, backed by Gatehouse's own code.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcrypt_hashes_and_compares_like_node_s() {
    let sb = quick();
    let script = r#"function f(cb) {
      const bcrypt = require('bcrypt@0.8.5');
      bcrypt.hash('s3cret!', 4, function (err, hash) {
        if (err) return cb(err);
        bcrypt.compare('s3cret!', hash, function (err, ok) {
          cb(null, hash, ok, bcrypt.compareSync('wrong', hash), bcrypt.getRounds(hash));
        });
      });
    }"#;
    let a = args(&db(&sb, script, json!([]), json!({})).await.unwrap());
    let hash = a[0].as_str().unwrap();
    assert!(hash.starts_with("$2b$04$") && hash.len() == 60, "{hash}");
    assert_eq!(&a[1..], &[json!(true), json!(false), json!(4)]);
    // A hash another bcrypt made (OpenWall's test vector) checks too, as a promise.
    let other = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    let script = format!(
        "function f(cb) {{ const b = require('bcryptjs'); Promise.all([b.compare('U*U', '{other}'), b.compare('U*V', '{other}')]).then((r) => cb(null, r)) }}"
    );
    let a = args(&db(&sb, &script, json!([]), json!({})).await.unwrap());
    assert_eq!(a, vec![json!([true, false])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crypto_and_buffer_agree_with_node() {
    let sb = quick();
    let script = r#"function f(cb) {
      const crypto = require('crypto');
      cb(null,
        crypto.createHash('sha256').update('abc').digest('hex'),
        crypto.createHash('md5').update('abc').digest('base64'),
        crypto.createHmac('sha256', 'key').update('The quick brown fox jumps over the lazy dog').digest('hex'),
        crypto.pbkdf2Sync('password', 'salt', 1, 20, 'sha1').toString('hex'),
        crypto.randomBytes(16).length,
        Buffer.from('héllo').toString('base64'),
        Buffer.from('aGVsbG8=', 'base64').toString(),
        Buffer.concat([Buffer.from([1, 2]), Buffer.from('ff', 'hex')]).toString('hex'),
        crypto.timingSafeEqual(Buffer.from('a'), Buffer.from('a')));
    }"#;
    let a = args(&db(&sb, script, json!([]), json!({})).await.unwrap());
    assert_eq!(
        a,
        vec![
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            json!("kAFQmDzST7DWlj99KOF/cg=="),
            json!("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"),
            json!("0c60c80f961f0e71f3a9b524af6012062fe037a6"),
            json!(16),
            json!("aMOpbGxv"),
            json!("hello"),
            json!("0102ff"),
            json!(true),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_reaches_an_allowed_host() {
    // A one-shot HTTP server on this machine.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        for _ in 0..3 {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let auth =
                req.lines().find(|l| l.to_ascii_lowercase().starts_with("authorization:")).unwrap_or("").to_string();
            let body = serde_json::json!({"path": req.split(' ').nth(1), "auth": auth.split(": ").nth(1)}).to_string();
            let resp = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            s.write_all(resp.as_bytes()).await.unwrap();
        }
    });
    let sb = sandbox(Limits {
        allowed_hosts: vec!["127.0.0.1".into()],
        timeout: Duration::from_secs(5),
        ..Limits::default()
    });
    let script = format!(
        r#"function f(cb) {{
          const base = 'http://127.0.0.1:{port}';
          require('request').get({{ url: base + '/profile', auth: {{ username: 'u', password: 'p' }}, json: true }}, function (err, response, body) {{
            if (err) return cb(err);
            require('axios').get(base + '/a', {{ params: {{ q: 'x y' }} }}).then(function (r) {{
              fetch(base + '/f').then((res) => res.json()).then(function (j) {{
                cb(null, response.statusCode, body, r.data.path, j.path);
              }});
            }}, cb);
          }});
        }}"#
    );
    let a = args(&db(&sb, &script, json!([]), json!({})).await.unwrap());
    assert_eq!(
        a,
        vec![json!(200), json!({"path": "/profile", "auth": "Basic dTpw"}), json!("/a?q=x%20y"), json!("/f")]
    );
    server.await.unwrap();
}
