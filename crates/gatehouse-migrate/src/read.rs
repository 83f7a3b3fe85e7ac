//! Streaming readers: any [`Format`] in, Auth0-schema [`RawRecord`]s out, one at a time.
//!
//! Memory is bounded by the largest single record (see
//! [`ReadOptions::max_record_bytes`]), never by the file: JSON arrays are split element
//! by element ([`crate::json_stream`]), NDJSON line by line, CSV row by row.
//!
//! A [`FileError`] ends the iteration (after it, record boundaries cannot be trusted);
//! everything wrong *inside* a well-formed record is left for [`crate::validate()`].

use crate::error::{FieldError, FileError};
use crate::format::{Format, ReadOptions};
use crate::json_stream::{ArrayStream, Pos};
use crate::map::{self, extension_alias, strip_auth0_prefix, EXPORT_ONLY_FIELDS, IMPORT_FIELDS};
use serde_json::{Map, Value};
use std::io::{BufRead, Read};

/// One record of an import file, mapped to Auth0's bulk-import user object.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    /// 0-based position among the file's records.
    pub index: u64,
    /// 1-based line where the record starts.
    pub line: u64,
    /// The Auth0-schema user object (any JSON value: a non-object is the validator's
    /// `INVALID_TYPE`).
    pub user: Value,
    /// Problems found while mapping from the source format; reported with the
    /// validator's.
    pub mapping_errors: Vec<FieldError>,
}

/// Reads `input` as `format`, yielding one record at a time. See the module docs.
pub fn records<R: BufRead>(format: Format, input: R, options: ReadOptions) -> Records<R> {
    let max = options.max_record_bytes;
    let source = match format {
        Format::Auth0Json | Format::Kratos => Source::Json(ArrayStream::new(input, None, max)),
        Format::Firebase | Format::Keycloak => Source::Json(ArrayStream::new(input, Some("users"), max)),
        Format::Ndjson => Source::Lines(Lines { input, line: 0, offset: 0, max }),
        Format::Csv => Source::Csv(CsvSource { reader: csv_reader(input), plan: None }),
    };
    Records { format, options, source, index: 0, buf: Vec::new(), done: false }
}

