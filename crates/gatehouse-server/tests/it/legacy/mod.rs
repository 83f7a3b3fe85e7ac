//! Legacy identity stores against real servers: MariaDB and PostgreSQL legacy
//! databases, an HTTP legacy service (an axum app in the test: it plays the customer's
//! service), OpenLDAP (`scripts/slapd-test`), and another Gatehouse playing an Auth0
//! tenant. MariaDB, PostgreSQL and LDAP tests skip
//! with a message when their `GATEHOUSE_TEST_*_URL` variable is unset (`scripts/test`
//! sets them all).

mod auth0;
mod http;
mod ldap;
mod rules;
mod sql;
pub(crate) mod support;
