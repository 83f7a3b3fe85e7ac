//! Sign-in through social and OpenID Connect connections, over HTTP: the redirect
//! upstream, `/login/callback` and the account-linking step. Talking to providers and
//! checking what they say is `gatehouse_services::social`.

pub mod flow;
