//! The backends a test runs on, and one fresh database per test: an SQLite file in the
//! test's scratch directory, or a PostgreSQL database of its own. Both are removed when
//! the test ends, passed or failed.

use rand::Rng;
use sqlx::Executor;
use std::path::PathBuf;

/// Where Gatehouse's own store lives during a test.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// The server URL of `GATEHOUSE_TEST_POSTGRES_URL`; each test makes a database in it.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when the test environment provides one (`scripts/test` does).
    pub fn postgres() -> Option<Self> {
        match std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                eprintln!("GATEHOUSE_TEST_POSTGRES_URL is not set; the PostgreSQL run is skipped");
                None
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// Runs each named `async fn(Backend)` once per backend: as `sqlite::name`, and as
/// `postgres::name` (which passes with a message when PostgreSQL is not configured), so
/// a failing test's name says which backend failed.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $crate::on_both_backends!(worker_threads = 2; $($name),*);
    };
    (worker_threads = $threads:literal; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
            async fn $name() { super::$name($crate::kit::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
            async fn $name() {
                if let Some(backend) = $crate::kit::Backend::postgres() { super::$name(backend).await }
            })*
        }
    };
}

/// A name no other test (or test run) uses: `prefix`, the process id and 64 random bits.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{:016x}", std::process::id(), rand::thread_rng().gen::<u64>())
}

/// `url` (a database server's) pointing at the database `name` instead.
pub fn with_database(url: &str, name: &str) -> String {
    let mut url = url::Url::parse(url).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Creates a database named `name` on the PostgreSQL server of `admin_url`.
pub async fn create_postgres_database(admin_url: &str, name: &str) {
    let pool = sqlx::PgPool::connect(admin_url).await.unwrap();
    pool.execute(format!("CREATE DATABASE \"{name}\"").as_str()).await.unwrap();
    pool.close().await;
}

/// Drops the database `name`, ending the sessions still connected to it.
pub async fn drop_postgres_database(admin_url: &str, name: &str) {
    let pool = sqlx::PgPool::connect(admin_url).await.unwrap();
    pool.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str()).await.unwrap();
    pool.close().await;
}

/// The key-encryption key (`secrets.keys`) of every test store.
pub const TEST_SECRET_KEY: &str = "it-1:aXQtc2VjcmV0cy1rZXktMzItYnl0ZXMtbG9uZy0hISE=";

/// One test's database and scratch directory (the server's data directory, and the
/// SQLite file). Dropping it removes both.
pub struct TestDb {
    pub backend: Backend,
    /// What `Store::connect` (or `GATEHOUSE_DATABASE_URL`) is given.
    pub url: String,
    pub dir: PathBuf,
    /// The PostgreSQL server's URL and the database made on it.
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub async fn create(backend: Backend) -> Self {
        let name = unique("gh_it");
        let dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        let (url, postgres) = match &backend {
            // A file, as in production: reads on held connections, writes on the writer thread.
            Backend::Sqlite => (format!("sqlite://{}", dir.join("gatehouse.db").display()), None),
            Backend::Postgres(admin_url) => {
                create_postgres_database(admin_url, &name).await;
                (with_database(admin_url, &name), Some((admin_url.clone(), name)))
            }
        };
        TestDb { backend, url, dir, postgres }
    }

    /// Gatehouse's store on this database, migrated, sealing secrets under
    /// [`TEST_SECRET_KEY`] as a configured deployment does.
    pub async fn store(&self) -> gatehouse_store::Store {
        let keys = gatehouse_store::SecretKeys::parse(&[TEST_SECRET_KEY]).unwrap();
        gatehouse_store::Store::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connecting to the {} test database: {e}", self.backend.name()))
            .with_secret_keys(keys)
    }
}

impl Drop for TestDb {
    /// Runs on a thread and runtime of its own, so it also works while a failed test
    /// unwinds inside the test's runtime.
    fn drop(&mut self) {
        // A write still on its way finds no directory to recreate the SQLite file in.
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin_url, name)) = self.postgres.take() {
            let dropped = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(drop_postgres_database(&admin_url, &name));
            });
            let _ = dropped.join();
        }
    }
}
