use super::*;
use gatehouse_migrate::{check_file, FileError, RawRecord};

fn read_all(format: Format, s: &str) -> Vec<Result<RawRecord, FileError>> {
    records(format, s.as_bytes(), ReadOptions::default()).collect()
}

#[test]
fn syntax_error_inside_a_record_has_an_absolute_position() {
    let file = "[{\"email\":\"a@b.co\"},\n {\"email\": \"x\" \"y\"}, {\"email\":\"c@d.co\"}]";
    let got = read_all(Format::Auth0Json, file);
    assert_eq!(got.len(), 2, "the reader stops at a file error");
    assert!(got[0].is_ok());
    let e = got[1].as_ref().unwrap_err();
    assert_eq!((e.line, e.column, e.offset), (2, 16, 22));
    assert!(e.message.starts_with("invalid JSON"), "{e}");
    assert_eq!(check_file(Format::Auth0Json, file.as_bytes(), &ReadOptions::default()).unwrap_err(), e.clone());
}

#[test]
fn structural_errors() {
    let cases: &[(Format, &str, &str)] = &[
        (Format::Auth0Json, "{\"email\":\"a@b.co\"}", "must be a JSON array"),
        (Format::Auth0Json, "", "empty"),
        (Format::Auth0Json, "[{\"email\":\"a@b.co\"}", "not closed"),
        (Format::Auth0Json, "[{\"email\":\"a@b.co\"}] []", "after the end"),
        (Format::Auth0Json, "[{\"email\":\"a@b.co\"} {}]", "expected ',' or ']'"),
        (Format::Auth0Json, "[{\"email\":\"a@b.co\",]", "invalid JSON"),
        (Format::Kratos, "[,]", "expected a value"),
        (Format::Firebase, "{\"kind\":\"x\"}", "no \"users\" array"),
        (Format::Firebase, "[]", "a JSON object with a \"users\" array"),
        (Format::Keycloak, "{\"users\":[{}], \"x\": }", "expected a value"),
        (Format::Ndjson, "{\"email\":\"a@b.co\"}\n{\"email\":\n", "invalid JSON"),
        (Format::Csv, "email,name\na@b.co\n", "1 fields but the header has 2"),
        (Format::Csv, "email,bogus\na@b.co,x\n", "column 2 \"bogus\""),
    ];
    for (format, file, want) in cases {
        let err = read_all(*format, file).into_iter().find_map(Result::err);
        let err = err.unwrap_or_else(|| panic!("{format} {file:?}: no error"));
        assert!(err.message.contains(want), "{format} {file:?}: {err}");
        let pre = check_file(*format, file.as_bytes(), &ReadOptions::default());
        assert!(pre.is_err(), "{format} {file:?}: the pre-pass accepted it");
    }
}

#[test]
fn ndjson_error_names_the_line() {
    let e = read_all(Format::Ndjson, "{\"email\":\"a@b.co\"}\n\n{oops}\n").into_iter().find_map(Result::err).unwrap();
    assert_eq!(e.line, 3);
}

#[test]
fn oversized_record_is_refused() {
    let big = format!("[{{\"email\":\"a@b.co\",\"name\":\"{}\"}}]", "x".repeat(2000));
    let opts = ReadOptions { max_record_bytes: 1000, ..ReadOptions::default() };
    let e = records(Format::Auth0Json, big.as_bytes(), opts.clone()).find_map(Result::err).unwrap();
    assert!(e.message.contains("larger than 1000 bytes"), "{e}");
    assert!(check_file(Format::Auth0Json, big.as_bytes(), &opts).is_err());
}

#[test]
fn a_non_object_element_is_a_record_error_not_a_file_error() {
    let (ok, bad): (Vec<_>, Vec<_>) =
        records(Format::Auth0Json, "[1, {\"email\":\"a@b.co\"}, null]".as_bytes(), ReadOptions::default())
            .map(|r| validate(&r.unwrap(), &db(), &Hasher::default(), NOW))
            .partition(Result::is_ok);
    assert_eq!(ok.len(), 1);
    let bad: Vec<_> = bad.into_iter().map(Result::unwrap_err).collect();
    assert_eq!(bad.iter().map(|e| e.index).collect::<Vec<_>>(), vec![0, 2]);
    assert_eq!(codes(&bad[0]), vec![("", "INVALID_TYPE")]);
}

#[test]
fn pre_pass_counts_every_fixture() {
    let opts = ReadOptions::default();
    for (format, file, n) in [
        (Format::Auth0Json, "auth0.json", 8),
        (Format::Ndjson, "auth0-export.ndjson", 3),
        (Format::Csv, "users.csv", 3),
        (Format::Firebase, "firebase.json", 3),
        (Format::Keycloak, "keycloak-realm.json", 5),
        (Format::Kratos, "kratos.json", 4),
    ] {
        assert_eq!(check_file(format, fixture(file), &opts), Ok(n), "{file}");
    }
}

#[test]
fn pre_pass_refuses_what_the_reader_refuses() {
    for file in ["[{\"n\": 1e400}]", "[{\"s\": \"\\ud800\"}]", "[{\"s\": \"\\x\"}]", "[{\"s\": \"\u{1}\"}]"] {
        let reader = records(Format::Auth0Json, file.as_bytes(), ReadOptions::default()).find_map(Result::err);
        let pre = check_file(Format::Auth0Json, file.as_bytes(), &ReadOptions::default()).err();
        assert!(reader.is_some(), "{file:?}");
        assert_eq!(pre, reader, "{file:?}");
    }
    let bad_utf8 = b"[{\"s\": \"\xff\"}]";
    let reader = records(Format::Auth0Json, &bad_utf8[..], ReadOptions::default()).find_map(Result::err);
    assert!(reader.is_some());
    assert_eq!(check_file(Format::Auth0Json, &bad_utf8[..], &ReadOptions::default()).err(), reader);
    let bad_csv = b"email\n\xff@example.com\n";
    assert!(records(Format::Csv, &bad_csv[..], ReadOptions::default()).any(|r| r.is_err()));
    assert!(check_file(Format::Csv, &bad_csv[..], &ReadOptions::default()).is_err());
}

#[test]
fn byte_order_marks_are_tolerated() {
    for (format, file) in [
        (Format::Auth0Json, "\u{feff}[{\"email\":\"a@b.co\"}]"),
        (Format::Ndjson, "\u{feff}{\"email\":\"a@b.co\"}\n"),
        (Format::Csv, "\u{feff}email\na@b.co\n"),
    ] {
        let got: Vec<_> = records(format, file.as_bytes(), ReadOptions::default()).collect();
        assert_eq!(got.len(), 1, "{format}");
        assert_eq!(
            got[0].as_ref().map(|r| r.user["email"].clone()).ok(),
            Some(serde_json::json!("a@b.co")),
            "{format}"
        );
    }
}

#[test]
fn progress_is_reported_in_bytes() {
    for (format, file) in [
        (Format::Auth0Json, "auth0.json"),
        (Format::Ndjson, "auth0-export.ndjson"),
        (Format::Csv, "users.csv"),
        (Format::Keycloak, "keycloak-realm.json"),
    ] {
        let size = fixture(file).get_ref().metadata().unwrap().len();
        let mut it = records(format, fixture(file), ReadOptions::default());
        let mut last = 0;
        while let Some(r) = it.next() {
            r.unwrap();
            assert!(it.bytes_read() > last, "{file}");
            last = it.bytes_read();
        }
        assert_eq!(it.bytes_read(), size, "{file}: all consumed");
        assert!(it.records_read() > 0);
    }
}
