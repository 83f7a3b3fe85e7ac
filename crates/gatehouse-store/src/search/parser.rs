//! A hand-written recursive-descent parser for Auth0's v3 (Lucene `query_string`) syntax.
//!
//! ```text
//! query   := group EOF
//! group   := clause+                      -- up to EOF or ')'
//! clause  := [conj] [modifier] primary
//! conj    := 'AND' | '&&' | 'OR' | '||'
//! modifier:= 'NOT' | '!' | '-' | '+'
//! primary := '(' group ')'
//!          | '_exists_' ':' fieldname
//!          | fieldname ':' value
//!          | value                        -- bare term (or term of a `field:(…)` group)
//! value   := '"' phrase '"' | range | '(' group ')' | word
//! range   := ('[' | '{') bound 'TO' bound (']' | '}')
//! ```
//!
//! Clause occurrences (must / should / must-not) are resolved exactly like Lucene's
//! `QueryParserBase.addClause` with the default operator OR; see the module docs of
//! [`super`] for the resulting semantics.

use super::ast::{Clause, Field, Query, Target};
use super::fields::{resolve_field, type_clause, RawBound, RawValue, Typed};
use super::{SearchError, MAX_CLAUSES, MAX_DEPTH, MAX_QUERY_BYTES};

/// Parse and validate a `q`. Never panics, whatever the input.
pub fn parse(q: &str) -> Result<Query, SearchError> {
    if q.len() > MAX_QUERY_BYTES {
        return Err(SearchError::TooLong { max: MAX_QUERY_BYTES });
    }
    let mut p = Parser { chars: q.chars().collect(), pos: 0, depth: 0, clauses: 0, group_field: None };
    p.skip_ws();
    if p.peek().is_none() {
        return Err(p.syntax(0, "the query is empty"));
    }
    let query = p.parse_group()?;
    if p.peek() == Some(')') {
        return Err(p.syntax(p.pos, "unbalanced ')' without a matching '('"));
    }
    Ok(query)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Occur {
    Must,
    Should,
    MustNot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conj {
    And,
    Or,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    clauses: usize,
    /// Inside `field:( … )`: the field bare terms apply to, and where it was named.
    group_field: Option<(Field, usize)>,
}

/// Characters that end an unquoted word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')' || c == '"'
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn syntax(&self, position: usize, message: impl Into<String>) -> SearchError {
        SearchError::Syntax { message: message.into(), position }
    }

    fn eat_char(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(i, c)| self.chars.get(self.pos + i) == Some(&c))
    }

    fn eat_str(&mut self, s: &str) -> bool {
        if self.starts_with(s) {
            self.pos += s.chars().count();
            true
        } else {
            false
        }
    }

    /// An upper-case keyword followed by whitespace, a parenthesis, a quote or the end.
    fn at_keyword(&self, kw: &str) -> bool {
        self.starts_with(kw) && self.chars.get(self.pos + kw.len()).is_none_or(|c| ends_word(*c))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.at_keyword(kw) {
            self.pos += kw.len();
            true
        } else {
            false
        }
    }

    /// The operator at the current position, if any (for error messages).
    fn operator_here(&self) -> Option<&'static str> {
        ["AND", "OR", "NOT"]
            .into_iter()
            .find(|kw| self.at_keyword(kw))
            .or_else(|| ["&&", "||"].into_iter().find(|op| self.starts_with(op)))
    }

    fn enter(&mut self, position: usize) -> Result<(), SearchError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SearchError::TooComplex {
                message: format!("parentheses are nested deeper than {MAX_DEPTH} levels (at position {position})"),
            });
        }
        Ok(())
    }

    fn parse_group(&mut self) -> Result<Query, SearchError> {
        let mut clauses: Vec<(Occur, Query)> = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None | Some(')') => break,
                Some(_) => {}
            }
            let conj_pos = self.pos;
            let conj = if self.eat_keyword("AND") || self.eat_str("&&") {
                Some(Conj::And)
            } else if self.eat_keyword("OR") || self.eat_str("||") {
                Some(Conj::Or)
            } else {
                None
            };
            if conj.is_some() && clauses.is_empty() {
                let op = if conj == Some(Conj::And) { "AND" } else { "OR" };
                return Err(self.syntax(conj_pos, format!("'{op}' needs a term on its left")));
            }
            self.skip_ws();
            let mut after = match conj {
                Some(Conj::And) => Some("AND"),
                Some(Conj::Or) => Some("OR"),
                None => None,
            };
            let modifier = if self.eat_keyword("NOT") {
                after = Some("NOT");
                Some(Occur::MustNot)
            } else if self.eat_char('!') {
                after = Some("!");
                Some(Occur::MustNot)
            } else if self.eat_char('-') {
                after = Some("-");
                Some(Occur::MustNot)
            } else if self.eat_char('+') {
                after = Some("+");
                Some(Occur::Must)
            } else {
                None
            };
            if modifier.is_some() {
                self.skip_ws();
            }
            let query = self.parse_primary(after)?;
            if conj == Some(Conj::And) {
                if let Some(last) = clauses.last_mut() {
                    if last.0 != Occur::MustNot {
                        last.0 = Occur::Must;
                    }
                }
            }
            let occur = match (modifier, conj) {
                (Some(m), _) => m,
                (None, Some(Conj::And)) => Occur::Must,
                (None, _) => Occur::Should,
            };
            clauses.push((occur, query));
        }
        if clauses.is_empty() {
            return Err(self.syntax(self.pos, "expected a term"));
        }
        Ok(combine(clauses))
    }

    fn parse_primary(&mut self, after: Option<&str>) -> Result<Query, SearchError> {
        let start = self.pos;
        let expected = |p: &Self, found: &str| {
            let msg = match after {
                Some(op) => format!("expected a term after '{op}', found {found}"),
                None => format!("expected a term, found {found}"),
            };
            p.syntax(start, msg)
        };
        match self.peek() {
            None => return Err(expected(self, "the end of the query")),
            Some(')') => return Err(expected(self, "')'")),
            Some('(') => {
                self.pos += 1;
                return self.parse_parenthesised(start, None);
            }
            Some('"') => {
                let phrase = self.read_phrase()?;
                return self.bare_clause(RawValue::Phrase(phrase), start);
            }
            Some('[' | '{') => {
                let range = self.read_range()?;
                return self.bare_clause(range, start);
            }
            Some(_) => {}
        }
        if let Some(op) = self.operator_here() {
            return Err(expected(self, &format!("'{op}'")));
        }
        // Only reachable right after a modifier (the group loop eats the first one):
        // `NOT -a`, `- -a`. Lucene allows one modifier per clause.
        if let Some(c @ ('!' | '-' | '+')) = self.peek() {
            return Err(expected(self, &format!("'{c}'")));
        }
        let word = self.read_word(true)?;
        if self.peek() == Some(':') {
            let name: String = word.iter().map(|(c, _)| *c).collect();
            if name.is_empty() {
                return Err(self.syntax(start, "expected a field name before ':'"));
            }
            self.pos += 1;
            return self.field_value(&name, start);
        }
        self.bare_clause(RawValue::Word(word), start)
    }

    /// After an opening `(` at `start`: a group, optionally applying to `field`.
    fn parse_parenthesised(&mut self, start: usize, field: Option<(Field, usize)>) -> Result<Query, SearchError> {
        self.enter(start)?;
        self.skip_ws();
        if self.peek() == Some(')') {
            return Err(self.syntax(start, "empty parentheses"));
        }
        let saved = match field {
            Some(f) => self.group_field.replace(f),
            None => self.group_field.clone(),
        };
        let query = self.parse_group()?;
        self.group_field = saved;
        if !self.eat_char(')') {
            return Err(self.syntax(start, "unbalanced '(' without a matching ')'"));
        }
        self.depth -= 1;
        Ok(query)
    }

    fn field_value(&mut self, name: &str, name_pos: usize) -> Result<Query, SearchError> {
        if name == "_exists_" {
            let vpos = self.pos;
            let word = self.read_word(false)?;
            if word.is_empty() {
                return Err(self.syntax(vpos, "expected a field name after '_exists_:'"));
            }
            let fname: String = word.iter().map(|(c, _)| *c).collect();
            let field = resolve_field(&fname, vpos)?;
            self.count_clause(name_pos)?;
            return Ok(Query::Clause(Clause {
                target: Target::Field(field),
                predicate: super::ast::Predicate::Exists,
            }));
        }
        let field = resolve_field(name, name_pos)?;
        let vpos = self.pos;
        let raw = match self.peek() {
            None => {
                return Err(self.syntax(vpos, format!("missing value for field '{name}'")));
            }
            Some(c) if c.is_whitespace() || c == ')' => {
                return Err(self.syntax(vpos, format!("missing value for field '{name}'")));
            }
            Some('(') => {
                self.pos += 1;
                return self.parse_parenthesised(vpos, Some((field, name_pos)));
            }
            Some('"') => RawValue::Phrase(self.read_phrase()?),
            Some('[' | '{') => self.read_range()?,
            Some(_) => RawValue::Word(self.read_word(false)?),
        };
        self.make_clause(Target::Field(field), raw, name_pos)
    }

    fn bare_clause(&mut self, raw: RawValue, start: usize) -> Result<Query, SearchError> {
        match self.group_field.clone() {
            Some((field, _)) => self.make_clause(Target::Field(field), raw, start),
            None => self.make_clause(Target::Default, raw, start),
        }
    }

    fn count_clause(&mut self, position: usize) -> Result<(), SearchError> {
        self.clauses += 1;
        if self.clauses > MAX_CLAUSES {
            return Err(SearchError::TooComplex {
                message: format!("the query has more than {MAX_CLAUSES} terms (at position {position})"),
            });
        }
        Ok(())
    }

    fn make_clause(&mut self, target: Target, raw: RawValue, position: usize) -> Result<Query, SearchError> {
        self.count_clause(position)?;
        Ok(match type_clause(&target, raw, position)? {
            Typed::All => Query::All,
            Typed::Predicate(predicate) => Query::Clause(Clause { target, predicate }),
        })
    }

    /// An unquoted word, with `\` escapes resolved (each char flagged "escaped").
    /// Stops at whitespace, parentheses, and (if `stop_at_colon`) an unescaped `:`.
    fn read_word(&mut self, stop_at_colon: bool) -> Result<Vec<(char, bool)>, SearchError> {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            if c == '\\' {
                match self.chars.get(self.pos + 1) {
                    Some(&next) => {
                        out.push((next, true));
                        self.pos += 2;
                        continue;
                    }
                    None => return Err(self.syntax(self.pos, "dangling '\\' at the end of the query")),
                }
            }
            if c == '"' && !out.is_empty() {
                return Err(self.syntax(self.pos, "unexpected '\"' inside a term; quote the whole value"));
            }
            if ends_word(c) || (stop_at_colon && c == ':') {
                break;
            }
            out.push((c, false));
            self.pos += 1;
        }
        Ok(out)
    }

    /// A `"…"` phrase; `\"` and `\\` (and any `\x`) are escapes.
    fn read_phrase(&mut self) -> Result<String, SearchError> {
        let start = self.pos;
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.syntax(start, "unterminated '\"'")),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => match self.chars.get(self.pos + 1) {
                    Some(&next) => {
                        out.push(next);
                        self.pos += 2;
                    }
                    None => return Err(self.syntax(start, "unterminated '\"'")),
                },
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `[a TO b]`, `{a TO b}`, or mixed; `*` is an open bound.
    fn read_range(&mut self) -> Result<RawValue, SearchError> {
        let start = self.pos;
        let inclusive_lower = self.peek() == Some('[');
        self.pos += 1;
        self.skip_ws();
        let lower = self.read_bound(start, inclusive_lower)?;
        self.skip_ws();
        if !self.eat_keyword("TO") {
            return Err(self.syntax(self.pos, "expected 'TO' in range"));
        }
        self.skip_ws();
        let upper_pos = self.pos;
        let upper_word = self.read_bound_text(start)?;
        self.skip_ws();
        let inclusive_upper = match self.peek() {
            Some(']') => true,
            Some('}') => false,
            None => return Err(self.syntax(start, "unterminated range: expected ']' or '}'")),
            Some(_) => {
                return Err(self.syntax(self.pos, "expected ']' or '}' to close the range"));
            }
        };
        self.pos += 1;
        let upper = match upper_word {
            None => return Err(self.syntax(upper_pos, "missing upper bound in range")),
            Some(BoundText::Star) => RawBound::Open,
            Some(BoundText::Value(s)) if inclusive_upper => RawBound::Included(s),
            Some(BoundText::Value(s)) => RawBound::Excluded(s),
        };
        Ok(RawValue::Range { lower, upper })
    }

    fn read_bound(&mut self, range_start: usize, inclusive: bool) -> Result<RawBound, SearchError> {
        let pos = self.pos;
        if self.at_keyword("TO") {
            return Err(self.syntax(pos, "missing lower bound in range"));
        }
        match self.read_bound_text(range_start)? {
            None => Err(self.syntax(pos, "missing lower bound in range")),
            Some(BoundText::Star) => Ok(RawBound::Open),
            Some(BoundText::Value(s)) if inclusive => Ok(RawBound::Included(s)),
            Some(BoundText::Value(s)) => Ok(RawBound::Excluded(s)),
        }
    }

    fn read_bound_text(&mut self, range_start: usize) -> Result<Option<BoundText>, SearchError> {
        match self.peek() {
            None => Err(self.syntax(range_start, "unterminated range: expected ']' or '}'")),
            Some('"') => Ok(Some(BoundText::Value(self.read_phrase()?))),
            Some(_) => {
                let mut out = String::new();
                let mut any_escaped = false;
                while let Some(c) = self.peek() {
                    if c == '\\' {
                        match self.chars.get(self.pos + 1) {
                            Some(&next) => {
                                out.push(next);
                                any_escaped = true;
                                self.pos += 2;
                                continue;
                            }
                            None => return Err(self.syntax(self.pos, "dangling '\\' at the end of the query")),
                        }
                    }
                    if c.is_whitespace() || matches!(c, ']' | '}' | '[' | '{' | '(' | ')' | '"') {
                        break;
                    }
                    out.push(c);
                    self.pos += 1;
                }
                if out.is_empty() {
                    Ok(None)
                } else if out == "*" && !any_escaped {
                    Ok(Some(BoundText::Star))
                } else {
                    Ok(Some(BoundText::Value(out)))
                }
            }
        }
    }
}

