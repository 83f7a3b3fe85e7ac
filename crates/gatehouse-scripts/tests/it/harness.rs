//! How Actions and database scripts are called and what they give back.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_s_api_calls_come_back_in_order() {
    let sb = quick();
    let code = r#"
        const ns = 'https://example.com/';
        exports.onExecutePostLogin = async (event, api) => {
          await new Promise((r) => setTimeout(r, 5));
          api.idToken.setCustomClaim(ns + 'plan', event.user.app_metadata?.plan ?? 'free');
          api.accessToken.setCustomClaim(ns + 'roles', event.authorization.roles);
          api.user.setUserMetadata('seen', true);
          if (event.user.email.endsWith('@blocked.test')) api.access.deny('Access from this domain is not allowed.');
        };
    "#;
    let event = json!({"user": {"email": "a@blocked.test", "app_metadata": {"plan": "pro"}}, "authorization": {"roles": ["admin"]}});
    let out = action(&sb, code, event, json!({})).await.unwrap();
    assert_eq!(
        out.value["commands"],
        json!([
            ["idToken.setCustomClaim", "https://example.com/plan", "pro"],
            ["accessToken.setCustomClaim", "https://example.com/roles", ["admin"]],
            ["user.setUserMetadata", "seen", true],
            ["access.deny", "Access from this domain is not allowed."]
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_reads_its_secrets_and_cannot_change_the_event() {
    let sb = quick();
    let code = r#"
        exports.onExecutePostLogin = async (event, api) => {
          event.user.email = 'changed@example.com';
          api.idToken.setCustomClaim('k', event.secrets.KEY.length);
          api.idToken.setCustomClaim('email', event.user.email);
        };
    "#;
    let out = action(&sb, code, json!({"user": {"email": "a@example.com"}}), json!({"KEY": "abcdef"})).await.unwrap();
    assert_eq!(
        out.value["commands"],
        json!([["idToken.setCustomClaim", "k", 6], ["idToken.setCustomClaim", "email", "a@example.com"]])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_that_throws_or_exports_nothing_fails() {
    let sb = quick();
    let e = action(&sb, "exports.onExecutePostLogin = async () => { null.x }", json!({}), json!({})).await.unwrap_err();
    assert!(matches!(&e, ScriptError::Thrown { name, .. } if name == "TypeError"), "{e}");
    let e = action(&sb, "exports.other = () => {}", json!({}), json!({})).await.unwrap_err();
    assert_eq!(e.to_string(), "TypeError: the action exports no function onExecutePostLogin");
    let e = action(&sb, "this is not javascript", json!({}), json!({})).await.unwrap_err();
    assert!(matches!(&e, ScriptError::Thrown { name, .. } if name == "SyntaxError"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_script_answers_through_its_callback() {
    let sb = quick();
    let login = "function login(email, password, callback) {\n  if (password !== configuration.pw) return callback(new WrongUsernameOrPasswordError(email, 'nope'));\n  callback(null, { user_id: 'u1', email: email });\n}";
    let ok = db(&sb, login, json!(["a@b.co", "right"]), json!({"pw": "right"})).await.unwrap();
    assert_eq!(args(&ok), vec![json!({"user_id": "u1", "email": "a@b.co"})]);
    let wrong = db(&sb, login, json!(["a@b.co", "wrong"]), json!({"pw": "right"})).await.unwrap();
    assert_eq!(wrong.value["error"], json!({"name": "WrongUsernameOrPasswordError", "message": "nope"}));
    let exists =
        "function create(user, callback) { callback(new ValidationError('user_exists', 'the user already exists')) }";
    let out = db(&sb, exists, json!([{"email": "a@b.co"}]), json!({})).await.unwrap();
    assert_eq!(
        out.value["error"],
        json!({"name": "ValidationError", "message": "the user already exists", "code": "user_exists"})
    );
    // Calling back twice: the first answer counts.
    let twice = "function getUser(email, callback) { callback(null); callback(null, { user_id: 'late' }); }";
    assert_eq!(args(&db(&sb, twice, json!(["a@b.co"]), json!({})).await.unwrap()), Vec::<Value>::new());
    // A synchronous throw is the script's error.
    let throws = "function remove(id, callback) { throw new Error('boom') }";
    assert_eq!(db(&sb, throws, json!(["1"]), json!({})).await.unwrap_err().to_string(), "Error: boom");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_never_sees_what_an_earlier_run_of_the_same_action_left() {
    // One thread: every run shares its runtime and the prelude's compiled code.
    let sb = sandbox(Limits { timeout: Duration::from_secs(5), threads: 1, ..Limits::default() });
    let code = r#"
        let count = 0;
        exports.onExecutePostLogin = async (event, api) => {
          count += 1;
          api.idToken.setCustomClaim('global', typeof globalThis.leaked);
          api.idToken.setCustomClaim('prototype', typeof Object.prototype.polluted);
          api.idToken.setCustomClaim('module', typeof require('crypto').leaked);
          api.idToken.setCustomClaim('count', count);
          globalThis.leaked = event.secrets.KEY;
          Object.prototype.polluted = 'yes';
          require('crypto').leaked = 'yes';
        };
    "#;
    for _ in 0..3 {
        let out = action(&sb, code, json!({}), json!({"KEY": "from-an-earlier-run"})).await.unwrap();
        assert_eq!(
            out.value["commands"],
            json!([
                ["idToken.setCustomClaim", "global", "undefined"],
                ["idToken.setCustomClaim", "prototype", "undefined"],
                ["idToken.setCustomClaim", "module", "undefined"],
                ["idToken.setCustomClaim", "count", 1]
            ])
        );
    }
    // A database script neither.
    let probe =
        "function login(e, p, cb) { cb(null, { leaked: typeof leaked, configuration: typeof configuration.KEY }) }";
    let out = db(&sb, probe, json!(["a", "b"]), json!({})).await.unwrap();
    assert_eq!(args(&out), vec![json!({"leaked": "undefined", "configuration": "undefined"})]);
}
