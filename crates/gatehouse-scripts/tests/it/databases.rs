//! `mysql` and `pg` against the machine's MariaDB and PostgreSQL (skipped without the
//! test URLs). Deeper coverage, Auth0's templates through the whole server, is the
//! server's `custom_db` tests.

use super::*;

fn env(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_binds_node_mysql_placeholders() {
    let url = env("GATEHOUSE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test");
    let Ok(pool) = sqlx::MySqlPool::connect(&url).await else {
        eprintln!("no MariaDB at {url}; skipped");
        return;
    };
    let table = format!("gh_sandbox_{}", std::process::id());
    sqlx::query(&format!("CREATE TABLE {table} (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) UNIQUE, n INT)"))
        .execute(&pool)
        .await
        .unwrap();
    let sb = sandbox(Limits {
        allowed_hosts: vec!["127.0.0.1".into()],
        timeout: Duration::from_secs(10),
        ..Limits::default()
    });
    let script = format!(
        r#"function f(url, cb) {{
          const c = require('mysql')({{ url: url }});
          c.connect();
          c.query('INSERT INTO {table} SET ?', {{ email: "o'brien@x.co", n: 7 }}, function (err, ok) {{
            if (err) return cb(err);
            c.query('SELECT id, email, n FROM ?? WHERE email IN (?)', ['{table}', ["o'brien@x.co", 'z']], function (err, rows) {{
              if (err) return cb(err);
              c.query('UPDATE {table} SET n = ? WHERE email = ?', [8, "o'brien@x.co"], function (err, upd) {{
                if (err) return cb(err);
                c.query('INSERT INTO {table} SET ?', {{ email: "o'brien@x.co" }}, function (dup) {{
                  cb(null, ok.affectedRows, rows, upd.affectedRows, upd.length > 0, dup && dup.code);
                }});
              }});
            }});
          }});
        }}"#
    );
    let out = db(&sb, &script, json!([url]), json!({})).await;
    sqlx::query(&format!("DROP TABLE {table}")).execute(&pool).await.unwrap();
    let a = args(&out.unwrap());
    assert_eq!(
        a,
        vec![
            json!(1),
            json!([{"id": 1, "email": "o'brien@x.co", "n": 7}]),
            json!(1),
            json!(true),
            json!("ER_DUP_ENTRY")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_converts_parameters_to_the_types_postgres_infers() {
    let url = env("GATEHOUSE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test");
    let Ok(pool) = sqlx::PgPool::connect(&url).await else {
        eprintln!("no PostgreSQL at {url}; skipped");
        return;
    };
    let table = format!("gh_sandbox_{}", std::process::id());
    sqlx::query(&format!(
        "CREATE TABLE {table} (id SERIAL PRIMARY KEY, email TEXT UNIQUE, verified BOOLEAN DEFAULT FALSE)"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let sb = sandbox(Limits {
        allowed_hosts: vec!["127.0.0.1".into()],
        timeout: Duration::from_secs(10),
        ..Limits::default()
    });
    let script = format!(
        r#"function f(url, cb) {{
          require('pg').connect(url, function (err, client, done) {{
            if (err) return cb(err);
            client.query('INSERT INTO {table}(email) VALUES ($1) RETURNING id', ['a@b.co'], function (err, ins) {{
              if (err) return cb(err);
              // The id arrives as a string, as Auth0 hands user ids to scripts.
              client.query('UPDATE {table} SET verified = $1 WHERE id = $2', [true, String(ins.rows[0].id)], function (err, upd) {{
                if (err) return cb(err);
                client.query({{ text: 'SELECT email, verified FROM {table} WHERE id = $1', values: ['1'] }}, function (err, sel) {{
                  done();
                  cb(err, ins.rows, upd.rowCount, sel.rows, sel.command);
                }});
              }});
            }});
          }});
        }}"#
    );
    let out = db(&sb, &script, json!([url]), json!({})).await;
    sqlx::query(&format!("DROP TABLE {table}")).execute(&pool).await.unwrap();
    let a = args(&out.unwrap());
    assert_eq!(a, vec![json!([{"id": 1}]), json!(1), json!([{"email": "a@b.co", "verified": true}]), json!("SELECT")]);
}
