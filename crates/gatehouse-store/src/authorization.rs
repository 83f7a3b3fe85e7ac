//! APIs (resource servers), roles, and the permissions roles and users hold.
//!
//! Permissions name their API by identifier with foreign keys that cascade, so deleting
//! an API, a role or a user leaves nothing behind; an API's deletion also takes its
//! client grants and revokes the refresh grants issued for it, in one transaction.

use crate::config_cache::ConfigKey;
use crate::db::Row;
use crate::error::StoreError;
use crate::rows::{count, FromRow};
use crate::sql::SqlValue;
use crate::store::Store;
use gatehouse_core::authorization::{Permission, PermissionSource, ResourceServer, Role};
use std::collections::HashMap;

fn permission(r: &Row<'_>) -> Result<Permission, StoreError> {
    Ok(Permission {
        resource_server_identifier: r.get("resource_server_identifier")?,
        permission_name: r.get("permission_name")?,
    })
}

/// An API's values: `$1` its id, then the columns its UPDATE writes, then those only its
/// INSERT writes.
fn api_values(a: &ResourceServer) -> Vec<SqlValue> {
    Vec::from(values![
        &a.id,
        &a.name,
        SqlValue::json(&a.scopes),
        &a.signing_alg,
        a.token_lifetime,
        a.token_lifetime_for_web,
        a.allow_offline_access,
        a.skip_consent_for_verifiable_first_party_clients,
        a.enforce_policies,
        a.token_dialect.as_str(),
        &a.updated_at,
        &a.identifier,
        a.is_system,
        &a.created_at,
    ])
}

const UPDATE_API: &str = "UPDATE resource_servers SET name = $2, scopes = $3, signing_alg = $4, token_lifetime = $5, \
     token_lifetime_for_web = $6, allow_offline_access = $7, skip_consent_for_verifiable_first_party_clients = $8, \
     enforce_policies = $9, token_dialect = $10, updated_at = $11 WHERE id = $1";

/// `$first, $first+1, …` for `n` values bound in a list.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(",")
}

/// A user as a role's member list shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleMember {
    pub user_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
}

impl Store {
    // ---- APIs ---------------------------------------------------------------------

