//! Second factors: what a user enrolled or brought with an import (Auth0's `mfa_factors`:
//! a TOTP secret, a phone number, an email address; enrolled: a recovery code, WebAuthn
//! security keys and platform authenticators), their
//! Management API shape (`/api/v2/users/{id}/authentication-methods`), and the tenant's
//! MFA settings in Auth0's Guardian shapes: which factors are enabled
//! (`/api/v2/guardian/factors`) and whether every login needs a second factor
//! (`/api/v2/guardian/policies`).

use crate::secret::Secret;
use serde_json::{json, Map, Value};

/// The kinds of factor Gatehouse keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FactorKind {
    Totp,
    Phone,
    Email,
    /// A one-time recovery code: `value` is its SHA-256 (hex), never the code.
    RecoveryCode,
    /// A WebAuthn credential of a roaming authenticator (a security key): `secret` is the
    /// relying-party library's credential (JSON), `value` its name, `credential_id` its id
    /// and `last_step` its signature counter.
    WebauthnRoaming,
    /// A WebAuthn credential of a platform authenticator (this device's fingerprint or
    /// face unlock, a synced passkey), kept as [`FactorKind::WebauthnRoaming`] is.
    WebauthnPlatform,
    /// A passkey: a discoverable WebAuthn credential that is a FIRST factor (sign-in
    /// without a password on a database connection that enables passkeys), kept as
    /// [`FactorKind::WebauthnRoaming`] is. Never a second factor: no Guardian factor
    /// enables it, so the second step of a login never offers it.
    Passkey,
}

impl FactorKind {
    /// The name of the kind in import files, in the store and in authentication-method ids.
    pub fn as_str(self) -> &'static str {
        match self {
            FactorKind::Totp => "totp",
            FactorKind::Phone => "phone",
            FactorKind::Email => "email",
            FactorKind::RecoveryCode => "recovery-code",
            FactorKind::WebauthnRoaming => "webauthn-roaming",
            FactorKind::WebauthnPlatform => "webauthn-platform",
            FactorKind::Passkey => "passkey",
        }
    }

    /// Whether this kind is a WebAuthn second factor (a passkey is a first factor).
    pub fn is_webauthn(self) -> bool {
        matches!(self, FactorKind::WebauthnRoaming | FactorKind::WebauthnPlatform)
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "totp" => Some(FactorKind::Totp),
            "phone" => Some(FactorKind::Phone),
            "email" => Some(FactorKind::Email),
            "recovery-code" => Some(FactorKind::RecoveryCode),
            "webauthn-roaming" => Some(FactorKind::WebauthnRoaming),
            "webauthn-platform" => Some(FactorKind::WebauthnPlatform),
            "passkey" => Some(FactorKind::Passkey),
            _ => None,
        }
    }

    /// The Guardian factor that must be enabled for this kind to be used at login
    /// (a phone has none Gatehouse can deliver to).
    pub fn guardian_factor(self) -> Option<GuardianFactor> {
        match self {
            FactorKind::Totp => Some(GuardianFactor::Otp),
            FactorKind::Email => Some(GuardianFactor::Email),
            FactorKind::RecoveryCode => Some(GuardianFactor::RecoveryCode),
            FactorKind::WebauthnRoaming => Some(GuardianFactor::WebauthnRoaming),
            FactorKind::WebauthnPlatform => Some(GuardianFactor::WebauthnPlatform),
            FactorKind::Phone | FactorKind::Passkey => None,
        }
    }
}

/// One factor of one user. A TOTP factor has a `secret` (un-padded Base32, as imported),
/// the others a `value` (the phone number or address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaFactor {
    /// `<kind>|dev_<24 hex>`, as Auth0's authentication-method ids.
    pub id: String,
    pub user_id: String,
    pub kind: FactorKind,
    pub secret: Option<Secret>,
    pub value: Option<String>,
    pub confirmed: bool,
    /// The last TOTP time step accepted: a code of that step or an earlier one is refused.
    pub last_step: Option<i64>,
    pub created_at: String,
    /// Orders the factors created at one time (an import record's, in its order).
    pub position: i64,
    pub last_auth_at: Option<String>,
    /// A WebAuthn credential's id (base64url, unique across users).
    pub credential_id: Option<String>,
}

impl MfaFactor {
    /// A factor from one validated `mfa_factors` item (`{"totp": {"secret": …}}`,
    /// `{"phone": {"value": …}}`, `{"email": {"value": …}}`); `None` for any other shape.
    pub fn from_import_item(item: &Value, id: String, user_id: &str, now: &str, position: i64) -> Option<Self> {
        let (kind, body) = item.as_object()?.iter().next()?;
        let kind = FactorKind::parse(kind)?;
        let field = if kind == FactorKind::Totp { "secret" } else { "value" };
        let text = body.get(field)?.as_str()?.to_owned();
        let (secret, value) = match kind {
            FactorKind::Totp => (Some(Secret::new(text)), None),
            _ => (None, Some(text)),
        };
        Some(MfaFactor {
            id,
            user_id: user_id.to_owned(),
            kind,
            secret,
            value,
            confirmed: true,
            last_step: None,
            created_at: now.to_owned(),
            position,
            last_auth_at: None,
            credential_id: None,
        })
    }

