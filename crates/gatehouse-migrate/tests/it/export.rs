use super::*;
use gatehouse_core::user::User;
use gatehouse_migrate::{write_export, ExportField, ExportFormat, ExportOptions, FirebaseHashConfig};
use serde_json::json;

/// Every valid user of every fixture: all hash families the fixtures have.
fn all_fixture_users() -> Vec<User> {
    let fb: serde_json::Value = serde_json::from_reader(fixture("firebase-hash-config.json")).unwrap();
    let fb = ReadOptions { firebase: Some(FirebaseHashConfig::from_json(&fb).unwrap()), ..ReadOptions::default() };
    let mut users = Vec::new();
    for (format, file, opts) in [
        (Format::Auth0Json, "auth0.json", ReadOptions::default()),
        (Format::Ndjson, "auth0-export.ndjson", ReadOptions::default()),
        (Format::Csv, "users.csv", ReadOptions::default()),
        (Format::Firebase, "firebase.json", fb),
        (Format::Keycloak, "keycloak-realm.json", ReadOptions::default()),
        (Format::Kratos, "kratos.json", ReadOptions::default()),
    ] {
        users.extend(import(format, file, opts, &db()).0.into_iter().map(|u| u.user));
    }
    users
}

#[test]
fn export_with_hashes_reimports_identically_in_every_format() {
    let users = all_fixture_users();
    assert_eq!(users.len(), 20, "18 with passwords, 2 without");
    for (out_format, in_format) in [
        (ExportFormat::Ndjson, Format::Ndjson),
        (ExportFormat::Csv, Format::Csv),
        (ExportFormat::JsonArray, Format::Auth0Json),
    ] {
        let opts = ExportOptions {
            format: out_format,
            fields: None,
            include_password_hashes: true,
            include_mfa_factors: false,
        };
        let mut buf = Vec::new();
        let n = write_export(&opts, &Hasher::default(), &users, &mut buf).unwrap();
        assert_eq!(n as usize, users.len());
        let hasher = Hasher::default();
        let back: Vec<ImportUser> = records(in_format, buf.as_slice(), ReadOptions::default())
            .map(|r| {
                let r = r.unwrap();
                validate(&r, &db(), &hasher, NOW).unwrap_or_else(|e| panic!("{out_format:?}: {e}"))
            })
            .collect();
        assert_eq!(back.len(), users.len(), "{out_format:?}");
        for (a, b) in users.iter().zip(&back) {
            let b = &b.user;
            assert_eq!(a.user_id, b.user_id, "{out_format:?}: no auth0|auth0| prefix");
            assert_eq!(a.password_hash, b.password_hash, "{out_format:?} {:?}: hash round-trips exactly", a.email);
            assert_eq!(
                (&a.email, a.email_verified, &a.given_name, &a.family_name, &a.name, &a.nickname, &a.picture),
                (&b.email, b.email_verified, &b.given_name, &b.family_name, &b.name, &b.nickname, &b.picture),
                "{out_format:?}"
            );
            assert_eq!((&a.user_metadata, &a.app_metadata, a.blocked), (&b.user_metadata, &b.app_metadata, b.blocked));
        }
        assert_eq!(check_passwords(&back), 18, "{out_format:?}");
    }
}

fn alice() -> User {
    let (ok, _) = import(Format::Auth0Json, "auth0.json", ReadOptions::default(), &db());
    by_email(&ok, "alice@example.com").user.clone()
}

#[test]
fn selected_fields_with_export_as() {
    let fields = [
        ExportField { name: "user_id".into(), export_as: Some("Id".into()) },
        ExportField { name: "identities[0].connection".into(), export_as: Some("Connection".into()) },
        ExportField::new("user_metadata.consent.given"),
        ExportField::new("created_at"),
        ExportField::new("nope.missing"),
    ];
    let opts = ExportOptions {
        format: ExportFormat::Ndjson,
        fields: Some(&fields),
        include_password_hashes: false,
        include_mfa_factors: false,
    };
    let mut buf = Vec::new();
    write_export(&opts, &Hasher::default(), [alice()], &mut buf).unwrap();
    let line: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(
        line,
        json!({"Id": "auth0|alice01", "Connection": "Username-Password-Authentication",
            "user_metadata.consent.given": true, "created_at": NOW})
    );
    assert!(buf.ends_with(b"}\n"));
}

#[test]
fn csv_is_escaped_against_injection() {
    let mut u = alice();
    u.given_name = Some("=HYPERLINK(\"x\")".into());
    let fields = [
        ExportField::new("email"),
        ExportField::new("given_name"),
        ExportField::new("email_verified"),
        ExportField::new("created_at"),
        ExportField::new("logins_count"),
        ExportField::new("family_name"),
        ExportField::new("phone_number"),
    ];
    let opts = ExportOptions {
        format: ExportFormat::Csv,
        fields: Some(&fields),
        include_password_hashes: false,
        include_mfa_factors: false,
    };
    let mut buf = Vec::new();
    write_export(&opts, &Hasher::default(), [&u], &mut buf).unwrap();
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        "\"'email\",\"'given_name\",\"'email_verified\",\"'created_at\",\"'logins_count\",\"'family_name\",\"'phone_number\"\n\
         \"'alice@example.com\",\"'=HYPERLINK(\"\"x\"\")\",true,\"2026-01-01T00:00:00.000Z\",0,\"'Archer\",\n"
    );
}

