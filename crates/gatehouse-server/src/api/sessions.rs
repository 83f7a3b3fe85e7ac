//! A user's signed-in state in the Management API, in Auth0's shapes: single sign-on
//! sessions (`/sessions/{id}`, `/users/{id}/sessions`) and refresh grants
//! (`/refresh-tokens`, `/users/{id}/refresh-tokens`), listed with checkpoint paging
//! (`from`, `take`, `next`) and ended at an administrator's word.
//!
//! A session is known by its `sid` (the claim in its ID tokens); a refresh grant by its
//! family id, which names every token a rotation chain ever had and never a token itself.
//! `/users/{id}/revoke-access` signs a user out of everything at once.
//!
//! Ending takes effect at once: the next `/authorize` finds no session, the next refresh
//! of a revoked family gets `invalid_grant`, and applications listening on a back-channel
//! logout URL are told (`session-revoked`).

use crate::authz::{DeleteRefreshTokens, DeleteSessions, ReadRefreshTokens, ReadSessions, Scoped};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use gatehouse_core::clock::iso8601;
use gatehouse_core::validate::{Body, Patch};
use gatehouse_core::Error;
use gatehouse_services::session_end::{end_session, end_sessions_of_user, sign_out_everywhere, Initiator};
use gatehouse_services::Services;
use gatehouse_store::{GrantFilter, RefreshGrant, SessionDetails};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

/// Auth0's page size bounds for checkpoint paging.
const DEFAULT_TAKE: u32 = 50;
const MAX_TAKE: u32 = 100;
/// At most this many ids in one bulk revocation, as Auth0 allows.
const MAX_REVOKE_IDS: usize = 100;

fn not_found_session() -> ApiError {
    ApiError::NotFound { code: "inexistent_session", message: "The session does not exist.".into() }
}

fn not_found_refresh_token() -> ApiError {
    ApiError::NotFound { code: "inexistent_refresh_token", message: "The refresh token does not exist.".into() }
}

fn date(unix: i64) -> Value {
    OffsetDateTime::from_unix_timestamp(unix).map_or(Value::Null, |t| Value::String(iso8601(t)))
}

fn now(state: &Services) -> i64 {
    state.clock.now().unix_timestamp()
}

/// `from` and `take`: the cursor to start after, and the page size.
fn checkpoint(q: &QueryParams) -> Result<(Option<String>, u32), ApiError> {
    let take = q.u32_in("take", 1, MAX_TAKE)?.unwrap_or(DEFAULT_TAKE);
    Ok((q.str("from").filter(|f| !f.is_empty()).map(str::to_string), take))
}

/// A page of `take` from `items` fetched with one to spare: the spare, if there, says a
/// next page exists, which starts after the page's last item.
fn page_of<T>(mut items: Vec<T>, take: u32, key: impl Fn(&T) -> &str) -> (Vec<T>, Option<String>) {
    let more = items.len() > take as usize;
    items.truncate(take as usize);
    let next = if more { items.last().map(|i| key(i).to_string()) } else { None };
    (items, next)
}

fn with_next(mut body: Value, next: Option<String>) -> Value {
    if let (Some(next), Some(o)) = (next, body.as_object_mut()) {
        o.insert("next".into(), Value::String(next));
    }
    body
}

/// Auth0's session resource.
fn session_json(d: &SessionDetails) -> Value {
    let s = &d.session;
    let mut device = Map::new();
    for (key, value) in [
        ("initial_ip", &s.initial.ip),
        ("initial_user_agent", &s.initial.user_agent),
        ("last_ip", &s.last.ip),
        ("last_user_agent", &s.last.user_agent),
    ] {
        if let Some(v) = value {
            device.insert(key.into(), Value::String(v.clone()));
        }
    }
    let last_used = s.last_interacted_at.unwrap_or(s.created_at);
    let mut out = json!({
        "id": s.sid,
        "user_id": s.user_id,
        "created_at": date(s.created_at),
        "updated_at": date(last_used),
        "authenticated_at": date(s.auth_time),
        "last_interacted_at": date(last_used),
        "expires_at": date(s.expires_at),
        "device": device,
        "clients": d.clients.iter().map(|c| json!({"client_id": c})).collect::<Vec<_>>(),
    });
    if let Some(method) = &s.method {
        // One entry per method: a second factor is `mfa` beside the first.
        let methods: Vec<_> =
            method.split(' ').map(|name| json!({"name": name, "timestamp": date(s.auth_time)})).collect();
        out["authentication"] = json!({"methods": methods});
    }
    out
}

