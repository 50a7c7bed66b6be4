//! What the fault-injection runs of the runtime's and the outbox's tests share: a store
//! through a fault proxy's port with a fresh folder and outbox, the msg ids the independent
//! mail client sees, figures from the environment, and a seeded random generator.

use std::path::PathBuf;

use imapvm::Store;

use crate::{pw, py, q, scratch_dir, store_for, unique};

/// A store on box 1234@default (vm1234) through `port` on 127.0.0.1, a fresh folder and a
/// fresh outbox; `general` lines come first (they win).
pub fn store_via(name: &str, port: u16, general: &str) -> (Store, String, PathBuf) {
    let folder = unique(name);
    let outbox = scratch_dir("imapvm-it-outbox", name);
    let store = store_for(
        name,
        "127.0.0.1",
        port,
        &format!(
            "{general}\nimapfolder={folder}\nimapvm_outbox={}",
            outbox.display()
        ),
        &format!(
            "[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={}\n",
            pw("vm1234")
        ),
    );
    (store, folder, outbox)
}

/// Every `X-Asterisk-VM-Message-ID` in `folder` of vm1234, as the independent mail client
/// sees it.
pub fn msg_ids_on_server(folder: &str) -> Vec<String> {
    msg_ids_of("vm1234", folder)
}

/// Every `X-Asterisk-VM-Message-ID` in `folder` of `user`, as the independent mail client
/// sees it (deleted messages included; none when the folder does not exist).
pub fn msg_ids_of(user: &str, folder: &str) -> Vec<String> {
    let out = py(&format!(
        r#"
m = connect({user})
typ, data = m.select({f})
ids = []
if typ == 'OK' and int(data[0]) > 0:
    data = check(m.uid('FETCH', '1:*', '(BODY.PEEK[HEADER.FIELDS (X-Asterisk-VM-Message-ID)])'), 'fetch')
    for d in data:
        if isinstance(d, tuple):
            v = d[1].decode().split(':', 1)
            if len(v) == 2 and v[1].strip():
                ids.append(v[1].strip())
print(' '.join(ids))
"#,
        user = q(user),
        f = q(&format!("\"{folder}\"")),
    ));
    out.split_whitespace().map(str::to_owned).collect()
}

/// The number in environment variable `name`, else `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small seeded generator (xorshift64*): reproducible fault plans without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced by a fixed odd constant).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `true` with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
