//! Password-policy options and passwords, attack-protection settings documents,
//! allow-list entries, and Auth0's branding and tenant settings: evaluation and validation
//! never panic; what an allow-list entry parses to prints back to something that parses
//! the same, and accepted branding and tenant settings read back as themselves.
#![no_main]

use gatehouse_core::attack_protection::{BruteForceProtection, IpRange, SuspiciousIpThrottling};
use gatehouse_core::branding::{Branding, BrandingSettings, TenantSettings};
use gatehouse_core::password_policy::{PasswordPolicy, PersonalInfo};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(range) = IpRange::parse(text) {
            assert_eq!(IpRange::parse(&range.to_string()), Some(range));
        }
        let policy = PasswordPolicy::from_options(&Map::new());
        let personal = PersonalInfo::of(Some("someone@example.com"), Some("someone"), &[Some(text)], &Map::new());
        let _ = policy.check(text, &personal);
    }
    let Ok(v) = serde_json::from_slice::<Value>(data) else { return };
    let _ = BruteForceProtection::default().patched(&v);
    let _ = SuspiciousIpThrottling::default().patched(&v);
    if let Ok(settings) = BrandingSettings::default().patched(&v) {
        assert_eq!(BrandingSettings::from_stored(&settings.to_json()), settings);
        let tenant = TenantSettings::default();
        assert!(Branding::effective(&Branding::default(), &tenant, &settings).validate().is_ok());
    }
    if let Ok(tenant) = TenantSettings::default().patched(&v) {
        assert_eq!(TenantSettings::from_stored(&tenant.to_json()), tenant);
    }
    if let Value::Object(o) = &v {
        let _ = PasswordPolicy::from_options(o).check("Fuzz-Password-1", &PersonalInfo::of(None, None, &[], o));
    }
});
