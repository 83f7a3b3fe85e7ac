// Embeds the migrations: `sqlx::migrate!` does PostgreSQL's; SQLite's (run through
// rusqlite) are listed into `$OUT_DIR/sqlite_migrations.rs`. Cargo is told to watch the
// folder, so a new migration file alone rebuilds the crate.
// A build script fails by panicking, with the message Cargo shows.
#![allow(clippy::panic)]

use std::fmt::Write as _;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let mut list = String::from("&[\n");
    for path in files {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_else(|| panic!("{}", path.display()));
        let (version, name) = stem.split_once('_').unwrap_or_else(|| panic!("{stem}: want NNNN_name.sql"));
        let version: i64 = version.parse().unwrap_or_else(|e| panic!("{stem}: {e}"));
        // sqlx's description: the name with its underscores as spaces.
        let description = name.replace('_', " ");
        let _ = writeln!(list, "    ({version}, {description:?}, include_str!({:?})),", path.display().to_string());
    }
    list.push(']');
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|e| panic!("OUT_DIR: {e}")))
        .join("sqlite_migrations.rs");
    std::fs::write(&out, list).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}
