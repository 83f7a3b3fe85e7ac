//! The Authentication API: token issuance (and, as they land, authorize, userinfo,
//! sign-up and password change).

pub mod token;
