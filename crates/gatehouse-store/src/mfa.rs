//! Users' second factors (`mfa_factors`), their TOTP secrets sealed (`crate::sealed`);
//! logins waiting for their second factor (`mfa_pending`), and the browsers remembered
//! after one (`mfa_remembered_browsers`).

use crate::db::Row;
use crate::error::StoreError;
use crate::rows::FromRow;
use crate::sql::SqlValue;
use crate::store::Store;
use gatehouse_core::mfa::{FactorKind, MfaFactor};
use gatehouse_core::secret::Secret;

/// Forgets every remembered browser of user `$1` (also part of a password change's write).
pub(crate) const FORGET_BROWSERS: &str = "DELETE FROM mfa_remembered_browsers WHERE user_id = $1";

/// A login whose first factor passed, waiting for its second (see the migration's note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaPending {
    /// SHA-256 of the handle: a hosted page's `state`, or an `mfa_token`.
    pub id_hash: String,
    pub user_id: String,
    pub client_id: String,
    /// Hosted logins: the SHA-256 of the browser secret it is bound to.
    pub browser_hash: Option<String>,
    /// What the login resumes once the factor passes (JSON, the caller's).
    pub context: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// When the second factor passed (a hosted login still showing a recovery code).
    pub passed_at: Option<i64>,
    /// SHA-256 of the code last emailed, and when.
    pub email_code_hash: Option<String>,
    pub email_sent_at: Option<i64>,
    /// SHA-256 of the `oob_code` of the last out-of-band challenge (the MFA API's).
    pub oob_code_hash: Option<String>,
}

pub(crate) const INSERT_FACTOR: &str =
    "INSERT INTO mfa_factors (id, user_id, kind, secret, value, confirmed, last_step, \
     created_at, last_auth_at, position, credential_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) \
     ON CONFLICT (id) DO NOTHING";

impl Store {
    pub(crate) fn factor_values(&self, f: &MfaFactor) -> Result<Vec<SqlValue>, StoreError> {
        let secret = f.secret.as_ref().map(|s| self.secrets.seal(s.expose())).transpose()?;
        Ok(Vec::from(values![
            &f.id,
            &f.user_id,
            f.kind.as_str(),
            secret,
            &f.value,
            f.confirmed,
            f.last_step,
            &f.created_at,
            &f.last_auth_at,
            f.position,
            &f.credential_id,
        ]))
    }

