//! Rendering a [`Query`] as a parameterized boolean SQL expression over `users`.
//!
//! Only fixed fragments and whitelisted column names are written into the SQL text; every
//! value and every metadata path goes through `$N` placeholders (which sqlx's SQLite driver
//! accepts too). A placeholder may be referenced more than once (a metadata path is
//! bound once and used several times); `params[i]` always belongs to
//! `$(first_placeholder + i)`.

use super::ast::{Bound, Clause, Field, Literal, Pattern, PatternPart, Predicate, Query, Target};
use super::fields::Kind;
use super::{parse, SearchError};
use crate::sql::{Dialect, SqlValue};

/// A compiled `q`: a boolean expression usable after `WHERE`, and the values for its
/// placeholders, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledQuery {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

/// Parse and compile `q` for `dialect`. Placeholders are numbered from
/// `first_placeholder` (`$first_placeholder`, `$first_placeholder + 1`, …); 0 is treated
/// as 1.
pub fn compile(q: &str, dialect: Dialect, first_placeholder: usize) -> Result<CompiledQuery, SearchError> {
    let query = parse(q)?;
    compile_query(&query, dialect, first_placeholder)
}

/// Compile an already-parsed query (see [`compile`]).
pub fn compile_query(query: &Query, dialect: Dialect, first_placeholder: usize) -> Result<CompiledQuery, SearchError> {
    let mut c = Compiler { dialect, next: first_placeholder.max(1), params: Vec::new() };
    let sql = c.query(query);
    Ok(CompiledQuery { sql, params: c.params })
}

/// The columns a bare term is matched against, with their kinds.
const DEFAULT_FIELDS: [Field; 6] =
    [Field::Email, Field::Name, Field::Nickname, Field::GivenName, Field::FamilyName, Field::Username];

struct Compiler {
    dialect: Dialect,
    next: usize,
    params: Vec<SqlValue>,
}

impl Compiler {
    fn bind(&mut self, value: SqlValue) -> String {
        let placeholder = format!("${}", self.next);
        self.next += 1;
        self.params.push(value);
        placeholder
    }

    fn text(&mut self, s: &str) -> String {
        self.bind(SqlValue::Text(s.to_string()))
    }

    fn literal(&mut self, lit: &Literal) -> String {
        self.bind(match lit {
            Literal::Text(s) => SqlValue::Text(s.clone()),
            Literal::Int(i) => SqlValue::Int(*i),
            Literal::Bool(b) => SqlValue::Bool(*b),
        })
    }

    fn query(&mut self, q: &Query) -> String {
        match q {
            Query::All => "1 = 1".to_string(),
            Query::And(items) => self.join(items, " AND "),
            Query::Or(items) => self.join(items, " OR "),
            // Leaves may be NULL (missing column); in a positive context NULL acts as false,
            // but under NOT it must become false first, or `NOT email:x` would skip users
            // without an email.
            Query::Not(inner) => format!("NOT COALESCE({}, FALSE)", self.query(inner)),
            Query::Clause(c) => self.clause(c),
        }
    }

    fn join(&mut self, items: &[Query], op: &str) -> String {
        let parts: Vec<String> = items.iter().map(|q| self.query(q)).collect();
        format!("({})", parts.join(op))
    }

    fn clause(&mut self, c: &Clause) -> String {
        match &c.target {
            Target::Default => {
                let parts: Vec<String> = DEFAULT_FIELDS
                    .iter()
                    .map(|f| {
                        let kind = match f.kind() {
                            Kind::Email => Kind::Email,
                            _ => Kind::TextCi,
                        };
                        self.scalar(f.column_sql(), kind, &c.predicate)
                    })
                    .collect();
                format!("({})", parts.join(" OR "))
            }
            Target::Field(field) => match field {
                Field::UserMetadata(path) | Field::AppMetadata(path) => {
                    self.metadata(field.column_sql(), path, &c.predicate)
                }
                Field::EmailDomain => self.email_domain(&c.predicate),
                _ => self.scalar(field.column_sql(), field.kind(), &c.predicate),
            },
        }
    }

