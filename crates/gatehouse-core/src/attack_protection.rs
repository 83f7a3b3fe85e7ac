//! Attack-protection settings as Auth0's Management API shapes them
//! (`/api/v2/attack-protection/brute-force-protection` and `…/suspicious-ip-throttling`):
//! their defaults, validation of a PATCH, and the allow-list match of a client address.

use crate::error::Error;
use crate::validate::{Body, Patch};
use serde_json::{json, Value};
use std::net::IpAddr;

/// How failed logins are counted for brute-force protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountMode {
    /// One counter per identifier and IP: an attacker blocks only himself.
    PerIdentifierAndIp,
    /// One counter per identifier across every IP (account lockout).
    PerIdentifier,
}

impl CountMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::PerIdentifierAndIp => "count_per_identifier_and_ip",
            Self::PerIdentifier => "count_per_identifier",
        }
    }
}

/// Brute-force protection: consecutive failed logins against one identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BruteForceProtection {
    pub enabled: bool,
    /// `block` and/or `user_notification`.
    pub shields: Vec<String>,
    pub allowlist: Vec<IpRange>,
    pub mode: CountMode,
    pub max_attempts: u32,
}

impl Default for BruteForceProtection {
    /// Auth0's defaults: on, blocking and notifying, 10 attempts per identifier and IP.
    fn default() -> Self {
        Self {
            enabled: true,
            shields: vec!["block".into(), "user_notification".into()],
            allowlist: Vec::new(),
            mode: CountMode::PerIdentifierAndIp,
            max_attempts: 10,
        }
    }
}

impl BruteForceProtection {
    /// Whether failures lead to a block (rather than being counted only).
    pub fn blocks(&self) -> bool {
        self.enabled && self.shields.iter().any(|s| s == "block")
    }

    pub fn notifies_user(&self) -> bool {
        self.enabled && self.shields.iter().any(|s| s == "user_notification")
    }

    pub fn to_json(&self) -> Value {
        json!({
            "enabled": self.enabled,
            "shields": self.shields,
            "allowlist": self.allowlist.iter().map(IpRange::to_string).collect::<Vec<_>>(),
            "mode": self.mode.as_str(),
            "max_attempts": self.max_attempts,
        })
    }

    /// The stored form: the same JSON the API returns.
    pub fn from_stored(v: &Value) -> Self {
        Self::default().patched(v).unwrap_or_default()
    }

    /// These settings with a PATCH body applied; errors name the field.
    pub fn patched(&self, body: &Value) -> Result<Self, Error> {
        let b = Body::new(body, &["enabled", "shields", "allowlist", "mode", "max_attempts"])?;
        let mut next = self.clone();
        if let Patch::Set(v) = b.boolean("enabled")? {
            next.enabled = v;
        }
        if let Patch::Set(shields) = b.string_array("shields", 2)? {
            check_shields(&shields, &["block", "user_notification"], "shields")?;
            next.shields = shields;
        }
        if let Patch::Set(list) = b.string_array("allowlist", 100)? {
            next.allowlist = parse_allowlist(&list)?;
        }
        match b.string("mode", 1, 64)? {
            Patch::Set(m) if m == "count_per_identifier_and_ip" => next.mode = CountMode::PerIdentifierAndIp,
            Patch::Set(m) if m == "count_per_identifier" => next.mode = CountMode::PerIdentifier,
            Patch::Set(m) => return Err(Error::invalid_field("mode", format!("No enum match for: \"{m}\""))),
            _ => {}
        }
        if let Patch::Set(n) = b.integer("max_attempts", 1, 100)? {
            next.max_attempts = u32::try_from(n).unwrap_or(10);
        }
        Ok(next)
    }
}

/// One stage of suspicious-IP throttling: a token bucket of `max_attempts` that gains one
/// attempt every `rate_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleStage {
    pub max_attempts: u32,
    pub rate_ms: u64,
}

