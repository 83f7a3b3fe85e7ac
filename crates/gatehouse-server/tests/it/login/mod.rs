//! The OpenID Connect provider and the hosted login page: the code flow, single sign-on,
//! refresh tokens, logout (front and back channel), brute-force protection, and the
//! store's sign-in state under concurrency.

mod attack;
mod branding;
pub(crate) mod fixture;
mod flows;
mod form_post;
mod rejections;
mod store;
