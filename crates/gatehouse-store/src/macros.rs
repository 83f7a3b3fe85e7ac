//! The store's internal macros: run one SQL text on whichever pool is in use, and bind
//! values. Declared first so every module of the crate can use them.

/// Runs `$body` with `$pool` bound to the concrete pool of whichever backend is in use.
/// The body is compiled once per backend, so the same SQL text serves both.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite($pool) => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}

/// Like `on_pool!`, for the token endpoint's reads: on an SQLite file they run on a held
/// connection (`crate::held`), `$ex` being `&mut SqliteConnection`.
macro_rules! on_reader {
    ($store:expr, |$ex:ident| $body:expr) => {
        match (&$store.backend, &$store.held) {
            ($crate::store::Backend::Sqlite(_), Some(held)) => {
                let mut connection = held.readers.connection().await?;
                let result = {
                    let $ex = connection.connection()?;
                    $body
                };
                if result.is_err() {
                    connection.discard();
                }
                result
            }
            ($crate::store::Backend::Sqlite($ex), None) => $body,
            ($crate::store::Backend::Postgres($ex), _) => $body,
        }
    };
}

/// Like `on_pool!`, for the token endpoint's writes: on an SQLite file they run on the
/// writer thread (`crate::held`), `$ex` being `&mut SqliteConnection` there. The body is
/// moved to that thread, so what it uses must be owned; it evaluates to a `Result` whose
/// error converts into `StoreError`.
macro_rules! on_writer {
    ($store:expr, |$ex:ident| $body:expr) => {
        match (&$store.backend, &$store.held) {
            ($crate::store::Backend::Sqlite(_), Some(held)) => {
                held.writer
                    .run(move |$ex| Box::pin(async move { $body.map_err($crate::error::StoreError::from) }))
                    .await
            }
            ($crate::store::Backend::Sqlite($ex), None) => $body.map_err($crate::error::StoreError::from),
            ($crate::store::Backend::Postgres($ex), _) => $body.map_err($crate::error::StoreError::from),
        }
    };
}

/// Binds a list of [`SqlValue`]s in order.
macro_rules! bind_values {
    ($query:expr, $values:expr) => {{
        let mut q = $query;
        for v in $values {
            q = match v {
                $crate::sql::SqlValue::Text(s) => q.bind(s.clone()),
                $crate::sql::SqlValue::Int(i) => q.bind(*i),
                $crate::sql::SqlValue::Float(f) => q.bind(*f),
                $crate::sql::SqlValue::Bool(b) => q.bind(*b),
            };
        }
        q
    }};
}

macro_rules! bind_user {
    ($query:expr, $u:expr) => {
        $query
            .bind(&$u.user_id)
            .bind(&$u.connection_id)
            .bind(&$u.connection)
            .bind(&$u.provider)
            .bind(&$u.email)
            .bind($u.email_verified)
            .bind(&$u.username)
            .bind(&$u.phone_number)
            .bind($u.phone_verified)
            .bind(&$u.name)
            .bind(&$u.nickname)
            .bind(&$u.given_name)
            .bind(&$u.family_name)
            .bind(&$u.picture)
            .bind(&$u.password_hash)
            .bind(sqlx::types::Json(&$u.user_metadata))
            .bind(sqlx::types::Json(&$u.app_metadata))
            .bind($u.blocked)
            .bind($u.logins_count)
            .bind(&$u.last_login)
            .bind(&$u.last_ip)
            .bind(&$u.last_password_reset)
            .bind(&$u.created_at)
            .bind(&$u.updated_at)
    };
}