#[test]
fn default_export_reimports_as_ndjson() {
    let users = all_fixture_users();
    let opts = ExportOptions {
        format: ExportFormat::Ndjson,
        fields: None,
        include_password_hashes: false,
        include_mfa_factors: false,
    };
    let mut buf = Vec::new();
    write_export(&opts, &Hasher::default(), &users, &mut buf).unwrap();
    let first: serde_json::Value = serde_json::from_slice(buf.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert!(first["user_id"].as_str().unwrap().starts_with("auth0|"), "profile ids keep their provider");
    assert!(first.get("identities").is_some() && first.get("password_hash").is_none());
    let back: Vec<_> = records(Format::Ndjson, buf.as_slice(), ReadOptions::default())
        .map(|r| validate(&r.unwrap(), &db(), &Hasher::default(), NOW).unwrap())
        .collect();
    assert_eq!(
        back.iter().map(|u| &u.user.user_id).collect::<Vec<_>>(),
        users.iter().map(|u| &u.user_id).collect::<Vec<_>>()
    );
}

#[test]
fn bad_field_lists_are_refused() {
    let many: Vec<ExportField> = (0..31).map(|i| ExportField::new(&format!("user_metadata.f{i}"))).collect();
    let opts = ExportOptions {
        format: ExportFormat::Csv,
        fields: Some(&many),
        include_password_hashes: false,
        include_mfa_factors: false,
    };
    assert!(write_export(&opts, &Hasher::default(), Vec::<User>::new(), Vec::new()).is_err());
    let bad = [ExportField::new("identities[x]")];
    let opts = ExportOptions {
        format: ExportFormat::Ndjson,
        fields: Some(&bad),
        include_password_hashes: false,
        include_mfa_factors: false,
    };
    assert!(write_export(&opts, &Hasher::default(), Vec::<User>::new(), Vec::new()).is_err());
}

/// What the JSON writers must produce: each user's `to_auth0_json` profile restricted to
/// the fields (in their order, under their titles), then the hash's keys. The writers take
/// top-level fields straight from the `User`; this is the profile-based definition.
fn expected_json_line(u: &User, fields: &[&str], hashes: bool) -> String {
    let mut profile = u.to_auth0_json();
    if hashes {
        profile["user_id"] = json!(u.local_id());
    }
    let mut obj = serde_json::Map::new();
    for f in fields {
        let v = f.split('.').try_fold(&profile, |v, k| v.get(k));
        if let Some(v) = v.filter(|v| !v.is_null()) {
            obj.insert((*f).to_string(), v.clone());
        }
    }
    if hashes {
        if let Some(stored) = &u.password_hash {
            let h = Hasher::default().parse_stored(stored).unwrap().to_auth0_export();
            obj.extend(h.as_object().unwrap().clone());
        }
    }
    serde_json::to_string(&obj).unwrap()
}

#[test]
fn json_writers_match_the_profile_field_for_field() {
    let mut users = all_fixture_users();
    let mut odd = alice();
    odd.phone_number = Some("+14155550100".into());
    odd.phone_verified = true;
    odd.last_login = Some("2024-05-01T00:00:00.000Z".into());
    odd.last_ip = Some("192.0.2.1".into());
    odd.logins_count = 42;
    odd.name = Some("quote \" backslash \\ tab \t émoji 🚪 \u{0001}".into());
    odd.user_metadata = serde_json::from_value(json!({"z": 1, "a": [1.5, null, {"k": "v"}], "m": {}})).unwrap();
    users.push(odd);
    let defaults: Vec<&str> = gatehouse_migrate::DEFAULT_FIELDS.to_vec();
    let picked = ["logins_count", "email", "identities", "phone_verified", "last_password_reset"];
    // A path that is not a top-level key takes the general path: it must agree too.
    let mixed = ["logins_count", "user_metadata.z", "email", "nope"];
    let sets = [&defaults[..], &picked[..], &mixed[..]];
    for (fields, hashes) in sets.iter().flat_map(|f| [(*f, false), (*f, true)]) {
        let requested: Vec<ExportField> = fields.iter().map(|f| ExportField::new(f)).collect();
        for format in [ExportFormat::Ndjson, ExportFormat::JsonArray] {
            let opts = ExportOptions {
                format,
                fields: Some(&requested),
                include_password_hashes: hashes,
                include_mfa_factors: false,
            };
            let mut buf = Vec::new();
            write_export(&opts, &Hasher::default(), &users, &mut buf).unwrap();
            let text = String::from_utf8(buf).unwrap();
            let lines: Vec<String> = users.iter().map(|u| expected_json_line(u, fields, hashes)).collect();
            let want = match format {
                ExportFormat::Ndjson => lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
                _ => format!("[\n{}\n]\n", lines.join(",\n")),
            };
            assert_eq!(text, want, "{format:?} {fields:?} hashes={hashes}");
        }
    }
}
