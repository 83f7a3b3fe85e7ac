//! A streaming splitter for JSON arrays of records.
//!
//! It scans bytes just far enough to find where each array element starts and ends
//! (strings, escapes and nesting depth), hands each element's bytes to `serde_json`, and
//! reuses one buffer, so memory is bounded by the largest single element whatever the
//! file size. It also finds the array under a top-level key (`{"users":[…]}` for
//! Firebase and Keycloak) and skips the other keys.
//!
//! It checks structure only; the syntax inside an element is `serde_json`'s job, and a
//! syntax error found there is reported at its absolute position.

use crate::error::FileError;
use std::io::BufRead;

/// A `serde_json` error inside an element that started at `start`, at its absolute position.
pub(crate) fn element_error(start: Pos, e: &serde_json::Error) -> FileError {
    let (l, c) = (e.line() as u64, e.column() as u64);
    let line = start.line + l.saturating_sub(1);
    let column = if l <= 1 { start.column + c.saturating_sub(1) } else { c };
    FileError { line, column, offset: start.offset, message: format!("invalid JSON: {e}") }
}

/// Where a scanned element started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: u64,
    pub column: u64,
    pub offset: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing read yet.
    Start,
    /// Just after `[`: an element or `]`.
    First,
    /// After an element: `,` or `]`.
    Next,
    /// The array is closed.
    Done,
}

pub(crate) struct ArrayStream<R> {
    input: R,
    /// `None`: the document is the array. `Some(k)`: the array is under key `k` of a
    /// top-level object.
    key: Option<&'static str>,
    state: State,
    offset: u64,
    line: u64,
    line_start: u64,
    max_element: usize,
}

impl<R: BufRead> ArrayStream<R> {
    pub(crate) fn new(input: R, key: Option<&'static str>, max_element: usize) -> Self {
        Self { input, key, state: State::Start, offset: 0, line: 1, line_start: 0, max_element }
    }

    pub(crate) fn pos(&self) -> Pos {
        Pos { line: self.line, column: self.offset - self.line_start + 1, offset: self.offset }
    }

    pub(crate) fn error_at(&self, pos: Pos, message: impl Into<String>) -> FileError {
        FileError { line: pos.line, column: pos.column, offset: pos.offset, message: message.into() }
    }

    fn error(&self, message: impl Into<String>) -> FileError {
        self.error_at(self.pos(), message)
    }

    /// A `serde_json` error inside an element that started at `start`, at its absolute
    /// position.
    pub(crate) fn json_error(&self, start: Pos, e: &serde_json::Error) -> FileError {
        element_error(start, e)
    }

    fn io_error(&self, e: &std::io::Error) -> FileError {
        self.error(format!("read error: {e}"))
    }

