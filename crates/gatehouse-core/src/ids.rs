//! Identifiers in Auth0's formats. Auth0's SDKs check some of these shapes
//! (`con_` + 16 alphanumerics), so the formats are part of the API.

use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;

fn alphanumeric(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

/// `con_` + 16 alphanumerics.
pub fn new_connection_id() -> String {
    format!("con_{}", alphanumeric(16))
}

/// `job_` + 16 alphanumerics.
pub fn new_job_id() -> String {
    format!("job_{}", alphanumeric(16))
}

/// `cgr_` + 16 alphanumerics (client grants).
pub fn new_client_grant_id() -> String {
    format!("cgr_{}", alphanumeric(16))
}

/// 32 alphanumerics, like Auth0's client ids.
pub fn new_client_id() -> String {
    alphanumeric(32)
}

/// 64 characters of URL-safe randomness (≈ 380 bits) for client secrets.
pub fn new_client_secret() -> String {
    alphanumeric(64)
}

/// The provider-local part of a database user's id: a 24-hex ObjectId-like value.
pub fn new_user_local_id() -> String {
    object_id()
}

/// An API's (resource server's) id: 24 hex digits, as Auth0's.
pub fn new_resource_server_id() -> String {
    object_id()
}

/// `rol_` + 16 alphanumerics.
pub fn new_role_id() -> String {
    format!("rol_{}", alphanumeric(16))
}

/// An action's, version's, binding's or execution's id: a UUID (v4), as Auth0's.
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// 24 hex digits, the shape of a MongoDB ObjectId that Auth0 ids keep.
fn object_id() -> String {
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A log event id: 13 digits of milliseconds since the epoch, then 11 random digits,
/// so ids sort by time (checkpoint paging with `from`) and never collide in practice.
pub fn new_log_id(unix_millis: i64) -> String {
    let mut rng = rand::thread_rng();
    let tail: u64 = rand::Rng::gen_range(&mut rng, 0..100_000_000_000);
    format!("{:013}{tail:011}", unix_millis.max(0))
}

/// A name for this process in job claims: `node_` + 16 alphanumerics, new each start.
pub fn new_node_id() -> String {
    format!("node_{}", alphanumeric(16))
}

pub fn is_connection_id(s: &str) -> bool {
    s.len() == 20 && s.starts_with("con_") && s[4..].bytes().all(|b| b.is_ascii_alphanumeric())
}

pub fn is_job_id(s: &str) -> bool {
    s.len() == 20 && s.starts_with("job_") && s[4..].bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(is_connection_id(&new_connection_id()));
        assert!(is_job_id(&new_job_id()));
        assert!(!is_connection_id("con_short"));
        assert!(!is_connection_id("con_abcdefgh-jklmnop"));
        assert_eq!(new_user_local_id().len(), 24);
        assert_eq!(new_client_id().len(), 32);
    }
}
