//! The `sort` parameter: `field:1` (ascending) or `field:-1` (descending).

use super::SearchError;

/// Compile `sort` to an `ORDER BY` list (without the `ORDER BY` keywords), e.g.
/// `created_at:-1` → `created_at DESC, user_id DESC`.
///
/// Only whitelisted scalar columns are accepted. `user_id` is always appended as a
/// tiebreaker, in the same direction, so paging is deterministic. Nullable columns get
/// `NULLS LAST` in both directions (Elasticsearch puts missing values last), which also
/// makes SQLite and PostgreSQL agree.
pub fn compile_sort(sort: &str) -> Result<String, SearchError> {
    let invalid = |message: String| SearchError::InvalidSort { message };
    let (field, direction) =
        sort.rsplit_once(':').ok_or_else(|| invalid(format!("{sort:?} does not match 'field:1' or 'field:-1'")))?;
    let direction = match direction {
        "1" => "ASC",
        "-1" => "DESC",
        _ => return Err(invalid(format!("{sort:?} does not match 'field:1' or 'field:-1'"))),
    };
    if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
        return Err(invalid(format!("{sort:?} does not match 'field:1' or 'field:-1'")));
    }
    let (column, nullable) = match field {
        "user_id" => ("user_id", false),
        "email" => ("email", true),
        "email_verified" => ("email_verified", false),
        "username" => ("username", true),
        "phone_number" => ("phone_number", true),
        "phone_verified" => ("phone_verified", false),
        "name" => ("name", true),
        "nickname" => ("nickname", true),
        "given_name" => ("given_name", true),
        "family_name" => ("family_name", true),
        "blocked" => ("blocked", false),
        "logins_count" => ("logins_count", false),
        "last_login" => ("last_login", true),
        "last_ip" => ("last_ip", true),
        "created_at" => ("created_at", false),
        "updated_at" => ("updated_at", false),
        _ if field == "user_metadata"
            || field == "app_metadata"
            || field.starts_with("user_metadata.")
            || field.starts_with("app_metadata.") =>
        {
            return Err(invalid(format!("metadata fields cannot be sorted on ('{field}')")));
        }
        _ => return Err(invalid(format!("field '{field}' cannot be sorted on"))),
    };
    let nulls = if nullable { " NULLS LAST" } else { "" };
    if column == "user_id" {
        Ok(format!("user_id {direction}"))
    } else {
        Ok(format!("{column} {direction}{nulls}, user_id {direction}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts() {
        let ok = [
            ("created_at:1", "created_at ASC, user_id ASC"),
            ("created_at:-1", "created_at DESC, user_id DESC"),
            ("email:1", "email ASC NULLS LAST, user_id ASC"),
            ("last_login:-1", "last_login DESC NULLS LAST, user_id DESC"),
            ("user_id:-1", "user_id DESC"),
            ("logins_count:1", "logins_count ASC, user_id ASC"),
        ];
        for (input, expected) in ok {
            assert_eq!(compile_sort(input).ok().as_deref(), Some(expected), "{input}");
        }
        let bad = [
            ("", "does not match"),
            ("created_at", "does not match"),
            ("created_at:2", "does not match"),
            ("created_at:+1", "does not match"),
            (":1", "does not match"),
            ("created at:1", "does not match"),
            ("name;DROP TABLE users:1", "does not match"),
            ("user_metadata.plan:1", "metadata fields cannot be sorted on"),
            ("app_metadata:-1", "metadata fields cannot be sorted on"),
            ("password_hash:1", "field 'password_hash' cannot be sorted on"),
            ("nmae:1", "field 'nmae' cannot be sorted on"),
        ];
        for (input, expected) in bad {
            match compile_sort(input) {
                Ok(s) => panic!("{input:?} accepted as {s}"),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.starts_with("Invalid sort: "), "{msg}");
                    assert!(msg.contains(expected), "{input:?}: {msg}");
                }
            }
        }
    }
}