    /// The factor as an import file's `mfa_factors` item: with its secret, so only for an
    /// export that was asked to include them. `None` for what an import file cannot carry:
    /// a recovery code (only its hash is kept) and an enrolment not yet confirmed.
    pub fn to_import_item(&self) -> Option<Value> {
        if !self.confirmed {
            return None;
        }
        Some(match self.kind {
            FactorKind::Totp => json!({"totp": {"secret": self.secret.as_ref().map(Secret::expose)}}),
            FactorKind::Phone => json!({"phone": {"value": self.value}}),
            FactorKind::Email => json!({"email": {"value": self.value}}),
            // Only a hash of a recovery code is kept; a WebAuthn credential is bound to
            // this server's relying-party id, and Auth0's file has no place for one.
            FactorKind::RecoveryCode
            | FactorKind::WebauthnRoaming
            | FactorKind::WebauthnPlatform
            | FactorKind::Passkey => return None,
        })
    }

    /// Whether `other` is the same factor (kind and secret or value), whatever its id.
    pub fn same_as(&self, other: &MfaFactor) -> bool {
        self.kind == other.kind && self.secret == other.secret && self.value == other.value
    }

    /// Auth0's authentication method (never the secret).
    pub fn to_auth0_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("type".into(), json!(self.kind.as_str()));
        m.insert("confirmed".into(), json!(self.confirmed));
        match self.kind {
            FactorKind::Totp | FactorKind::RecoveryCode => {}
            FactorKind::Phone => {
                m.insert("phone_number".into(), json!(self.value));
                m.insert("preferred_authentication_method".into(), json!("sms"));
            }
            FactorKind::Email => {
                m.insert("email".into(), json!(self.value));
            }
            FactorKind::WebauthnRoaming | FactorKind::WebauthnPlatform | FactorKind::Passkey => {
                m.insert("name".into(), json!(self.value));
                m.insert("key_id".into(), json!(self.credential_id));
            }
        }
        m.insert("created_at".into(), json!(self.created_at));
        if let Some(at) = &self.last_auth_at {
            m.insert("last_auth_at".into(), json!(at));
        }
        Value::Object(m)
    }
}

/// Auth0's Guardian factors, by their names in `/api/v2/guardian/factors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuardianFactor {
    Sms,
    PushNotification,
    Otp,
    Email,
    Duo,
    WebauthnRoaming,
    WebauthnPlatform,
    RecoveryCode,
}

impl GuardianFactor {
    /// Every factor, in the order Auth0 lists them.
    pub const ALL: [GuardianFactor; 8] = [
        GuardianFactor::Sms,
        GuardianFactor::PushNotification,
        GuardianFactor::Otp,
        GuardianFactor::Email,
        GuardianFactor::Duo,
        GuardianFactor::WebauthnRoaming,
        GuardianFactor::WebauthnPlatform,
        GuardianFactor::RecoveryCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GuardianFactor::Sms => "sms",
            GuardianFactor::PushNotification => "push-notification",
            GuardianFactor::Otp => "otp",
            GuardianFactor::Email => "email",
            GuardianFactor::Duo => "duo",
            GuardianFactor::WebauthnRoaming => "webauthn-roaming",
            GuardianFactor::WebauthnPlatform => "webauthn-platform",
            GuardianFactor::RecoveryCode => "recovery-code",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// Whether Gatehouse can use this factor at login. The others need a delivery
    /// service (SMS, push, Duo); they can be listed and kept disabled, never enabled.
    pub fn supported(self) -> bool {
        matches!(
            self,
            GuardianFactor::Otp
                | GuardianFactor::Email
                | GuardianFactor::RecoveryCode
                | GuardianFactor::WebauthnRoaming
                | GuardianFactor::WebauthnPlatform
        )
    }
}

/// Which Guardian factors are enabled: the stored settings document
/// (`{"otp": true, ...}`); a factor never set is disabled, as in a new Auth0 tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardianFactors {
    enabled: Vec<GuardianFactor>,
}

impl GuardianFactors {
    pub fn from_stored(v: &Value) -> Self {
        let enabled = GuardianFactor::ALL
            .into_iter()
            .filter(|f| f.supported() && v.get(f.as_str()).and_then(Value::as_bool).unwrap_or(false))
            .collect();
        Self { enabled }
    }

    pub fn to_stored(&self) -> Value {
        Value::Object(self.enabled.iter().map(|f| (f.as_str().to_string(), Value::Bool(true))).collect())
    }

    /// Whether any factor is enabled (without one, nobody is asked for a second factor).
    pub fn any(&self) -> bool {
        !self.enabled.is_empty()
    }

    pub fn is_enabled(&self, f: GuardianFactor) -> bool {
        self.enabled.contains(&f)
    }

    /// Whether a factor of this kind may be used at login.
    pub fn allows(&self, kind: FactorKind) -> bool {
        kind.guardian_factor().is_some_and(|f| self.is_enabled(f))
    }