/// Suspicious-IP throttling: failed logins (pre-login) and sign-ups (pre-user-registration)
/// per IP, across accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuspiciousIpThrottling {
    pub enabled: bool,
    /// `block` and/or `admin_notification`.
    pub shields: Vec<String>,
    pub allowlist: Vec<IpRange>,
    pub pre_login: ThrottleStage,
    pub pre_user_registration: ThrottleStage,
}

impl Default for SuspiciousIpThrottling {
    /// Auth0's defaults: 100 failed logins per IP (one back every 14.4 min), 50 sign-ups
    /// per IP (one back every 28.8 min).
    fn default() -> Self {
        Self {
            enabled: true,
            shields: vec!["block".into(), "admin_notification".into()],
            allowlist: Vec::new(),
            pre_login: ThrottleStage { max_attempts: 100, rate_ms: 864_000 },
            pre_user_registration: ThrottleStage { max_attempts: 50, rate_ms: 1_728_000 },
        }
    }
}

impl SuspiciousIpThrottling {
    pub fn blocks(&self) -> bool {
        self.enabled && self.shields.iter().any(|s| s == "block")
    }

    pub fn to_json(&self) -> Value {
        let stage = |s: &ThrottleStage| json!({"max_attempts": s.max_attempts, "rate": s.rate_ms});
        json!({
            "enabled": self.enabled,
            "shields": self.shields,
            "allowlist": self.allowlist.iter().map(IpRange::to_string).collect::<Vec<_>>(),
            "stage": {
                "pre-login": stage(&self.pre_login),
                "pre-user-registration": stage(&self.pre_user_registration),
            },
        })
    }

    pub fn from_stored(v: &Value) -> Self {
        Self::default().patched(v).unwrap_or_default()
    }

    pub fn patched(&self, body: &Value) -> Result<Self, Error> {
        let b = Body::new(body, &["enabled", "shields", "allowlist", "stage"])?;
        let mut next = self.clone();
        if let Patch::Set(v) = b.boolean("enabled")? {
            next.enabled = v;
        }
        if let Patch::Set(shields) = b.string_array("shields", 2)? {
            check_shields(&shields, &["block", "admin_notification"], "shields")?;
            next.shields = shields;
        }
        if let Patch::Set(list) = b.string_array("allowlist", 100)? {
            next.allowlist = parse_allowlist(&list)?;
        }
        if let Some(stage) = b.object("stage", &["pre-login", "pre-user-registration"])? {
            for (key, slot) in
                [("pre-login", &mut next.pre_login), ("pre-user-registration", &mut next.pre_user_registration)]
            {
                if let Some(s) = stage.object(key, &["max_attempts", "rate"])? {
                    if let Patch::Set(n) = s.integer("max_attempts", 1, 1_000_000)? {
                        slot.max_attempts = u32::try_from(n).unwrap_or(slot.max_attempts);
                    }
                    if let Patch::Set(n) = s.integer("rate", 1, 31_536_000_000)? {
                        slot.rate_ms = u64::try_from(n).unwrap_or(slot.rate_ms);
                    }
                }
            }
        }
        Ok(next)
    }
}

/// Breached-password detection, in Auth0's document: a password from the list of the most
/// common breached passwords is refused when a user chooses it at sign-up
/// (`stage.pre-user-registration.shields: ["block"]`) or at a password change
/// (`stage.pre-change-password.shields: ["block"]`). The login-time `shields` are kept as
/// given (a configuration carried over from Auth0 comes back unchanged); Gatehouse acts at
/// sign-up and password change only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreachedPasswordDetection {
    pub enabled: bool,
    /// `block`, `user_notification`, `admin_notification`.
    pub shields: Vec<String>,
    pub admin_notification_frequency: Vec<String>,
    /// `standard` or `enhanced`.
    pub method: String,
    pub pre_user_registration_shields: Vec<String>,
    pub pre_change_password_shields: Vec<String>,
}

