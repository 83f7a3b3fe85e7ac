//! The import formats Gatehouse reads, their CLI names, and the options a reader needs.

use serde_json::{json, Value};
use std::fmt;
use std::str::FromStr;

/// An import file format. Every format is mapped to Auth0's bulk-import user object
/// before validation, so one validator serves them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Auth0's bulk-import file: a JSON array of user objects (CLI name `auth0`).
    Auth0Json,
    /// Auth0's export: one JSON object per line; `auth0|` is stripped from `user_id` and
    /// export-only fields (`created_at`, `identities`, …) are dropped.
    Ndjson,
    /// A header row and one user per row; columns map to Auth0 fields (see
    /// [`ReadOptions::csv_columns`]).
    Csv,
    /// `firebase auth:export` JSON: `{"users":[…]}`.
    Firebase,
    /// A Keycloak realm export or users export: `{"users":[…], …}`.
    Keycloak,
    /// Ory Kratos identities: a JSON array.
    Kratos,
}

impl Format {
    pub const ALL: [Format; 6] =
        [Format::Auth0Json, Format::Ndjson, Format::Csv, Format::Firebase, Format::Keycloak, Format::Kratos];

    /// The CLI name (`--format`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Auth0Json => "auth0",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Firebase => "firebase",
            Format::Keycloak => "keycloak",
            Format::Kratos => "kratos",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown `--format` name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown import format {0:?} (expected auth0, ndjson, csv, firebase, keycloak or kratos)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL.into_iter().find(|f| f.name() == s).ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// A Firebase project's password hash parameters (Console → Authentication → Users →
/// "Password hash parameters"). Keys are kept base64, as Firebase shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirebaseHashConfig {
    pub signer_key: String,
    pub salt_separator: String,
    pub rounds: u32,
    pub mem_cost: u32,
}

impl FirebaseHashConfig {
    /// Reads the console's `hash_config` block (`base64_signer_key`,
    /// `base64_salt_separator`, `rounds`, `mem_cost`), or the same with Gatehouse's
    /// key names (`signer_key`, `salt_separator`).
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let v = v.get("hash_config").unwrap_or(v);
        let s = |a: &str, b: &str| {
            v.get(a)
                .or_else(|| v.get(b))
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("the Firebase hash config needs a string {a}"))
        };
        let n = |k: &str| {
            v.get(k)
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("the Firebase hash config needs an integer {k}"))
        };
        Ok(Self {
            signer_key: s("base64_signer_key", "signer_key")?,
            salt_separator: s("base64_salt_separator", "salt_separator")?,
            rounds: n("rounds")?,
            mem_cost: n("mem_cost")?,
        })
    }

    /// The `firebase` member of a `firebase-scrypt` `custom_password_hash`.
    pub(crate) fn to_custom_params(&self) -> Value {
        json!({
            "signer_key": self.signer_key,
            "salt_separator": self.salt_separator,
            "rounds": self.rounds,
            "mem_cost": self.mem_cost,
        })
    }
}

/// How to read a file. `Default` suits Auth0 files and a connection without usernames.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Keep the usernames of Keycloak, Kratos and CSV files. Auth0 refuses `username` on
    /// a connection without `requires_username`, and these sources always have one, so
    /// set this to `connection.requires_username()` (see [`ReadOptions::for_connection`]).
    pub keep_usernames: bool,
    /// CSV only: `(column title, Auth0 field)` pairs. The field is an Auth0 schema field
    /// (`email`, `given_name`, …) or a metadata path (`user_metadata.plan`,
    /// `app_metadata.roles.primary`). `None`: every header column must itself be such a
    /// field, or one of the Import/Export extension titles (`Id`, `Email`, `Given Name`…).
    /// Columns not listed are ignored when a mapping is given.
    ///
    /// Cells become: booleans for `email_verified`/`phone_verified`/`blocked`
    /// (`true`/`false`/`1`/`0`/`yes`/`no`), parsed JSON for `custom_password_hash`,
    /// `mfa_factors` and whole `user_metadata`/`app_metadata` columns, strings otherwise
    /// (metadata paths included: CSV has no types). Empty cells are absent fields;
    /// `auth0|` is stripped from `user_id`.
    pub csv_columns: Option<Vec<(String, String)>>,
    /// CSV only: remove one leading `'` from each cell, undoing the CSV-injection escape
    /// of Auth0's (and Gatehouse's) CSV export.
    pub csv_strip_quote_prefix: bool,
    /// Firebase only: the project's hash parameters. Without them, users that have a
    /// `passwordHash` are refused (their hash could never be verified).
    pub firebase: Option<FirebaseHashConfig>,
    /// Largest single record, in bytes; a larger one is a [`crate::FileError`]. Keeps
    /// memory bounded on hostile files.
    pub max_record_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            keep_usernames: false,
            csv_columns: None,
            csv_strip_quote_prefix: true,
            firebase: None,
            max_record_bytes: 1 << 20,
        }
    }
}

impl ReadOptions {
    /// Defaults, keeping usernames exactly when `connection` requires them.
    pub fn for_connection(connection: &gatehouse_core::connection::Connection) -> Self {
        Self { keep_usernames: connection.requires_username(), ..Self::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
        }
        assert!("json".parse::<Format>().is_err());
    }

    #[test]
    fn firebase_console_config() {
        let c = FirebaseHashConfig::from_json(&json!({"hash_config": {"algorithm": "SCRYPT",
            "base64_signer_key": "a2V5", "base64_salt_separator": "Bw==", "rounds": 8, "mem_cost": 14}}));
        assert_eq!(c.map(|c| (c.rounds, c.mem_cost, c.salt_separator)), Ok((8, 14, "Bw==".to_string())));
    }
}
