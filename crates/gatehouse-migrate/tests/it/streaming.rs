use super::*;
use std::io::Read;

/// An import file generated on the fly: it never exists in memory or on disk.
struct Generated {
    next: u64,
    n: u64,
    pending: Vec<u8>,
    pos: usize,
}

impl Generated {
    fn new(n: u64) -> Self {
        Self { next: 0, n, pending: b"[".to_vec(), pos: 0 }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.pending.len() {
            self.pending.clear();
            self.pos = 0;
            if self.next < self.n {
                let i = self.next;
                let sep = if i == 0 { "" } else { "," };
                let hash = gatehouse_migrate::SYNTHETIC_BCRYPT[(i % 4) as usize].1;
                self.pending.extend_from_slice(
                    format!(
                        "{sep}\n  {{\"email\": \"user{i}@example.com\", \"user_id\": \"u{i}\", \"given_name\": \"Name \\\"{i}\\\" [x]\", \
                         \"password_hash\": \"{hash}\", \"user_metadata\": {{\"n\": {i}, \"tags\": [\"a\", \"b]\"]}}}}"
                    )
                    .as_bytes(),
                );
                self.next += 1;
            } else if self.next == self.n {
                self.pending.extend_from_slice(b"\n]\n");
                self.next += 1;
            } else {
                return Ok(0);
            }
        }
        let k = buf.len().min(self.pending.len() - self.pos);
        buf[..k].copy_from_slice(&self.pending[self.pos..self.pos + k]);
        self.pos += k;
        Ok(k)
    }
}

#[test]
fn two_hundred_thousand_records_in_bounded_memory() {
    const N: u64 = 200_000;
    let base = alloc_meter::reset();
    let hasher = Hasher::default();
    let conn = db();
    let mut count = 0u64;
    let mut last = None;
    for r in records(Format::Auth0Json, std::io::BufReader::new(Generated::new(N)), ReadOptions::default()) {
        let r = r.unwrap();
        let u = validate(&r, &conn, &hasher, NOW).unwrap();
        assert_eq!(u.user.email.as_deref(), Some(format!("user{}@example.com", r.index).as_str()));
        count += 1;
        last = Some(r.index);
    }
    let peak = alloc_meter::peak() - base;
    assert_eq!((count, last), (N, Some(N - 1)));
    // The file is ~40 MB; one record, its buffers and the reader's are a few KiB.
    assert!(peak < 256 * 1024, "peak heap {peak} bytes while streaming");
}

#[test]
fn pre_pass_streams_too() {
    let base = alloc_meter::reset();
    let n = gatehouse_migrate::check_file(
        Format::Auth0Json,
        std::io::BufReader::new(Generated::new(50_000)),
        &ReadOptions::default(),
    );
    assert_eq!(n, Ok(50_000));
    assert!(alloc_meter::peak() - base < 64 * 1024);
}
