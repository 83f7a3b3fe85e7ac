//! Changing a tenant settings document from what it holds (a patch, one factor of many):
//! read, change, write only if nobody wrote in between, else again from the new
//! document. Concurrent changes through any node all land (Auth0's Deploy CLI sets every
//! MFA factor at once, for one).

use crate::attack::SettingsError;
use crate::Services;
use gatehouse_store::StoreError;
use serde_json::Value;

/// Attempts before giving up on a document that keeps changing under us.
const ATTEMPTS: usize = 20;

/// Applies `change` to setting `name` (its stored document, if any) and stores what it
/// returns; the document written.
pub async fn update<T>(
    state: &Services,
    name: &str,
    mut change: impl FnMut(Option<&Value>) -> Result<(T, Value), SettingsError>,
) -> Result<T, SettingsError> {
    for _ in 0..ATTEMPTS {
        let stored = state.store.setting(name).await?;
        let (result, next) = change(stored.as_ref())?;
        if state.store.swap_setting(name, stored.as_ref(), &next, &state.now()).await? {
            return Ok(result);
        }
    }
    Err(StoreError::Unavailable(format!("the setting {name} kept changing; try again")).into())
}
