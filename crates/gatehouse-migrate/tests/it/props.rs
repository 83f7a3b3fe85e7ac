use super::*;
use gatehouse_migrate::{write_export, ExportField, ExportFormat, ExportOptions};
use proptest::prelude::*;
use serde_json::{json, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[\\[\\]{},:\"\\\\ a-z\\n\\u{e9}\\u{1F600}]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z\"\\]]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The array splitter yields exactly the elements serde_json would, whatever their
    /// content and the file's layout.
    #[test]
    fn splitter_is_faithful(items in prop::collection::vec(json_value(), 0..8), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&items) } else { serde_json::to_string(&items) }.unwrap();
        let got: Vec<Value> = records(Format::Auth0Json, text.as_bytes(), ReadOptions::default())
            .map(|r| r.unwrap().user)
            .collect();
        prop_assert_eq!(got, items.clone());
        prop_assert_eq!(gatehouse_migrate::check_file(Format::Auth0Json, text.as_bytes(), &ReadOptions::default()), Ok(items.len() as u64));
    }

    /// Arbitrary bytes: every reader returns (records or one file error), never panics,
    /// and validation of whatever comes out never panics.
    #[test]
    fn readers_survive_garbage(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for format in Format::ALL {
            for r in records(format, bytes.as_slice(), ReadOptions::default()).take(64).flatten() {
                let _ = validate(&r, &db(), &Hasher::default(), NOW);
            }
            let _ = gatehouse_migrate::check_file(format, bytes.as_slice(), &ReadOptions::default());
        }
    }

    /// Any name survives CSV export (with its injection escaping) and CSV import.
    #[test]
    fn csv_cells_round_trip(name in "[^\\u{0}]{1,40}") {
        let r = gatehouse_migrate::RawRecord { index: 0, line: 1, user: json!({"email": "a@example.com", "given_name": name}), mapping_errors: vec![] };
        let Ok(u) = validate(&r, &db(), &Hasher::default(), NOW) else { return Ok(()) };
        let fields = [ExportField::new("email"), ExportField::new("given_name")];
        let opts = ExportOptions { format: ExportFormat::Csv, fields: Some(&fields), include_password_hashes: false, include_mfa_factors: false };
        let mut buf = Vec::new();
        write_export(&opts, &Hasher::default(), [&u.user], &mut buf).unwrap();
        let back: Vec<_> = records(Format::Csv, buf.as_slice(), ReadOptions::default()).collect();
        prop_assert_eq!(back.len(), 1);
        let back = back.into_iter().next().unwrap().unwrap();
        prop_assert_eq!(back.user["given_name"].as_str(), Some(name.as_str()));
    }
}