/// A syntax-only pre-pass: counts the records of a file without building them, so a
/// malformed file is refused before anything is written. Much cheaper than [`records`]
/// (no JSON values are built), but checks the same structure, syntax and CSV header.
pub fn check_file<R: BufRead>(format: Format, input: R, options: &ReadOptions) -> Result<u64, FileError> {
    let max = options.max_record_bytes;
    let mut n = 0u64;
    let mut buf = Vec::new();
    match format {
        Format::Auth0Json | Format::Kratos | Format::Firebase | Format::Keycloak => {
            let key = matches!(format, Format::Firebase | Format::Keycloak).then_some("users");
            let mut s = ArrayStream::new(input, key, max);
            while let Some(at) = s.next_element(&mut buf)? {
                syntax_only(&buf).map_err(|e| s.json_error(at, &e))?;
                n += 1;
            }
        }
        Format::Ndjson => {
            let mut l = Lines { input, line: 0, offset: 0, max };
            while let Some(at) = l.next_line(&mut buf)? {
                syntax_only(&buf).map_err(|e| json_line_error(at, &e))?;
                n += 1;
            }
        }
        Format::Csv => {
            let mut c = CsvSource { reader: csv_reader(input), plan: None };
            c.plan(options)?;
            // StringRecord, not ByteRecord: the reader refuses invalid UTF-8, so must this.
            let mut row = csv::StringRecord::new();
            while c.reader.read_record(&mut row).map_err(|e| csv_error(&e))? {
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Checks JSON syntax without building a value. Not `IgnoredAny`: serde_json skips
/// ignored strings and numbers without checking UTF-8, escapes or number range, and the
/// pre-pass must refuse exactly what the reader refuses. [`Skip`] goes through the same
/// parsing as `Value`, minus the allocations.
fn syntax_only(buf: &[u8]) -> Result<(), serde_json::Error> {
    serde_json::from_slice::<Skip>(buf).map(drop)
}

/// Any JSON value, parsed and discarded.
struct Skip;

impl<'de> serde::Deserialize<'de> for Skip {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor).map(|()| Skip)
    }
}

struct SkipVisitor;

impl<'de> serde::de::Visitor<'de> for SkipVisitor {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        while a.next_element::<Skip>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        while a.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(())
    }
}

/// The iterator returned by [`records`].
pub struct Records<R> {
    format: Format,
    options: ReadOptions,
    source: Source<R>,
    index: u64,
    buf: Vec<u8>,
    done: bool,
}

enum Source<R> {
    Json(ArrayStream<R>),
    Lines(Lines<R>),
    Csv(CsvSource<R>),
}

impl<R: BufRead> Records<R> {
    /// Bytes of the input consumed so far: with the file's size, a progress measure.
    pub fn bytes_read(&self) -> u64 {
        match &self.source {
            Source::Json(s) => s.pos().offset,
            Source::Lines(l) => l.offset,
            Source::Csv(c) => c.reader.position().byte(),
        }
    }

    /// Records yielded so far.
    pub fn records_read(&self) -> u64 {
        self.index
    }

    fn next_record(&mut self) -> Result<Option<RawRecord>, FileError> {
        let Some(pending) = self.next_pending()? else { return Ok(None) };
        let parsed = pending.parse(self.format, &self.options);
        // Like an error while splitting, a record that does not parse ends the file.
        self.done |= parsed.is_err();
        parsed.map(Some)
    }

    /// The next record, its JSON not yet parsed: [`Pending::parse`] finishes it, on any
    /// thread. Parsing and mapping are most of a record's reading cost, so an importer can
    /// split the file here on one thread and parse on others. CSV rows come parsed.
    pub fn next_pending(&mut self) -> Result<Option<Pending>, FileError> {
        if self.done {
            return Ok(None);
        }
        let result = self.split_next();
        if !matches!(result, Ok(Some(_))) {
            self.done = true;
        }
        result
    }

    fn split_next(&mut self) -> Result<Option<Pending>, FileError> {
        let (at, ndjson) = match &mut self.source {
            Source::Json(s) => match s.next_element(&mut self.buf)? {
                Some(at) => (at, false),
                None => return Ok(None),
            },
            Source::Lines(l) => match l.next_line(&mut self.buf)? {
                Some(at) => (at, true),
                None => return Ok(None),
            },
            Source::Csv(c) => {
                let Some((line, user, errors)) = c.next_row(&self.options)? else { return Ok(None) };
                return Ok(Some(Pending(PendingKind::Parsed(self.make(line, user, errors)))));
            }
        };
        let index = self.index;
        // Counted as read once split; a record that then fails to parse ends the file.
        self.index += 1;
        // An exact-size copy: the reading buffer keeps its capacity for the next record.
        Ok(Some(Pending(PendingKind::Json { index, at, ndjson, bytes: self.buf.as_slice().into() })))
    }

    fn make(&mut self, line: u64, user: Value, mapping_errors: Vec<FieldError>) -> RawRecord {
        let index = self.index;
        self.index += 1;
        RawRecord { index, line, user, mapping_errors }
    }
}

/// A record split from the file but not yet parsed (see [`Records::next_pending`]).
#[derive(Debug)]
pub struct Pending(PendingKind);

#[derive(Debug)]
enum PendingKind {
    Parsed(RawRecord),
    Json { index: u64, at: Pos, ndjson: bool, bytes: Box<[u8]> },
}

impl Pending {
    /// The record's 0-based position among the file's records.
    pub fn index(&self) -> u64 {
        match &self.0 {
            PendingKind::Parsed(r) => r.index,
            PendingKind::Json { index, .. } => *index,
        }
    }

    /// Parses and maps the record, as [`records`] would have. `format` and `options` must
    /// be the ones the [`Records`] was made with. An error here is a [`FileError`] as
    /// from [`records`]: records after it cannot be trusted.
    pub fn parse(self, format: Format, options: &ReadOptions) -> Result<RawRecord, FileError> {
        match self.0 {
            PendingKind::Parsed(r) => Ok(r),
            PendingKind::Json { .. } => self.parse_ref(format, options),
        }
    }

    /// [`Pending::parse`], keeping the pending record: a JSON record can be parsed again
    /// later (an importer keeps these few bytes rather than the parsed value, and parses
    /// again only for an error report). A CSV row is copied.
    pub fn parse_ref(&self, format: Format, options: &ReadOptions) -> Result<RawRecord, FileError> {
        let (index, at, ndjson, bytes) = match &self.0 {
            PendingKind::Parsed(r) => return Ok(r.clone()),
            PendingKind::Json { index, at, ndjson, bytes } => (*index, *at, *ndjson, bytes),
        };
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            if ndjson {
                json_line_error(at, &e)
            } else {
                crate::json_stream::element_error(at, &e)
            }
        })?;
        let (user, mapping_errors) = match format {
            Format::Auth0Json | Format::Csv => (value, Vec::new()),
            Format::Ndjson => map::from_auth0_export(value),
            Format::Firebase => map::from_firebase(value, options),
            Format::Keycloak => map::from_keycloak(value, options),
            Format::Kratos => map::from_kratos(value, options),
        };
        Ok(RawRecord { index, line: at.line, user, mapping_errors })
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<RawRecord, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

impl<R: BufRead> std::iter::FusedIterator for Records<R> {}

// ---------------------------------------------------------------------------- NDJSON

struct Lines<R> {
    input: R,
    /// Lines consumed so far.
    line: u64,
    offset: u64,
    max: usize,
}

impl<R: BufRead> Lines<R> {
    /// The next non-blank line (without its newline) in `out`.
    fn next_line(&mut self, out: &mut Vec<u8>) -> Result<Option<Pos>, FileError> {
        loop {
            out.clear();
            let start = Pos { line: self.line + 1, column: 1, offset: self.offset };
            let mut ended = false;
            loop {
                let buf = match self.input.fill_buf() {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(pos_error(start, format!("read error: {e}"))),
                };
                if buf.is_empty() {
                    break;
                }
                let (n, found) = match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (buf.len(), false),
                };
                out.extend_from_slice(&buf[..n]);
                self.input.consume(n);
                self.offset += n as u64;
                if out.len() > self.max {
                    return Err(pos_error(start, format!("a record is larger than {} bytes", self.max)));
                }
                if found {
                    ended = true;
                    break;
                }
            }
            if out.is_empty() && !ended {
                return Ok(None);
            }
            if self.line == 0 && out.starts_with(b"\xEF\xBB\xBF") {
                // A UTF-8 byte order mark (Windows tools add one) is not part of the JSON.
                out.drain(..3);
            }
            self.line += 1;
            if out.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(start));
        }
    }
}

