//! The field table: which names are searchable, what type each has, and how a raw value
//! becomes a typed [`Predicate`].

use super::ast::{Bound, Field, Literal, Pattern, PatternPart, Predicate, Target};
use super::{SearchError, MAX_PATH_SEGMENTS};

/// How a field's values are typed and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Case-sensitive text.
    Text,
    /// Case-insensitive text (`lower(col)` against `lower($n)`).
    TextCi,
    /// Case-insensitive, stored lowercased: value lowercased in Rust.
    Email,
    EmailDomain,
    Bool,
    Int,
    Timestamp,
    UserMeta,
    AppMeta,
}

impl Field {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Field::UserId
            | Field::Username
            | Field::PhoneNumber
            | Field::IdentitiesConnection
            | Field::IdentitiesProvider
            | Field::IdentitiesUserId
            | Field::LastIp => Kind::Text,
            Field::Name | Field::Nickname | Field::GivenName | Field::FamilyName => Kind::TextCi,
            Field::Email => Kind::Email,
            Field::EmailDomain => Kind::EmailDomain,
            Field::EmailVerified | Field::PhoneVerified | Field::Blocked => Kind::Bool,
            Field::LoginsCount => Kind::Int,
            Field::LastLogin | Field::CreatedAt | Field::UpdatedAt => Kind::Timestamp,
            Field::UserMetadata(_) => Kind::UserMeta,
            Field::AppMetadata(_) => Kind::AppMeta,
        }
    }

    /// The SQL expression for a scalar field (fixed text from this whitelist; never input).
    pub(crate) fn column_sql(&self) -> &'static str {
        match self {
            Field::UserId => "user_id",
            Field::Email | Field::EmailDomain => "email",
            Field::EmailVerified => "email_verified",
            Field::Username => "username",
            Field::PhoneNumber => "phone_number",
            Field::PhoneVerified => "phone_verified",
            Field::Name => "name",
            Field::Nickname => "nickname",
            Field::GivenName => "given_name",
            Field::FamilyName => "family_name",
            Field::IdentitiesConnection => "connection",
            Field::IdentitiesProvider => "provider",
            // user_id is `<provider>|<id>`; the identity's user_id is what follows the bar.
            Field::IdentitiesUserId => "substr(user_id, length(provider) + 2)",
            Field::Blocked => "blocked",
            Field::LoginsCount => "logins_count",
            Field::LastLogin => "last_login",
            Field::LastIp => "last_ip",
            Field::CreatedAt => "created_at",
            Field::UpdatedAt => "updated_at",
            Field::UserMetadata(_) => "user_metadata",
            Field::AppMetadata(_) => "app_metadata",
        }
    }
}

/// Resolve a field name as written in the query.
pub(crate) fn resolve_field(name: &str, position: usize) -> Result<Field, SearchError> {
    let field = match name {
        "user_id" => Field::UserId,
        "email" => Field::Email,
        "email.domain" => Field::EmailDomain,
        "email_verified" => Field::EmailVerified,
        "username" => Field::Username,
        "phone_number" => Field::PhoneNumber,
        "phone_verified" => Field::PhoneVerified,
        "name" => Field::Name,
        "nickname" => Field::Nickname,
        "given_name" => Field::GivenName,
        "family_name" => Field::FamilyName,
        "identities.connection" => Field::IdentitiesConnection,
        "identities.provider" => Field::IdentitiesProvider,
        "identities.user_id" => Field::IdentitiesUserId,
        "blocked" => Field::Blocked,
        "logins_count" => Field::LoginsCount,
        "last_login" => Field::LastLogin,
        "last_ip" => Field::LastIp,
        "created_at" => Field::CreatedAt,
        "updated_at" => Field::UpdatedAt,
        "picture" | "password_hash" | "last_password_reset" | "identities.isSocial" | "identities" => {
            return Err(SearchError::Unsupported { message: format!("field '{name}' is not searchable"), position })
        }
        "connection" | "provider" => {
            return Err(SearchError::Unsupported {
                message: format!("field '{name}' is not searchable; use 'identities.{name}'"),
                position,
            })
        }
        "user_metadata" | "app_metadata" => {
            return Err(SearchError::Unsupported {
                message: format!("field '{name}' needs a path, e.g. '{name}.plan'"),
                position,
            })
        }
        _ => {
            if let Some(rest) = name.strip_prefix("user_metadata.") {
                Field::UserMetadata(metadata_path(name, rest, position)?)
            } else if let Some(rest) = name.strip_prefix("app_metadata.") {
                Field::AppMetadata(metadata_path(name, rest, position)?)
            } else {
                return Err(SearchError::UnknownField { field: name.to_string(), position });
            }
        }
    };
    Ok(field)
}

