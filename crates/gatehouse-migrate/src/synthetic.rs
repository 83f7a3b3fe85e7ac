//! Synthetic Auth0 import files for benchmarks and load tests.
//!
//! Hashing a million passwords would dominate generation, so a handful of real hashes
//! (bcrypt cost 4, PBKDF2-SHA256, salted MD5; made with Python's bcrypt/hashlib) are
//! reused. Password `i` of each list is `synthetic-pw-<i>`, so any generated user can
//! log in with the password of its hash.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::io::{self, Write};

/// `(password, bcrypt hash)`.
pub const SYNTHETIC_BCRYPT: [(&str, &str); 4] = [
    ("synthetic-pw-0", "$2b$04$fYvPEC1iLS7vE6RYBkTTr.4bv1nRtWqJ8gkLGlFU3m8tfVNf5pNZm"),
    ("synthetic-pw-1", "$2b$04$dNT9mHAiOt4dG67vAKXmjOf/YAMUvS6ZMHKG1QZHCRMvGLx0uk95W"),
    ("synthetic-pw-2", "$2b$04$F8DDHZ31aYznKcM7poaABOf8Lnvxuo3usiMU/OQPWQN3pSIErPr5q"),
    ("synthetic-pw-3", "$2b$04$.vymg0YOWJyuC2KWTWdZxugaHxY/0e9BE0iObvWPhm56MDYdacsJS"),
];

/// `(password, PHC pbkdf2-sha256)`, for `custom_password_hash` algorithm `pbkdf2`.
pub const SYNTHETIC_PBKDF2: [(&str, &str); 4] = [
    ("synthetic-pw-0", "$pbkdf2-sha256$i=1000,l=32$jTJQVvoW2kmiNygGVlrp+A$RLRL2ArCRw/DGtSJU7do1mrbipNFt9Ua5ejwk44qN2s"),
    ("synthetic-pw-1", "$pbkdf2-sha256$i=1000,l=32$l4W5ghHrqoI0DDzOPv8PcA$zd1GobLGMeldbZ4cAdhMfRjV0Bf8bxHb6KNlV5OxwSw"),
    ("synthetic-pw-2", "$pbkdf2-sha256$i=1000,l=32$s/sYB9zIWjmHkLCzoqqTRA$9rqAmrz7yzv+5HClhp+ebfx4F8FNJ0ztMJB8mFGdLtE"),
    ("synthetic-pw-3", "$pbkdf2-sha256$i=1000,l=32$UY6MHtbhpNq29mHN/L2eXw$k8n34nyQ3S9ualCDEybdh0I86lcXz4oFFYsyNXdUuog"),
];

/// `(password, salt, hex md5(salt ‖ password))`.
pub const SYNTHETIC_MD5: [(&str, &str, &str); 4] = [
    ("synthetic-pw-0", "s4lt0", "e4d1388c0db1624b87bc0d09f9695e9a"),
    ("synthetic-pw-1", "s4lt1", "6394df882d8ce9ef76c9b1bc93fd35f2"),
    ("synthetic-pw-2", "s4lt2", "b293a14bf0dea7d1b23b6bf08cda4966"),
    ("synthetic-pw-3", "s4lt3", "9f1b5faba3fe025774603e00460816ee"),
];

const GIVEN: [&str; 12] =
    ["Ada", "Björn", "Chen", "Dolores", "Emeka", "Fatima", "Giulia", "Hiro", "Ines", "Jonas", "Kalani", "Léa"];
const FAMILY: [&str; 12] = [
    "Okafor",
    "Lindqvist",
    "Wang",
    "García",
    "Novak",
    "Haddad",
    "Rossi",
    "Tanaka",
    "Silva",
    "Müller",
    "Kahale",
    "Dubois",
];
const DOMAINS: [&str; 5] = ["example.com", "example.org", "mail.example.net", "corp.example", "example.co.uk"];
const PLANS: [&str; 4] = ["free", "starter", "pro", "enterprise"];
const LOCALES: [&str; 5] = ["en-US", "de-DE", "fr-FR", "ja-JP", "pt-BR"];

/// Writes an Auth0 bulk-import JSON array of `n` users, deterministic for a `seed`:
/// unique emails and ids, names, metadata, and hashes: half bcrypt `password_hash`, a
/// quarter `custom_password_hash` pbkdf2, a quarter salted md5.
pub fn synthetic_auth0_users(n: u64, seed: u64, out: impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(256 * 1024, out);
    let mut rng = StdRng::seed_from_u64(seed);
    out.write_all(b"[")?;
    for i in 0..n {
        let given = GIVEN[rng.gen_range(0..GIVEN.len())];
        let family = FAMILY[rng.gen_range(0..FAMILY.len())];
        let domain = DOMAINS[rng.gen_range(0..DOMAINS.len())];
        let k = rng.gen_range(0..4usize);
        let mut user = json!({
            "email": format!("{}.{}{i}@{domain}", given.to_lowercase(), family.to_lowercase()),
            "email_verified": rng.gen_bool(0.8),
            "user_id": format!("{seed:08x}{i:016x}"),
            "given_name": given,
            "family_name": family,
            "name": format!("{given} {family}"),
            "user_metadata": {
                "plan": PLANS[rng.gen_range(0..PLANS.len())],
                "locale": LOCALES[rng.gen_range(0..LOCALES.len())],
                "newsletter": rng.gen_bool(0.3),
            },
            "app_metadata": {"roles": if rng.gen_bool(0.05) { json!(["admin", "user"]) } else { json!(["user"]) },
                "legacy_id": rng.gen_range(1..10_000_000u32)},
        });
        if rng.gen_bool(0.25) {
            user["picture"] = json!(format!("https://cdn.example.com/avatars/{i}.png"));
        }
        match i % 4 {
            0 | 1 => user["password_hash"] = json!(SYNTHETIC_BCRYPT[k].1),
            2 => {
                user["custom_password_hash"] =
                    json!({"algorithm": "pbkdf2", "hash": {"value": SYNTHETIC_PBKDF2[k].1, "encoding": "utf8"}})
            }
            _ => {
                user["custom_password_hash"] = json!({"algorithm": "md5",
                    "hash": {"value": SYNTHETIC_MD5[k].2, "encoding": "hex"},
                    "salt": {"value": SYNTHETIC_MD5[k].1, "position": "prefix"}})
            }
        }
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(b"\n")?;
        serde_json::to_writer(&mut out, &user)?;
    }
    out.write_all(b"\n]\n")?;
    out.flush()
}