fn pos_error(at: Pos, message: String) -> FileError {
    FileError { line: at.line, column: at.column, offset: at.offset, message }
}

fn json_line_error(at: Pos, e: &serde_json::Error) -> FileError {
    FileError { line: at.line, column: e.column() as u64, offset: at.offset, message: format!("invalid JSON: {e}") }
}

// ------------------------------------------------------------------------------- CSV

fn csv_reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(input)
}

fn csv_error(e: &csv::Error) -> FileError {
    let (line, offset) = e.position().map_or((0, 0), |p| (p.line(), p.byte()));
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("the row has {len} fields but the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".to_string(),
        _ => format!("invalid CSV: {e}"),
    };
    FileError { line, column: 1, offset, message }
}

/// A header row's titles as a column mapping names them: without a byte-order mark,
/// surrounding space, or (when undoing the export's CSV-injection escape) a leading `'`.
fn column_titles<'h>(headers: &'h csv::StringRecord, opts: &ReadOptions) -> Vec<&'h str> {
    headers
        .iter()
        .map(|t| t.trim_start_matches('\u{feff}').trim())
        .map(|t| if opts.csv_strip_quote_prefix { t.strip_prefix('\'').unwrap_or(t) } else { t })
        .collect()
}

/// A CSV file's column titles, each with the Auth0 field it maps to by itself (its own
/// name, a metadata path, or an Import/Export extension title), for a mapping step.
pub fn csv_columns<R: Read>(input: R, opts: &ReadOptions) -> Result<Vec<(String, Option<String>)>, FileError> {
    let mut reader = csv_reader(input);
    let headers = reader.headers().map_err(|e| csv_error(&e))?.clone();
    Ok(column_titles(&headers, opts)
        .into_iter()
        .map(|t| {
            let field = match target_for(t) {
                Some(Target::Field(f)) => Some(f),
                Some(Target::Path(p)) => Some(p.join(".")),
                _ => None,
            };
            (t.to_string(), field)
        })
        .collect())
}

/// The top-level Auth0 fields a CSV column may be mapped to (besides metadata paths).
pub fn importable_fields() -> &'static [&'static str] {
    crate::map::IMPORT_FIELDS
}

/// Where a CSV column goes in the Auth0 user object.
#[derive(Debug, Clone)]
enum Target {
    Ignore,
    /// A top-level Auth0 field.
    Field(String),
    /// `user_metadata.a.b` → ["user_metadata", "a", "b"].
    Path(Vec<String>),
}

struct CsvSource<R> {
    reader: csv::Reader<R>,
    plan: Option<Vec<Target>>,
}

fn header_error(message: String) -> FileError {
    FileError { line: 1, column: 1, offset: 0, message }
}