/// Auth0's refresh token resource. A grant without an API audience serves `/userinfo`.
fn refresh_token_json(state: &Services, g: &RefreshGrant) -> Value {
    let audience = g.audience.clone().unwrap_or_else(|| state.config.userinfo_audience());
    let mut out = json!({
        "id": g.family_id,
        "user_id": g.user_id,
        "created_at": date(g.created_at),
        "idle_expires_at": date(g.idle_expires_at),
        "client_id": g.client_id,
        "session_id": g.sid,
        "rotating": true,
        "resource_servers": [{"audience": audience, "scopes": g.scope}],
    });
    if let Some(expires_at) = g.expires_at {
        out["expires_at"] = date(expires_at);
    }
    if let Some(at) = g.last_exchanged_at {
        out["last_exchanged_at"] = date(at);
    }
    out
}

async fn existing_user(state: &Services, id: &str) -> Result<(), ApiError> {
    state.store.user(id).await?.ok_or_else(Error::user_not_found)?;
    Ok(())
}

// ---- sessions ----------------------------------------------------------------------

pub async fn get_session(
    _: Scoped<ReadSessions>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let session = state.store.session_details(&id, now(&state)).await?.ok_or_else(not_found_session)?;
    Ok(Json(session_json(&session)))
}

pub async fn delete_session(
    _: Scoped<DeleteSessions>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    end_session(&state, &id, Initiator::SessionRevoked).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Ends the session and revokes the refresh tokens issued under it.
pub async fn revoke_session(
    _: Scoped<DeleteSessions>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    end_session(&state, &id, Initiator::SessionRevoked).await?;
    state.store.revoke_refresh_tokens_of_session(&id, now(&state)).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn user_sessions(
    _: Scoped<ReadSessions>,
    State(state): State<Services>,
    Path(user_id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["from", "take", "include_totals"])?;
    q.bool("include_totals")?;
    let (from, take) = checkpoint(&q)?;
    existing_user(&state, &user_id).await?;
    let sessions = state.store.sessions_of_user(&user_id, now(&state), from.as_deref(), take + 1).await?;
    let (sessions, next) = page_of(sessions, take, |s| &s.session.sid);
    let list: Vec<Value> = sessions.iter().map(session_json).collect();
    Ok(Json(with_next(json!({ "sessions": list }), next)))
}

pub async fn delete_user_sessions(
    _: Scoped<DeleteSessions>,
    State(state): State<Services>,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    existing_user(&state, &user_id).await?;
    end_sessions_of_user(&state, &user_id, Initiator::SessionRevoked).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /users/{id}/revoke-access`: signs the user out of one session (`session_id`) or
/// of all, and revokes the refresh tokens issued under them unless
/// `preserve_refresh_tokens` (revoking them takes `delete:refresh_tokens` too).
pub async fn revoke_user_access(
    scoped: Scoped<DeleteSessions>,
    State(state): State<Services>,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    let b = Body::new(&body, &["session_id", "preserve_refresh_tokens"])?;
    let session_id = match b.string("session_id", 1, 200)? {
        Patch::Set(sid) => Some(sid),
        Patch::Absent | Patch::Null => None,
    };
    let preserve = matches!(b.boolean("preserve_refresh_tokens")?, Patch::Set(true));
    if !preserve && !scoped.also_has("delete:refresh_tokens") {
        return Err(ApiError::InsufficientScope("delete:refresh_tokens".into()));
    }
    existing_user(&state, &user_id).await?;
    let now = now(&state);
    match session_id {
        Some(sid) => {
            let details = state.store.session_details(&sid, now).await?;
            if details.is_none_or(|d| d.session.user_id != user_id) {
                return Err(not_found_session());
            }
            end_session(&state, &sid, Initiator::SessionRevoked).await?;
            if !preserve {
                state.store.revoke_refresh_tokens_of_session(&sid, now).await?;
            }
        }
        None if preserve => {
            end_sessions_of_user(&state, &user_id, Initiator::SessionRevoked).await?;
        }
        None => sign_out_everywhere(&state, &user_id, Initiator::SessionRevoked).await?,
    }
    Ok(StatusCode::ACCEPTED)
}

// ---- refresh tokens ------------------------------------------------------------------

async fn grants_page(
    state: &Services,
    filter: &GrantFilter<'_>,
    q: &QueryParams,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let (from, take) = checkpoint(q)?;
    existing_user(state, filter.user_id).await?;
    let grants = state.store.refresh_grants(filter, now(state), from.as_deref(), take + 1).await?;
    let (grants, next) = page_of(grants, take, |g| &g.family_id);
    Ok((grants.iter().map(|g| refresh_token_json(state, g)).collect(), next))
}

pub async fn user_refresh_tokens(
    _: Scoped<ReadRefreshTokens>,
    State(state): State<Services>,
    Path(user_id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["from", "take", "include_totals"])?;
    q.bool("include_totals")?;
    let (tokens, next) = grants_page(&state, &GrantFilter::all_of(&user_id), &q).await?;
    Ok(Json(with_next(json!({ "tokens": tokens }), next)))
}

pub async fn delete_user_refresh_tokens(
    _: Scoped<DeleteRefreshTokens>,
    State(state): State<Services>,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    existing_user(&state, &user_id).await?;
    state.store.revoke_refresh_grants(&GrantFilter::all_of(&user_id), now(&state)).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /refresh-tokens?user_id=…[&client_id=…]`.
pub async fn list_refresh_tokens(
    _: Scoped<ReadRefreshTokens>,
    State(state): State<Services>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["user_id", "client_id", "from", "take", "fields", "include_fields"])?;
    q.bool("include_fields")?;
    let user_id = q
        .str("user_id")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::query("Query validation error: 'Missing required property: user_id'."))?;
    let filter = GrantFilter { user_id, client_id: q.str("client_id").filter(|c| !c.is_empty()), audience: None };
    let (tokens, next) = grants_page(&state, &filter, &q).await?;
    let tokens = match q.str("fields").filter(|f| !f.is_empty()) {
        Some(fields) => select_fields(tokens, fields, q.bool("include_fields")?.unwrap_or(true)),
        None => tokens,
    };
    Ok(Json(with_next(json!({ "refresh_tokens": tokens }), next)))
}

/// Auth0's `fields`/`include_fields`: keep only the named fields, or drop them.
fn select_fields(items: Vec<Value>, fields: &str, include: bool) -> Vec<Value> {
    let named: Vec<&str> = fields.split(',').map(str::trim).collect();
    items
        .into_iter()
        .map(|mut item| {
            if let Some(o) = item.as_object_mut() {
                o.retain(|k, _| named.contains(&k.as_str()) == include);
            }
            item
        })
        .collect()
}

pub async fn get_refresh_token(
    _: Scoped<ReadRefreshTokens>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let grant = state.store.refresh_grant(&id, now(&state)).await?.ok_or_else(not_found_refresh_token)?;
    Ok(Json(refresh_token_json(&state, &grant)))
}

pub async fn delete_refresh_token(
    _: Scoped<DeleteRefreshTokens>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.store.revoke_refresh_family(&id, now(&state)).await?;
    Ok(StatusCode::ACCEPTED)
}

/// What `POST /refresh-tokens/revoke` ends: listed grants, or a user's (narrowed to a
/// client, and to an audience of that client).
#[derive(Debug, PartialEq)]
enum Revocation {
    Ids(Vec<String>),
    Of { user_id: String, client_id: Option<String>, audience: Option<String> },
}

fn revocation(body: &Value) -> Result<Revocation, Error> {
    let b = Body::new(body, &["ids", "user_id", "client_id", "audience"])?;
    let ids = match b.string_array("ids", MAX_REVOKE_IDS)? {
        Patch::Set(ids) => Some(ids),
        Patch::Absent | Patch::Null => None,
    };
    let text = |key| match b.string(key, 1, 600)? {
        Patch::Set(v) => Ok(Some(v)),
        Patch::Absent | Patch::Null => Ok::<_, Error>(None),
    };
    let (user_id, client_id, audience) = (text("user_id")?, text("client_id")?, text("audience")?);
    match (ids, user_id) {
        (Some(ids), None) if client_id.is_none() && audience.is_none() => {
            if ids.is_empty() {
                return Err(Error::body("Payload validation error: 'ids must list at least one refresh token id'."));
            }
            Ok(Revocation::Ids(ids))
        }
        (None, Some(user_id)) => {
            if audience.is_some() && client_id.is_none() {
                return Err(Error::body("Payload validation error: 'audience requires client_id'."));
            }
            Ok(Revocation::Of { user_id, client_id, audience })
        }
        _ => Err(Error::body(
            "Payload validation error: 'Give either ids, or user_id (with client_id, and audience, to narrow it)'.",
        )),
    }
}

pub async fn revoke_refresh_tokens(
    _: Scoped<DeleteRefreshTokens>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    let now = now(&state);
    match revocation(&body)? {
        Revocation::Ids(ids) => {
            for id in &ids {
                state.store.revoke_refresh_family(id, now).await?;
            }
        }
        Revocation::Of { user_id, client_id, audience } => {
            let filter =
                GrantFilter { user_id: &user_id, client_id: client_id.as_deref(), audience: audience.as_deref() };
            state.store.revoke_refresh_grants(&filter, now).await?;
        }
    }
    Ok(StatusCode::ACCEPTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bulk_revocation_names_ids_or_a_user() {
        assert_eq!(revocation(&json!({"ids": ["a", "b"]})).ok(), Some(Revocation::Ids(vec!["a".into(), "b".into()])));
        assert_eq!(
            revocation(&json!({"user_id": "auth0|1", "client_id": "c", "audience": "https://api"})).ok(),
            Some(Revocation::Of {
                user_id: "auth0|1".into(),
                client_id: Some("c".into()),
                audience: Some("https://api".into())
            })
        );
        for bad in [
            json!({}),
            json!({"ids": []}),
            json!({"ids": ["a"], "user_id": "auth0|1"}),
            json!({"ids": ["a"], "client_id": "c"}),
            json!({"user_id": "auth0|1", "audience": "https://api"}),
            json!({"client_id": "c"}),
            json!({"user_id": 7}),
            json!({"token": "x"}),
        ] {
            assert!(revocation(&bad).is_err(), "{bad} was accepted");
        }
        let too_many: Vec<String> = (0..=MAX_REVOKE_IDS).map(|i| i.to_string()).collect();
        assert!(revocation(&json!({ "ids": too_many })).is_err());
    }

    #[test]
    fn a_full_page_says_where_the_next_begins() {
        let (items, next) = page_of(vec!["a", "b", "c"], 2, |s| s);
        assert_eq!((items, next.as_deref()), (vec!["a", "b"], Some("b")));
        let (items, next) = page_of(vec!["a", "b"], 2, |s| s);
        assert_eq!((items, next), (vec!["a", "b"], None));
    }

    #[test]
    fn fields_are_kept_or_dropped() {
        let items = vec![json!({"id": "1", "user_id": "u", "client_id": "c"})];
        assert_eq!(select_fields(items.clone(), "id,client_id", true), vec![json!({"id": "1", "client_id": "c"})]);
        assert_eq!(select_fields(items, "id", false), vec![json!({"user_id": "u", "client_id": "c"})]);
    }
}