impl BreachedPasswordDetection {
    /// The document before any change: on or off as configured, blocking at both stages.
    pub fn configured(enabled: bool) -> Self {
        Self {
            enabled,
            shields: Vec::new(),
            admin_notification_frequency: Vec::new(),
            method: "standard".into(),
            pre_user_registration_shields: vec!["block".into()],
            pre_change_password_shields: vec!["block".into()],
        }
    }

    /// Whether a breached password is refused at sign-up.
    pub fn blocks_sign_up(&self) -> bool {
        self.enabled && self.pre_user_registration_shields.iter().any(|s| s == "block")
    }

    /// Whether a breached password is refused at a password change (a reset).
    pub fn blocks_change(&self) -> bool {
        self.enabled && self.pre_change_password_shields.iter().any(|s| s == "block")
    }

    pub fn to_json(&self) -> Value {
        json!({
            "enabled": self.enabled,
            "shields": self.shields,
            "admin_notification_frequency": self.admin_notification_frequency,
            "method": self.method,
            "stage": {
                "pre-user-registration": { "shields": self.pre_user_registration_shields },
                "pre-change-password": { "shields": self.pre_change_password_shields },
            },
        })
    }

    /// The stored document over the configured one.
    pub fn from_stored(v: &Value, configured: bool) -> Self {
        let base = Self::configured(configured);
        base.patched(v).unwrap_or(base)
    }

    pub fn patched(&self, body: &Value) -> Result<Self, Error> {
        let b = Body::new(body, &["enabled", "shields", "admin_notification_frequency", "method", "stage"])?;
        let mut next = self.clone();
        if let Patch::Set(v) = b.boolean("enabled")? {
            next.enabled = v;
        }
        if let Patch::Set(shields) = b.string_array("shields", 3)? {
            check_shields(&shields, &["block", "user_notification", "admin_notification"], "shields")?;
            next.shields = shields;
        }
        if let Patch::Set(every) = b.string_array("admin_notification_frequency", 4)? {
            check_shields(&every, &["immediately", "daily", "weekly", "monthly"], "admin_notification_frequency")?;
            next.admin_notification_frequency = every;
        }
        if let Patch::Set(method) = b.string("method", 1, 16)? {
            check_shields(std::slice::from_ref(&method), &["standard", "enhanced"], "method")?;
            next.method = method;
        }
        if let Some(stage) = b.object("stage", &["pre-user-registration", "pre-change-password"])? {
            for (key, slot) in [
                ("pre-user-registration", &mut next.pre_user_registration_shields),
                ("pre-change-password", &mut next.pre_change_password_shields),
            ] {
                if let Some(s) = stage.object(key, &["shields"])? {
                    if let Patch::Set(shields) = s.string_array("shields", 2)? {
                        check_shields(&shields, &["block", "admin_notification"], &format!("stage.{key}.shields"))?;
                        *slot = shields;
                    }
                }
            }
        }
        Ok(next)
    }
}

fn check_shields(shields: &[String], allowed: &[&str], field: &str) -> Result<(), Error> {
    match shields.iter().find(|s| !allowed.contains(&s.as_str())) {
        Some(bad) => Err(Error::invalid_field(field, format!("No enum match for: \"{bad}\""))),
        None => Ok(()),
    }
}

fn parse_allowlist(items: &[String]) -> Result<Vec<IpRange>, Error> {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            IpRange::parse(s).ok_or_else(|| {
                Error::invalid_field(
                    format!("allowlist[{i}]"),
                    format!(
                        "Object didn't pass validation for format ipv4, cidr, ipv6 or \
                     ipv6_cidr: {s}"
                    ),
                )
            })
        })
        .collect()
}

/// An address or a CIDR block of an allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// `10.0.0.1`, `10.0.0.0/8`, `::1`, `2001:db8::/32`. Host bits of a CIDR must be zero,
    /// as in Auth0's format check, so a typo cannot silently widen a range.
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) => p.parse::<u8>().ok()?,
            Some(_) => return None,
        };
        if prefix > max {
            return None;
        }
        (masked(network, prefix) == bits(network)).then_some(Self { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.network, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            (IpAddr::V6(_), IpAddr::V4(_)) => return false,
            _ => ip,
        };
        masked(ip, self.prefix) == masked(self.network, self.prefix)
    }
}