    fn open_factor(&self, r: &Row<'_>) -> Result<MfaFactor, StoreError> {
        let kind: String = r.get("kind")?;
        let secret: Option<String> = r.get("secret")?;
        Ok(MfaFactor {
            id: r.get("id")?,
            user_id: r.get("user_id")?,
            kind: FactorKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("factor kind {kind:?}")))?,
            secret: secret.map(|s| self.secrets.open(&s)).transpose()?.map(Secret::new),
            value: r.get("value")?,
            confirmed: r.get("confirmed")?,
            last_step: r.get("last_step")?,
            created_at: r.get("created_at")?,
            position: r.get("position")?,
            last_auth_at: r.get("last_auth_at")?,
            credential_id: r.get("credential_id")?,
        })
    }

    /// Stores `factors` in one write; a factor whose id is stored already is left as it
    /// is (a resumed import writes the same ids again). Returns how many were new.
    pub async fn insert_mfa_factors(&self, factors: &[MfaFactor]) -> Result<u64, StoreError> {
        if factors.is_empty() {
            return Ok(0);
        }
        let rows = factors.iter().map(|f| self.factor_values(f)).collect::<Result<Vec<_>, _>>()?;
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    let mut added = 0;
                    for row in &rows {
                        added += c.execute(INSERT_FACTOR, row).await?;
                    }
                    Ok(added)
                })
            })
            .await
    }

    /// A user's factors, oldest first.
    pub async fn mfa_factors(&self, user_id: &str) -> Result<Vec<MfaFactor>, StoreError> {
        let sql = "SELECT * FROM mfa_factors WHERE user_id = $1 ORDER BY created_at, position, id";
        self.db.all(sql, &values![user_id], |r| self.open_factor(r)).await
    }

    /// The factors of the users whose ids are in `(after, last]`, ordered by user: the
    /// factors of a page of [`Store::users_after`] in one read.
    pub async fn mfa_factors_between(&self, after: &str, last: &str) -> Result<Vec<MfaFactor>, StoreError> {
        let sql =
            "SELECT * FROM mfa_factors WHERE user_id > $1 AND user_id <= $2 ORDER BY user_id, created_at, position, id";
        self.db.all(sql, &values![after, last], |r| self.open_factor(r)).await
    }

    /// Removes one factor of a user: whether it existed.
    pub async fn delete_mfa_factor(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM mfa_factors WHERE user_id = $1 AND id = $2";
        Ok(self.db.execute(sql, values![user_id, id]).await? > 0)
    }

    /// Removes every factor of a user: how many there were.
    pub async fn delete_mfa_factors(&self, user_id: &str) -> Result<u64, StoreError> {
        self.db.execute("DELETE FROM mfa_factors WHERE user_id = $1", values![user_id]).await
    }

    /// Records a TOTP code of time step `step` as used, if no code of that step or a later
    /// one was: `false` means the code was replayed (or lost a race with its twin).
    pub async fn use_totp_step(&self, id: &str, step: i64, now: &str) -> Result<bool, StoreError> {
        let sql = "UPDATE mfa_factors SET last_step = $2, last_auth_at = $3 \
                   WHERE id = $1 AND (last_step IS NULL OR last_step < $2)";
        Ok(self.db.execute(sql, values![id, step, now]).await? > 0)
    }

    /// Marks a factor enrolled (it was stored unconfirmed while its first code was
    /// awaited): whether it was waiting.
    pub async fn confirm_mfa_factor(&self, user_id: &str, id: &str, now: &str) -> Result<bool, StoreError> {
        let sql = "UPDATE mfa_factors SET confirmed = $3, last_auth_at = $4 \
                   WHERE user_id = $1 AND id = $2 AND confirmed = $5";
        Ok(self.db.execute(sql, values![user_id, id, true, now, false]).await? > 0)
    }

    /// Gives the user `code` as their one recovery code, in place of any they had.
    pub async fn replace_recovery_code(&self, code: &MfaFactor) -> Result<(), StoreError> {
        let row = self.factor_values(code)?;
        let user = values![&code.user_id, code.kind.as_str()];
        self.db
            .transaction(move |mut c| {
                Box::pin(async move {
                    c.execute("DELETE FROM mfa_factors WHERE user_id = $1 AND kind = $2", &user).await?;
                    c.execute(INSERT_FACTOR, &row).await?;
                    Ok(())
                })
            })
            .await
    }

    /// Records an accepted WebAuthn assertion: the credential as it now is (`credential`,
    /// sealed) and its signature counter. `false` when the counter did not move forward
    /// since the last assertion stored (a cloned authenticator, or a lost race with a
    /// twin), unless the authenticator keeps no counter (0 then and before).
    pub async fn use_webauthn_credential(
        &self,
        id: &str,
        credential: &Secret,
        counter: i64,
        now: &str,
    ) -> Result<bool, StoreError> {
        let sealed = self.secrets.seal(credential.expose())?;
        let sql = "UPDATE mfa_factors SET secret = $2, last_step = $3, last_auth_at = $4 \
                   WHERE id = $1 AND (last_step IS NULL OR last_step < $3 OR ($3 = 0 AND last_step = 0))";
        Ok(self.db.execute(sql, values![id, sealed, counter, now]).await? > 0)
    }

    /// The confirmed factor holding WebAuthn credential `credential_id`, whoever's it is.
    pub async fn mfa_factor_by_credential(&self, credential_id: &str) -> Result<Option<MfaFactor>, StoreError> {
        let sql = "SELECT * FROM mfa_factors WHERE credential_id = $1";
        self.db.opt(sql, &values![credential_id], |r| self.open_factor(r)).await
    }

    /// Records that `user_id` was offered to create a passkey after a password login:
    /// `true` the first time only (the offer is made once, whatever the answer).
    pub async fn mark_passkey_offered(&self, user_id: &str, now: &str) -> Result<bool, StoreError> {
        let sql = "INSERT INTO passkey_enrolment_offers (user_id, offered_at) VALUES ($1, $2) \
                   ON CONFLICT (user_id) DO NOTHING";
        Ok(self.db.execute(sql, values![user_id, now]).await? > 0)
    }

    // ---- WebAuthn ceremonies --------------------------------------------------------------

    /// Keeps a ceremony's state until its answer comes, in place of any other ceremony of
    /// `bound_to`.
    pub async fn put_webauthn_ceremony(
        &self,
        bound_to: &str,
        purpose: &str,
        state: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO webauthn_ceremonies (bound_to, purpose, state, expires_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (bound_to) DO UPDATE SET purpose = $2, state = $3, expires_at = $4";
        self.db.execute(sql, values![bound_to, purpose, state, expires_at]).await?;
        Ok(())
    }

    /// Takes the ceremony of `bound_to` (it is gone after this, whatever it was): its
    /// state, if it is for `purpose` and live at `now`. Of concurrent callers, one gets it.
    pub async fn take_webauthn_ceremony(
        &self,
        bound_to: &str,
        purpose: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let taken = self
            .db
            .write_opt(
                "DELETE FROM webauthn_ceremonies WHERE bound_to = $1 RETURNING purpose, state, expires_at",
                values![bound_to],
                |r| Ok((r.get::<String>("purpose")?, r.get::<String>("state")?, r.get::<i64>("expires_at")?)),
            )
            .await?;
        Ok(taken.filter(|(p, _, exp)| p == purpose && *exp > now).map(|(_, state, _)| state))
    }

    // ---- logins waiting for a second factor ---------------------------------------------

    pub async fn insert_mfa_pending(&self, p: &MfaPending) -> Result<(), StoreError> {
        let sql = "INSERT INTO mfa_pending (id_hash, user_id, client_id, browser_hash, context, created_at, \
                   expires_at, passed_at, email_code_hash, email_sent_at, oob_code_hash) \
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)";
        let v = values![
            &p.id_hash,
            &p.user_id,
            &p.client_id,
            &p.browser_hash,
            &p.context,
            p.created_at,
            p.expires_at,
            p.passed_at,
            &p.email_code_hash,
            p.email_sent_at,
            &p.oob_code_hash,
        ];
        self.db.execute(sql, v).await?;
        Ok(())
    }

    /// The waiting login under `id_hash`, if it has not expired by `now`.
    pub async fn mfa_pending(&self, id_hash: &str, now: i64) -> Result<Option<MfaPending>, StoreError> {
        let sql = "SELECT * FROM mfa_pending WHERE id_hash = $1 AND expires_at > $2";
        self.db.opt(sql, &values![id_hash, now], MfaPending::from_row).await
    }

    /// Ends a waiting login whose second factor passed: the one caller that gets `true`
    /// finishes it.
    pub async fn take_mfa_pending(&self, id_hash: &str, now: i64) -> Result<bool, StoreError> {
        let sql = "DELETE FROM mfa_pending WHERE id_hash = $1 AND expires_at > $2 AND passed_at IS NOT NULL";
        Ok(self.db.execute(sql, values![id_hash, now]).await? > 0)
    }

    /// Records that the second factor passed: `true` for the one caller that recorded it.
    pub async fn pass_mfa_pending(&self, id_hash: &str, now: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE mfa_pending SET passed_at = $2 WHERE id_hash = $1 AND passed_at IS NULL AND expires_at > $2";
        Ok(self.db.execute(sql, values![id_hash, now]).await? > 0)
    }

    /// Records a code just emailed (its hash), and for the MFA API the `oob_code` that
    /// names the challenge; an earlier code stops working.
    pub async fn set_mfa_email_code(
        &self,
        id_hash: &str,
        code_hash: &str,
        oob_code_hash: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE mfa_pending SET email_code_hash = $2, oob_code_hash = $3, email_sent_at = $4 \
                   WHERE id_hash = $1 AND expires_at > $4";
        Ok(self.db.execute(sql, values![id_hash, code_hash, oob_code_hash, now]).await? > 0)
    }

    // ---- remembered browsers --------------------------------------------------------------

    pub async fn remember_browser(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO mfa_remembered_browsers (token_hash, user_id, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4)";
        self.db.execute(sql, values![token_hash, user_id, now, expires_at]).await?;
        Ok(())
    }

    /// Whether the browser holding the cookie whose hash is `token_hash` is remembered for
    /// `user_id` at `now`.
    pub async fn browser_remembered(&self, token_hash: &str, user_id: &str, now: i64) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM mfa_remembered_browsers WHERE token_hash = $1 AND user_id = $2 \
                   AND expires_at > $3";
        let n: i64 = self.db.one(sql, &values![token_hash, user_id, now], |r| r.get_at(0)).await?;
        Ok(n > 0)
    }

    /// Forgets every browser remembered for the user: how many there were.
    pub async fn forget_browsers(&self, user_id: &str) -> Result<u64, StoreError> {
        self.db.execute(FORGET_BROWSERS, values![user_id]).await
    }
}
