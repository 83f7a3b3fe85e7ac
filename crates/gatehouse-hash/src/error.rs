//! The one error type of this crate.
//!
//! Every variant names the offending input field as a JSON path
//! (`password_hash`, `custom_password_hash.hash.value`, `custom_password_hash.cost`, …)
//! so import jobs can report it to the operator verbatim.

/// Why a hash could not be parsed, imported or produced.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum HashError {
    /// The value is syntactically wrong (bad encoding, missing part, wrong type).
    #[error("{field}: {reason}")]
    Malformed {
        /// JSON path of the offending field.
        field: String,
        /// Human-readable reason.
        reason: String,
    },
    /// The value is well formed but names an algorithm, digest or variant we do not support.
    #[error("{field}: {reason}")]
    Unsupported {
        /// JSON path of the offending field.
        field: String,
        /// Human-readable reason.
        reason: String,
    },
    /// A cost parameter exceeds the configured [`Limits`](crate::Limits) (or is below the
    /// algorithm's minimum).
    #[error("{field}: {reason}")]
    OutOfBounds {
        /// JSON path of the offending field.
        field: String,
        /// Human-readable reason.
        reason: String,
    },
    /// Hashing a new password failed (bad configuration, RNG failure).
    #[error("{field}: {reason}")]
    Internal {
        /// What was being produced, e.g. `argon2`.
        field: String,
        /// Human-readable reason.
        reason: String,
    },
}

impl HashError {
    /// JSON path of the field the error is about.
    pub fn field(&self) -> &str {
        match self {
            HashError::Malformed { field, .. }
            | HashError::Unsupported { field, .. }
            | HashError::OutOfBounds { field, .. }
            | HashError::Internal { field, .. } => field,
        }
    }

    /// Human-readable reason, without the field.
    pub fn reason(&self) -> &str {
        match self {
            HashError::Malformed { reason, .. }
            | HashError::Unsupported { reason, .. }
            | HashError::OutOfBounds { reason, .. }
            | HashError::Internal { reason, .. } => reason,
        }
    }

    pub(crate) fn malformed(field: impl Into<String>, reason: impl Into<String>) -> Self {
        HashError::Malformed { field: field.into(), reason: reason.into() }
    }

    pub(crate) fn unsupported(field: impl Into<String>, reason: impl Into<String>) -> Self {
        HashError::Unsupported { field: field.into(), reason: reason.into() }
    }

    pub(crate) fn bounds(field: impl Into<String>, reason: impl Into<String>) -> Self {
        HashError::OutOfBounds { field: field.into(), reason: reason.into() }
    }

    pub(crate) fn internal(field: impl Into<String>, reason: impl Into<String>) -> Self {
        HashError::Internal { field: field.into(), reason: reason.into() }
    }
}
