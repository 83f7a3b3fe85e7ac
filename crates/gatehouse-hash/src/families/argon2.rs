//! argon2i / argon2d / argon2id in PHC string format
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), also used for new passwords.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use std::sync::{Mutex, OnceLock};

use crate::encoding::{ct_eq, decode_b64_any, B64};
use crate::{Argon2Config, HashError, Limits};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Argon2Hash {
    pub(crate) algorithm: Algorithm,
    pub(crate) version: Version,
    pub(crate) m: u32,
    pub(crate) t: u32,
    pub(crate) p: u32,
    pub(crate) salt: Vec<u8>,
    pub(crate) hash: Vec<u8>,
}

fn num(v: &str, name: &str, field: &str) -> Result<u32, HashError> {
    if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HashError::malformed(field, format!("argon2 parameter {name} must be a decimal integer")));
    }
    v.parse().map_err(|_| HashError::malformed(field, format!("argon2 parameter {name} is too large")))
}

/// Parse a PHC argon2 string.
pub(crate) fn parse(s: &str, limits: &Limits, field: &str) -> Result<Argon2Hash, HashError> {
    let parts: Vec<&str> = s.split('$').collect();
    let (alg, rest) = match parts.as_slice() {
        ["", alg, rest @ ..] => (*alg, rest),
        _ => return Err(HashError::malformed(field, "argon2 hash must start with $argon2")),
    };
    let algorithm = match alg {
        "argon2id" => Algorithm::Argon2id,
        "argon2i" => Algorithm::Argon2i,
        "argon2d" => Algorithm::Argon2d,
        _ => return Err(HashError::unsupported(field, "argon2 variant must be argon2id, argon2i or argon2d")),
    };
    let (version, params, salt, hash) = match rest {
        [v, params, salt, hash] => {
            let v = v
                .strip_prefix("v=")
                .ok_or_else(|| HashError::malformed(field, "argon2 version must be written v=16 or v=19"))?;
            let version = match v {
                "19" => Version::V0x13,
                "16" => Version::V0x10,
                _ => return Err(HashError::unsupported(field, "argon2 version must be 16 or 19")),
            };
            (version, *params, *salt, *hash)
        }
        [params, salt, hash] => (Version::V0x10, *params, *salt, *hash),
        _ => {
            return Err(HashError::malformed(
                field,
                "argon2 hash must be $<variant>$v=<version>$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>",
            ))
        }
    };
    let (mut m, mut t, mut p) = (None, None, None);
    for kv in params.split(',') {
        let (k, v) =
            kv.split_once('=').ok_or_else(|| HashError::malformed(field, "argon2 parameters must be key=value"))?;
        let slot = match k {
            "m" => &mut m,
            "t" => &mut t,
            "p" => &mut p,
            _ => {
                return Err(HashError::unsupported(
                    field,
                    format!("argon2 parameter {k:?} is not supported (only m, t, p)"),
                ))
            }
        };
        if slot.is_some() {
            return Err(HashError::malformed(field, format!("argon2 parameter {k} is repeated")));
        }
        *slot = Some(num(v, k, field)?);
    }
    let (Some(m), Some(t), Some(p)) = (m, t, p) else {
        return Err(HashError::malformed(field, "argon2 parameters m, t and p are all required"));
    };
    if m > limits.argon2_max_memory_kib {
        return Err(HashError::bounds(
            field,
            format!("argon2 memory m={m} KiB exceeds the configured maximum of {} KiB", limits.argon2_max_memory_kib),
        ));
    }
    if t > limits.argon2_max_iterations {
        return Err(HashError::bounds(
            field,
            format!("argon2 iterations t={t} exceed the configured maximum of {}", limits.argon2_max_iterations),
        ));
    }
    if p > limits.argon2_max_parallelism {
        return Err(HashError::bounds(
            field,
            format!("argon2 parallelism p={p} exceeds the configured maximum of {}", limits.argon2_max_parallelism),
        ));
    }
    let salt = decode_b64_any(salt, field)?;
    let hash = decode_b64_any(hash, field)?;
    if salt.len() < 8 || salt.len() > limits.max_salt_len {
        return Err(HashError::malformed(
            field,
            format!("argon2 salt must be 8 to {} bytes, got {}", limits.max_salt_len, salt.len()),
        ));
    }
    if hash.len() < 4 || hash.len() > limits.max_salt_len {
        return Err(HashError::malformed(field, format!("argon2 hash must be 4 to {} bytes", limits.max_salt_len)));
    }
    Params::new(m, t, p, Some(hash.len()))
        .map_err(|e| HashError::bounds(field, format!("invalid argon2 parameters: {e}")))?;
    Ok(Argon2Hash { algorithm, version, m, t, p, salt, hash })
}

/// Raw argon2 output of `len` bytes, or `None` if the parameters are unusable.
#[allow(clippy::too_many_arguments)]
pub(crate) fn derive(
    algorithm: Algorithm,
    version: Version,
    m: u32,
    t: u32,
    p: u32,
    password: &[u8],
    salt: &[u8],
    len: usize,
) -> Option<Vec<u8>> {
    let params = Params::new(m, t, p, Some(len)).ok()?;
    let mut out = vec![0u8; len];
    let mut memory = working_memory::take(params.block_count());
    let result = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password,
        salt,
        &mut out,
        &mut memory[..],
    );
    working_memory::give_back(memory);
    result.ok()?;
    Some(out)
}

/// Argon2's working memory (19 MiB at the default cost), kept between hashes.
/// Allocating and zeroing it afresh took 7 % of a login's CPU. The memory needs no
/// clearing between uses: the first pass writes every block before any is read.
mod working_memory {
    use super::*;

