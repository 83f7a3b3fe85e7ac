//! Password policies of database connections, with Auth0's exact rules: the strength
//! levels of `passwordPolicy` (password-sheriff's `none`/`low`/`fair`/`good`/`excellent`),
//! `password_complexity_options.min_length`, `password_dictionary` (a bundled list of
//! 10,000 common passwords plus the connection's own words), `password_no_personal_info`
//! and `password_history`.
//!
//! Evaluation reports every strength rule met or unmet, in the shape of Auth0's
//! `PasswordStrengthError` body. History needs the stored hashes, so it is checked by
//! the caller with [`PasswordPolicy::history_size`]; its rejection lives here.

use crate::connection::Connection;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::sync::OnceLock;

/// `passwordPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    None,
    Low,
    Fair,
    Good,
    Excellent,
}

impl Level {
    /// An unknown name falls back to `none`, as in password-sheriff. A connection that
    /// does not set the option (absent or `null`) gets `good`, the level Auth0 gives new
    /// database connections.
    pub fn from_option(v: Option<&Value>) -> Self {
        match v.and_then(Value::as_str) {
            None => Level::Good,
            Some("low") => Level::Low,
            Some("fair") => Level::Fair,
            Some("good") => Level::Good,
            Some("excellent") => Level::Excellent,
            Some(_) => Level::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Low => "low",
            Level::Fair => "fair",
            Level::Good => "good",
            Level::Excellent => "excellent",
        }
    }

    fn default_min_length(self) -> usize {
        match self {
            Level::None => 1,
            Level::Low => 6,
            Level::Fair | Level::Good => 8,
            Level::Excellent => 10,
        }
    }
}

/// One rule and whether a password met it (Auth0's rule object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleCheck {
    pub code: &'static str,
    pub message: &'static str,
    pub format: Vec<Value>,
    pub items: Vec<RuleCheck>,
    pub verified: bool,
}

impl RuleCheck {
    fn new(code: &'static str, message: &'static str, format: Vec<Value>, verified: bool) -> Self {
        Self { code, message, format, items: Vec::new(), verified }
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("message".into(), json!(self.message));
        if !self.format.is_empty() {
            m.insert("format".into(), Value::Array(self.format.clone()));
        }
        m.insert("code".into(), json!(self.code));
        if !self.items.is_empty() {
            m.insert("items".into(), Value::Array(self.items.iter().map(RuleCheck::to_json).collect()));
        }
        m.insert("verified".into(), json!(self.verified));
        Value::Object(m)
    }

    /// The message with its `%d`/`%s` placeholders filled in.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut args = self.format.iter();
        let mut rest = self.message;
        while let Some(i) = rest.find('%') {
            out.push_str(&rest[..i]);
            let spec = rest.get(i + 1..i + 2).unwrap_or("");
            if spec == "d" || spec == "s" {
                match args.next() {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(v) => out.push_str(&v.to_string()),
                    None => {}
                }
                rest = &rest[i + 2..];
            } else {
                out.push('%');
                rest = &rest[i + 1..];
            }
        }
        out.push_str(rest);
        out
    }
}

/// The strength rules' verdict on one password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strength {
    pub rules: Vec<RuleCheck>,
    pub verified: bool,
}

/// Why a password was refused. Each has Auth0's error name and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordRejection {
    TooWeak {
        strength: Strength,
        policy: String,
    },
    TooCommon,
    PersonalInfo,
    Reused,
    /// Found in the bundled list of common (breached) passwords by breached-password
    /// detection, which is independent of the connection's dictionary rule.
    Leaked,
}

impl PasswordRejection {
    /// Auth0's error `name`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::TooWeak { .. } => "PasswordStrengthError",
            Self::TooCommon => "PasswordDictionaryError",
            Self::PersonalInfo => "PasswordNoUserInfoError",
            Self::Reused => "PasswordHistoryError",
            Self::Leaked => "PasswordLeakedError",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Self::TooWeak { .. } => "Password is too weak",
            Self::TooCommon => "Password is too common",
            Self::PersonalInfo => "Password is based on user information",
            Self::Reused => "Password has previously been used",
            Self::Leaked => "This password has been leaked and a different one must be used.",
        }
    }

    /// What the user should be told, one sentence, for the hosted pages.
    pub fn explanation(&self) -> String {
        match self {
            Self::TooWeak { strength, .. } => {
                let unmet: Vec<String> = strength.rules.iter().filter(|r| !r.verified).map(rule_sentence).collect();
                format!("Password is too weak. It must have: {}.", unmet.join("; "))
            }
            Self::TooCommon => "This password is too common. Choose one that is harder to guess.".into(),
            Self::PersonalInfo => "The password must not contain your name, username or email address.".into(),
            Self::Reused => "You have used this password before. Choose a new one.".into(),
            Self::Leaked => "This password appears in lists of leaked passwords. Choose a different one.".into(),
        }
    }

    /// Auth0's description of the refusal (`name`, `code`, `message`, `description`,
    /// `policy`); the HTTP surface adds the status.
    pub fn to_auth0_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name()));
        m.insert("message".into(), json!(self.message()));
        m.insert("code".into(), json!(if *self == Self::Leaked { "password_leaked" } else { "invalid_password" }));
        match self {
            Self::TooWeak { strength, policy } => {
                m.insert(
                    "description".into(),
                    json!({
                        "rules": strength.rules.iter().map(RuleCheck::to_json).collect::<Vec<_>>(),
                        "verified": strength.verified,
                    }),
                );
                m.insert("policy".into(), json!(policy));
            }
            other => {
                m.insert("description".into(), json!(other.message()));
            }
        }
        Value::Object(m)
    }
}

