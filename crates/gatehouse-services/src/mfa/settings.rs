//! The tenant's MFA settings, as Auth0's Guardian API shapes them: which factors are
//! enabled (`/api/v2/guardian/factors`) and the policy (`/api/v2/guardian/policies`).
//! Both are tenant settings documents, read on use, so a change made through any node
//! applies on all of them at once.

use crate::attack::SettingsError;
use crate::Services;
use gatehouse_core::mfa::{GuardianFactor, GuardianFactors, MfaPolicy};
use gatehouse_core::Error;
use gatehouse_store::StoreError;
use serde_json::Value;

pub const FACTORS_SETTING: &str = "guardian.factors";
pub const POLICY_SETTING: &str = "guardian.policies";

/// The enabled factors and the policy, in one read.
pub async fn mfa_settings(state: &Services) -> Result<(GuardianFactors, MfaPolicy), StoreError> {
    let (factors, policy) = state.store.setting_pair(FACTORS_SETTING, POLICY_SETTING).await?;
    Ok((
        factors.map(|v| GuardianFactors::from_stored(&v)).unwrap_or_default(),
        policy.map(|v| MfaPolicy::from_stored(&v)).unwrap_or_default(),
    ))
}

/// `PUT /api/v2/guardian/factors/{name}` with `{"enabled": bool}`: the factor's new state.
pub async fn set_factor(state: &Services, name: &str, body: &Value) -> Result<bool, SettingsError> {
    let factor = GuardianFactor::parse(name).ok_or_else(|| Error::Rejected {
        code: "invalid_uri",
        message: format!("Path validation error: 'Invalid value \"{name}\"' on property name (Factor name)."),
    })?;
    let enabled = match body.as_object().map(|o| (o.get("enabled"), o.len())) {
        Some((Some(Value::Bool(b)), 1)) => *b,
        Some((Some(Value::Bool(_)), _)) => {
            return Err(
                Error::InvalidBody("Payload validation error: 'Additional properties not allowed'.".into()).into()
            )
        }
        Some((Some(_), _)) => {
            return Err(Error::InvalidBody(
                "Payload validation error: 'Expected type boolean' on property enabled.".into(),
            )
            .into())
        }
        _ => {
            return Err(
                Error::InvalidBody("Payload validation error: 'Missing required property: enabled'.".into()).into()
            )
        }
    };
    let webauthn = matches!(factor, GuardianFactor::WebauthnRoaming | GuardianFactor::WebauthnPlatform);
    if enabled && webauthn && super::webauthn::relying_party(state).is_none() {
        return Err(Error::Rejected {
            code: "unsupported_factor",
            message: format!(
                "The {name} factor needs the issuer to name a host (browsers refuse an IP address as WebAuthn relying party)."
            ),
        }
        .into());
    }
    crate::settings::update(state, FACTORS_SETTING, |stored| {
        let mut factors = stored.map(GuardianFactors::from_stored).unwrap_or_default();
        factors.set(factor, enabled)?;
        Ok(((), factors.to_stored()))
    })
    .await?;
    Ok(enabled)
}

/// `PUT /api/v2/guardian/policies`: the new policy.
pub async fn set_policy(state: &Services, body: &Value) -> Result<MfaPolicy, SettingsError> {
    let policy = MfaPolicy::parse_body(body)?;
    state.store.put_setting(POLICY_SETTING, &policy.to_auth0_json(), &state.now()).await?;
    Ok(policy)
}
