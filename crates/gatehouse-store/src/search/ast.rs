//! The validated query tree produced by [`super::parse`].

use std::fmt;

/// A parsed, validated `q`. Boolean structure is already resolved from Lucene's clause
/// modifiers into plain `And`/`Or`/`Not`.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// `*`: every user.
    All,
    And(Vec<Query>),
    Or(Vec<Query>),
    /// Matches every user the inner query does not match (including users lacking the field).
    Not(Box<Query>),
    Clause(Clause),
}

/// One `field:value` (or bare `value`) clause.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub target: Target,
    pub predicate: Predicate,
}

/// What a clause is matched against.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A bare term: email, name, nickname, given_name, family_name or username.
    Default,
    Field(Field),
}

/// A searchable field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    UserId,
    Email,
    /// `email.domain`: the part of the email after the `@`.
    EmailDomain,
    EmailVerified,
    Username,
    PhoneNumber,
    PhoneVerified,
    Name,
    Nickname,
    GivenName,
    FamilyName,
    IdentitiesConnection,
    IdentitiesProvider,
    /// `identities.user_id`: the user id without its `provider|` prefix.
    IdentitiesUserId,
    Blocked,
    LoginsCount,
    LastLogin,
    LastIp,
    CreatedAt,
    UpdatedAt,
    /// `user_metadata.<path>`; the path's segments, validated.
    UserMetadata(Vec<String>),
    /// `app_metadata.<path>`; the path's segments, validated.
    AppMetadata(Vec<String>),
}

/// How a clause matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// `_exists_:field` or `field:*`.
    Exists,
    /// Exact match. Timestamps are normalised to `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    Equals(Literal),
    /// An unquoted value with at least one unescaped `*`.
    Wildcard(Pattern),
    /// A range; at least one bound is closed.
    Range { lower: Bound, upper: Bound },
}

/// A typed value. Metadata values are kept as `Text` (their JSON interpretation is decided
/// at compile time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// One end of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    Unbounded,
    Included(Literal),
    Excluded(Literal),
}

/// A wildcard pattern: literal runs separated by `*`. Never two `Any` in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub parts: Vec<PatternPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternPart {
    Literal(String),
    /// `*`: any run of characters, possibly empty.
    Any,
}

impl Pattern {
    /// The pattern as a SQLite `GLOB` operand (case-sensitive): `*` for `Any`, and the
    /// glob metacharacters `*`, `?`, `[` in literals wrapped in brackets.
    pub fn to_glob(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                PatternPart::Any => out.push('*'),
                PatternPart::Literal(s) => {
                    for c in s.chars() {
                        match c {
                            '*' | '?' | '[' => {
                                out.push('[');
                                out.push(c);
                                out.push(']');
                            }
                            _ => out.push(c),
                        }
                    }
                }
            }
        }
        out
    }

    /// The pattern as a PostgreSQL `LIKE` operand with the default `\` escape.
    pub fn to_like(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                PatternPart::Any => out.push('%'),
                PatternPart::Literal(s) => {
                    for c in s.chars() {
                        if matches!(c, '%' | '_' | '\\') {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                }
            }
        }
        out
    }

    /// The same pattern with every literal lowercased.
    pub fn to_lowercase(&self) -> Pattern {
        Pattern {
            parts: self
                .parts
                .iter()
                .map(|p| match p {
                    PatternPart::Literal(s) => PatternPart::Literal(s.to_lowercase()),
                    PatternPart::Any => PatternPart::Any,
                })
                .collect(),
        }
    }

    /// Number of literal characters.
    pub fn literal_len(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                PatternPart::Literal(s) => s.chars().count(),
                PatternPart::Any => 0,
            })
            .sum()
    }
}

impl Field {
    /// The field's name in the query language.
    pub fn name(&self) -> String {
        let fixed = match self {
            Field::UserId => "user_id",
            Field::Email => "email",
            Field::EmailDomain => "email.domain",
            Field::EmailVerified => "email_verified",
            Field::Username => "username",
            Field::PhoneNumber => "phone_number",
            Field::PhoneVerified => "phone_verified",
            Field::Name => "name",
            Field::Nickname => "nickname",
            Field::GivenName => "given_name",
            Field::FamilyName => "family_name",
            Field::IdentitiesConnection => "identities.connection",
            Field::IdentitiesProvider => "identities.provider",
            Field::IdentitiesUserId => "identities.user_id",
            Field::Blocked => "blocked",
            Field::LoginsCount => "logins_count",
            Field::LastLogin => "last_login",
            Field::LastIp => "last_ip",
            Field::CreatedAt => "created_at",
            Field::UpdatedAt => "updated_at",
            Field::UserMetadata(path) => return format!("user_metadata.{}", path.join(".")),
            Field::AppMetadata(path) => return format!("app_metadata.{}", path.join(".")),
        };
        fixed.to_string()
    }
}

// A compact, unambiguous rendering used by tests and debug logs:
// `(AND a (NOT b))`, `email="x"`, `logins_count:[1 TO *}`, `name~"jo*"`, `_exists_:email`.
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::All => f.write_str("*"),
            Query::And(items) | Query::Or(items) => {
                f.write_str(if matches!(self, Query::And(_)) { "(AND" } else { "(OR" })?;
                for item in items {
                    write!(f, " {item}")?;
                }
                f.write_str(")")
            }
            Query::Not(inner) => write!(f, "(NOT {inner})"),
            Query::Clause(c) => c.fmt(f),
        }
    }
}

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match &self.target {
            Target::Default => "_default_".to_string(),
            Target::Field(field) => field.name(),
        };
        match &self.predicate {
            Predicate::Exists => write!(f, "_exists_:{name}"),
            Predicate::Equals(lit) => write!(f, "{name}={lit}"),
            Predicate::Wildcard(p) => write!(f, "{name}~{p}"),
            Predicate::Range { lower, upper } => {
                write!(f, "{name}:")?;
                match lower {
                    Bound::Unbounded => f.write_str("[*")?,
                    Bound::Included(l) => write!(f, "[{l}")?,
                    Bound::Excluded(l) => write!(f, "{{{l}")?,
                }
                f.write_str(" TO ")?;
                match upper {
                    Bound::Unbounded => f.write_str("*]"),
                    Bound::Included(l) => write!(f, "{l}]"),
                    Bound::Excluded(l) => write!(f, "{l}}}"),
                }
            }
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Text(s) => write!(f, "{s:?}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        for part in &self.parts {
            match part {
                PatternPart::Any => s.push('*'),
                PatternPart::Literal(l) => {
                    for c in l.chars() {
                        if c == '*' || c == '\\' {
                            s.push('\\');
                        }
                        s.push(c);
                    }
                }
            }
        }
        write!(f, "{s:?}")
    }
}