    /// A clause over a plain column (or whitelisted column expression).
    fn scalar(&mut self, col: &str, kind: Kind, pred: &Predicate) -> String {
        let ci = kind == Kind::TextCi;
        let lhs = if ci { format!("lower({col})") } else { col.to_string() };
        match pred {
            Predicate::Exists => format!("{col} IS NOT NULL"),
            Predicate::Equals(lit) => {
                let rhs = self.value(kind, lit);
                format!("{lhs} = {rhs}")
            }
            Predicate::Wildcard(p) => {
                let p = if kind == Kind::Email { p.to_lowercase() } else { p.clone() };
                self.pattern_match(&lhs, &p, ci)
            }
            Predicate::Range { lower, upper } => {
                // PostgreSQL compares text by the database collation; "C" makes it byte
                // order like SQLite. Timestamps are fixed-width ASCII (bounds normalised),
                // so they keep the default collation and their index.
                let lhs =
                    if self.dialect == Dialect::Postgres && matches!(kind, Kind::Text | Kind::TextCi | Kind::Email) {
                        format!("{lhs} COLLATE \"C\"")
                    } else {
                        lhs
                    };
                let mut parts = Vec::new();
                for (bound, incl, excl) in [(lower, ">=", ">"), (upper, "<=", "<")] {
                    let (lit, op) = match bound {
                        Bound::Unbounded => continue,
                        Bound::Included(l) => (l, incl),
                        Bound::Excluded(l) => (l, excl),
                    };
                    let rhs = self.value(kind, lit);
                    parts.push(format!("{lhs} {op} {rhs}"));
                }
                if parts.is_empty() {
                    format!("{col} IS NOT NULL")
                } else {
                    format!("({})", parts.join(" AND "))
                }
            }
        }
    }

    /// A value's placeholder, lowercased as its kind requires.
    fn value(&mut self, kind: Kind, lit: &Literal) -> String {
        match (kind, lit) {
            (Kind::Email, Literal::Text(s)) => self.text(&s.to_lowercase()),
            (Kind::TextCi, _) => {
                let p = self.literal(lit);
                format!("lower({p})")
            }
            _ => self.literal(lit),
        }
    }

    /// `lhs` matches a wildcard pattern, case-sensitively (or, if `ci`, against a
    /// lowercased pattern — `lhs` is then already `lower(col)`).
    fn pattern_match(&mut self, lhs: &str, p: &Pattern, ci: bool) -> String {
        let (op, operand) = match self.dialect {
            Dialect::Sqlite => ("GLOB", p.to_glob()),
            Dialect::Postgres => ("LIKE", p.to_like()),
        };
        let rhs = self.text(&operand);
        if ci {
            format!("{lhs} {op} lower({rhs})")
        } else {
            format!("{lhs} {op} {rhs}")
        }
    }

    fn email_domain(&mut self, pred: &Predicate) -> String {
        let mut parts = vec![PatternPart::Any, PatternPart::Literal("@".to_string())];
        match pred {
            Predicate::Exists => return "email IS NOT NULL".to_string(),
            Predicate::Equals(Literal::Text(d)) => parts.push(PatternPart::Literal(d.clone())),
            Predicate::Wildcard(p) => {
                for part in &p.parts {
                    match (parts.last_mut(), part) {
                        (Some(PatternPart::Literal(prev)), PatternPart::Literal(s)) => prev.push_str(s),
                        _ => parts.push(part.clone()),
                    }
                }
            }
            // Rejected by the parser; match nothing rather than fail.
            Predicate::Equals(_) | Predicate::Range { .. } => return "1 = 0".to_string(),
        }
        let p = Pattern { parts }.to_lowercase();
        self.pattern_match("email", &p, false)
    }

    /// A clause over `user_metadata`/`app_metadata` at `path`. The value at the path is
    /// "exploded": a scalar yields itself, an array its elements, an object nothing; the
    /// clause holds if some element satisfies the condition.
    fn metadata(&mut self, col: &str, path: &[String], pred: &Predicate) -> String {
        match self.dialect {
            Dialect::Sqlite => {
                let json_path: String =
                    std::iter::once("$".to_string()).chain(path.iter().map(|seg| format!(".\"{seg}\""))).collect();
                let p = self.text(&json_path);
                if *pred == Predicate::Exists {
                    return format!(
                        "(CASE COALESCE(json_type({col}, {p}), 'null') \
                         WHEN 'null' THEN 0 \
                         WHEN 'array' THEN json_array_length({col}, {p}) > 0 \
                         WHEN 'object' THEN json_extract({col}, {p}) <> '{{}}' \
                         ELSE 1 END)"
                    );
                }
                let cond = self.element_condition(pred);
                format!(
                    "EXISTS (SELECT 1 FROM json_each({col}, {p}) AS j \
                     WHERE json_type({col}, {p}) <> 'object' AND {cond})"
                )
            }
            Dialect::Postgres => {
                let keys: Vec<String> = path.iter().map(|seg| self.text(seg)).collect();
                // `jsonb -> text` only looks up object keys (never array indexes), like
                // SQLite's `$."key"`.
                let e = format!("({col} -> {})", keys.join(" -> "));
                if *pred == Predicate::Exists {
                    return format!(
                        "(CASE COALESCE(jsonb_typeof({e}), 'null') \
                         WHEN 'null' THEN FALSE \
                         WHEN 'array' THEN {e} <> CAST('[]' AS jsonb) \
                         WHEN 'object' THEN {e} <> CAST('{{}}' AS jsonb) \
                         ELSE TRUE END)"
                    );
                }
                let cond = self.element_condition(pred);
                format!(
                    "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof({e}) \
                     WHEN 'array' THEN {e} WHEN 'object' THEN CAST('[]' AS jsonb) \
                     ELSE jsonb_build_array({e}) END) AS j(v) WHERE {cond})"
                )
            }
        }
    }