    /// Larger buffers (legacy hashes with a big `m`) are freed after use.
    const MAX_KEPT_BLOCKS: usize = 64 * 1024; // 64 MiB of 1 KiB blocks
    static SPARE: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

    /// At most one buffer per core is kept: no more hashes run at once.
    fn max_kept() -> usize {
        static CORES: OnceLock<usize> = OnceLock::new();
        *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// The buffer given back last: the one most likely still in the caches (one hash at
    /// a time keeps reusing one buffer instead of alternating between two).
    pub(super) fn take(blocks: usize) -> Vec<Block> {
        let spare = SPARE.lock().ok().and_then(|mut spare| {
            let i = spare.iter().rposition(|b| b.len() == blocks)?;
            Some(spare.remove(i))
        });
        spare.unwrap_or_else(|| allocate(blocks))
    }

    /// A new buffer of `blocks` zeroed blocks, on transparent huge pages where the kernel
    /// offers them. Argon2 reads its memory at random, and with 4 KiB pages most reads of
    /// a 19 MiB buffer also miss the TLB; measured on the 2-core machine (interleaved
    /// runs): one core's verifies +3.7 %/s, both cores' at once +7.7 %/s, their page walks
    /// having contended for the shared cache.
    fn allocate(blocks: usize) -> Vec<Block> {
        let mut memory = Vec::with_capacity(blocks);
        #[cfg(target_os = "linux")]
        advise_huge_pages(&mut memory);
        // Written after the advice, so the pages are first touched as huge ones.
        memory.resize(blocks, Block::default());
        memory
    }

    /// Asks Linux to back the whole pages of `memory`'s allocation with huge pages (the
    /// default `madvise` mode of transparent huge pages gives them only where asked).
    /// Advice only: where the kernel says no, the memory stays on small pages.
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    fn advise_huge_pages(memory: &mut Vec<Block>) {
        // SAFETY: `sysconf` only reads a system constant.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096).max(1);
        let start = memory.as_mut_ptr() as usize;
        let end = start + memory.capacity() * std::mem::size_of::<Block>();
        let (first, last) = (start.next_multiple_of(page), end / page * page);
        if last > first {
            // SAFETY: the range [first, last) lies inside `memory`'s own allocation (its
            // ends rounded inwards to whole pages), which is alive and not shared with
            // anything else during the call. MADV_HUGEPAGE changes how the kernel backs
            // those pages, never their contents, mapping or protection, so no Rust value
            // can observe it; its only failure is an error code, which is ignored because
            // the advice is optional.
            let _ = unsafe { libc::madvise(first as *mut libc::c_void, last - first, libc::MADV_HUGEPAGE) };
        }
    }

    pub(super) fn give_back(memory: Vec<Block>) {
        if memory.len() > MAX_KEPT_BLOCKS {
            return;
        }
        if let Ok(mut spare) = SPARE.lock() {
            if spare.len() >= max_kept() {
                // The oldest is the coldest.
                spare.remove(0);
            }
            spare.push(memory);
        }
    }

    /// Makes a buffer full of ones the next one taken.
    #[cfg(test)]
    pub(super) fn put_dirty(blocks: usize) {
        let mut dirty = vec![Block::default(); blocks];
        for b in &mut dirty {
            b.as_mut().fill(u64::MAX);
        }
        if let Ok(mut spare) = SPARE.lock() {
            spare.push(dirty);
        }
    }
}

impl Argon2Hash {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        match derive(self.algorithm, self.version, self.m, self.t, self.p, password, &self.salt, self.hash.len()) {
            Some(out) => ct_eq(&out, &self.hash),
            None => false,
        }
    }

    /// Weaker than (or different from) what new passwords get.
    pub(crate) fn weaker_than(&self, cfg: &Argon2Config) -> bool {
        self.algorithm != Algorithm::Argon2id
            || self.version != Version::V0x13
            || self.m < cfg.memory_kib
            || self.t < cfg.iterations
            || self.p < cfg.parallelism
            || self.salt.len() < 16
            || self.hash.len() < 32
    }
}

/// A new argon2id PHC string.
pub(crate) fn hash_new(cfg: &Argon2Config, password: &[u8], salt: &[u8]) -> Result<String, HashError> {
    let out = derive(
        Algorithm::Argon2id,
        Version::V0x13,
        cfg.memory_kib,
        cfg.iterations,
        cfg.parallelism,
        password,
        salt,
        32,
    )
    .ok_or_else(|| HashError::internal("argon2", "invalid argon2 configuration"))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        cfg.memory_kib,
        cfg.iterations,
        cfg.parallelism,
        B64.encode(salt),
        B64.encode(out)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From the shared vectors (an independent implementation made it).
    const VECTOR: &str =
        "$argon2id$v=19$m=4096,t=2,p=2$pgy/uG/hGomGr5B6pVDoJQ$ghqjwarEvEmT/YR2OafG99BMP4J91DNciSVYLpXdH+8";

    #[test]
    fn reused_working_memory_gives_the_same_hash_whatever_it_held() -> Result<(), HashError> {
        let hash = parse(VECTOR, &Limits::default(), "password_hash")?;
        assert!(hash.verify(b"a b cstaple1815"));
        // Memory left full of ones by "an earlier hash": the result must not change.
        working_memory::put_dirty(4096);
        assert!(hash.verify(b"a b cstaple1815"));
        working_memory::put_dirty(4096);
        assert!(!hash.verify(b"a b cstaple181x"));
        assert!(hash.verify(b"a b cstaple1815"));
        Ok(())
    }
}