fn metadata_path(name: &str, rest: &str, position: usize) -> Result<Vec<String>, SearchError> {
    let segments: Vec<String> = rest.split('.').map(str::to_string).collect();
    if segments.len() > MAX_PATH_SEGMENTS {
        return Err(SearchError::Unsupported {
            message: format!("field '{name}' is nested deeper than {MAX_PATH_SEGMENTS} levels"),
            position,
        });
    }
    for seg in &segments {
        if seg.is_empty() {
            return Err(SearchError::InvalidValue {
                message: format!("field '{name}' has an empty path segment"),
                position,
            });
        }
        if let Some(bad) = seg.chars().find(|c| !valid_key_char(*c)) {
            return Err(SearchError::InvalidValue {
                message: format!("field '{name}' contains the invalid character {bad:?}"),
                position,
            });
        }
    }
    Ok(segments)
}

/// Characters allowed in a metadata key. Quotes, `$`, `\`, brackets and wildcards are
/// excluded so that a key can be embedded in a SQLite JSON path (`$."key"`) without any
/// escaping; it is still bound as a parameter, never spliced into SQL.
fn valid_key_char(c: char) -> bool {
    !(c.is_whitespace()
        || c.is_control()
        || matches!(c, '"' | '\'' | '$' | '\\' | '*' | '?' | '[' | ']' | '{' | '}' | '(' | ')' | ':' | '`'))
}

/// A value as written, before typing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawValue {
    /// `"…"`: exact, `*` literal.
    Phrase(String),
    /// An unquoted word: each char with "was escaped".
    Word(Vec<(char, bool)>),
    Range {
        lower: RawBound,
        upper: RawBound,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawBound {
    /// `*`
    Open,
    Included(String),
    Excluded(String),
}

/// The outcome of typing a clause.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Typed {
    /// A bare `*`: everything.
    All,
    Predicate(Predicate),
}

/// Turn a raw value for `target` into a typed predicate, checking everything Auth0 checks.
pub(crate) fn type_clause(target: &Target, raw: RawValue, position: usize) -> Result<Typed, SearchError> {
    let (kind, name) = match target {
        Target::Default => (None, String::new()),
        Target::Field(f) => (Some(f.kind()), f.name()),
    };
    let unsupported = |what: &str| SearchError::Unsupported {
        message: if name.is_empty() {
            format!("{what} need a field, e.g. 'logins_count:[1 TO 5]'")
        } else {
            format!("{what} are not supported on field '{name}'")
        },
        position,
    };
    match raw {
        RawValue::Phrase(s) => Ok(Typed::Predicate(equals(kind, &name, s, position)?)),
        RawValue::Word(chars) => {
            if chars.iter().all(|(c, esc)| *c == '*' && !*esc) {
                // `field:*` ≡ `_exists_:field`; a bare `*` matches everyone.
                return Ok(match kind {
                    None => Typed::All,
                    Some(_) => Typed::Predicate(Predicate::Exists),
                });
            }
            if !chars.iter().any(|(c, esc)| *c == '*' && !*esc) {
                let s: String = chars.iter().map(|(c, _)| *c).collect();
                return Ok(Typed::Predicate(equals(kind, &name, s, position)?));
            }
            if let Some(Kind::Bool | Kind::Int | Kind::UserMeta) = kind {
                return Err(unsupported("wildcards"));
            }
            let pattern = to_pattern(&chars);
            if matches!(pattern.parts.first(), Some(PatternPart::Any)) && pattern.literal_len() < 3 {
                return Err(SearchError::Unsupported {
                    message: "a leading wildcard needs at least 3 other characters, e.g. '*abc'".to_string(),
                    position,
                });
            }
            Ok(Typed::Predicate(Predicate::Wildcard(pattern)))
        }
        RawValue::Range { lower, upper } => {
            let kind = match kind {
                None => return Err(unsupported("ranges")),
                Some(Kind::EmailDomain | Kind::Bool | Kind::UserMeta) => return Err(unsupported("ranges")),
                Some(k) => k,
            };
            if lower == RawBound::Open && upper == RawBound::Open {
                return Ok(Typed::Predicate(Predicate::Exists));
            }
            let lower = bound(kind, &name, lower, false, position)?;
            let upper = bound(kind, &name, upper, true, position)?;
            Ok(Typed::Predicate(Predicate::Range { lower, upper }))
        }
    }
}