    /// The next non-whitespace byte, not consumed.
    fn peek(&mut self) -> Result<Option<u8>, FileError> {
        loop {
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(&e)),
            };
            if buf.is_empty() {
                return Ok(None);
            }
            let mut n = 0;
            let mut found = None;
            for &b in buf {
                match b {
                    b' ' | b'\t' | b'\r' => {}
                    b'\n' => {
                        self.line += 1;
                        self.line_start = self.offset + n as u64 + 1;
                    }
                    // A UTF-8 byte order mark at the very start is tolerated.
                    0xEF | 0xBB | 0xBF if self.offset + (n as u64) < 3 && self.state == State::Start => {}
                    other => {
                        found = Some(other);
                        break;
                    }
                }
                n += 1;
            }
            self.input.consume(n);
            self.offset += n as u64;
            if found.is_some() {
                return Ok(found);
            }
        }
    }

    fn bump(&mut self) {
        self.input.consume(1);
        self.offset += 1;
    }

    fn expect(&mut self, want: u8, what: &str) -> Result<(), FileError> {
        match self.peek()? {
            Some(b) if b == want => {
                self.bump();
                Ok(())
            }
            Some(b) => Err(self.error(format!("expected {what}, found {}", show(b)))),
            None => Err(self.error(format!("expected {what}, found the end of the file"))),
        }
    }

    /// Copies one JSON value into `out` (cleared first). Stops right after the value.
    /// Structure only: brackets are counted, strings skipped; `serde_json` checks the rest.
    fn read_value(&mut self, out: &mut Vec<u8>, keep: bool) -> Result<(), FileError> {
        out.clear();
        let first = match self.peek()? {
            Some(b) => b,
            None => return Err(self.error("expected a value, found the end of the file")),
        };
        if matches!(first, b']' | b'}' | b',' | b':') {
            return Err(self.error(format!("expected a value, found {}", show(first))));
        }
        let mut depth: u32 = 0;
        let mut in_string = false;
        let mut escape = false;
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        let mut started = false;
        let mut kept: usize = 0;
        loop {
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(&e)),
            };
            if buf.is_empty() {
                if scalar && started {
                    return Ok(());
                }
                return Err(self.error("unexpected end of the file inside a value"));
            }
            let mut n = 0;
            let mut done = false;
            let mut newline_at = None;
            while n < buf.len() {
                if in_string && !escape {
                    // Most of a record is string content: jump to the next quote or
                    // backslash (a raw newline inside a string is invalid JSON anyway,
                    // and serde_json will say so).
                    match memchr::memchr2(b'"', b'\\', &buf[n..]) {
                        Some(i) => n += i,
                        None => {
                            n = buf.len();
                            break;
                        }
                    }
                }
                let b = buf[n];
                if in_string {
                    if escape {
                        escape = false;
                    } else if b == b'\\' {
                        escape = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            n += 1;
                            done = true;
                            break;
                        }
                    }
                } else if scalar {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                        done = true;
                        break;
                    }
                } else {
                    match b {
                        b'"' => in_string = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                n += 1;
                                done = true;
                                break;
                            }
                        }
                        b'\n' => newline_at = Some(n),
                        _ => {}
                    }
                }
                started = true;
                n += 1;
            }
            kept += n;
            if keep {
                out.extend_from_slice(&buf[..n]);
            }
            if let Some(at) = newline_at {
                // Count every newline in the consumed chunk (rare inside records).
                let lines = buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
                self.line += lines;
                self.line_start = self.offset + at as u64 + 1;
            }
            self.input.consume(n);
            self.offset += n as u64;
            if kept > self.max_element {
                return Err(self.error(format!("a record is larger than {} bytes", self.max_element)));
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Moves to just inside the records array: `[` at the top, or the `[` of the key.
    fn open(&mut self) -> Result<(), FileError> {
        let Some(key) = self.key else {
            return match self.peek()? {
                Some(b'[') => {
                    self.bump();
                    Ok(())
                }
                Some(b) => Err(self.error(format!("the file must be a JSON array of users, found {}", show(b)))),
                None => Err(self.error("the file is empty")),
            };
        };
        self.expect(b'{', &format!("a JSON object with a \"{key}\" array"))?;
        let mut scratch = Vec::new();
        let mut first = true;
        loop {
            match (self.peek()?, first) {
                (Some(b'}') | None, _) => return Err(self.error(format!("the file has no \"{key}\" array"))),
                (Some(b','), false) => self.bump(),
                (Some(_), true) => {}
                (Some(b), false) => return Err(self.error(format!("expected ',' or '}}', found {}", show(b)))),
            }
            first = false;
            match self.peek()? {
                Some(b'"') => {}
                Some(b) => return Err(self.error(format!("expected an object key, found {}", show(b)))),
                None => return Err(self.error(format!("the file has no \"{key}\" array"))),
            }
            let at = self.pos();
            self.read_value(&mut scratch, true)?;
            let name: String = serde_json::from_slice(&scratch).map_err(|e| self.json_error(at, &e))?;
            self.expect(b':', "':' after an object key")?;
            if name == key {
                return self.expect(b'[', &format!("an array under \"{key}\""));
            }
            // Other top-level keys (realm settings, clients…) are skipped without being
            // buffered: only their structure (brackets, strings) is checked, since
            // nothing in them is imported.
            self.read_value(&mut scratch, false)?;
        }
    }

    /// After the array: the rest of the enclosing object (if any), then end of file.
    fn close(&mut self) -> Result<(), FileError> {
        if self.key.is_some() {
            let mut scratch = Vec::new();
            loop {
                match self.peek()? {
                    Some(b'}') => {
                        self.bump();
                        break;
                    }
                    Some(b',') => {
                        self.bump();
                        self.read_value(&mut scratch, false)?;
                        self.expect(b':', "':' after an object key")?;
                        self.read_value(&mut scratch, false)?;
                    }
                    Some(b) => return Err(self.error(format!("expected ',' or '}}', found {}", show(b)))),
                    None => return Err(self.error("unexpected end of the file: the top-level object is not closed")),
                }
            }
        }
        match self.peek()? {
            None => Ok(()),
            Some(b) => Err(self.error(format!("unexpected {} after the end of the users array", show(b)))),
        }
    }

    /// The next element's bytes in `out` and where it started; `None` at the end.
    pub(crate) fn next_element(&mut self, out: &mut Vec<u8>) -> Result<Option<Pos>, FileError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Start => {
                    self.open()?;
                    self.state = State::First;
                }
                State::First => {
                    if self.peek()? == Some(b']') {
                        self.bump();
                        self.state = State::Done;
                        self.close()?;
                        return Ok(None);
                    }
                    self.peek()?;
                    let at = self.pos();
                    self.read_value(out, true)?;
                    self.state = State::Next;
                    return Ok(Some(at));
                }
                State::Next => match self.peek()? {
                    Some(b',') => {
                        self.bump();
                        // Skip whitespace first, so the position is the record's own.
                        self.peek()?;
                        let at = self.pos();
                        self.read_value(out, true)?;
                        return Ok(Some(at));
                    }
                    Some(b']') => {
                        self.bump();
                        self.state = State::Done;
                        self.close()?;
                        return Ok(None);
                    }
                    Some(b) => return Err(self.error(format!("expected ',' or ']' between users, found {}", show(b)))),
                    None => return Err(self.error("unexpected end of the file: the users array is not closed")),
                },
            }
        }
    }
}