fn rule_sentence(r: &RuleCheck) -> String {
    if r.items.is_empty() {
        return r.text().to_lowercase();
    }
    let items: Vec<&str> = r.items.iter().map(|i| i.message).collect();
    format!("{} {}", r.text().trim_end_matches(':').to_lowercase(), items.join(", "))
}

impl std::fmt::Display for PasswordRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name(), self.message())
    }
}

/// What a password may not contain under `password_no_personal_info`.
#[derive(Debug, Default, Clone)]
pub struct PersonalInfo {
    values: Vec<String>,
}

impl PersonalInfo {
    /// The user's name, username, nickname, given and family name, the email's local
    /// part, and `user_metadata.name`/`first`/`last`.
    pub fn of(
        email: Option<&str>,
        username: Option<&str>,
        names: &[Option<&str>],
        user_metadata: &Map<String, Value>,
    ) -> Self {
        let mut values = Vec::new();
        let mut add = |s: &str| {
            let s = s.trim().to_lowercase();
            // Very short fragments ("jo") would forbid too much to be useful.
            if s.chars().count() >= 3 && !values.contains(&s) {
                values.push(s);
            }
        };
        if let Some(e) = email {
            add(e.rsplit_once('@').map_or(e, |(local, _)| local));
        }
        if let Some(u) = username {
            add(u);
        }
        let meta = ["name", "first", "last"].map(|k| user_metadata.get(k).and_then(Value::as_str));
        for n in names.iter().chain(meta.iter()).flatten() {
            // A name that is an email address counts by its local part.
            let n = n.rsplit_once('@').map_or(*n, |(local, _)| local);
            add(n);
            for part in n.split_whitespace() {
                add(part);
            }
        }
        Self { values }
    }

    fn found_in(&self, password: &str) -> bool {
        let p = password.to_lowercase();
        self.values.iter().any(|v| p.contains(v.as_str()))
    }
}

/// A connection's password rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub level: Level,
    pub min_length: usize,
    /// Passwords remembered (0: history is off).
    pub history_size: usize,
    /// `Some` when the dictionary rule is on: the connection's own words, lowercased.
    pub dictionary: Option<Vec<String>>,
    pub no_personal_info: bool,
}

/// Auth0 keeps 5 passwords when `password_history.size` is not given.
const DEFAULT_HISTORY_SIZE: usize = 5;

impl PasswordPolicy {
    pub fn of(connection: &Connection) -> Self {
        Self::from_options(&connection.options)
    }