    /// The condition on one exploded JSON element: SQLite `j.type`/`j.value` (from
    /// `json_each`), PostgreSQL `j.v` (jsonb).
    fn element_condition(&mut self, pred: &Predicate) -> String {
        let sqlite = self.dialect == Dialect::Sqlite;
        match pred {
            Predicate::Exists => "1 = 1".to_string(),
            Predicate::Equals(lit) => {
                let raw = match lit {
                    Literal::Text(s) => s.clone(),
                    Literal::Int(i) => i.to_string(),
                    Literal::Bool(b) => b.to_string(),
                };
                let mut alts = Vec::new();
                let s = self.text(&raw);
                alts.push(if sqlite {
                    format!("(j.type = 'text' AND j.value = {s})")
                } else {
                    format!("j.v = to_jsonb(CAST({s} AS TEXT))")
                });
                if let Some(n) = json_number(&raw) {
                    alts.push(self.number_cmp(n, &raw, "="));
                }
                if raw == "true" || raw == "false" {
                    alts.push(if sqlite {
                        let b = self.text(&raw);
                        format!("j.type = {b}")
                    } else {
                        let b = self.bind(SqlValue::Bool(raw == "true"));
                        format!("j.v = to_jsonb(CAST({b} AS BOOLEAN))")
                    });
                }
                format!("({})", alts.join(" OR "))
            }
            Predicate::Wildcard(p) => {
                if sqlite {
                    let g = self.text(&p.to_glob());
                    format!("(j.type = 'text' AND j.value GLOB {g})")
                } else {
                    let l = self.text(&p.to_like());
                    format!("(jsonb_typeof(j.v) = 'string' AND (j.v #>> '{{}}') LIKE {l})")
                }
            }
            Predicate::Range { lower, upper } => {
                let bounds: Vec<(&Literal, &str)> = [(lower, ">=", ">"), (upper, "<=", "<")]
                    .into_iter()
                    .filter_map(|(b, incl, excl)| match b {
                        Bound::Unbounded => None,
                        Bound::Included(l) => Some((l, incl)),
                        Bound::Excluded(l) => Some((l, excl)),
                    })
                    .collect();
                let texts: Vec<String> = bounds
                    .iter()
                    .map(|(l, _)| match l {
                        Literal::Text(s) => s.clone(),
                        Literal::Int(i) => i.to_string(),
                        Literal::Bool(b) => b.to_string(),
                    })
                    .collect();
                let numbers: Option<Vec<JsonNumber>> = texts.iter().map(|t| json_number(t)).collect();
                let mut parts = Vec::new();
                match numbers {
                    Some(numbers) => {
                        parts.push(if sqlite {
                            "j.type IN ('integer', 'real')".to_string()
                        } else {
                            "jsonb_typeof(j.v) = 'number'".to_string()
                        });
                        for ((n, (_, op)), raw) in numbers.into_iter().zip(&bounds).zip(&texts) {
                            parts.push(self.number_cmp(n, raw, op));
                        }
                    }
                    None => {
                        parts.push(if sqlite {
                            "j.type = 'text'".to_string()
                        } else {
                            "jsonb_typeof(j.v) = 'string'".to_string()
                        });
                        for (raw, (_, op)) in texts.iter().zip(&bounds) {
                            let t = self.text(raw);
                            parts.push(if sqlite {
                                format!("j.value {op} {t}")
                            } else {
                                format!("(j.v #>> '{{}}') COLLATE \"C\" {op} {t}")
                            });
                        }
                    }
                }
                format!("({})", parts.join(" AND "))
            }
        }
    }

