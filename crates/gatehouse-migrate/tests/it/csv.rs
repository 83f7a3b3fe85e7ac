use super::*;
use serde_json::json;

#[test]
fn auth0_field_headers_need_no_mapping() {
    let (ok, bad) = import(Format::Csv, "users.csv", ReadOptions::default(), &db());
    assert_eq!(ok.len(), 2);
    let kim = by_email(&ok, "kim@example.com");
    assert_eq!(kim.user.family_name.as_deref(), Some("O'Neil, Jr."));
    assert!(kim.user.email_verified);
    assert_eq!(serde_json::Value::Object(kim.user.user_metadata.clone()), json!({"plan": "free"}));
    assert_eq!(serde_json::Value::Object(kim.user.app_metadata.clone()), json!({"tier": "gold"}));
    assert_eq!(check_passwords(&ok), 2, "bcrypt and passlib pbkdf2-sha256");
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].index, 1);
    assert_eq!(codes(&bad[0]), vec![("email_verified", "INVALID_TYPE")]);
}

fn mapping() -> Vec<(String, String)> {
    [
        ("E-mail Address", "email"),
        ("First", "given_name"),
        ("Last", "family_name"),
        ("Favourite Colour", "user_metadata.colour"),
        ("Hash", "password_hash"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

#[test]
fn column_mapping() {
    let opts = ReadOptions { csv_columns: Some(mapping()), ..ReadOptions::default() };
    let (ok, bad) = import(Format::Csv, "users-mapped.csv", opts, &db());
    assert!(bad.is_empty());
    let nia = by_email(&ok, "nia@example.com");
    assert_eq!(nia.user.given_name.as_deref(), Some("Nia"));
    assert_eq!(serde_json::Value::Object(nia.user.user_metadata.clone()), json!({"colour": "teal"}));
    assert_eq!(check_passwords(&ok), 1);
}

#[test]
fn unknown_columns_are_file_errors() {
    let e = records(Format::Csv, fixture("users-mapped.csv"), ReadOptions::default()).next().unwrap().unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.message.contains("\"E-mail Address\""), "{e}");
    let mut m = mapping();
    m.push(("Shoe Size".into(), "user_metadata.shoe".into()));
    let opts = ReadOptions { csv_columns: Some(m), ..ReadOptions::default() };
    let e = records(Format::Csv, fixture("users-mapped.csv"), opts).next().unwrap().unwrap_err();
    assert!(e.message.contains("\"Shoe Size\""), "{e}");
    let opts = ReadOptions { csv_columns: Some(vec![("First".into(), "nickname_x".into())]), ..ReadOptions::default() };
    assert!(records(Format::Csv, fixture("users-mapped.csv"), opts).next().unwrap().is_err());
}

#[test]
fn ragged_rows_stop_with_a_position() {
    let file = "email,name\na@example.com,A\nb@example.com\nc@example.com,C\n";
    let got: Vec<_> = records(Format::Csv, file.as_bytes(), ReadOptions::default()).collect();
    assert_eq!(got.len(), 2);
    assert!(got[0].is_ok());
    let e = got[1].as_ref().unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.message.contains("1 fields but the header has 2"), "{e}");
}