    pub fn from_options(o: &Map<String, Value>) -> Self {
        let level = Level::from_option(o.get("passwordPolicy"));
        let min_length = o
            .get("password_complexity_options")
            .and_then(|v| v.get("min_length"))
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=128).contains(n))
            .unwrap_or_else(|| level.default_min_length());
        let enabled = |k: &str| o.get(k).and_then(|v| v.get("enable")).and_then(Value::as_bool).unwrap_or(false);
        let history_size = if enabled("password_history") {
            o.get("password_history")
                .and_then(|v| v.get("size"))
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(DEFAULT_HISTORY_SIZE)
                .min(24)
        } else {
            0
        };
        let dictionary = enabled("password_dictionary").then(|| {
            o.get("password_dictionary")
                .and_then(|v| v.get("dictionary"))
                .and_then(Value::as_array)
                .map(|words| words.iter().filter_map(Value::as_str).map(str::to_lowercase).collect())
                .unwrap_or_default()
        });
        Self { level, min_length, history_size, dictionary, no_personal_info: enabled("password_no_personal_info") }
    }

    /// The strength rules, each met or not by `password`.
    pub fn strength(&self, password: &str) -> Strength {
        // JavaScript's `length`: UTF-16 code units, as password-sheriff counts.
        let len = password.encode_utf16().count();
        let mut rules = Vec::new();
        let length_ok = !password.is_empty() && len >= self.min_length;
        rules.push(if self.min_length == 1 {
            RuleCheck::new("nonEmpty", "Non-empty password required", Vec::new(), length_ok)
        } else {
            RuleCheck::new("lengthAtLeast", "At least %d characters in length", vec![json!(self.min_length)], length_ok)
        });
        let classes = || {
            [
                RuleCheck::new(
                    "lowerCase",
                    "lower case letters (a-z)",
                    Vec::new(),
                    has(password, |c| c.is_ascii_lowercase()),
                ),
                RuleCheck::new(
                    "upperCase",
                    "upper case letters (A-Z)",
                    Vec::new(),
                    has(password, |c| c.is_ascii_uppercase()),
                ),
                RuleCheck::new("numbers", "numbers (i.e. 0-9)", Vec::new(), has(password, |c| c.is_ascii_digit())),
                RuleCheck::new(
                    "specialCharacters",
                    "special characters (e.g. !@#$%^&*)",
                    Vec::new(),
                    has(password, is_special),
                ),
            ]
        };
        match self.level {
            Level::None | Level::Low => {}
            Level::Fair => {
                let [lower, upper, digits, _] = classes();
                let items = vec![lower, upper, digits];
                let verified = items.iter().all(|i| i.verified);
                rules.push(RuleCheck {
                    items,
                    ..RuleCheck::new("shouldContain", "Should contain:", Vec::new(), verified)
                });
            }
            Level::Good | Level::Excellent => {
                let items = classes().to_vec();
                let met = items.iter().filter(|i| i.verified).count();
                rules.push(RuleCheck {
                    items,
                    ..RuleCheck::new(
                        "containsAtLeast",
                        "Contain at least %d of the following %d types of characters:",
                        vec![json!(3), json!(4)],
                        !password.is_empty() && met >= 3,
                    )
                });
            }
        }
        if self.level == Level::Excellent {
            rules.push(RuleCheck::new(
                "identicalChars",
                "No more than %d identical characters in a row (e.g., \"%s\" not allowed)",
                vec![json!(2), json!("aaa")],
                !password.is_empty() && longest_run(password) <= 2,
            ));
        }
        let verified = rules.iter().all(|r| r.verified);
        Strength { rules, verified }
    }

    /// The policy as password-sheriff's `toString()` writes it (Auth0's `policy` field).
    pub fn describe(&self) -> String {
        let strength = self.strength("");
        let mut lines = Vec::new();
        for r in &strength.rules {
            lines.push(format!("* {}", r.text()));
            for i in &r.items {
                lines.push(format!(" * {}", i.text()));
            }
        }
        lines.join("\n")
    }

    /// Every rule that needs no stored data: strength, dictionary, personal information.
    /// (History is checked by the caller against the stored hashes.)
    pub fn check(&self, password: &str, personal: &PersonalInfo) -> Result<(), PasswordRejection> {
        let strength = self.strength(password);
        if !strength.verified {
            return Err(PasswordRejection::TooWeak { strength, policy: self.describe() });
        }
        if let Some(words) = &self.dictionary {
            let lower = password.to_lowercase();
            if is_common_password(&lower) || words.contains(&lower) {
                return Err(PasswordRejection::TooCommon);
            }
        }
        if self.no_personal_info && personal.found_in(password) {
            return Err(PasswordRejection::PersonalInfo);
        }
        Ok(())
    }

    /// The rules as JSON for the hosted pages' live feedback script.
    pub fn to_client_json(&self) -> Value {
        json!({
            "level": self.level.as_str(),
            "min_length": self.min_length,
            "rules": self.strength("").rules.iter().map(RuleCheck::to_json).collect::<Vec<_>>(),
        })
    }
}

fn has(password: &str, f: impl Fn(char) -> bool) -> bool {
    password.chars().any(f)
}

/// OWASP's password special characters (password-sheriff's set): space and ASCII
/// punctuation.
fn is_special(c: char) -> bool {
    c == ' ' || c.is_ascii_punctuation()
}

fn longest_run(password: &str) -> usize {
    let mut longest = 0;
    let mut current = 0;
    let mut last = None;
    for c in password.chars() {
        current = if Some(c) == last { current + 1 } else { 1 };
        last = Some(c);
        longest = longest.max(current);
    }
    longest
}

const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON_PASSWORDS.lines().filter(|l| !l.is_empty()).collect())
}