fn to_pattern(chars: &[(char, bool)]) -> Pattern {
    let mut parts = Vec::new();
    let mut lit = String::new();
    for (c, esc) in chars {
        if *c == '*' && !*esc {
            if !lit.is_empty() {
                parts.push(PatternPart::Literal(std::mem::take(&mut lit)));
            }
            if parts.last() != Some(&PatternPart::Any) {
                parts.push(PatternPart::Any);
            }
        } else {
            lit.push(*c);
        }
    }
    if !lit.is_empty() {
        parts.push(PatternPart::Literal(lit));
    }
    Pattern { parts }
}

fn equals(kind: Option<Kind>, name: &str, s: String, position: usize) -> Result<Predicate, SearchError> {
    Ok(match kind {
        Some(Kind::Bool) => Predicate::Equals(Literal::Bool(parse_bool(name, &s, position)?)),
        Some(Kind::Int) => Predicate::Equals(Literal::Int(parse_int(name, &s, position)?)),
        Some(Kind::Timestamp) => match parse_timestamp(name, &s, position)? {
            Timestamp::Day { start, end } => Predicate::Range {
                lower: Bound::Included(Literal::Text(start)),
                upper: Bound::Included(Literal::Text(end)),
            },
            Timestamp::Instant(t) => Predicate::Equals(Literal::Text(t)),
        },
        _ => Predicate::Equals(Literal::Text(s)),
    })
}

fn bound(kind: Kind, name: &str, raw: RawBound, upper: bool, position: usize) -> Result<Bound, SearchError> {
    let (s, inclusive) = match raw {
        RawBound::Open => return Ok(Bound::Unbounded),
        RawBound::Included(s) => (s, true),
        RawBound::Excluded(s) => (s, false),
    };
    let lit = match kind {
        Kind::Int => Literal::Int(parse_int(name, &s, position)?),
        Kind::Timestamp => match parse_timestamp(name, &s, position)? {
            Timestamp::Instant(t) => Literal::Text(t),
            // Elasticsearch date rounding: `gte`/`lt` round a day down to its first
            // millisecond, `gt`/`lte` up to its last.
            Timestamp::Day { start, end } => Literal::Text(if upper == inclusive { end } else { start }),
        },
        _ => Literal::Text(s),
    };
    Ok(if inclusive { Bound::Included(lit) } else { Bound::Excluded(lit) })
}

fn parse_bool(name: &str, s: &str, position: usize) -> Result<bool, SearchError> {
    if s.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if s.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(SearchError::InvalidValue { message: format!("field '{name}' takes true or false, not {s:?}"), position })
    }
}

fn parse_int(name: &str, s: &str, position: usize) -> Result<i64, SearchError> {
    s.parse::<i64>().map_err(|_| SearchError::InvalidValue {
        message: format!("field '{name}' takes an integer, not {s:?}"),
        position,
    })
}

enum Timestamp {
    /// A date-only value: the first and last millisecond of that day.
    Day { start: String, end: String },
    /// A full timestamp, normalised.
    Instant(String),
}

/// Accepts `YYYY-MM-DD` and RFC 3339 date-times (offset optional, UTC assumed), returning
/// the stored form `YYYY-MM-DDTHH:MM:SS.mmmZ` (sub-millisecond digits are truncated).
fn parse_timestamp(name: &str, s: &str, position: usize) -> Result<Timestamp, SearchError> {
    use time::format_description::well_known::Rfc3339;
    use time::{Date, Month, OffsetDateTime, UtcOffset};

    let invalid = || SearchError::InvalidValue {
        message: format!(
            "field '{name}' takes a date (2024-12-31) or an ISO-8601 timestamp \
             (2024-12-31T23:59:59.999Z), not {s:?}"
        ),
        position,
    };
    let b = s.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = s.get(r)?;
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        };
        let (y, m, d) = match (num(0..4), num(5..7), num(8..10)) {
            (Some(y), Some(m), Some(d)) => (y, m, d),
            _ => return Err(invalid()),
        };
        let month = u8::try_from(m).ok().and_then(|m| Month::try_from(m).ok()).ok_or_else(invalid)?;
        let day = u8::try_from(d).map_err(|_| invalid())?;
        let year = i32::try_from(y).map_err(|_| invalid())?;
        Date::from_calendar_date(year, month, day).map_err(|_| invalid())?;
        let date = format!("{y:04}-{m:02}-{d:02}");
        return Ok(Timestamp::Day { start: format!("{date}T00:00:00.000Z"), end: format!("{date}T23:59:59.999Z") });
    }
    let parsed = OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
        .map_err(|_| invalid())?
        .to_offset(UtcOffset::UTC);
    if !(0..=9999).contains(&parsed.year()) {
        return Err(invalid());
    }
    Ok(Timestamp::Instant(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        parsed.year(),
        u8::from(parsed.month()),
        parsed.day(),
        parsed.hour(),
        parsed.minute(),
        parsed.second(),
        parsed.millisecond()
    )))
}
