//! Audit log events with Auth0's type codes and JSON shape (`GET /api/v2/logs`).

use serde_json::{json, Map, Value};

/// Auth0's event type codes Gatehouse emits.
pub mod codes {
    pub const SUCCESS_LOGIN: &str = "s";
    pub const FAILED_LOGIN: &str = "f";
    pub const FAILED_LOGIN_PASSWORD: &str = "fp";
    pub const FAILED_LOGIN_USERNAME: &str = "fu";
    pub const SUCCESS_SIGNUP: &str = "ss";
    pub const FAILED_SIGNUP: &str = "fs";
    pub const SUCCESS_API_OPERATION: &str = "sapi";
    pub const FAILED_API_OPERATION: &str = "fapi";
    pub const SUCCESS_CHANGE_PASSWORD: &str = "scp";
    pub const FAILED_CHANGE_PASSWORD: &str = "fcp";
    pub const SUCCESS_USER_DELETION: &str = "sdu";
    pub const SUCCESS_CLIENT_CREDENTIALS: &str = "seccft";
    pub const FAILED_CLIENT_CREDENTIALS: &str = "feccft";
    pub const SUCCESS_PASSWORD_EXCHANGE: &str = "sepft";
    pub const FAILED_PASSWORD_EXCHANGE: &str = "fepft";
    pub const SUCCESS_REVOCATION: &str = "srrt";
    pub const SUCCESS_USERS_IMPORT: &str = "sui";
    pub const FAILED_USERS_IMPORT: &str = "fui";
    pub const API_LIMIT: &str = "api_limit";
    pub const SUCCESS_CHANGE_PASSWORD_REQUEST: &str = "scpr";
    pub const FAILED_CHANGE_PASSWORD_REQUEST: &str = "fcpr";
    /// A verification link was used.
    pub const SUCCESS_VERIFICATION_EMAIL: &str = "sv";
    /// A verification email could not be sent (or its link was refused).
    pub const FAILED_VERIFICATION_EMAIL: &str = "fv";
    pub const SUCCESS_VERIFICATION_EMAIL_REQUEST: &str = "svr";
    pub const FAILED_VERIFICATION_EMAIL_REQUEST: &str = "fvr";
    pub const SIGNUP_PASSWORD_LEAK: &str = "signup_pwd_leak";
    pub const RESET_PASSWORD_LEAK: &str = "reset_pwd_leak";
    /// Brute force: an IP reached the maximum failed logins against one account.
    pub const BLOCKED_ACCOUNT: &str = "limit_wc";
    /// Suspicious-IP throttling: too many failed logins or sign-ups from one IP.
    pub const BLOCKED_IP: &str = "limit_mu";
    pub const USER_BLOCK_RELEASED: &str = "ublkdu";
    /// A login that passed its first factor now needs a second (Auth0's `mfar`).
    pub const MFA_REQUIRED: &str = "mfar";
    /// Guardian events: a second factor passed or failed, an enrolment, a recovery code
    /// used or refused, a code emailed, too many wrong codes.
    pub const MFA_AUTH_SUCCEEDED: &str = "gd_auth_succeed";
    pub const MFA_AUTH_FAILED: &str = "gd_auth_failed";
    pub const MFA_ENROLLED: &str = "gd_enrollment_complete";
    pub const MFA_RECOVERY_SUCCEEDED: &str = "gd_recovery_succeed";
    pub const MFA_RECOVERY_FAILED: &str = "gd_recovery_failed";
    pub const MFA_EMAIL_SENT: &str = "gd_send_email";
    pub const MFA_TOO_MANY_CODES: &str = "gd_otp_rate_limit_exceed";
}

/// One audit event. Never holds a password, token or secret: callers pass identifiers
/// and outcomes only.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogEvent {
    /// Sortable: later events have greater ids (see `ids::new_log_id`).
    pub log_id: String,
    pub date: String,
    pub kind: String,
    pub description: Option<String>,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub connection: Option<String>,
    pub connection_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub details: Map<String, Value>,
}

impl LogEvent {
    pub fn new(log_id: String, date: String, kind: &str) -> Self {
        Self { log_id, date, kind: kind.to_string(), ..Self::default() }
    }

    /// Auth0's log JSON: absent fields are left out.
    pub fn to_auth0_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("log_id".into(), json!(self.log_id));
        m.insert("_id".into(), json!(self.log_id));
        m.insert("date".into(), json!(self.date));
        m.insert("type".into(), json!(self.kind));
        let optional = [
            ("description", &self.description),
            ("client_id", &self.client_id),
            ("client_name", &self.client_name),
            ("connection", &self.connection),
            ("connection_id", &self.connection_id),
            ("ip", &self.ip),
            ("user_agent", &self.user_agent),
            ("user_id", &self.user_id),
            ("user_name", &self.user_name),
        ];
        for (k, v) in optional {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        if !self.details.is_empty() {
            m.insert("details".into(), Value::Object(self.details.clone()));
        }
        m.insert("isMobile".into(), json!(false));
        Value::Object(m)
    }
}
