//! Auth0 Actions: actions (their secrets sealed, `crate::sealed`), their versions, the
//! bindings of triggers and the record of executions. [`Store::trigger_actions`] reads
//! what a trigger runs, in order, in one statement: it is on every login's path.

use crate::config_cache::ConfigKey;
use crate::db::Row;
use crate::error::StoreError;
use crate::sql::SqlValue;
use crate::store::Store;
use gatehouse_core::action::{Action, ActionSecret, ActionVersion, Binding, Execution};
use serde::{Deserialize, Serialize};

/// A secret as stored: its value sealed.
#[derive(Serialize, Deserialize)]
struct StoredSecret {
    name: String,
    value: String,
    updated_at: String,
}

/// What a trigger runs: each bound action with its deployed version, in order.
#[derive(Debug, Clone)]
pub struct BoundAction {
    pub binding: Binding,
    pub action: Action,
    pub version: ActionVersion,
}

const ACTION_COLUMNS: &str = "a.id, a.name, a.supported_triggers, a.code, a.dependencies, a.runtime, a.secrets, \
     a.created_at, a.updated_at";
const VERSION_COLUMNS: &str = "v.id AS v_id, v.action_id AS v_action_id, v.number AS v_number, v.code AS v_code, \
     v.dependencies AS v_dependencies, v.runtime AS v_runtime, v.supported_triggers AS v_supported_triggers, \
     v.deployed AS v_deployed, v.created_at AS v_created_at";

fn version(r: &Row<'_>) -> Result<ActionVersion, StoreError> {
    let r = r.prefixed("v_");
    Ok(ActionVersion {
        id: r.get("id")?,
        action_id: r.get("action_id")?,
        number: r.get("number")?,
        code: r.get("code")?,
        dependencies: r.json("dependencies")?,
        runtime: r.get("runtime")?,
        supported_triggers: r.json("supported_triggers")?,
        deployed: r.get("deployed")?,
        created_at: r.get("created_at")?,
    })
}

fn binding(r: &Row<'_>) -> Result<Binding, StoreError> {
    let r = r.prefixed("b_");
    Ok(Binding {
        id: r.get("id")?,
        trigger_id: r.get("trigger_id")?,
        action_id: r.get("action_id")?,
        display_name: r.get("display_name")?,
        created_at: r.get("created_at")?,
    })
}