fn show(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str, key: Option<&'static str>) -> Result<Vec<String>, FileError> {
        let mut st = ArrayStream::new(s.as_bytes(), key, 1 << 20);
        let mut out = Vec::new();
        let mut all = Vec::new();
        while st.next_element(&mut out)?.is_some() {
            all.push(String::from_utf8_lossy(&out).into_owned());
        }
        Ok(all)
    }

    #[test]
    fn splits_elements() {
        let v = split(" [ {\"a\":\"x],\\\"}\"} ,\n[1,[2]], 3 ,\"s\" ,null]\n", None).unwrap();
        assert_eq!(v, vec!["{\"a\":\"x],\\\"}\"}", "[1,[2]]", "3", "\"s\"", "null"]);
        assert_eq!(split("[]", None).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn finds_the_users_key() {
        let v = split(r#"{"realm":"x","clients":[{"a":[1]}],"users":[{"u":1},{"u":2}],"roles":{}}"#, Some("users"));
        assert_eq!(v.unwrap(), vec![r#"{"u":1}"#, r#"{"u":2}"#]);
        let e = split(r#"{"realm":"x"}"#, Some("users")).unwrap_err();
        assert!(e.message.contains("no \"users\""), "{e}");
        let e = split(r#"{,"users":[]}"#, Some("users")).unwrap_err();
        assert!(e.message.contains("expected an object key"), "{e}");
        let e = split(r#"{"a":1 "users":[]}"#, Some("users")).unwrap_err();
        assert!(e.message.contains("expected ',' or '}'"), "{e}");
    }

    #[test]
    fn structural_errors_have_positions() {
        let e = split("[{\"a\":1}\n {\"b\":2}]", None).unwrap_err();
        assert_eq!((e.line, e.column, e.offset), (2, 2, 10));
        let e = split("{\"a\":1}", None).unwrap_err();
        assert!(e.message.contains("must be a JSON array"), "{e}");
        let e = split("[{\"a\":1}", None).unwrap_err();
        assert!(e.message.contains("not closed"), "{e}");
        let e = split("[1] x", None).unwrap_err();
        assert!(e.message.contains("after the end"), "{e}");
    }
}