/// Resolves an Auth0 field name or metadata path.
fn target_for(field: &str) -> Option<Target> {
    let field = extension_alias(field).unwrap_or(field);
    if IMPORT_FIELDS.contains(&field) {
        return Some(Target::Field(field.to_string()));
    }
    let (root, rest) = field.split_once('.')?;
    let ok = matches!(root, "user_metadata" | "app_metadata") && rest.split('.').all(|s| !s.is_empty());
    ok.then(|| Target::Path(field.split('.').map(str::to_string).collect()))
}

impl<R: Read> CsvSource<R> {
    fn plan(&mut self, opts: &ReadOptions) -> Result<&[Target], FileError> {
        if self.plan.is_none() {
            let headers = self.reader.headers().map_err(|e| csv_error(&e))?.clone();
            let titles = column_titles(&headers, opts);
            let plan = match &opts.csv_columns {
                None => titles
                    .iter()
                    .enumerate()
                    .map(|(i, t)| match target_for(t) {
                        Some(target) => Ok(target),
                        None if EXPORT_ONLY_FIELDS.contains(t) => Ok(Target::Ignore),
                        None => Err(header_error(format!(
                            "column {} {t:?} is not an Auth0 user field or a user_metadata./app_metadata. path; give a column mapping",
                            i + 1
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                Some(mapping) => {
                    let mut plan = vec![Target::Ignore; titles.len()];
                    for (column, field) in mapping {
                        let i = titles.iter().position(|t| t == column).ok_or_else(|| {
                            header_error(format!("the mapping names column {column:?}, which the header does not have"))
                        })?;
                        plan[i] = target_for(field).ok_or_else(|| {
                            header_error(format!(
                                "the mapping sends column {column:?} to {field:?}, which is not an Auth0 user field or a user_metadata./app_metadata. path"
                            ))
                        })?;
                    }
                    plan
                }
            };
            let mut seen = std::collections::HashSet::new();
            for t in &plan {
                let key = match t {
                    Target::Field(f) => f.clone(),
                    Target::Path(p) => p.join("."),
                    Target::Ignore => continue,
                };
                if !seen.insert(key.clone()) {
                    return Err(header_error(format!("two columns map to {key}")));
                }
            }
            self.plan = Some(plan);
        }
        Ok(self.plan.as_deref().unwrap_or(&[]))
    }

    fn next_row(&mut self, opts: &ReadOptions) -> Result<Option<(u64, Value, Vec<FieldError>)>, FileError> {
        self.plan(opts)?;
        let mut row = csv::StringRecord::new();
        if !self.reader.read_record(&mut row).map_err(|e| csv_error(&e))? {
            return Ok(None);
        }
        let line = row.position().map_or(0, csv::Position::line);
        let plan = self.plan.as_deref().unwrap_or(&[]);
        let mut user = Map::new();
        let mut errors = Vec::new();
        for (cell, target) in row.iter().zip(plan) {
            let cell = if opts.csv_strip_quote_prefix { cell.strip_prefix('\'').unwrap_or(cell) } else { cell };
            if cell.is_empty() {
                continue;
            }
            match target {
                Target::Ignore => {}
                Target::Field(f) => {
                    let v = match cell_value(f, cell) {
                        Ok(v) => v,
                        Err(e) => {
                            errors.push(FieldError::new("FORMAT", f.clone(), e));
                            continue;
                        }
                    };
                    user.insert(f.clone(), v);
                }
                Target::Path(p) => insert_path(&mut user, p, Value::String(cell.to_string())),
            }
        }
        Ok(Some((line, Value::Object(user), errors)))
    }
}

/// A CSV cell as the JSON value of an Auth0 field: booleans for the flags, JSON for the
/// structured fields, strings for the rest (the validator judges them).
fn cell_value(field: &str, cell: &str) -> Result<Value, String> {
    Ok(match field {
        "email_verified" | "phone_verified" | "blocked" => match cell.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Value::Bool(true),
            "false" | "0" | "no" => Value::Bool(false),
            _ => Value::String(cell.to_string()),
        },
        "custom_password_hash" | "mfa_factors" | "user_metadata" | "app_metadata" => {
            serde_json::from_str(cell).map_err(|e| format!("the cell is not valid JSON: {e}"))?
        }
        "user_id" => {
            let mut v = Value::String(cell.to_string());
            strip_auth0_prefix(&mut v);
            v
        }
        _ => Value::String(cell.to_string()),
    })
}

fn insert_path(m: &mut Map<String, Value>, path: &[String], v: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut cur = m;
    for p in parents {
        let slot = cur.entry(p.clone()).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(next) = slot else { return };
        cur = next;
    }
    cur.insert(last.clone(), v);
}