fn execution(r: &Row<'_>) -> Result<Execution, StoreError> {
    Ok(Execution {
        id: r.get("id")?,
        trigger_id: r.get("trigger_id")?,
        status: r.get("status")?,
        results: r.json("results")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

impl Store {
    fn action_values(&self, a: &Action) -> Result<Vec<SqlValue>, StoreError> {
        let secrets = a
            .secrets
            .iter()
            .map(|s| {
                Ok(StoredSecret {
                    name: s.name.clone(),
                    value: self.secrets.seal(&s.value)?,
                    updated_at: s.updated_at.clone(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Vec::from(values![
            &a.id,
            &a.name,
            SqlValue::json(&a.supported_triggers),
            &a.code,
            SqlValue::json(&a.dependencies),
            &a.runtime,
            SqlValue::json(&secrets),
            &a.updated_at,
            &a.created_at,
        ]))
    }

    fn open_action(&self, r: &Row<'_>) -> Result<Action, StoreError> {
        let stored: Vec<StoredSecret> = r.json("secrets")?;
        let secrets = stored
            .into_iter()
            .map(|s| Ok(ActionSecret { name: s.name, value: self.secrets.open(&s.value)?, updated_at: s.updated_at }))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Action {
            id: r.get("id")?,
            name: r.get("name")?,
            supported_triggers: r.json("supported_triggers")?,
            code: r.get("code")?,
            dependencies: r.json("dependencies")?,
            runtime: r.get("runtime")?,
            secrets,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
        })
    }

    /// A new action; a name in use is a conflict.
    pub async fn insert_action(&self, a: &Action) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        self.db
            .execute(
                "INSERT INTO actions (id, name, supported_triggers, code, dependencies, runtime, secrets, updated_at, \
                 created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
                self.action_values(a)?,
            )
            .await?;
        Ok(())
    }

    /// Writes `a` over the stored action of its id.
    pub async fn update_action(&self, a: &Action) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        let mut values = self.action_values(a)?;
        values.truncate(8);
        let n = self
            .db
            .execute(
                "UPDATE actions SET name = $2, supported_triggers = $3, code = $4, dependencies = $5, runtime = $6, \
                 secrets = $7, updated_at = $8 WHERE id = $1",
                values,
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Deletes an action, its versions and its bindings.
    pub async fn delete_action(&self, id: &str) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        if self.db.execute("DELETE FROM actions WHERE id = $1", values![id]).await? == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn action(&self, id: &str) -> Result<Option<Action>, StoreError> {
        self.db
            .opt(&format!("SELECT {ACTION_COLUMNS} FROM actions a WHERE a.id = $1"), &values![id], |r| {
                self.open_action(r)
            })
            .await
    }

    /// Actions by name, optionally only those supporting `trigger_id` or named `name`,
    /// and how many there are.
    pub async fn actions(
        &self,
        trigger_id: Option<&str>,
        name: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<Action>, u64), StoreError> {
        let all = self
            .db
            .all(&format!("SELECT {ACTION_COLUMNS} FROM actions a ORDER BY a.name"), &[], |r| self.open_action(r))
            .await?;
        let chosen: Vec<Action> = all
            .into_iter()
            .filter(|a| trigger_id.is_none_or(|t| a.supported_triggers.iter().any(|s| s.id == t)))
            .filter(|a| name.is_none_or(|n| a.name == n))
            .collect();
        let total = chosen.len() as u64;
        Ok((chosen.into_iter().skip(offset as usize).take(limit as usize).collect(), total))
    }

    /// A new version of `version.action_id`, numbered after the last one and deployed in
    /// place of the one deployed so far. Returns its number.
    pub async fn deploy_new_version(&self, version: &ActionVersion) -> Result<i64, StoreError> {
        let _forget = self.config.forget_after();
        let v = version.clone();
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    let last: Option<i64> = c
                        .opt(
                            "SELECT MAX(number) AS n FROM action_versions WHERE action_id = $1",
                            &values![&v.action_id],
                            |r| r.get::<Option<i64>>("n"),
                        )
                        .await?
                        .flatten();
                    let number = last.unwrap_or(0) + 1;
                    c.execute(
                        "UPDATE action_versions SET deployed = $2 WHERE action_id = $1",
                        &values![&v.action_id, false],
                    )
                    .await?;
                    c.execute(
                        "INSERT INTO action_versions (id, action_id, number, code, dependencies, runtime, \
                         supported_triggers, deployed, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
                        &values![
                            &v.id,
                            &v.action_id,
                            number,
                            &v.code,
                            SqlValue::json(&v.dependencies),
                            &v.runtime,
                            SqlValue::json(&v.supported_triggers),
                            true,
                            &v.created_at
                        ],
                    )
                    .await?;
                    Ok(number)
                })
            })
            .await
    }

    /// Deploys an earlier version of an action again (a rollback).
    pub async fn redeploy_version(&self, action_id: &str, version_id: &str) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        let (action_id, version_id) = (action_id.to_string(), version_id.to_string());
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    let exists = c
                        .opt(
                            "SELECT id FROM action_versions WHERE action_id = $1 AND id = $2",
                            &values![&action_id, &version_id],
                            |r| r.get::<String>("id"),
                        )
                        .await?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound);
                    }
                    c.execute(
                        "UPDATE action_versions SET deployed = (id = $2) WHERE action_id = $1",
                        &values![&action_id, &version_id],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    /// An action's versions, newest first, and how many there are.
    pub async fn action_versions(
        &self,
        action_id: &str,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<ActionVersion>, u64), StoreError> {
        let all = self
            .db
            .all(
                &format!(
                    "SELECT {VERSION_COLUMNS} FROM action_versions v WHERE v.action_id = $1 ORDER BY v.number DESC"
                ),
                &values![action_id],
                version,
            )
            .await?;
        let total = all.len() as u64;
        Ok((all.into_iter().skip(offset as usize).take(limit as usize).collect(), total))
    }

    pub async fn action_version(&self, action_id: &str, id: &str) -> Result<Option<ActionVersion>, StoreError> {
        self.db
            .opt(
                &format!("SELECT {VERSION_COLUMNS} FROM action_versions v WHERE v.action_id = $1 AND v.id = $2"),
                &values![action_id, id],
                version,
            )
            .await
    }

    pub async fn deployed_version(&self, action_id: &str) -> Result<Option<ActionVersion>, StoreError> {
        self.db
            .opt(
                &format!("SELECT {VERSION_COLUMNS} FROM action_versions v WHERE v.action_id = $1 AND v.deployed = $2"),
                &values![action_id, true],
                version,
            )
            .await
    }

    /// A trigger's bindings in order.
    pub async fn bindings(&self, trigger_id: &str) -> Result<Vec<Binding>, StoreError> {
        self.db
            .all(
                "SELECT id AS b_id, trigger_id AS b_trigger_id, action_id AS b_action_id, display_name AS b_display_name, \
                 created_at AS b_created_at FROM action_bindings WHERE trigger_id = $1 ORDER BY position",
                &values![trigger_id],
                binding,
            )
            .await
    }

    /// Replaces a trigger's bindings with `bindings`, in their order.
    pub async fn replace_bindings(&self, trigger_id: &str, bindings: Vec<Binding>) -> Result<(), StoreError> {
        let _forget = self.config.forget_after();
        let trigger_id = trigger_id.to_string();
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    c.execute("DELETE FROM action_bindings WHERE trigger_id = $1", &values![&trigger_id]).await?;
                    for (i, b) in bindings.iter().enumerate() {
                        c.execute(
                            "INSERT INTO action_bindings (id, trigger_id, position, action_id, display_name, created_at) \
                             VALUES ($1,$2,$3,$4,$5,$6)",
                            &values![&b.id, &trigger_id, i as i64, &b.action_id, &b.display_name, &b.created_at],
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    /// What `trigger_id` runs: its bound actions that have a deployed version, in order,
    /// with that version and the action's secrets opened. One statement, kept for a
    /// moment (`config_cache`): every login asks.
    pub async fn trigger_actions(&self, trigger_id: &str) -> Result<Vec<BoundAction>, StoreError> {
        let loaded = self
            .config
            .through(ConfigKey::TriggerActions(trigger_id.to_owned()), || async {
                self.read_trigger_actions(trigger_id).await.map(Some)
            })
            .await?;
        Ok(loaded.unwrap_or_default())
    }

    /// Whether `trigger_id` runs anything.
    pub async fn has_bindings(&self, trigger_id: &str) -> Result<bool, StoreError> {
        Ok(!self.trigger_actions(trigger_id).await?.is_empty())
    }

    async fn read_trigger_actions(&self, trigger_id: &str) -> Result<Vec<BoundAction>, StoreError> {
        self.db
            .all(
                &format!(
                    "SELECT b.id AS b_id, b.trigger_id AS b_trigger_id, b.action_id AS b_action_id, \
                     b.display_name AS b_display_name, b.created_at AS b_created_at, {ACTION_COLUMNS}, {VERSION_COLUMNS} \
                     FROM action_bindings b JOIN actions a ON a.id = b.action_id \
                     JOIN action_versions v ON v.action_id = a.id AND v.deployed = $2 \
                     WHERE b.trigger_id = $1 ORDER BY b.position"
                ),
                &values![trigger_id, true],
                |r| Ok(BoundAction { binding: binding(r)?, action: self.open_action(r)?, version: version(r)? }),
            )
            .await
    }

    pub async fn insert_execution(&self, e: &Execution) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO action_executions (id, trigger_id, status, results, created_at, updated_at) \
                 VALUES ($1,$2,$3,$4,$5,$6)",
                values![&e.id, &e.trigger_id, &e.status, SqlValue::json(&e.results), &e.created_at, &e.updated_at],
            )
            .await?;
        Ok(())
    }

    pub async fn execution(&self, id: &str) -> Result<Option<Execution>, StoreError> {
        self.db.opt("SELECT * FROM action_executions WHERE id = $1", &values![id], execution).await
    }
}
