//! An endless loop and an allocation bomb are stopped by the limits, and the sandbox
//! goes on serving the next run.

use super::*;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_is_stopped_at_its_deadline_and_the_next_run_works() {
    let sb = sandbox(Limits { timeout: Duration::from_millis(300), threads: 1, ..Limits::default() });
    let started = Instant::now();
    let e = db(&sb, "function login(e, p, cb) { for (;;) {} }", json!(["a", "b"]), json!({})).await.unwrap_err();
    assert_eq!(e, ScriptError::Timeout(300), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2), "stopped late: {:?}", started.elapsed());
    // Catching does not help: the interrupt cannot be caught.
    let e = db(
        &sb,
        "function login(e, p, cb) { while (true) { try { for (;;) {} } catch (x) {} } }",
        json!(["a", "b"]),
        json!({}),
    )
    .await
    .unwrap_err();
    assert!(e.is_limit(), "{e}");
    // The same (single) thread serves the next run.
    let out =
        db(&sb, "function login(e, p, cb) { cb(null, { user_id: '1' }) }", json!(["a", "b"]), json!({})).await.unwrap();
    assert_eq!(args(&out), vec![json!({"user_id": "1"})]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_loop_and_a_callback_never_called_end_too() {
    let sb = sandbox(Limits { timeout: Duration::from_millis(300), threads: 1, ..Limits::default() });
    // A promise chain that never yields to the host.
    let spin = "exports.onExecutePostLogin = async () => { for (;;) { await null; } };";
    assert!(action(&sb, spin, json!({}), json!({})).await.unwrap_err().is_limit());
    // Waiting on a timer longer than the deadline.
    let wait = "function login(e, p, cb) { setTimeout(() => cb(null, {user_id: 'x'}), 10000) }";
    assert_eq!(db(&sb, wait, json!(["a", "b"]), json!({})).await.unwrap_err(), ScriptError::Timeout(300));
    // Returning without calling back, nothing pending.
    assert_eq!(
        db(&sb, "function login(e, p, cb) { }", json!(["a", "b"]), json!({})).await.unwrap_err(),
        ScriptError::NoCallback
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allocation_bomb_hits_the_memory_limit_and_the_next_run_works() {
    let sb = sandbox(Limits { memory_bytes: 16 << 20, threads: 1, ..Limits::default() });
    let bombs = [
        "function login(e, p, cb) { const a = []; for (;;) a.push('x'.repeat(1024) + a.length); }",
        "function login(e, p, cb) { let s = 'x'; for (;;) s = s + s; }",
        "function login(e, p, cb) { const a = []; for (;;) a.push(new Array(100000).fill(1)); }",
    ];
    for bomb in bombs {
        let started = Instant::now();
        let e = db(&sb, bomb, json!(["a", "b"]), json!({})).await.unwrap_err();
        assert_eq!(e, ScriptError::Memory(16 << 20), "{bomb}: {e}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    let out = db(&sb, "function login(e, p, cb) { cb(null, { user_id: 'after' }) }", json!(["a", "b"]), json!({}))
        .await
        .unwrap();
    assert_eq!(args(&out), vec![json!({"user_id": "after"})]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_thread_leaves_the_others_serving() {
    let sb = sandbox(Limits { timeout: Duration::from_secs(3), threads: 2, ..Limits::default() });
    let stuck = {
        let sb = sb.clone();
        tokio::spawn(async move { db(&sb, "function f(cb) { for (;;) {} }", json!([]), json!({})).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    for i in 0..20 {
        let out = db(&sb, "function f(n, cb) { cb(null, n * 2) }", json!([i]), json!({})).await.unwrap();
        assert_eq!(args(&out), vec![json!(i * 2)]);
    }
    assert!(started.elapsed() < Duration::from_secs(2), "the free thread was slow: {:?}", started.elapsed());
    assert!(stuck.await.unwrap().unwrap_err().is_limit());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_reaches_the_file_system_or_a_host_not_configured() {
    let sb = quick();
    let e = db(&sb, "function f(cb) { require('fs').readFileSync('/etc/passwd') }", json!([]), json!({}))
        .await
        .unwrap_err();
    assert!(matches!(&e, ScriptError::Thrown { message, .. } if message.contains("Cannot find module 'fs'")), "{e}");
    let out = db(
        &sb,
        "function f(cb) { require('request').get('http://127.0.0.1:9/x', (err) => cb(null, err.code, err.message)) }",
        json!([]),
        json!({}),
    )
    .await
    .unwrap();
    let a = args(&out);
    assert_eq!(a[0], json!("EHOSTNOTALLOWED"));
    assert!(a[1].as_str().unwrap().contains("scripts.allowed_hosts"));
    let out = db(
        &sb,
        "function f(cb) { require('mysql').createConnection({host: '10.1.2.3'}).query('SELECT 1', (err) => cb(null, err.code)) }",
        json!([]),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(args(&out), vec![json!("EHOSTNOTALLOWED")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_logs_or_errors() {
    let sb = quick();
    let out = db(
        &sb,
        "function f(cb) { console.log('connecting with', configuration.db_password); cb(null) }",
        json!([]),
        json!({"db_password": "hunter2-secret"}),
    )
    .await
    .unwrap();
    assert_eq!(out.logs, vec!["connecting with [redacted]".to_string()]);
    let e = action(
        &sb,
        "exports.onExecutePostLogin = async (event) => { throw new Error('bad key ' + event.secrets.API_KEY) }",
        json!({}),
        json!({"API_KEY": "sk_live_123456"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.to_string(), "Error: bad key [redacted]");
}