    /// Enables or disables `f`. Enabling a factor Gatehouse cannot use is refused.
    pub fn set(&mut self, f: GuardianFactor, enabled: bool) -> Result<(), crate::Error> {
        if enabled && !f.supported() {
            return Err(crate::Error::Rejected {
                code: "unsupported_factor",
                message: format!("The {} factor is not available on this server.", f.as_str()),
            });
        }
        self.enabled.retain(|e| *e != f);
        if enabled {
            self.enabled.push(f);
        }
        Ok(())
    }

    /// `GET /api/v2/guardian/factors`.
    pub fn to_auth0_json(&self) -> Value {
        Value::Array(
            GuardianFactor::ALL
                .iter()
                .map(|f| json!({"enabled": self.is_enabled(*f), "trial_expired": false, "name": f.as_str()}))
                .collect(),
        )
    }
}

/// Auth0's MFA policy: `[]` (a second factor only for users who enrolled one) or
/// `["all-applications"]` (every login; users without a factor enrol at their next one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MfaPolicy {
    #[default]
    Never,
    AllApplications,
}

impl MfaPolicy {
    pub const ALL_APPLICATIONS: &'static str = "all-applications";

    pub fn from_stored(v: &Value) -> Self {
        match v.as_array() {
            Some(a) if a.iter().any(|p| p == Self::ALL_APPLICATIONS) => MfaPolicy::AllApplications,
            _ => MfaPolicy::Never,
        }
    }

    /// A `PUT /api/v2/guardian/policies` body: an array of at most one policy name.
    pub fn parse_body(v: &Value) -> Result<Self, crate::Error> {
        let invalid = |reason: &str| crate::Error::InvalidBody(format!("Payload validation error: {reason}"));
        let Some(items) = v.as_array() else { return Err(invalid("'Expected type array but found type object'")) };
        let mut policy = MfaPolicy::Never;
        for item in items {
            match item.as_str() {
                Some(Self::ALL_APPLICATIONS) => policy = MfaPolicy::AllApplications,
                // Auth0's adaptive policy needs a risk engine Gatehouse does not have.
                Some(other) => return Err(invalid(&format!("'No enum match for: \"{other}\"' on property [0]"))),
                None => return Err(invalid("'Expected type string' on property [0]")),
            }
        }
        if items.len() > 1 {
            return Err(invalid("'Array is too long (2), maximum 1'"));
        }
        Ok(policy)
    }

    pub fn to_auth0_json(self) -> Value {
        match self {
            MfaPolicy::Never => json!([]),
            MfaPolicy::AllApplications => json!([Self::ALL_APPLICATIONS]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_items_round_trip_and_the_api_never_shows_a_secret() {
        for item in [
            json!({"totp": {"secret": "JBSWY3DPEHPK3PXP"}}),
            json!({"phone": {"value": "+12125550001"}}),
            json!({"email": {"value": "a@example.com"}}),
        ] {
            let f = MfaFactor::from_import_item(&item, "x|dev_1".into(), "auth0|1", "2026-01-01T00:00:00.000Z", 0);
            let f = f.unwrap_or_else(|| unreachable!("{item}"));
            assert_eq!(f.to_import_item(), Some(item));
            assert!(!f.to_auth0_json().to_string().contains("JBSWY3DPEHPK3PXP"));
        }
        assert!(MfaFactor::from_import_item(&json!({"sms": {"value": "+1"}}), "i".into(), "u", "t", 0).is_none());
        assert!(MfaFactor::from_import_item(&json!({"totp": {"secret": 3}}), "i".into(), "u", "t", 0).is_none());
    }

    #[test]
    fn guardian_settings_keep_only_supported_factors() {
        let mut f = GuardianFactors::from_stored(&json!({"otp": true, "sms": true, "email": false}));
        assert!(f.is_enabled(GuardianFactor::Otp) && !f.is_enabled(GuardianFactor::Sms));
        assert!(f.allows(FactorKind::Totp) && !f.allows(FactorKind::Email) && !f.allows(FactorKind::Phone));
        assert!(f.set(GuardianFactor::Sms, true).is_err());
        f.set(GuardianFactor::Sms, false).unwrap_or_else(|e| unreachable!("{e}"));
        f.set(GuardianFactor::RecoveryCode, true).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(GuardianFactors::from_stored(&f.to_stored()), f);
        let list = f.to_auth0_json();
        assert_eq!(list.as_array().map(Vec::len), Some(8));
        assert_eq!(list[2], json!({"enabled": true, "trial_expired": false, "name": "otp"}));
    }

    #[test]
    fn policies_are_auth0s_arrays() {
        assert_eq!(MfaPolicy::parse_body(&json!([])).ok(), Some(MfaPolicy::Never));
        assert_eq!(MfaPolicy::parse_body(&json!(["all-applications"])).ok(), Some(MfaPolicy::AllApplications));
        assert!(MfaPolicy::parse_body(&json!(["confidence-score"])).is_err());
        assert!(MfaPolicy::parse_body(&json!({"x": 1})).is_err());
        assert_eq!(MfaPolicy::from_stored(&MfaPolicy::AllApplications.to_auth0_json()), MfaPolicy::AllApplications);
    }
}