    /// The element is a JSON number and `element <op> n`.
    fn number_cmp(&mut self, n: JsonNumber, raw: &str, op: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => {
                let p = self.bind(match n {
                    JsonNumber::Int(i) => SqlValue::Int(i),
                    JsonNumber::Float(f) => SqlValue::Float(f),
                });
                format!("(j.type IN ('integer', 'real') AND j.value {op} {p})")
            }
            // jsonb numbers compare numerically (`30` = `30.0`); NUMERIC is exact.
            Dialect::Postgres => {
                let p = self.text(raw);
                format!("(jsonb_typeof(j.v) = 'number' AND j.v {op} to_jsonb(CAST({p} AS NUMERIC)))")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum JsonNumber {
    Int(i64),
    Float(f64),
}

/// `s` if it is a JSON number literal representable as an `i64` or a finite `f64`.
fn json_number(s: &str) -> Option<JsonNumber> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b.get(int_start) == Some(&b'0')) {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    if let Ok(v) = s.parse::<i64>() {
        return Some(JsonNumber::Int(v));
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() => Some(JsonNumber::Float(f)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn sql(q: &str, dialect: Dialect) -> CompiledQuery {
        match compile(q, dialect, 1) {
            Ok(c) => c,
            Err(e) => panic!("{q:?}: {e}"),
        }
    }

    fn t(s: &str) -> SqlValue {
        SqlValue::Text(s.to_string())
    }

    #[test]
    fn scalar_fields() {
        let c = sql("email:Alice@Example.com AND blocked:true", Dialect::Sqlite);
        assert_eq!(c.sql, "(email = $1 AND blocked = $2)");
        assert_eq!(c.params, vec![t("alice@example.com"), SqlValue::Bool(true)]);

        let c = sql("name:Jane", Dialect::Postgres);
        assert_eq!(c.sql, "lower(name) = lower($1)");

        let c = compile("logins_count:[1 TO 5}", Dialect::Sqlite, 4).ok();
        assert_eq!(
            c,
            Some(CompiledQuery {
                sql: "(logins_count >= $4 AND logins_count < $5)".into(),
                params: vec![SqlValue::Int(1), SqlValue::Int(5)],
            })
        );

        let c = sql("NOT _exists_:email", Dialect::Postgres);
        assert_eq!(c.sql, "NOT COALESCE(email IS NOT NULL, FALSE)");

        let c = sql("identities.user_id:123", Dialect::Sqlite);
        assert_eq!(c.sql, "substr(user_id, length(provider) + 2) = $1");

        let c = sql("name:[a TO b]", Dialect::Postgres);
        assert_eq!(c.sql, "(lower(name) COLLATE \"C\" >= lower($1) AND lower(name) COLLATE \"C\" <= lower($2))");
    }

    #[test]
    fn wildcards_escape_metacharacters() {
        let c = sql(r"username:a_%\*[?*", Dialect::Postgres);
        assert_eq!(c.sql, "username LIKE $1");
        assert_eq!(c.params, vec![t(r"a\_\%*[?%")]);

        let c = sql(r"username:a_%\*[?*", Dialect::Sqlite);
        assert_eq!(c.sql, "username GLOB $1");
        assert_eq!(c.params, vec![t("a_%[*][[][?]*")]);

        let c = sql(r#"email.domain:"Example.com""#, Dialect::Sqlite);
        assert_eq!(c.sql, "email GLOB $1");
        assert_eq!(c.params, vec![t("*@example.com")]);
    }

    #[test]
    fn metadata_paths_are_bound() {
        let c = sql("user_metadata.a.b:x", Dialect::Sqlite);
        assert_eq!(c.params.first(), Some(&t("$.\"a\".\"b\"")));
        assert!(!c.sql.contains("\"a\""), "{}", c.sql);
        let c = sql("user_metadata.a.b:x", Dialect::Postgres);
        assert_eq!(c.params.get(..2), Some(&[t("a"), t("b")][..]));
        assert!(c.sql.starts_with("EXISTS"), "{}", c.sql);
    }

    #[test]
    fn user_text_never_reaches_sql() {
        let marker = "zqxjmarker";
        let queries = [
            format!("email:{marker}"),
            marker.to_string(),
            format!("{marker}*"),
            format!("name:\"{marker} x\""),
            format!("user_metadata.{marker}:1"),
            format!("app_metadata.{marker}.b:[a TO {marker}]"),
            format!("_exists_:app_metadata.{marker}"),
            format!("email.domain:{marker}"),
        ];
        for q in &queries {
            for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                let c = sql(q, dialect);
                assert!(!c.sql.contains(marker), "{q}: {}", c.sql);
                assert!(
                    c.params.iter().any(|p| matches!(p, SqlValue::Text(s) if s.contains(marker))),
                    "{q}: {:?}",
                    c.params
                );
            }
        }
    }

    #[test]
    fn json_numbers() {
        assert_eq!(json_number("30"), Some(JsonNumber::Int(30)));
        assert_eq!(json_number("-0"), Some(JsonNumber::Int(0)));
        assert_eq!(json_number("7.5"), Some(JsonNumber::Float(7.5)));
        assert_eq!(json_number("1e3"), Some(JsonNumber::Float(1000.0)));
        for bad in ["", "-", "01", "1.", ".5", "1e", "+1", "0x10", "inf", "NaN", "1e999", " 1"] {
            assert_eq!(json_number(bad), None, "{bad:?}");
        }
    }
}