    pub async fn insert_resource_server(&self, a: &ResourceServer) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        self.db
            .execute(
                "INSERT INTO resource_servers (id, name, scopes, signing_alg, token_lifetime, token_lifetime_for_web, \
                 allow_offline_access, skip_consent_for_verifiable_first_party_clients, enforce_policies, \
                 token_dialect, updated_at, identifier, is_system, created_at) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
                api_values(a),
            )
            .await?;
        Ok(())
    }

    /// Writes `a` over the stored API of its id; the permissions roles and users held in
    /// scopes it no longer defines go with those scopes.
    pub async fn update_resource_server(&self, a: &ResourceServer) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        let values = api_values(a);
        let identifier = a.identifier.clone();
        let kept: Vec<String> = a.scopes.iter().map(|s| s.value.clone()).collect();
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    if c.execute(UPDATE_API, &values[..11]).await? == 0 {
                        return Err(StoreError::NotFound);
                    }
                    for table in ["role_permissions", "user_permissions"] {
                        let sql = if kept.is_empty() {
                            format!("DELETE FROM {table} WHERE resource_server_identifier = $1")
                        } else {
                            format!(
                                "DELETE FROM {table} WHERE resource_server_identifier = $1 \
                                 AND permission_name NOT IN ({})",
                                placeholders(2, kept.len())
                            )
                        };
                        let mut params = vec![SqlValue::from(identifier.as_str())];
                        params.extend(kept.iter().map(|s| SqlValue::from(s.as_str())));
                        c.execute(&sql, &params).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    pub async fn resource_server(&self, id: &str) -> Result<Option<ResourceServer>, StoreError> {
        self.db.opt("SELECT * FROM resource_servers WHERE id = $1", &values![id], ResourceServer::from_row).await
    }

    /// The API a token request names as its `audience`: read on every token request, so
    /// kept for a moment (`config_cache`).
    pub async fn resource_server_by_identifier(&self, identifier: &str) -> Result<Option<ResourceServer>, StoreError> {
        self.config
            .through(ConfigKey::ResourceServer(identifier.to_owned()), || async {
                self.db
                    .opt(
                        "SELECT * FROM resource_servers WHERE identifier = $1",
                        &values![identifier],
                        ResourceServer::from_row,
                    )
                    .await
            })
            .await
    }

    /// APIs, the system API first, then by name; with the total.
    pub async fn resource_servers(&self, offset: u32, limit: u32) -> Result<(Vec<ResourceServer>, u64), StoreError> {
        let list = self
            .db
            .all(
                "SELECT * FROM resource_servers ORDER BY is_system DESC, name, id LIMIT $1 OFFSET $2",
                &values![limit, offset],
                ResourceServer::from_row,
            )
            .await?;
        Ok((list, self.db.one("SELECT COUNT(*) FROM resource_servers", &[], count).await?))
    }

    /// Deletes an API (never the system one) with its permissions and client grants, and
    /// revokes the refresh grants issued for it at `now` (unix seconds).
    pub async fn delete_resource_server(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let _forget = self.config.forget_after();
        const DELETE: &[&str] = &[
            "DELETE FROM client_grants WHERE audience = \
             (SELECT identifier FROM resource_servers WHERE id = $1 AND NOT is_system)",
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND audience = \
             (SELECT identifier FROM resource_servers WHERE id = $1 AND NOT is_system)",
            "DELETE FROM resource_servers WHERE id = $1 AND NOT is_system",
        ];
        Ok(self.db.execute_in_turn(DELETE, values![id, now]).await? > 0)
    }

    /// Makes the stored system API `api` (inserted, or the existing one brought in line:
    /// its identifier follows the issuer, its scopes the Management API's).
    pub async fn ensure_system_resource_server(&self, api: &ResourceServer) -> Result<(), StoreError> {
        let existing =
            self.db.opt("SELECT * FROM resource_servers WHERE is_system", &[], ResourceServer::from_row).await?;
        let Some(existing) = existing else {
            return match self.insert_resource_server(api).await {
                // Another node starting at the same time inserted it first.
                Err(StoreError::Conflict(_)) => Ok(()),
                other => other,
            };
        };
        let unchanged = existing.identifier == api.identifier
            && existing.name == api.name
            && existing.scopes == api.scopes
            && existing.token_lifetime == api.token_lifetime;
        if unchanged {
            return Ok(());
        }
        let _forget = self.config.forget_after();
        let api = ResourceServer { id: existing.id, created_at: existing.created_at, ..api.clone() };
        let mut values = api_values(&api);
        values.truncate(12);
        self.db
            .execute(
                "UPDATE resource_servers SET name = $2, scopes = $3, signing_alg = $4, token_lifetime = $5, \
                 token_lifetime_for_web = $6, allow_offline_access = $7, \
                 skip_consent_for_verifiable_first_party_clients = $8, enforce_policies = $9, token_dialect = $10, \
                 updated_at = $11, identifier = $12 WHERE id = $1",
                values,
            )
            .await?;
        Ok(())
    }

    // ---- roles --------------------------------------------------------------------

    pub async fn insert_role(&self, r: &Role) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO roles (id, name, description, created_at, updated_at) VALUES ($1,$2,$3,$4,$5)",
                values![&r.id, &r.name, &r.description, &r.created_at, &r.updated_at],
            )
            .await?;
        Ok(())
    }

    pub async fn update_role(&self, r: &Role) -> Result<(), StoreError> {
        let done = self
            .db
            .execute(
                "UPDATE roles SET name = $2, description = $3, updated_at = $4 WHERE id = $1",
                values![&r.id, &r.name, &r.description, &r.updated_at],
            )
            .await?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn role(&self, id: &str) -> Result<Option<Role>, StoreError> {
        self.db.opt("SELECT * FROM roles WHERE id = $1", &values![id], Role::from_row).await
    }

    pub async fn role_by_name(&self, name: &str) -> Result<Option<Role>, StoreError> {
        self.db.opt("SELECT * FROM roles WHERE name = $1", &values![name], Role::from_row).await
    }

    /// Roles by name, those whose name contains `name_filter` (case-insensitive) if given;
    /// with the total.
    pub async fn roles(
        &self,
        name_filter: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<Role>, u64), StoreError> {
        let pattern = name_filter.map(|f| format!("%{}%", escape_like(&f.to_lowercase())));
        let filter = "($1 IS NULL OR LOWER(name) LIKE $1 ESCAPE '\\')";
        let list = format!("SELECT * FROM roles WHERE {filter} ORDER BY name, id LIMIT $2 OFFSET $3");
        let params = values![pattern, limit, offset];
        let roles = self.db.all(&list, &params, Role::from_row).await?;
        let total = self.db.one(&format!("SELECT COUNT(*) FROM roles WHERE {filter}"), &params[..1], count).await?;
        Ok((roles, total))
    }

    /// Deletes a role; its permissions and memberships go with it.
    pub async fn delete_role(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute("DELETE FROM roles WHERE id = $1", values![id]).await? > 0)
    }

    /// Of `ids`, those no role has.
    pub async fn missing_roles(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        self.missing("roles", "id", ids).await
    }

    /// Of `ids`, those no user has.
    pub async fn missing_users(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        self.missing("users", "user_id", ids).await
    }

    async fn missing(&self, table: &str, column: &str, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut missing = Vec::new();
        for chunk in ids.chunks(500) {
            let sql = format!("SELECT {column} FROM {table} WHERE {column} IN ({})", placeholders(1, chunk.len()));
            let params: Vec<SqlValue> = chunk.iter().map(|id| SqlValue::from(id.as_str())).collect();
            let found = self.db.all(&sql, &params, |r| r.get_at::<String>(0)).await?;
            missing.extend(chunk.iter().filter(|id| !found.contains(id)).cloned());
        }
        Ok(missing)
    }

    // ---- permissions of roles and users ---------------------------------------------

    /// Gives `role_id` the permissions (those it holds already stay as they are).
    pub async fn add_role_permissions(&self, role_id: &str, p: &[Permission], now: &str) -> Result<(), StoreError> {
        self.hold_permissions("role_permissions", "role_id", role_id, p, now).await
    }

    pub async fn remove_role_permissions(&self, role_id: &str, p: &[Permission]) -> Result<(), StoreError> {
        self.drop_permissions("role_permissions", "role_id", role_id, p).await
    }

    /// Gives `user_id` the permissions directly.
    pub async fn add_user_permissions(&self, user_id: &str, p: &[Permission], now: &str) -> Result<(), StoreError> {
        self.hold_permissions("user_permissions", "user_id", user_id, p, now).await
    }

    pub async fn remove_user_permissions(&self, user_id: &str, p: &[Permission]) -> Result<(), StoreError> {
        self.drop_permissions("user_permissions", "user_id", user_id, p).await
    }

    async fn hold_permissions(
        &self,
        table: &'static str,
        holder_column: &'static str,
        holder: &str,
        permissions: &[Permission],
        now: &str,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {table} ({holder_column}, resource_server_identifier, permission_name, created_at) \
             VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING"
        );
        let rows: Vec<Vec<SqlValue>> = permissions
            .iter()
            .map(|p| Vec::from(values![holder, &p.resource_server_identifier, &p.permission_name, now]))
            .collect();
        self.db.transaction(move |c| Box::pin(execute_each(c, sql, rows))).await
    }

    async fn drop_permissions(
        &self,
        table: &'static str,
        holder_column: &'static str,
        holder: &str,
        permissions: &[Permission],
    ) -> Result<(), StoreError> {
        let sql = format!(
            "DELETE FROM {table} WHERE {holder_column} = $1 AND resource_server_identifier = $2 \
             AND permission_name = $3"
        );
        let rows: Vec<Vec<SqlValue>> = permissions
            .iter()
            .map(|p| Vec::from(values![holder, &p.resource_server_identifier, &p.permission_name]))
            .collect();
        self.db.transaction(move |c| Box::pin(execute_each(c, sql, rows))).await
    }

    /// A role's permissions, by API and name; with the total.
    pub async fn role_permissions(
        &self,
        role_id: &str,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<Permission>, u64), StoreError> {
        let list = self
            .db
            .all(
                "SELECT resource_server_identifier, permission_name FROM role_permissions WHERE role_id = $1 \
                 ORDER BY resource_server_identifier, permission_name LIMIT $2 OFFSET $3",
                &values![role_id, limit, offset],
                permission,
            )
            .await?;
        let total =
            self.db.one("SELECT COUNT(*) FROM role_permissions WHERE role_id = $1", &values![role_id], count).await?;
        Ok((list, total))
    }

    /// Every permission `user_id` holds and how: directly, or through which role; by API,
    /// name and source.
    pub async fn user_permission_sources(
        &self,
        user_id: &str,
    ) -> Result<Vec<(Permission, PermissionSource)>, StoreError> {
        self.db
            .all(
                "SELECT resource_server_identifier, permission_name, '' AS role_id, '' AS role_name \
                 FROM user_permissions WHERE user_id = $1 \
                 UNION ALL \
                 SELECT rp.resource_server_identifier, rp.permission_name, r.id, r.name \
                 FROM user_roles ur JOIN roles r ON r.id = ur.role_id JOIN role_permissions rp ON rp.role_id = r.id \
                 WHERE ur.user_id = $1 \
                 ORDER BY 1, 2, 3",
                &values![user_id],
                |r| {
                    let role_id: String = r.get("role_id")?;
                    let source = if role_id.is_empty() {
                        PermissionSource::Direct
                    } else {
                        PermissionSource::Role { id: role_id, name: r.get("role_name")? }
                    };
                    Ok((permission(r)?, source))
                },
            )
            .await
    }

    /// The scopes of `api` (an identifier) that `user_id` holds, directly or through a
    /// role: what a token for that API may carry. Read on the token path.
    pub async fn user_api_permissions(&self, user_id: &str, api: &str) -> Result<Vec<String>, StoreError> {
        self.db
            .all(
                "SELECT permission_name FROM user_permissions \
                 WHERE user_id = $1 AND resource_server_identifier = $2 \
                 UNION \
                 SELECT rp.permission_name FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id \
                 WHERE ur.user_id = $1 AND rp.resource_server_identifier = $2",
                &values![user_id, api],
                |r| r.get_at::<String>(0),
            )
            .await
    }

    // ---- role membership ------------------------------------------------------------

    /// Gives each `(user_id, role_id)` pair's user the role (pairs held already stay).
    pub async fn add_user_roles(&self, pairs: &[(String, String)], now: &str) -> Result<(), StoreError> {
        let rows: Vec<Vec<SqlValue>> =
            pairs.iter().map(|(user, role)| Vec::from(values![user.as_str(), role.as_str(), now])).collect();
        let sql = "INSERT INTO user_roles (user_id, role_id, created_at) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING";
        self.db.transaction(move |c| Box::pin(execute_each(c, sql.to_owned(), rows))).await
    }

    pub async fn remove_user_roles(&self, user_id: &str, role_ids: &[String]) -> Result<(), StoreError> {
        let rows: Vec<Vec<SqlValue>> = role_ids.iter().map(|role| Vec::from(values![user_id, role.as_str()])).collect();
        let sql = "DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2";
        self.db.transaction(move |c| Box::pin(execute_each(c, sql.to_owned(), rows))).await
    }

    /// A user's roles, by name; with the total.
    pub async fn user_roles(&self, user_id: &str, offset: u32, limit: u32) -> Result<(Vec<Role>, u64), StoreError> {
        let list = self
            .db
            .all(
                "SELECT r.* FROM roles r JOIN user_roles ur ON ur.role_id = r.id WHERE ur.user_id = $1 \
                 ORDER BY r.name, r.id LIMIT $2 OFFSET $3",
                &values![user_id, limit, offset],
                Role::from_row,
            )
            .await?;
        let total = self.db.one("SELECT COUNT(*) FROM user_roles WHERE user_id = $1", &values![user_id], count).await?;
        Ok((list, total))
    }

    /// The members of a role by user id, from after `from` (a user id) if given; with
    /// the total.
    pub async fn role_members(
        &self,
        role_id: &str,
        from: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<RoleMember>, u64), StoreError> {
        let list = self
            .db
            .all(
                "SELECT u.user_id, u.email, u.name, u.picture FROM user_roles ur JOIN users u ON u.user_id = ur.user_id \
                 WHERE ur.role_id = $1 AND ($2 IS NULL OR u.user_id > $2) ORDER BY u.user_id LIMIT $3 OFFSET $4",
                &values![role_id, from, limit, offset],
                RoleMember::from_row,
            )
            .await?;
        let total = self.db.one("SELECT COUNT(*) FROM user_roles WHERE role_id = $1", &values![role_id], count).await?;
        Ok((list, total))
    }

    /// The names of the roles of each of `user_ids` that has any (for exports).
    pub async fn role_names_of_users(&self, user_ids: &[String]) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let mut names: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in user_ids.chunks(500) {
            let sql = format!(
                "SELECT ur.user_id, r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                 WHERE ur.user_id IN ({}) ORDER BY ur.user_id, r.name",
                placeholders(1, chunk.len())
            );
            let params: Vec<SqlValue> = chunk.iter().map(|id| SqlValue::from(id.as_str())).collect();
            for (user, role) in self.db.all(&sql, &params, |r| Ok((r.get_at::<String>(0)?, r.get_at(1)?))).await? {
                names.entry(user).or_default().push(role);
            }
        }
        Ok(names)
    }
}

/// Runs `sql` once for each row of values, in the write `c` belongs to.
async fn execute_each(mut c: crate::db::Conn<'_>, sql: String, rows: Vec<Vec<SqlValue>>) -> Result<(), StoreError> {
    for params in &rows {
        c.execute(&sql, params).await?;
    }
    Ok(())
}

/// `text` matched literally by `LIKE … ESCAPE '\'`.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
