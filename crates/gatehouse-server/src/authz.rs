//! Management API authorization as a type: a handler that takes `Scoped<ReadUsers>`
//! cannot run unless the bearer token is valid and carries one of `ReadUsers`'s scopes.

use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use gatehouse_services::issue::AccessTokenClaims;
use gatehouse_services::Services;
use std::marker::PhantomData;

/// A set of scopes any one of which allows an operation, and those it needs as well.
pub trait Permission {
    const ANY_OF: &'static [&'static str];
    /// Scopes the token must also carry, every one (Auth0 asks for two on some paths:
    /// `read:users` and `read:roles` to read a user's roles).
    const ALSO: &'static [&'static str] = &[];
}

macro_rules! permissions {
    ($($name:ident => [$($scope:literal),+] $(and [$($also:literal),+])?),* $(,)?) => {$(
        pub struct $name;
        impl Permission for $name {
            const ANY_OF: &'static [&'static str] = &[$($scope),+];
            $(const ALSO: &'static [&'static str] = &[$($also),+];)?
        }
    )*};
}

permissions! {
    ReadUsers => ["read:users"],
    CreateUsers => ["create:users"],
    UpdateUsers => ["update:users", "update:users_app_metadata"],
    DeleteUsers => ["delete:users"],
    LinkUsers => ["update:users"],
    ReadJobs => ["read:users", "create:users"],
    ReadUserBlocks => ["read:users", "read:user_blocks"],
    ReadAuthenticationMethods => ["read:authentication_methods"],
    DeleteAuthenticationMethods => ["delete:authentication_methods"],
    ReadSessions => ["read:sessions"],
    DeleteSessions => ["delete:sessions"],
    ReadRefreshTokens => ["read:refresh_tokens"],
    DeleteRefreshTokens => ["delete:refresh_tokens"],
    UpdateUserBlocks => ["update:users", "delete:user_blocks"],
    ReadGuardianFactors => ["read:guardian_factors"],
    UpdateGuardianFactors => ["update:guardian_factors"],
    ReadMfaPolicies => ["read:mfa_policies"],
    UpdateMfaPolicies => ["update:mfa_policies"],
    ReadAttackProtection => ["read:attack_protection"],
    UpdateAttackProtection => ["update:attack_protection"],
    ReadBranding => ["read:branding"],
    UpdateBranding => ["update:branding"],
    DeleteBranding => ["delete:branding"],
    ReadTenantSettings => ["read:tenant_settings"],
    UpdateTenantSettings => ["update:tenant_settings"],
    ReadEmailTemplates => ["read:email_templates"],
    CreateEmailTemplates => ["create:email_templates"],
    UpdateEmailTemplates => ["update:email_templates"],
    ReadEmailProvider => ["read:email_provider"],
    CreateEmailProvider => ["create:email_provider"],
    UpdateEmailProvider => ["update:email_provider"],
    DeleteEmailProvider => ["delete:email_provider"],
    ReadLogs => ["read:logs"],
    ReadUserLogs => ["read:logs", "read:logs_users"],
    ReadClients => ["read:clients"],
    CreateClients => ["create:clients"],
    UpdateClients => ["update:clients"],
    UpdateClientKeys => ["update:client_keys"],
    DeleteClients => ["delete:clients"],
    ReadClientGrants => ["read:client_grants"],
    CreateClientGrants => ["create:client_grants"],
    UpdateClientGrants => ["update:client_grants"],
    DeleteClientGrants => ["delete:client_grants"],
    ReadConnections => ["read:connections"],
    CreateConnections => ["create:connections"],
    UpdateConnections => ["update:connections"],
    DeleteConnections => ["delete:connections"],
    ReadSigningKeys => ["read:signing_keys"],
    RotateSigningKeys => ["create:signing_keys", "update:signing_keys"],
    CreateUserTickets => ["create:user_tickets"],
    SendVerificationEmail => ["update:users"],
    ReadStats => ["read:stats"],
    ReadResourceServers => ["read:resource_servers"],
    CreateResourceServers => ["create:resource_servers"],
    UpdateResourceServers => ["update:resource_servers"],
    DeleteResourceServers => ["delete:resource_servers"],
    ReadRoles => ["read:roles"],
    CreateRoles => ["create:roles"],
    UpdateRoles => ["update:roles"],
    DeleteRoles => ["delete:roles"],
    ReadRoleMembers => ["read:role_members"] and ["read:users"],
    CreateRoleMembers => ["create:role_members"],
    ReadUserRoles => ["read:users"] and ["read:roles"],
    AssignUserRoles => ["update:users"] and ["create:role_members"],
    RemoveUserRoles => ["update:users"] and ["delete:role_members"],
    ReadUserPermissions => ["read:users"],
    UpdateUserPermissions => ["update:users"],
    ReadActions => ["read:actions"],
    CreateActions => ["create:actions"],
    UpdateActions => ["update:actions"],
    DeleteActions => ["delete:actions"],
}

/// The client (`azp`) of a valid Management API token in `headers`, for audit events.
pub fn token_client_id(state: &Services, headers: &axum::http::HeaderMap) -> Option<String> {
    let header = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let claims: AccessTokenClaims =
        state.keys.verify(token.trim(), &state.config.issuer, &state.config.management_audience())?;
    claims.azp
}

/// Proof that the request carries a valid Management API token with permission `P`.
pub struct Scoped<P: Permission> {
    pub claims: AccessTokenClaims,
    _permission: PhantomData<P>,
}

impl<P: Permission> Scoped<P> {
    pub fn also_has(&self, scope: &str) -> bool {
        self.claims.has_any(&[scope])
    }
}

impl<P: Permission + Send + Sync> FromRequestParts<Services> for Scoped<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Services) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(header) = header else {
            return Err(ApiError::Unauthorized("Missing authentication".into()));
        };
        let token = match header.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(ApiError::Unauthorized("Bad HTTP authentication header format".into())),
        };
        let claims: AccessTokenClaims = state
            .keys
            .verify(token, &state.config.issuer, &state.config.management_audience())
            .ok_or_else(|| ApiError::Unauthorized("Invalid token".into()))?;
        if !claims.has_any(P::ANY_OF) {
            return Err(ApiError::InsufficientScope(P::ANY_OF.join(", ")));
        }
        if let Some(missing) = P::ALSO.iter().find(|s| !claims.has_any(&[s])) {
            return Err(ApiError::InsufficientScope((*missing).to_string()));
        }
        Ok(Self { claims, _permission: PhantomData })
    }
}
