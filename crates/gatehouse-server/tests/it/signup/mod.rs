//! Sign-up, password policies, password reset and email verification; email through
//! the file outbox or a real SMTP sink (Python `aiosmtpd`).

mod api;
mod attack;
mod helpers;
mod pages;
mod policy;
mod smtp;
mod tickets;
