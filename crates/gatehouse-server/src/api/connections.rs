use super::{checkpoint, page, paging};
use crate::authz::{CreateConnections, DeleteConnections, ReadConnections, Scoped, UpdateConnections};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_core::connection::{new_connection, Connection};
use gatehouse_core::ids::new_connection_id;
use gatehouse_core::user::select_fields;
use gatehouse_core::Error;
use gatehouse_services::Services;
use serde_json::{json, Value};

const FIELDS: &[&str] = &[
    "id",
    "name",
    "display_name",
    "strategy",
    "options",
    "enabled_clients",
    "realms",
    "is_domain_connection",
    "metadata",
];

fn render(c: &Connection, include_options: bool, q: &QueryParams) -> Result<Value, ApiError> {
    let (fields, include) = q.fields(FIELDS)?;
    Ok(select_fields(shown(c, include_options), fields.as_deref(), include))
}

/// A connection as the API shows it: legacy store secrets are masked.
fn shown(c: &Connection, include_options: bool) -> Value {
    let mut v = c.to_auth0_json(include_options);
    if let Some(Value::Object(options)) = v.get_mut("options") {
        gatehouse_legacy::redact_options(options);
    }
    v
}

/// `options` can hold secrets (later: legacy store credentials), so returning them needs
/// `read:connections_options` as well — except to the token that may update them.
fn may_read_options<P: crate::authz::Permission>(s: &Scoped<P>) -> bool {
    s.also_has("read:connections_options") || s.also_has("update:connections")
}

/// Offset paging (`page`/`per_page`) or, with `from`/`take`, Auth0's checkpoint paging:
/// `{"connections": [...], "next": "<checkpoint>"}`, `next` present while more remain.
pub async fn list(
    s: Scoped<ReadConnections>,
    State(state): State<Services>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["per_page", "page", "include_totals", "strategy", "name", "fields", "include_fields", "from", "take"])?;
    if let Some((from, take)) = checkpoint(&q)? {
        let after = match from {
            Some(from) => Some(decode_checkpoint(from)?),
            None => None,
        };
        let (mut list, _) =
            state.store.connections(q.str("strategy"), q.str("name"), after.as_deref(), 0, take + 1).await?;
        let more = list.len() > take as usize;
        list.truncate(take as usize);
        let items = list.iter().map(|c| render(c, may_read_options(&s), &q)).collect::<Result<Vec<_>, _>>()?;
        let mut body = json!({ "connections": items });
        if let (true, Some(last)) = (more, list.last()) {
            body["next"] = json!(URL_SAFE_NO_PAD.encode(last.name.as_bytes()));
        }
        return Ok(Json(body));
    }
    let (page_no, per_page, offset) = paging(&q, 50)?;
    let (list, total) = state.store.connections(q.str("strategy"), q.str("name"), None, offset, per_page).await?;
    let items = list.iter().map(|c| render(c, may_read_options(&s), &q)).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(page("connections", items, page_no, per_page, total, q.bool("include_totals")?.unwrap_or(false))))
}

fn decode_checkpoint(from: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD.decode(from).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| {
        ApiError::query("Query validation error: 'from is not a checkpoint this server issued' on property from.")
    })
}

pub async fn get_one(
    s: Scoped<ReadConnections>,
    State(state): State<Services>,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["fields", "include_fields"])?;
    let c = state.store.connection(&id).await?.ok_or_else(Error::connection_not_found)?;
    Ok(Json(render(&c, may_read_options(&s), &q)?))
}

pub async fn create(
    _: Scoped<CreateConnections>,
    State(state): State<Services>,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let c = new_connection(&body, new_connection_id(), &state.now())?;
    gatehouse_legacy::validate_options(&c.options)?;
    state.store.insert_connection(&c).await.map_err(|e| match e {
        gatehouse_store::StoreError::Conflict(_) => ApiError::Conflict {
            code: "connection_conflict",
            message: format!("A connection with the same name \"{}\" already exists", c.name),
        },
        other => other.into(),
    })?;
    Ok((StatusCode::CREATED, Json(shown(&c, true))))
}

pub async fn update(
    _: Scoped<UpdateConnections>,
    State(state): State<Services>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let c = gatehouse_services::connections::update_connection(&state, &id, &body).await?;
    Ok(Json(shown(&c, true)))
}

/// `GET /api/v2/connections/{id}/clients`: the applications enabled on the connection,
/// `{"clients": [{"client_id"}], "next"}` with Auth0's checkpoint paging (`take`, `from`).
pub async fn enabled_clients(
    _: Scoped<ReadConnections>,
    State(state): State<Services>,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Json<Value>, ApiError> {
    q.allow(&["from", "take"])?;
    let c = state.store.connection(&id).await?.ok_or_else(Error::connection_not_found)?;
    let (from, take) = checkpoint(&q)?.unwrap_or((None, 50));
    let start = match from {
        Some(from) => {
            let after = decode_checkpoint(from)?;
            c.enabled_clients.iter().position(|client| *client == after).map_or(c.enabled_clients.len(), |i| i + 1)
        }
        None => 0,
    };
    let rest = &c.enabled_clients[start..];
    let shown = &rest[..rest.len().min(take as usize)];
    let mut body = json!({ "clients": shown.iter().map(|id| json!({ "client_id": id })).collect::<Vec<_>>() });
    if let (true, Some(last)) = (rest.len() > shown.len(), shown.last()) {
        body["next"] = json!(URL_SAFE_NO_PAD.encode(last.as_bytes()));
    }
    Ok(Json(body))
}

/// `PATCH /api/v2/connections/{id}/clients`: `[{"client_id", "status"}]` enables
/// (`true`) or disables (`false`) each application on the connection.
pub async fn change_enabled_clients(
    _: Scoped<UpdateConnections>,
    State(state): State<Services>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    gatehouse_services::connections::change_enabled_clients(&state, &id, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(
    _: Scoped<DeleteConnections>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_connection(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::connection_not_found().into())
    }
}

/// `GET /api/v2/connections/{id}/migration` (a Gatehouse extension): how the
/// connection's users arrived, so "how far is the migration" has one answer. `migrated`
/// counts everyone who came from another system (bulk imports and the legacy store);
/// the counts by way add up to `users`.
pub async fn migration(
    _: Scoped<ReadConnections>,
    State(state): State<Services>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = state.store.connection(&id).await?.ok_or_else(Error::connection_not_found)?;
    let legacy = gatehouse_services::legacy::store_for(&state, &c)?;
    let a = state.store.arrivals(&c.id).await?;
    Ok(Json(json!({
        "connection_id": c.id,
        "legacy_store": legacy.as_ref().map(|l| l.kind()),
        "import_mode": legacy.as_ref().map(|l| l.import_mode()),
        "users": a.users,
        "migrated": a.migrated(),
        "imported": a.imported,
        "migrated_on_login": a.on_login,
        "migrated_in_bulk": a.migrate_remaining,
        "signed_up": a.signed_up,
        "created_by_api": a.created_by_api,
        "other": a.other,
        "last_migrated_at": a.last_migrated_at,
    })))
}
