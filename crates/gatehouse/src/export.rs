//! `gatehouse export`: a connection's users to stdout or a file (gzipped when the name ends
//! in `.gz`), in Auth0's export shape. With `--include-password-hashes` the file holds
//! credentials: it is created readable by its owner only, and the command says so.

use crate::import::Failure;
use flate2::write::GzEncoder;
use gatehouse_hash::Hasher;
use gatehouse_migrate::{ExportField, ExportFormat};
use gatehouse_services::export::{export_users, ExportFailure, ExportRequest};
use gatehouse_store::Store;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line (Auth0's export).
    Ndjson,
    /// A header row, one user per row.
    Csv,
    /// A JSON array; with --include-password-hashes it is an `auth0` import file.
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The connection (by name) whose users are exported.
    #[arg(long)]
    pub connection: String,
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: Format,
    /// Write to this file instead of stdout; gzip when it ends in .gz.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Add each user's password hash exactly as imported, so the file re-imports
    /// elsewhere. The file then holds credentials.
    #[arg(long)]
    pub include_password_hashes: bool,
    /// Add each user's MFA factors (`mfa_factors`, TOTP secrets in plaintext) in the
    /// import schema's shape, so they re-import elsewhere. The file then holds credentials.
    #[arg(long)]
    pub include_mfa_factors: bool,
    /// Fields to export (profile paths such as user_metadata.plan), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub fields: Vec<String>,
    /// Export at most this many users.
    #[arg(long)]
    pub limit: Option<u64>,
}

/// What the export did.
#[derive(Debug)]
pub struct Outcome {
    pub users: u64,
    pub seconds: f64,
}

/// The warning printed when a file of password hashes or MFA secrets is written.
pub fn credentials_warning(args: &ExportArgs) -> String {
    let to = args.output.as_ref().map_or_else(|| "the output".to_string(), |p| p.display().to_string());
    let what = match (args.include_password_hashes, args.include_mfa_factors) {
        (true, true) => "password hashes and MFA secrets",
        (false, true) => "MFA secrets",
        _ => "password hashes",
    };
    format!("warning: {to} holds {what} (credentials): keep it as safe as the store itself and delete it when done")
}

/// `gatehouse export`: returns the exit status (0 done, 2 unusable input, 1 failure).
pub async fn main(config: crate::config::Config, args: ExportArgs) -> u8 {
    let store = match crate::serve::open_store_with_defaults(&config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gatehouse export: {e:#}");
            return 1;
        }
    };
    if args.include_password_hashes || args.include_mfa_factors {
        eprintln!("{}", credentials_warning(&args));
    }
    let hasher = Arc::new(Hasher::new(config.argon2, config.limits.clone()));
    let result = run(&store, hasher, &args).await;
    store.close().await;
    match result {
        Ok(outcome) => {
            let to = args.output.as_ref().map_or_else(|| "stdout".to_string(), |p| p.display().to_string());
            eprintln!(
                "exported {} users of {:?} to {to} ({}{}) in {:.1} s",
                outcome.users,
                args.connection,
                format!("{:?}", args.format).to_lowercase(),
                match (args.include_password_hashes, args.include_mfa_factors) {
                    (true, true) => ", with password hashes and MFA factors",
                    (true, false) => ", with password hashes",
                    (false, true) => ", with MFA factors",
                    (false, false) => "",
                },
                outcome.seconds
            );
            0
        }
        Err(Failure::Unusable(message)) => {
            eprintln!("gatehouse export: {message}");
            2
        }
        Err(Failure::Other(e)) => {
            eprintln!("gatehouse export: {e:#}");
            1
        }
    }
}

/// Exports what `args` asks for from `store`.
pub async fn run(store: &Store, hasher: Arc<Hasher>, args: &ExportArgs) -> Result<Outcome, Failure> {
    let started = Instant::now();
    let connection = store
        .connection_by_name(&args.connection)
        .await
        .map_err(|e| Failure::Other(anyhow::anyhow!("cannot read the connections: {e}")))?
        .ok_or_else(|| Failure::Unusable(format!("there is no connection named {:?}", args.connection)))?;
    let fields = if args.fields.is_empty() {
        None
    } else {
        Some(args.fields.iter().map(|f| ExportField::new(f.trim())).collect())
    };
    let request = ExportRequest {
        connection_id: Some(connection.id),
        format: match args.format {
            Format::Ndjson => ExportFormat::Ndjson,
            Format::Csv => ExportFormat::Csv,
            Format::Json => ExportFormat::JsonArray,
        },
        fields,
        include_password_hashes: args.include_password_hashes,
        include_mfa_factors: args.include_mfa_factors,
        limit: args.limit,
    };
    let credentials = args.include_password_hashes || args.include_mfa_factors;
    let out = Shared(Arc::new(Mutex::new(Some(Output::open(args.output.as_deref(), credentials)?))));
    let result = export_users(store, hasher, request, out.clone()).await;
    let finished = out.0.lock().map_err(|_| anyhow::anyhow!("output lock poisoned"))?.take().map(Output::finish);
    let failure = match (result, finished) {
        (Ok(users), Some(Ok(())) | None) => return Ok(Outcome { users, seconds: started.elapsed().as_secs_f64() }),
        (Err(ExportFailure::Write(gatehouse_migrate::ExportError::Fields(f))), _) => {
            Failure::Unusable(format!("--fields: {f}"))
        }
        (Err(e), _) => Failure::Other(anyhow::anyhow!("export failed: {e}")),
        (Ok(_), Some(Err(e))) => Failure::Other(anyhow::anyhow!("cannot write the output: {e}")),
    };
    // A half-written file is worse than none.
    if let Some(path) = &args.output {
        let _ = std::fs::remove_file(path);
    }
    Err(failure)
}

/// Where the export goes.
enum Output {
    Stdout(io::Stdout),
    File(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
}

impl Output {
    fn open(path: Option<&Path>, secret: bool) -> Result<Self, Failure> {
        let Some(path) = path else { return Ok(Output::Stdout(io::stdout())) };
        let file = create(path, secret)
            .map_err(|e| Failure::Unusable(format!("--output: cannot create {}: {e}", path.display())))?;
        let file = BufWriter::with_capacity(1 << 20, file);
        Ok(if path.extension().is_some_and(|e| e == "gz") {
            Output::Gzip(GzEncoder::new(file, flate2::Compression::fast()))
        } else {
            Output::File(file)
        })
    }

    fn finish(self) -> io::Result<()> {
        let file = match self {
            Output::Stdout(mut s) => return s.flush(),
            Output::File(f) => f,
            Output::Gzip(g) => g.finish()?,
        };
        file.into_inner().map_err(|e| e.into_error())?.sync_all()
    }
}

/// Creates (or truncates) `path`; owner-only when it will hold credentials.
fn create(path: &Path, secret: bool) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        // An existing file keeps its mode on open; tighten it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        return Ok(file);
    }
    options.open(path)
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(s) => s.write(buf),
            Output::File(f) => f.write(buf),
            Output::Gzip(g) => g.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(s) => s.flush(),
            Output::File(f) => f.flush(),
            Output::Gzip(g) => g.flush(),
        }
    }
}

/// The output, shared so that it can be finished (gzip trailer, fsync) and its errors
/// seen after the export's writer thread is done with it.
#[derive(Clone)]
struct Shared(Arc<Mutex<Option<Output>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.lock().map_err(|_| io::Error::other("output lock poisoned"))?.as_mut() {
            Some(out) => out.write(buf),
            None => Err(io::Error::other("output already closed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.0.lock().map_err(|_| io::Error::other("output lock poisoned"))?.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}