impl std::fmt::Display for IpRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let full = if self.network.is_ipv4() { 32 } else { 128 };
        if self.prefix == full {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn masked(ip: IpAddr, prefix: u8) -> u128 {
    let width: u32 = if ip.is_ipv4() { 32 } else { 128 };
    let host_bits = width - u32::from(prefix);
    if host_bits >= 128 {
        0
    } else {
        (bits(ip) >> host_bits) << host_bits
    }
}

/// Whether `ip` (as text, possibly unparsable) is on `allowlist`.
pub fn allowlisted(allowlist: &[IpRange], ip: Option<&str>) -> bool {
    let Some(ip) = ip.and_then(|s| s.parse::<IpAddr>().ok()) else { return false };
    allowlist.iter().any(|r| r.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_match() {
        let r = IpRange::parse("10.1.0.0/16").unwrap();
        assert!(r.contains("10.1.200.3".parse().unwrap()));
        assert!(!r.contains("10.2.0.1".parse().unwrap()));
        assert!(r.contains("::ffff:10.1.0.9".parse().unwrap()), "IPv4-mapped IPv6 peers match IPv4 ranges");
        let one = IpRange::parse("192.0.2.7").unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()));
        assert!(!one.contains("192.0.2.8".parse().unwrap()));
        let v6 = IpRange::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        assert!(IpRange::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert_eq!(v6.to_string(), "2001:db8::/32");
        assert_eq!(one.to_string(), "192.0.2.7");
    }

    #[test]
    fn bad_ranges_are_rejected() {
        for bad in ["10.1.0.1/16", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/+8", "nonsense", "", "::/129", "1.2.3"] {
            assert!(IpRange::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn brute_force_patch_validates_each_field() {
        let d = BruteForceProtection::default();
        let p = d
            .patched(&json!({"max_attempts": 3, "mode": "count_per_identifier", "allowlist": ["10.0.0.0/8"]}))
            .unwrap();
        assert_eq!((p.max_attempts, p.mode, p.enabled), (3, CountMode::PerIdentifier, true));
        assert!(allowlisted(&p.allowlist, Some("10.9.9.9")));
        assert!(!allowlisted(&p.allowlist, Some("11.0.0.1")));
        assert!(!allowlisted(&p.allowlist, None));
        for (body, field) in [
            (json!({"max_attempts": 0}), "max_attempts"),
            (json!({"max_attempts": 101}), "max_attempts"),
            (json!({"mode": "per_moon"}), "mode"),
            (json!({"shields": ["explode"]}), "shields"),
            (json!({"allowlist": ["10.0.0.1/8"]}), "allowlist[0]"),
            (json!({"enabled": "yes"}), "enabled"),
            (json!({"unknown": 1}), "unknown"),
        ] {
            let e = d.patched(&body).unwrap_err().to_string();
            assert!(e.contains(field), "{body}: {e}");
        }
        assert_eq!(BruteForceProtection::from_stored(&p.to_json()), p, "round trip");
    }

    #[test]
    fn throttling_patch_and_round_trip() {
        let d = SuspiciousIpThrottling::default();
        assert_eq!(d.pre_login, ThrottleStage { max_attempts: 100, rate_ms: 864_000 });
        let p = d.patched(&json!({"stage": {"pre-login": {"max_attempts": 5, "rate": 1000}}})).unwrap();
        assert_eq!(p.pre_login, ThrottleStage { max_attempts: 5, rate_ms: 1000 });
        assert_eq!(p.pre_user_registration, d.pre_user_registration);
        assert_eq!(SuspiciousIpThrottling::from_stored(&p.to_json()), p);
        let e = d.patched(&json!({"stage": {"pre-login": {"max_attempts": "many"}}})).unwrap_err().to_string();
        assert!(e.contains("stage.pre-login.max_attempts"), "{e}");
    }
}
