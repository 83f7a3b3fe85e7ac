//! The brand the hosted pages show: the configured one (`[branding]`), under the tenant's
//! name and Auth0's branding settings as the Management API and the console set them.
//! Read from the store on use (cached for a moment), so a change made on any node shows
//! on every node's pages at once.

use crate::attack::SettingsError;
use crate::Services;
use gatehouse_core::branding::{Branding, BrandingSettings, TenantSettings};
use gatehouse_store::{Store, StoreError};
use serde_json::Value;

pub const BRANDING_SETTING: &str = "branding";
pub const TENANT_SETTING: &str = "tenant";

/// Auth0's branding document and the tenant settings, as stored.
pub async fn stored(state: &Services) -> Result<(BrandingSettings, TenantSettings), StoreError> {
    stored_in(&state.store).await
}

async fn stored_in(store: &Store) -> Result<(BrandingSettings, TenantSettings), StoreError> {
    let (branding, tenant) = store.setting_pair(BRANDING_SETTING, TENANT_SETTING).await?;
    Ok((
        branding.map(|v| BrandingSettings::from_stored(&v)).unwrap_or_default(),
        tenant.map(|v| TenantSettings::from_stored(&v)).unwrap_or_default(),
    ))
}

/// The brand in force.
pub async fn effective(state: &Services) -> Result<Branding, StoreError> {
    let (settings, tenant) = stored(state).await?;
    Ok(Branding::effective(&state.config.branding, &tenant, &settings))
}

/// The tenant's settings (its name, support contacts); the defaults when the store
/// cannot be read, so an email still goes.
pub async fn tenant_settings(store: &Store) -> TenantSettings {
    match stored_in(store).await {
        Ok((_, tenant)) => tenant,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the tenant's settings; using the configured ones");
            TenantSettings::default()
        }
    }
}

/// Applies Auth0's `PATCH /api/v2/branding` body; returns the new document.
pub async fn change_settings(state: &Services, body: &Value) -> Result<BrandingSettings, SettingsError> {
    crate::settings::update(state, BRANDING_SETTING, |stored| {
        let next = stored.map(BrandingSettings::from_stored).unwrap_or_default().patched(body)?;
        let doc = next.to_json();
        Ok((next, doc))
    })
    .await
}

/// Applies Auth0's `PATCH /api/v2/tenants/settings` body (the fields Gatehouse keeps).
pub async fn change_tenant(state: &Services, body: &Value) -> Result<TenantSettings, SettingsError> {
    crate::settings::update(state, TENANT_SETTING, |stored| {
        let next = stored.map(TenantSettings::from_stored).unwrap_or_default().patched(body)?;
        let doc = next.to_json();
        Ok((next, doc))
    })
    .await
}
