//! Cost caps applied when a hash is parsed, and the argon2id parameters for new hashes.

/// Upper bounds on every cost parameter, checked when a hash is parsed (import, login,
/// `parse_stored`), never at verify time. They keep a hostile import from making one
/// login cost minutes of CPU or gigabytes of memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Highest bcrypt cost (log2 rounds). bcrypt itself allows 4..=31.
    pub bcrypt_max_cost: u32,
    /// Highest effective PBKDF2 iteration count: iterations × output blocks
    /// (PHC, passlib, Django, LDAP, ASP.NET Identity).
    pub pbkdf2_max_iterations: u32,
    /// Highest scrypt N (cost), a power of two.
    pub scrypt_max_n: u64,
    /// Highest scrypt r (block size).
    pub scrypt_max_r: u32,
    /// Highest scrypt p (parallelization).
    pub scrypt_max_p: u32,
    /// Highest scrypt work, measured as 128·N·r·p bytes (the memory a fully parallel
    /// evaluation needs; CPU time is proportional to it as well).
    pub scrypt_max_memory_bytes: u64,
    /// Highest argon2 memory cost `m`, KiB.
    pub argon2_max_memory_kib: u32,
    /// Highest argon2 time cost `t`.
    pub argon2_max_iterations: u32,
    /// Highest argon2 lanes `p`.
    pub argon2_max_parallelism: u32,
    /// Highest sha256-crypt / sha512-crypt `rounds=`.
    pub crypt_max_rounds: u32,
    /// Highest phpass / Drupal 7 log2 iteration count (the format allows 7..=30).
    pub phpass_max_log2_rounds: u32,
    /// Longest accepted hash string / encoded value, in bytes.
    pub max_hash_len: usize,
    /// Longest accepted salt, key or derived key, in bytes (after decoding).
    pub max_salt_len: usize,
    /// Longest password verified or hashed, in UTF-8 bytes; longer passwords never verify.
    pub max_password_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            bcrypt_max_cost: 15,
            pbkdf2_max_iterations: 2_000_000,
            scrypt_max_n: 1 << 20,
            scrypt_max_r: 32,
            scrypt_max_p: 16,
            scrypt_max_memory_bytes: 256 * 1024 * 1024,
            argon2_max_memory_kib: 256 * 1024,
            argon2_max_iterations: 16,
            argon2_max_parallelism: 16,
            crypt_max_rounds: 1_000_000,
            phpass_max_log2_rounds: 20,
            max_hash_len: 4096,
            max_salt_len: 1024,
            max_password_bytes: 1024,
        }
    }
}

/// argon2id parameters for newly hashed passwords (OWASP's minimum by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Config {
    /// Memory cost, KiB.
    pub memory_kib: u32,
    /// Time cost (passes).
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Config {
    fn default() -> Self {
        Argon2Config { memory_kib: 19_456, iterations: 2, parallelism: 1 }
    }
}
