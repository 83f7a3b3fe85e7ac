use super::*;

#[test]
fn export_lines_reimport_without_doubling_the_prefix() {
    let (ok, bad) = import(Format::Ndjson, "auth0-export.ndjson", ReadOptions::default(), &db());
    assert_eq!(ok.len(), 2);
    let hank = by_email(&ok, "hank@example.com");
    assert_eq!(hank.user.user_id, "auth0|hank08");
    assert!(hank.user.email_verified);
    let ivy = by_email(&ok, "ivy@example.com");
    assert_eq!(ivy.user.user_id, "auth0|ivy09", "the extension's Id column");
    assert_eq!(ivy.user.given_name.as_deref(), Some("Ivy"));
    assert_eq!(check_passwords(&ok), 2);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].index, 2);
    assert_eq!(codes(&bad[0]), vec![("email", "OBJECT_REQUIRED")]);
}