enum BoundText {
    Star,
    Value(String),
}

/// Lucene's boolean-clause semantics, with Elasticsearch's fix for purely negative groups.
fn combine(clauses: Vec<(Occur, Query)>) -> Query {
    let mut must = Vec::new();
    let mut should = Vec::new();
    let mut must_not = Vec::new();
    for (occur, q) in clauses {
        match occur {
            Occur::Must => must.push(q),
            Occur::Should => should.push(q),
            Occur::MustNot => must_not.push(Query::Not(Box::new(q))),
        }
    }
    let mut parts = if !must.is_empty() {
        must
    } else if should.len() > 1 {
        vec![Query::Or(should)]
    } else {
        should
    };
    parts.extend(must_not);
    match parts.len() {
        1 => parts.pop().unwrap_or(Query::All),
        _ => Query::And(parts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        match parse(input) {
            Ok(q) => assert_eq!(q.to_string(), expected, "input: {input:?}"),
            Err(e) => panic!("input {input:?}: unexpected error: {e}"),
        }
    }

    #[track_caller]
    fn check_err(input: &str, expected: &str) {
        match parse(input) {
            Ok(q) => panic!("input {input:?}: expected error {expected:?}, parsed as {q}"),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(expected), "input {input:?}: error {msg:?} does not contain {expected:?}");
            }
        }
    }

    #[test]
    fn parses_valid_queries() {
        let cases: &[(&str, &str)] = &[
            // basic terms
            ("email:alice@example.com", r#"email="alice@example.com""#),
            ("  email:alice@example.com  ", r#"email="alice@example.com""#),
            (r#"name:"Jane Smith""#, r#"name="Jane Smith""#),
            (r#"name:"a \"quoted\" \\ word""#, r#"name="a \"quoted\" \\ word""#),
            (r#"name:"star*inside""#, r#"name="star*inside""#),
            ("name:jo*", r#"name~"jo*""#),
            ("name:*son", r#"name~"*son""#),
            ("name:j*n", r#"name~"j*n""#),
            ("name:j**n", r#"name~"j*n""#),
            (r"name:a\*b", r#"name="a*b""#),
            (r"name:a\*b*", r#"name~"a\\*b*""#),
            ("name:a?b", r#"name="a?b""#),
            ("name:*", "_exists_:name"),
            ("name:**", "_exists_:name"),
            ("_exists_:email", "_exists_:email"),
            ("_exists_:user_metadata.plan", "_exists_:user_metadata.plan"),
            ("user_metadata.plan:*", "_exists_:user_metadata.plan"),
            ("*", "*"),
            // booleans and integers
            ("blocked:true", "blocked=true"),
            ("email_verified:FALSE", "email_verified=false"),
            (r#"phone_verified:"true""#, "phone_verified=true"),
            ("logins_count:5", "logins_count=5"),
            ("logins_count:-3", "logins_count=-3"),
            // ranges
            ("logins_count:[1 TO 5]", "logins_count:[1 TO 5]"),
            ("logins_count:{1 TO 5}", "logins_count:{1 TO 5}"),
            ("logins_count:[1 TO 5}", "logins_count:[1 TO 5}"),
            ("logins_count:{1 TO *]", "logins_count:{1 TO *]"),
            ("logins_count:[ * TO 5 ]", "logins_count:[* TO 5]"),
            ("logins_count:[* TO *]", "_exists_:logins_count"),
            ("name:[a TO m]", r#"name:["a" TO "m"]"#),
            (r#"name:["a b" TO "m n"}"#, r#"name:["a b" TO "m n"}"#),
            // timestamps: normalised, date-only widened
            ("created_at:2024-05-01T12:00:00Z", r#"created_at="2024-05-01T12:00:00.000Z""#),
            (r#"created_at:"2024-05-01T14:00:00.5+02:00""#, r#"created_at="2024-05-01T12:00:00.500Z""#),
            (r"created_at:2024-05-01T12\:00\:00", r#"created_at="2024-05-01T12:00:00.000Z""#),
            ("created_at:2024-05-01", r#"created_at:["2024-05-01T00:00:00.000Z" TO "2024-05-01T23:59:59.999Z"]"#),
            ("last_login:[* TO 2024-12-31]", r#"last_login:[* TO "2024-12-31T23:59:59.999Z"]"#),
            ("last_login:{* TO 2024-12-31}", r#"last_login:[* TO "2024-12-31T00:00:00.000Z"}"#),
            ("last_login:[2024-01-01 TO *]", r#"last_login:["2024-01-01T00:00:00.000Z" TO *]"#),
            ("last_login:{2024-01-01 TO *]", r#"last_login:{"2024-01-01T23:59:59.999Z" TO *]"#),
            ("created_at:2024-05*", r#"created_at~"2024-05*""#),
            // special fields
            (r#"email.domain:"example.com""#, r#"email.domain="example.com""#),
            ("identities.connection:google-oauth2", r#"identities.connection="google-oauth2""#),
            ("identities.user_id:1234", r#"identities.user_id="1234""#),
            ("user_metadata.display.fontSize:13", r#"user_metadata.display.fontSize="13""#),
            ("app_metadata.age:[18 TO 30]", r#"app_metadata.age:["18" TO "30"]"#),
            ("app_metadata.plan:gold*", r#"app_metadata.plan~"gold*""#),
            ("user_metadata.key-with_dash.x:1", r#"user_metadata.key-with_dash.x="1""#),
            // bare terms
            ("alice", r#"_default_="alice""#),
            (r#""Alice Smith""#, r#"_default_="Alice Smith""#),
            ("ali*", r#"_default_~"ali*""#),
            ("android", r#"_default_="android""#),
            ("and", r#"_default_="and""#),
            // operators: default OR, AND binds the clauses around it
            ("a b", r#"(OR _default_="a" _default_="b")"#),
            ("a OR b", r#"(OR _default_="a" _default_="b")"#),
            ("a || b", r#"(OR _default_="a" _default_="b")"#),
            ("a AND b", r#"(AND _default_="a" _default_="b")"#),
            ("a && b", r#"(AND _default_="a" _default_="b")"#),
            ("a AND b AND c", r#"(AND _default_="a" _default_="b" _default_="c")"#),
            ("a AND b OR c", r#"(AND _default_="a" _default_="b")"#),
            ("a OR b AND c", r#"(AND _default_="b" _default_="c")"#),
            ("(a AND b) OR c", r#"(OR (AND _default_="a" _default_="b") _default_="c")"#),
            ("NOT a", r#"(NOT _default_="a")"#),
            ("!a", r#"(NOT _default_="a")"#),
            ("-a", r#"(NOT _default_="a")"#),
            ("+a b", r#"_default_="a""#),
            ("a NOT b", r#"(AND _default_="a" (NOT _default_="b"))"#),
            ("a AND NOT b", r#"(AND _default_="a" (NOT _default_="b"))"#),
            ("a OR NOT b", r#"(AND _default_="a" (NOT _default_="b"))"#),
            ("a OR (NOT b)", r#"(OR _default_="a" (NOT _default_="b"))"#),
            ("a b -c", r#"(AND (OR _default_="a" _default_="b") (NOT _default_="c"))"#),
            ("NOT a AND b", r#"(AND _default_="b" (NOT _default_="a"))"#),
            ("NOT(a)", r#"(NOT _default_="a")"#),
            ("((a))", r#"_default_="a""#),
            ("a AND(b OR c)", r#"(AND _default_="a" (OR _default_="b" _default_="c"))"#),
            // field groups
            ("name:(alice OR bob)", r#"(OR name="alice" name="bob")"#),
            ("name:(alice email:x)", r#"(OR name="alice" email="x")"#),
            ("logins_count:(1 OR [5 TO 6])", "(OR logins_count=1 logins_count:[5 TO 6])"),
            // unicode and values containing colons / operators
            ("name:Zoë", r#"name="Zoë""#),
            ("user_id:auth0|123", r#"user_id="auth0|123""#),
            ("last_ip:2001:db8::1", r#"last_ip="2001:db8::1""#),
            ("name:AND", r#"name="AND""#),
            (r#"name:"""#, r#"name="""#),
        ];
        for (input, expected) in cases {
            check(input, expected);
        }
    }

    #[test]
    fn rejects_invalid_queries() {
        let cases: &[(&str, &str)] = &[
            ("", "the query is empty at position 0"),
            ("   ", "the query is empty at position 0"),
            ("emial:x", "unknown field 'emial' at position 0"),
            ("a AND emial:x", "unknown field 'emial' at position 6"),
            ("_exists_:emial", "unknown field 'emial' at position 9"),
            ("picture:x", "field 'picture' is not searchable"),
            ("password_hash:x", "field 'password_hash' is not searchable"),
            ("connection:x", "use 'identities.connection'"),
            ("user_metadata:x", "needs a path"),
            ("user_metadata..a:x", "empty path segment"),
            ("user_metadata.a.:x", "empty path segment"),
            ("user_metadata.a'b:1", "invalid character '\\''"),
            (r#"user_metadata.a\"b:1"#, "invalid character '\"'"),
            ("user_metadata.$a:1", "invalid character '$'"),
            (r"user_metadata.a\\b:1", "invalid character '\\\\'"),
            ("user_metadata.a.b.c.d.e.f.g.h.i.j.k:1", "nested deeper than 10"),
            ("(a", "unbalanced '(' without a matching ')' at position 0"),
            ("a)", "unbalanced ')' without a matching '(' at position 1"),
            ("((a)", "unbalanced '(' without a matching ')' at position 0"),
            ("()", "empty parentheses at position 0"),
            (r#"name:"abc"#, "unterminated '\"' at position 5"),
            (r#"name:ab"c""#, "unexpected '\"' inside a term; quote the whole value at position 7"),
            ("a AND", "expected a term after 'AND', found the end of the query at position 5"),
            ("a OR", "expected a term after 'OR'"),
            ("AND a", "'AND' needs a term on its left at position 0"),
            ("OR a", "'OR' needs a term on its left"),
            ("a AND OR b", "expected a term after 'AND', found 'OR' at position 6"),
            ("a AND AND b", "found 'AND'"),
            ("NOT", "expected a term after 'NOT'"),
            ("NOT NOT a", "expected a term after 'NOT', found 'NOT'"),
            ("- -a", "expected a term after '-', found '-'"),
            ("(a AND)", "expected a term after 'AND', found ')'"),
            ("email:", "missing value for field 'email' at position 6"),
            ("email: x", "missing value for field 'email'"),
            (":x", "expected a field name before ':'"),
            ("a\\", "dangling '\\'"),
            ("name:*ab", "leading wildcard needs at least 3"),
            ("*ab", "leading wildcard needs at least 3"),
            ("blocked:maybe", "field 'blocked' takes true or false"),
            ("blocked:tr*", "wildcards are not supported on field 'blocked'"),
            ("blocked:[true TO false]", "ranges are not supported on field 'blocked'"),
            ("logins_count:ten", "field 'logins_count' takes an integer"),
            ("logins_count:[1 TO x]", "takes an integer"),
            ("logins_count:1*", "wildcards are not supported on field 'logins_count'"),
            ("created_at:yesterday", "field 'created_at' takes a date"),
            ("created_at:2024-13-01", "takes a date"),
            ("created_at:2024-02-30", "takes a date"),
            ("created_at:[2024-01-01 TO nope]", "takes a date"),
            ("user_metadata.plan:gold*", "wildcards are not supported on field 'user_metadata.plan'"),
            ("user_metadata.age:[1 TO 2]", "ranges are not supported on field 'user_metadata.age'"),
            ("email.domain:[a TO b]", "ranges are not supported on field 'email.domain'"),
            ("[a TO b]", "ranges need a field"),
            ("logins_count:[1 5]", "expected 'TO' in range"),
            ("logins_count:[1 TO 5", "unterminated range"),
            ("logins_count:[1 TO 5)", "expected ']' or '}' to close the range"),
            ("logins_count:[ TO 5]", "missing lower bound"),
            ("logins_count:[1 TO ]", "missing upper bound"),
            ("_exists_:", "expected a field name after '_exists_:'"),
        ];
        for (input, expected) in cases {
            check_err(input, expected);
        }
    }

    #[test]
    fn enforces_limits() {
        let long = format!("name:{}", "a".repeat(MAX_QUERY_BYTES));
        check_err(&long, "longer than 4096 bytes");

        let deep = format!("{}a{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        check_err(&deep, "nested deeper than 32");
        let ok = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        check(&ok, r#"_default_="a""#);

        let many = vec!["a"; MAX_CLAUSES + 1].join(" ");
        check_err(&many, "more than 100 terms");
        let enough = vec!["a"; MAX_CLAUSES].join(" ");
        assert!(parse(&enough).is_ok());
    }

    #[test]
    fn error_display_is_a_400_message() {
        let err = parse("emial:x").err();
        assert_eq!(err.map(|e| e.to_string()).as_deref(), Some("Invalid query: unknown field 'emial' at position 0"));
        assert_eq!(parse("a AND").err().and_then(|e| e.position()), Some(5), "positions are character offsets");
        assert_eq!(parse("é AND").err().and_then(|e| e.position()), Some(5));
    }
}
