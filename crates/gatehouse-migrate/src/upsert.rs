//! What happens when an imported record meets a user that already exists: Auth0's upsert
//! rules (AUTH0-SPEC §1.4) as one pure function, and duplicate detection within a file.

use crate::error::{FieldError, RecordError};
use crate::read::RawRecord;
use crate::validate::ImportUser;
use gatehouse_core::user::User;
use serde_json::json;
use std::collections::hash_map::{Entry, RandomState};
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// The prefix of gatehouse-hash's stored form of a `custom_password_hash` (documented as
/// stable in that crate): how a stored user shows its hash came from a custom object.
const CUSTOM_STORED_PREFIX: &str = "$gh-custom$";

/// Updates `existing` (matched by email) with `incoming` under Auth0's upsert rules:
///
/// * Only upsertable attributes change, and only those present in the file:
///   `given_name`, `family_name`, `name`, `nickname`, `picture`, `user_metadata`,
///   `app_metadata` (both replaced wholesale, never merged), `custom_password_hash`.
/// * `email_verified` takes the file's value, and is reset to `false` when the file
///   does not give it (AUTH0-SPEC §1.4).
/// * `email`, `user_id`, `username`, `phone_number`, `blocked` and `password_hash` are
///   never changed.
/// * A `custom_password_hash` replaces the stored hash only if that hash came from a
///   `custom_password_hash` import and the user has never logged in; otherwise the
///   record fails with Auth0's message and nothing is changed.
///
/// `updated_at` becomes `now`.
pub fn apply_upsert(existing: &mut User, incoming: &ImportUser, now: &str) -> Result<(), RecordError> {
    let p = &incoming.provided;
    let new = &incoming.user;
    if p.custom_password_hash {
        let custom = existing.password_hash.as_deref().is_some_and(|h| h.starts_with(CUSTOM_STORED_PREFIX));
        let logged_in = existing.logins_count > 0 || existing.last_login.is_some();
        let message = if !custom {
            Some("A custom_password_hash was provided, but the user already has password hash defined.")
        } else if logged_in {
            Some("A custom_password_hash was provided, but the user has already logged in with the imported hash.")
        } else {
            None
        };
        if let Some(message) = message {
            let summary = json!({"email": new.email, "user_id": new.local_id()});
            return Err(RecordError::new(
                incoming.index,
                &summary,
                vec![FieldError::new("CONFLICT", "custom_password_hash", message)],
            ));
        }
        existing.password_hash.clone_from(&new.password_hash);
    }
    existing.email_verified = p.email_verified && new.email_verified;
    let fields = [
        (p.given_name, &mut existing.given_name, &new.given_name),
        (p.family_name, &mut existing.family_name, &new.family_name),
        (p.name, &mut existing.name, &new.name),
        (p.nickname, &mut existing.nickname, &new.nickname),
        (p.picture, &mut existing.picture, &new.picture),
    ];
    for (given, slot, value) in fields {
        if given {
            slot.clone_from(value);
        }
    }
    if p.user_metadata {
        existing.user_metadata.clone_from(&new.user_metadata);
    }
    if p.app_metadata {
        existing.app_metadata.clone_from(&new.app_metadata);
    }
    existing.updated_at = now.to_string();
    Ok(())
}

/// Finds users that appear twice in one import (Auth0 fails the second occurrence with
/// `DUPLICATED_USER` rather than treating it as an update).
///
/// Keys are the email, the given `user_id` and the username, per connection. Only a
/// 64-bit keyed hash of each key is kept (with the index of its first record), about
/// 20 bytes per key: a million users fit in ~60 MB. A false positive needs a 64-bit
/// collision (≈ 3·10⁻⁸ for a million users).
#[derive(Debug, Default)]
pub struct DuplicateTracker {
    seen: HashMap<u64, u64, BuildHasherDefault<Prehashed>>,
    keys: RandomState,
}

impl DuplicateTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `users` records without rehashing (e.g. the count from
    /// [`crate::check_file`]); each user takes one to three keys.
    pub fn with_capacity(users: usize) -> Self {
        Self {
            seen: HashMap::with_capacity_and_hasher(users.saturating_mul(2), Default::default()),
            keys: RandomState::new(),
        }
    }

    /// Registers `user` (validated from `record`) or reports which earlier record it
    /// duplicates. A duplicate registers nothing, so only the first occurrence counts.
    pub fn check(&mut self, record: &RawRecord, user: &ImportUser) -> Result<(), RecordError> {
        self.check_keys(user).map_err(|errors| RecordError::new(record.index, &record.user, errors))
    }

    /// [`DuplicateTracker::check`] without the record: the `DUPLICATED_USER` errors, for
    /// a caller that builds the [`RecordError`] itself.
    pub fn check_keys(&mut self, user: &ImportUser) -> Result<(), Vec<FieldError>> {
        let u = &user.user;
        let mut keys: Vec<(&'static str, u64)> = Vec::with_capacity(3);
        if let Some(e) = &u.email {
            keys.push(("email", self.keys.hash_one(("email", &u.connection_id, e))));
        }
        if user.user_id_given {
            keys.push(("user_id", self.keys.hash_one(("user_id", &u.connection_id, &u.user_id))));
        }
        if let Some(n) = &u.username {
            keys.push(("username", self.keys.hash_one(("username", &u.connection_id, n))));
        }
        let errors: Vec<FieldError> = keys
            .iter()
            .filter_map(|(field, h)| {
                self.seen.get(h).map(|first| {
                    FieldError::new(
                        "DUPLICATED_USER",
                        *field,
                        format!("The user appears more than once in the file: same {field} as record {first}"),
                    )
                })
            })
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        for (_, h) in keys {
            if let Entry::Vacant(v) = self.seen.entry(h) {
                v.insert(user.index);
            }
        }
        Ok(())
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// The map's keys are already SipHash outputs; hashing them again would only cost time.
#[derive(Debug, Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