/// Whether `password` is one of the 10,000 most common passwords (case-insensitive).
pub fn is_common_password(password: &str) -> bool {
    common_passwords().contains(password.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(options: Value) -> PasswordPolicy {
        let Value::Object(o) = options else { unreachable!() };
        PasswordPolicy::from_options(&o)
    }

    fn ok(p: &PasswordPolicy, pw: &str) -> bool {
        p.check(pw, &PersonalInfo::default()).is_ok()
    }

    #[test]
    fn auth0_examples_per_level() {
        // Auth0's documentation examples for each level (password-strength docs).
        let none = policy(json!({"passwordPolicy": "none"}));
        assert!(ok(&none, "a") && !ok(&none, ""));
        let low = policy(json!({"passwordPolicy": "low"}));
        assert!(ok(&low, "123456") && !ok(&low, "12345"));
        let fair = policy(json!({"passwordPolicy": "fair"}));
        assert!(ok(&fair, "Hello123") && !ok(&fair, "hello123") && !ok(&fair, "Hello12"));
        let good = policy(json!({"passwordPolicy": "good"}));
        assert!(ok(&good, "Hello123") && ok(&good, "hello12!") && !ok(&good, "hello123") && !ok(&good, "Hello!"));
        let excellent = policy(json!({"passwordPolicy": "excellent"}));
        assert!(ok(&excellent, "Hello1234!") && !ok(&excellent, "Helllo1234") && !ok(&excellent, "Hello123!"));
    }

    #[test]
    fn unset_is_good_and_unknown_is_none() {
        assert_eq!(policy(json!({})).level, Level::Good);
        assert_eq!(policy(json!({"passwordPolicy": null})).level, Level::Good);
        assert_eq!(policy(json!({"passwordPolicy": "great"})).level, Level::None);
        assert_eq!(
            policy(json!({"passwordPolicy": "low", "password_complexity_options": {"min_length": 12}})).min_length,
            12
        );
    }

    #[test]
    fn error_body_has_auth0s_shape() {
        let p = policy(json!({"passwordPolicy": "good"}));
        let e = p.check("hello!", &PersonalInfo::default()).unwrap_err();
        let body = e.to_auth0_json();
        assert_eq!(body["name"], "PasswordStrengthError");
        assert_eq!(body["code"], "invalid_password");
        assert_eq!(body["description"]["verified"], false);
        assert_eq!(
            body["description"]["rules"][0],
            json!({"message": "At least %d characters in length", "format": [8], "code": "lengthAtLeast", "verified": false})
        );
        assert_eq!(body["description"]["rules"][1]["items"][3]["verified"], true);
        assert_eq!(
            body["policy"],
            "* At least 8 characters in length\n* Contain at least 3 of the following 4 types of characters:\n * lower case letters (a-z)\n * upper case letters (A-Z)\n * numbers (i.e. 0-9)\n * special characters (e.g. !@#$%^&*)"
        );
    }

    #[test]
    fn dictionary_bundled_and_custom() {
        let p = policy(
            json!({"passwordPolicy": "none", "password_dictionary": {"enable": true, "dictionary": ["Gatehouse"]}}),
        );
        assert!(is_common_password("PassWord") && is_common_password("123456") && !is_common_password("x9$Kq!v2Lm"));
        assert_eq!(p.check("Password", &PersonalInfo::default()), Err(PasswordRejection::TooCommon));
        assert_eq!(p.check("gatehouse", &PersonalInfo::default()), Err(PasswordRejection::TooCommon));
        assert!(ok(&p, "x9$Kq!v2Lm"));
        let off = policy(json!({"passwordPolicy": "none", "password_dictionary": {"enable": false}}));
        assert!(ok(&off, "password"));
    }

    #[test]
    fn personal_info() {
        let p = policy(json!({"passwordPolicy": "none", "password_no_personal_info": {"enable": true}}));
        let meta = Map::new();
        let info = PersonalInfo::of(Some("jdoe@example.com"), Some("johnny"), &[Some("John Doe")], &meta);
        for bad in ["John1234!", "xJDOEx", "Johnny-99"] {
            assert_eq!(p.check(bad, &info), Err(PasswordRejection::PersonalInfo), "{bad}");
        }
        assert!(p.check("Xylophone-42", &info).is_ok());
    }

    #[test]
    fn history_size() {
        assert_eq!(policy(json!({"password_history": {"enable": true, "size": 3}})).history_size, 3);
        assert_eq!(policy(json!({"password_history": {"enable": true}})).history_size, 5);
        assert_eq!(policy(json!({"password_history": {"enable": false, "size": 3}})).history_size, 0);
    }
}
