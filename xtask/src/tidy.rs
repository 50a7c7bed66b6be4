//! Repository checks that run as ordinary tests (`cargo test -p xtask`,
//! `cargo xtask tidy`), after rust-analyzer's `xtask/src/tidy.rs`. Each
//! failure names the files, lines or crates to fix.
//!
//! * `every_module_starts_with_a_doc_comment`: every `.rs` file starts with a
//!   `//!` module doc;
//! * `no_ignored_or_should_panic_tests`: no test is ignored or expects a
//!   panic (a test must be able to fail, and bad input must give an error,
//!   not a panic);
//! * `lower_crates_have_no_runtime_tls_or_sockets`: the I/O-free crates
//!   ([`LOWER_CRATES`]) have neither tokio, rustls nor any socket crate in
//!   their normal dependency tree [INV-1];
//! * `no_aws_lc_in_the_tree` [INV-9]: rustls uses ring; both providers compiled
//!   in makes `ClientConfig::builder()` panic;
//! * `no_module_cycles`: within every target of every workspace crate, the
//!   modules' `use crate::..`, `super::..`, `self::..`, `crate::x::..` and
//!   child-module paths (non-test code) form no cycle; a module may name its
//!   ancestors (a child uses its parent). Each cycle is listed as
//!   `a -> b -> c -> a` (see [`cycles`], [`source`]);
//! * `crate_dependencies_follow_the_layering`: the normal dependencies
//!   between our own crates (from `cargo metadata`) are those [`LAYERS`]
//!   allows, and every workspace crate has a row there; dev-dependencies are
//!   exempt (tests may use xtask);
//! * `no_clock_reads_outside_the_clock` [INV-1]: no `Instant::now`,
//!   `SystemTime::now`, `Timestamp::now` or `Zoned::now` in the non-test code
//!   of `crates/*/src` except the runtime's clock ([`CLOCK_FILE`]) and the
//!   test support ([`CLOCK_EXEMPT`]); doc comments may show them. Time is an
//!   input everywhere else;
//! * `no_unused_dependencies`: every `[dependencies]` entry of a workspace
//!   crate is named in its library or binary source (`name::`, `use name`,
//!   `extern crate name`), with [`USED_WITHOUT_A_PATH`] for exceptions;
//! * `licences_are_on_the_allow_list`: every package in `cargo metadata` has
//!   a licence expression that [`LICENCES`] satisfies;
//! * `invariants_are_cited_where_they_are_kept`: every invariant
//!   [`ARCHITECTURE`] defines (`**[INV-n]**`, numbered 1, 2, … in order) is
//!   cited by at least one `.rs` file, and no `.rs` file (nor the document
//!   itself) names an invariant that is not defined;
//! * `citations_stay_in_the_repository`: no `.rs` file cites a document kept
//!   outside the repository ([`OUTSIDE_CITATIONS`]: the shared references'
//!   shorthands and paths), no document under `docs/` (nor `README.md`) points
//!   outside it, and every `docs/….md` a `.rs` file names exists, with the
//!   section it cites (`docs/reference/….md §4.2` needs a heading `4.2`);
//!   [`OUTSIDE_ALLOWED`] lists the few lines that name a tool's prerequisite
//!   outside the repository;
//! * `architecture_names_what_exists`: every repository path
//!   [`ARCHITECTURE`] names in backticks exists, and its dependency table is
//!   [`LAYERS`], row for row.

mod citations;
mod cycles;
mod source;

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::server::workspace_root;

/// The crates that must stay free of I/O runtimes and clocks [INV-1]; those
/// that do not exist yet are skipped.
const LOWER_CRATES: &[&str] = &[
    "imapvm-types",
    "imapvm-config",
    "imapvm-message",
    "imapvm-proto",
    "imapvm-policy",
    "imapvm-ami",
    "imapvm-agi",
    "imapvm-ivr",
];

/// Crates that bring sockets, an async runtime or TLS.
const FORBIDDEN_IN_LOWER: &[&str] = &[
    "tokio",
    "tokio-rustls",
    "rustls",
    "mio",
    "socket2",
    "async-std",
    "smol",
    "hyper",
    "reqwest",
    "native-tls",
    "openssl",
    "ureq",
];

/// Which of our own crates a crate may depend on (normal dependencies).
#[derive(Debug, Clone, Copy)]
enum Allowed {
    /// Only these.
    Only(&'static [&'static str]),
    /// The lower crates ([`LOWER_CRATES`]) but `but`, and `and`.
    Lower {
        but: &'static [&'static str],
        and: &'static [&'static str],
    },
    /// Any of ours but these.
    AllBut(&'static [&'static str]),
    /// Any of ours.
    All,
}

const TYPES: &[&str] = &["imapvm-types"];

/// Lower crates that may use another lower crate, with the one edge allowed (see
/// [`LAYERS`] for why).
const LOWER_EXCEPTIONS: &[(&str, &str)] = &[("imapvm-ivr", "imapvm-policy")];

/// The layering: each workspace crate and the crates of ours it may depend
/// on. Rows of crates that do not exist yet are skipped; a workspace crate
/// without a row fails the check. A lower crate depends only on the
/// vocabulary, with one exception: the call flows (`imapvm-ivr`) speak of
/// voicemail folders in `imapvm-policy`'s terms (`Folder`: its Asterisk index,
/// its prompt, whether it is a state of `imapfolder`), pure data and pure
/// decisions both, so the flows ask policy rather than copy its table.
const LAYERS: &[(&str, Allowed)] = &[
    ("imapvm-types", Allowed::Only(&[])),
    ("imapvm-config", Allowed::Only(TYPES)),
    ("imapvm-message", Allowed::Only(TYPES)),
    ("imapvm-proto", Allowed::Only(TYPES)),
    ("imapvm-policy", Allowed::Only(TYPES)),
    ("imapvm-ami", Allowed::Only(TYPES)),
    ("imapvm-agi", Allowed::Only(TYPES)),
    (
        "imapvm-ivr",
        Allowed::Only(&["imapvm-types", "imapvm-policy"]),
    ),
    // The network plumbing (driver, clock, TLS, TCP, the OAuth token command) knows only
    // the sans-IO core trait, and the token command's command line as config parses it.
    (
        "imapvm-net",
        Allowed::Only(&["imapvm-types", "imapvm-config"]),
    ),
    // The runtime assembles the lower crates on the plumbing; the call flows (agi, ivr)
    // are imapvm-phone's and the AMI client imapvm-watch's.
    (
        "imapvm",
        Allowed::Lower {
            but: &["imapvm-agi", "imapvm-ivr", "imapvm-ami"],
            and: &["imapvm-net"],
        },
    ),
    // The durable outbox: implements the journal the runtime's deposit declares.
    (
        "imapvm-outbox",
        Allowed::Lower {
            but: &["imapvm-agi", "imapvm-ivr", "imapvm-ami"],
            and: &["imapvm-net", "imapvm"],
        },
    ),
    // Operations over several boxes, composed from the runtime's public parts (durable
    // through the outbox).
    (
        "imapvm-deliver",
        Allowed::Lower {
            but: &["imapvm-agi", "imapvm-ivr", "imapvm-ami"],
            and: &["imapvm-net", "imapvm", "imapvm-outbox"],
        },
    ),
    // The services: the runtime (with its compositions) and the lower crates, never each
    // other.
    (
        "imapvm-watch",
        Allowed::Lower {
            but: &[],
            and: &["imapvm-net", "imapvm", "imapvm-outbox", "imapvm-deliver"],
        },
    ),
    (
        "imapvm-migrate",
        Allowed::Lower {
            but: &[],
            and: &["imapvm-net", "imapvm", "imapvm-outbox", "imapvm-deliver"],
        },
    ),
    (
        "imapvm-phone",
        Allowed::Lower {
            but: &[],
            and: &["imapvm-net", "imapvm", "imapvm-outbox", "imapvm-deliver"],
        },
    ),
    // The binary may assemble anything but the tools and the test support.
    (
        "imapvm-cli",
        Allowed::AllBut(&[
            "xtask",
            "imapvm-benches",
            "imapvm-testkit",
            "imapvm-harness",
        ]),
    ),
    // Test support: protocol-agnostic, a dev-dependency of the others.
    ("imapvm-testkit", Allowed::Only(&[])),
    // The integration-test harness over the runtime (servers, stores, the mail client): a
    // dev-dependency of the runtime's and the services' tests only.
    ("imapvm-harness", Allowed::All),
    ("xtask", Allowed::All),
    ("imapvm-benches", Allowed::All),
];

/// The architecture document: the invariants the code cites, the repository
/// paths it names and the dependency table [`LAYERS`] must match.
const ARCHITECTURE: &str = "docs/ARCHITECTURE.md";

/// The header row that opens [`ARCHITECTURE`]'s dependency table.
const DEPENDENCY_TABLE: &str = "| crate | may depend on";

/// What a `.rs` file must not cite: the shorthands and paths of the shared
/// references, which are not part of the repository (the parts the code relies
/// on are copied under `docs/reference/` and `docs/cli.md`). Spelled in pieces
/// so this file does not trip its own check.
const OUTSIDE_CITATIONS: &[&str] = &[
    concat!("AIB", " §"),
    concat!("AO", " §"),
    concat!("shared", "/reference"),
    concat!("../", "shared/"),
    concat!("/work", "/"),
    concat!("CLI", ".md"),
    concat!("DESIGN", ".md"),
    concat!("ecosystem", ".md"),
    concat!("architecture", "-review"),
    concat!("architecture", " review"),
];

/// What a document under `docs/` (or `README.md`) must not point at: paths
/// outside the repository.
const OUTSIDE_PATHS: &[&str] = &[
    concat!("shared", "/reference"),
    concat!("../", "shared/"),
    concat!("/work", "/"),
];

/// Lines that may name a place outside the repository, with why: `(file, the
/// line contains, reason)`. Only tool prerequisites, never citations.
const OUTSIDE_ALLOWED: &[(&str, &str, &str)] = &[
    (
        "xtask/src/asterisk.rs",
        "asterisk-peer",
        "`cargo xtask asterisk` runs the asterisk-peer kit, a tool kept outside the \
         repository (like the Debian packages), by default from beside the checkout",
    ),
    (
        "xtask/src/asterisk/kit.rs",
        "asterisk-peer",
        "where `cargo xtask asterisk` looks for the kit when $IMAPVM_ASTERISK_KIT is unset",
    ),
    (
        "README.md",
        "asterisk-peer",
        "the prerequisites of `cargo xtask asterisk`",
    ),
];

/// The one file of `crates/*/src` that may read the clock: `imapvm-net`'s
/// clock, which everything else is handed.
const CLOCK_FILE: &str = "crates/imapvm-net/src/clock.rs";

/// Crates of `crates/` whose clock reads are fine, with why.
const CLOCK_EXEMPT: &[(&str, &str)] = &[
    (
        "imapvm-testkit",
        "test support only (a dev-dependency): a real TCP peer whose timeouts are real",
    ),
    (
        "imapvm-harness",
        "test support only (a dev-dependency): unique names for test folders",
    ),
];

/// Reads of the wall or monotonic clock (std, tokio, jiff).
const CLOCK_READS: &[&str] = &[
    "Instant::now",
    "SystemTime::now",
    "Timestamp::now",
    "Zoned::now",
];

/// Dependencies used without naming them in a path (by a feature or a
/// macro), with why: `(crate, dependency, reason)`. None today.
const USED_WITHOUT_A_PATH: &[(&str, &str, &str)] = &[];

/// Licences we accept for any package in the tree (SPDX identifiers; an
/// `OR` needs one of them, an `AND` all).
const LICENCES: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Unicode-3.0",
    "Unlicense",
    "Zlib",
    "0BSD",
    "CC0-1.0",
    "BSL-1.0",
];

fn rust_files() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut out = Vec::new();
    for top in ["crates", "xtask", "benches", "fuzz/fuzz_targets"] {
        walk(&root.join(top), &mut out);
    }
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `path` relative to the workspace root, for messages.
fn shown(path: &Path) -> String {
    let root = workspace_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_module_starts_with_a_doc_comment() {
    let files = rust_files();
    assert!(
        files.len() >= 8,
        "found only {} .rs files: is the walk broken?",
        files.len()
    );
    let missing: Vec<_> = files
        .iter()
        .filter(|p| {
            let text = fs::read_to_string(p).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not start with a `//!` module doc: {missing:#?}"
    );
}

#[test]
fn no_ignored_or_should_panic_tests() {
    // Spelled in pieces so this file does not trip its own check.
    let banned = [concat!("#[", "ignore"), concat!("#[", "should_panic")];
    let mut offenders = Vec::new();
    for path in rust_files() {
        let text = fs::read_to_string(&path).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            if banned.iter().any(|b| line.contains(b)) {
                offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "ignored or should_panic tests are not allowed:\n{}",
        offenders.join("\n")
    );
}

/// `cargo metadata` of the workspace, as JSON (read once per test run).
fn metadata() -> &'static serde_json::Value {
    static METADATA: OnceLock<serde_json::Value> = OnceLock::new();
    METADATA.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(workspace_root())
            .args(["metadata", "--format-version", "1"])
            .output()
            .expect("cargo metadata runs");
        assert!(
            out.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
    })
}

/// The workspace's own packages.
fn workspace_packages(meta: &serde_json::Value) -> Vec<&serde_json::Value> {
    let members: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(id)))
        .collect()
}

fn name_of(package: &serde_json::Value) -> &str {
    package["name"].as_str().unwrap_or("?")
}

/// Package names reachable from `root_name` through normal (non-dev,
/// non-build) dependency edges; `None` when there is no such workspace crate.
fn normal_dependency_tree(meta: &serde_json::Value, root_name: &str) -> Option<BTreeSet<String>> {
    let packages = meta["packages"].as_array().expect("packages");
    let name_of: HashMap<&str, &str> = packages
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let nodes = meta["resolve"]["nodes"].as_array().expect("resolve nodes");
    let node_of: HashMap<&str, &serde_json::Value> = nodes
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let root_id = packages
        .iter()
        .find(|p| p["name"] == root_name && p["source"].is_null())
        .and_then(|p| p["id"].as_str())?;

    let mut seen = BTreeSet::new();
    let mut stack = vec![root_id];
    let mut names = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        names.insert(name_of.get(id).copied().unwrap_or(id).to_string());
        let Some(node) = node_of.get(id) else {
            continue;
        };
        for dep in node["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null());
            if normal && let Some(pkg) = dep["pkg"].as_str() {
                stack.push(pkg);
            }
        }
    }
    Some(names)
}

#[test]
fn lower_crates_have_no_runtime_tls_or_sockets() {
    let meta = metadata();
    let mut checked = 0;
    for krate in LOWER_CRATES {
        let Some(tree) = normal_dependency_tree(meta, krate) else {
            continue;
        };
        checked += 1;
        assert!(tree.contains(*krate), "{krate} missing from its own tree");
        let bad: Vec<_> = FORBIDDEN_IN_LOWER
            .iter()
            .filter(|f| tree.contains(**f))
            .collect();
        assert!(
            bad.is_empty(),
            "{krate} depends (normally) on {bad:?}: the lower crates do no I/O"
        );
    }
    assert!(
        checked >= 5,
        "only {checked} lower crates found: walk broken?"
    );
    // The check must be able to see such a dependency: the runtime has them.
    let runtime = normal_dependency_tree(meta, "imapvm").expect("the runtime crate");
    assert!(
        runtime.contains("tokio") && runtime.contains("rustls"),
        "runtime tree lacks tokio/rustls: walk broken"
    );
}

#[test]
fn no_aws_lc_in_the_tree() {
    let meta = metadata();
    let names: Vec<&str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        names.contains(&"ring"),
        "ring is expected as rustls's provider"
    );
    let aws: Vec<_> = names.iter().filter(|n| n.starts_with("aws-lc")).collect();
    assert!(
        aws.is_empty(),
        "aws-lc must not be in the tree (rustls uses ring): {aws:?}"
    );
}

/// A workspace crate's library and binary targets: `(target name, root file)`.
fn source_targets(package: &serde_json::Value) -> Vec<(String, PathBuf)> {
    package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            t["kind"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| matches!(k.as_str(), Some("lib" | "bin" | "proc-macro")))
        })
        .filter_map(|t| {
            Some((
                t["name"].as_str()?.to_string(),
                PathBuf::from(t["src_path"].as_str()?),
            ))
        })
        .collect()
}

/// The modules of every library and binary target of `package`.
fn target_modules(package: &serde_json::Value) -> Vec<(String, Vec<source::Module>)> {
    source_targets(package)
        .into_iter()
        .map(|(name, root)| {
            let modules =
                source::module_tree(&root).unwrap_or_else(|e| panic!("{}: {e}", name_of(package)));
            (name, modules)
        })
        .collect()
}

/// The module graph of one target: edges to ancestors (and to itself) left
/// out.
fn module_graph(modules: &[source::Module]) -> cycles::Graph {
    let tree = source::Tree::new(modules);
    let mut graph = cycles::Graph::new();
    for module in modules {
        let edges = graph.entry(module.name()).or_default();
        for target in source::named_modules(module, &tree) {
            if !module.path.starts_with(&target) {
                edges.insert(source::module_name(&target));
            }
        }
    }
    graph
}

/// Every module cycle of the workspace, as `crate (target): a -> b -> a`.
fn module_cycles() -> Vec<String> {
    let mut found = Vec::new();
    for package in workspace_packages(metadata()) {
        for (target, modules) in target_modules(package) {
            for cycle in cycles::cycles(&module_graph(&modules)) {
                found.push(format!(
                    "{} (target {target}): {}",
                    name_of(package),
                    cycles::render(&cycle)
                ));
            }
        }
    }
    found
}

#[test]
fn no_module_cycles() {
    let found = module_cycles();
    assert!(
        found.is_empty(),
        "module cycles (break each by moving what one side needs into a module both may use, \
         or by passing it in):\n{}",
        found.join("\n")
    );
}

/// The normal dependencies between workspace crates that [`LAYERS`] does not
/// allow, and the workspace crates without a row.
fn layering_violations(meta: &serde_json::Value) -> Vec<String> {
    let packages = workspace_packages(meta);
    let ours: BTreeSet<&str> = packages.iter().map(|p| name_of(p)).collect();
    let mut found = Vec::new();
    for package in &packages {
        let name = name_of(package);
        let Some((_, allowed)) = LAYERS.iter().find(|(n, _)| *n == name) else {
            found.push(format!(
                "{name} is a workspace crate without a row in LAYERS (xtask/src/tidy.rs)"
            ));
            continue;
        };
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let Some(dep_name) = dep["name"].as_str() else {
                continue;
            };
            if !dep["kind"].is_null() || !ours.contains(dep_name) {
                continue;
            }
            let ok = match allowed {
                Allowed::Only(list) => list.contains(&dep_name),
                Allowed::Lower { but, and } => {
                    (LOWER_CRATES.contains(&dep_name) && !but.contains(&dep_name))
                        || and.contains(&dep_name)
                }
                Allowed::AllBut(list) => !list.contains(&dep_name),
                Allowed::All => true,
            };
            if !ok {
                found.push(format!(
                    "{name} depends on {dep_name}, which LAYERS does not allow ({allowed:?}); \
                     see {}",
                    shown(Path::new(package["manifest_path"].as_str().unwrap_or("?")))
                ));
            }
        }
    }
    found
}

#[test]
fn crate_dependencies_follow_the_layering() {
    let found = layering_violations(metadata());
    assert!(found.is_empty(), "crate layering:\n{}", found.join("\n"));
}

/// Every clock read in the non-test code of `crates/*/src` outside
/// [`CLOCK_FILE`], as `file:line: code`.
fn clock_reads() -> Vec<String> {
    let crates_dir = workspace_root().join("crates");
    let mut found = Vec::new();
    let mut files = BTreeSet::new();
    for package in workspace_packages(metadata()) {
        let manifest = Path::new(package["manifest_path"].as_str().unwrap_or(""));
        let exempt = CLOCK_EXEMPT.iter().any(|(k, _)| *k == name_of(package));
        if !manifest.starts_with(&crates_dir) || exempt {
            continue;
        }
        for (_, modules) in target_modules(package) {
            for module in modules {
                files.insert((module.file.clone(), module.code));
            }
        }
    }
    for (file, code) in files {
        if shown(&file) == CLOCK_FILE {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap_or_default();
        for (n, (code_line, line)) in code.lines().zip(text.lines()).enumerate() {
            if CLOCK_READS
                .iter()
                .any(|read| contains_path(code_line, read))
            {
                found.push(format!("{}:{}: {}", shown(&file), n + 1, line.trim()));
            }
        }
    }
    found
}

/// Whether `code` has `path` where a path may start (not inside a longer
/// identifier such as `MyInstant::now`) and not followed by more of an
/// identifier (`Instant::now_or_never`).
fn contains_path(code: &str, path: &str) -> bool {
    code.match_indices(path).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + path.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn no_clock_reads_outside_the_clock() {
    let found = clock_reads();
    assert!(
        found.is_empty(),
        "{} clock reads outside {CLOCK_FILE} (take `now` from the caller or the runtime's clock):\n{}",
        found.len(),
        found.join("\n")
    );
}

/// The declared normal dependencies whose crate the source never names, as
/// `manifest: message`.
fn unused_dependencies(meta: &serde_json::Value) -> Vec<String> {
    let mut found = Vec::new();
    for package in workspace_packages(meta) {
        let name = name_of(package);
        let code: String = target_modules(package)
            .into_iter()
            .flat_map(|(_, modules)| modules)
            .map(|m| m.code)
            .collect::<Vec<_>>()
            .join("\n");
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            if !dep["kind"].is_null() {
                continue;
            }
            let dep_name = dep["name"].as_str().unwrap_or("?");
            if USED_WITHOUT_A_PATH
                .iter()
                .any(|(k, d, _)| *k == name && *d == dep_name)
            {
                continue;
            }
            let ident = dep["rename"].as_str().unwrap_or(dep_name).replace('-', "_");
            if !names_crate(&code, &ident) {
                found.push(format!(
                    "{}: [dependencies] {dep_name} is never named in {name}'s source \
                     (`{ident}::`, `use {ident}`): remove it, or make it a dev-dependency",
                    shown(Path::new(package["manifest_path"].as_str().unwrap_or("?")))
                ));
            }
        }
    }
    found
}

/// Whether `code` names the crate `ident` in a path, a `use` or an
/// `extern crate`.
fn names_crate(code: &str, ident: &str) -> bool {
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| !w.is_empty())
        .collect();
    let path = format!("{ident}::");
    words.iter().enumerate().any(|(i, w)| {
        let starts = w.starts_with(&path) || w.starts_with(&format!("::{path}"));
        let used = *w == ident && i > 0 && matches!(words[i - 1], "use" | "crate");
        starts || used
    })
}

#[test]
fn no_unused_dependencies() {
    let found = unused_dependencies(metadata());
    assert!(
        found.is_empty(),
        "unused dependencies:\n{}",
        found.join("\n")
    );
}

/// Whether the SPDX expression `expr` is satisfied by [`LICENCES`] (`/` is
/// read as the old spelling of `OR`).
fn licence_ok(expr: &str) -> bool {
    fn any_of(expr: &str) -> bool {
        split_top(expr, " OR ").iter().any(|alt| all_of(alt))
    }
    fn all_of(expr: &str) -> bool {
        split_top(expr, " AND ").iter().all(|part| {
            let part = part.trim();
            match part.strip_prefix('(').and_then(|p| p.strip_suffix(')')) {
                Some(inner) => any_of(inner),
                None => LICENCES.contains(&part),
            }
        })
    }
    /// `expr` split at `sep` outside parentheses.
    fn split_top<'e>(expr: &'e str, sep: &str) -> Vec<&'e str> {
        let mut parts = Vec::new();
        let (mut depth, mut start) = (0i32, 0);
        let bytes = expr.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ if depth == 0 && expr[i..].starts_with(sep) => {
                    parts.push(&expr[start..i]);
                    i += sep.len();
                    start = i;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        parts.push(&expr[start..]);
        parts
    }
    let normalised = expr.replace(" / ", " OR ").replace('/', " OR ");
    any_of(normalised.trim())
}

#[test]
fn licences_are_on_the_allow_list() {
    let meta = metadata();
    let mut found = Vec::new();
    for package in meta["packages"].as_array().expect("packages") {
        let name = name_of(package);
        let version = package["version"].as_str().unwrap_or("?");
        match package["license"].as_str() {
            Some(expr) if licence_ok(expr) => {}
            Some(expr) => found.push(format!("{name} {version}: {expr}")),
            None => found.push(format!("{name} {version}: no SPDX licence expression")),
        }
    }
    assert!(
        found.is_empty(),
        "packages whose licence is not on the allow-list (LICENCES in xtask/src/tidy.rs):\n{}",
        found.join("\n")
    );
}

#[test]
fn licence_expressions_need_one_alternative_or_every_part() {
    assert!(licence_ok("MIT OR Apache-2.0"));
    assert!(licence_ok("MIT/Apache-2.0"));
    assert!(licence_ok("MIT OR Apache-2.0 OR LGPL-2.1-or-later"));
    assert!(licence_ok("(MIT OR Apache-2.0) AND Unicode-3.0"));
    assert!(licence_ok("Apache-2.0 WITH LLVM-exception OR MIT"));
    assert!(!licence_ok("LGPL-2.1-or-later"));
    assert!(!licence_ok("MIT AND GPL-3.0-only"));
    assert!(!licence_ok("(GPL-2.0-only OR LGPL-3.0-only) AND MIT"));
}

#[test]
fn clock_reads_are_found_as_paths_only() {
    assert!(contains_path("let t = Instant::now();", "Instant::now"));
    assert!(contains_path(
        "x.unwrap_or_else(SystemTime::now)",
        "SystemTime::now"
    ));
    assert!(contains_path("tokio::time::Instant::now()", "Instant::now"));
    assert!(!contains_path("MyInstant::now()", "Instant::now"));
    assert!(!contains_path("Instant::now_or(x)", "Instant::now"));
}

#[test]
fn a_crate_is_named_by_a_path_a_use_or_extern_crate() {
    assert!(names_crate("fn f() { imapvm_proto::x(); }", "imapvm_proto"));
    assert!(names_crate("use serde;", "serde"));
    assert!(names_crate("use ::serde::Serialize;", "serde"));
    assert!(names_crate("extern crate memchr;", "memchr"));
    assert!(names_crate("#[derive(thiserror::Error)]", "thiserror"));
    assert!(!names_crate("use crate::tokio_glue::x;", "tokio"));
    assert!(!names_crate("fn serde() {}", "serde"));
    assert!(!names_crate("let x = my_serde::f();", "serde"));
}

#[test]
fn the_layering_table_has_no_unknown_names_and_no_duplicates() {
    let rows: BTreeSet<&str> = LAYERS.iter().map(|(n, _)| *n).collect();
    assert_eq!(rows.len(), LAYERS.len(), "a crate has two rows");
    for (name, allowed) in LAYERS {
        let named: Vec<&str> = match allowed {
            Allowed::Only(list) | Allowed::AllBut(list) => list.to_vec(),
            Allowed::Lower { but, and } => but.iter().chain(*and).copied().collect(),
            Allowed::All => Vec::new(),
        };
        for dep in named {
            assert!(
                rows.contains(dep),
                "{name}'s row names {dep}, which has no row"
            );
        }
    }
    for krate in LOWER_CRATES {
        let allowed = LAYERS.iter().find(|(n, _)| n == krate).map(|(_, a)| *a);
        assert!(
            matches!(allowed, Some(Allowed::Only(list))
                if list.iter().all(|d| TYPES.contains(d) || LOWER_EXCEPTIONS.contains(&(*krate, *d)))),
            "{krate} is a lower crate: only imapvm-types below it (or a listed exception)"
        );
    }
}

#[test]
fn a_dependency_against_the_layering_and_a_crate_without_a_row_are_reported() {
    let package = |name: &str, deps: &[(&str, Option<&str>)]| {
        serde_json::json!({
            "id": name,
            "name": name,
            "manifest_path": format!("/w/{name}/Cargo.toml"),
            "dependencies": deps
                .iter()
                .map(|(dep, kind)| serde_json::json!({ "name": dep, "kind": kind }))
                .collect::<Vec<_>>(),
        })
    };
    let meta = serde_json::json!({
        "workspace_members": ["imapvm", "imapvm-watch", "imapvm-proto", "imapvm-new"],
        "packages": [
            // The runtime reaching up into a service; a dev-dependency is fine.
            package("imapvm", &[("imapvm-proto", None), ("imapvm-watch", None), ("xtask", Some("dev"))]),
            package("imapvm-watch", &[("imapvm", None), ("imapvm-proto", None), ("tokio", None)]),
            package("imapvm-proto", &[]),
            package("imapvm-new", &[]),
        ],
    });
    let found = layering_violations(&meta);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("imapvm depends on imapvm-watch"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("imapvm-new is a workspace crate without a row"),
        "{found:#?}"
    );
}

#[test]
fn module_graphs_see_real_edges() {
    // The checks must be able to see what they police: the runtime's store
    // names its session, and the cycle finder's input has every module.
    let meta = metadata();
    let runtime = workspace_packages(meta)
        .into_iter()
        .find(|p| name_of(p) == "imapvm")
        .expect("the runtime crate");
    let (_, modules) = target_modules(runtime)
        .into_iter()
        .find(|(name, _)| name == "imapvm")
        .expect("the runtime's library");
    let graph = module_graph(&modules);
    assert!(graph.len() >= 10, "{graph:?}");
    assert!(graph["store"].contains("session"), "{graph:?}");
    assert!(
        !graph["ops/deposit"].contains("ops"),
        "a child's edge to its parent is left out: {graph:?}"
    );
}

/// The text of a workspace file (`path` from the root); a missing file reads as empty.
fn read_root(path: &str) -> String {
    fs::read_to_string(workspace_root().join(path)).unwrap_or_default()
}

/// The markdown files under `docs/` (recursively) and `README.md`.
fn markdown_files() -> Vec<PathBuf> {
    fn walk_md(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk_md(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let root = workspace_root();
    let mut out = vec![root.join("README.md")];
    walk_md(&root.join("docs"), &mut out);
    out.sort();
    out
}

#[test]
fn invariants_are_cited_where_they_are_kept() {
    let doc = read_root(ARCHITECTURE);
    let defined = citations::invariant_definitions(&doc);
    assert!(
        defined.len() >= 9,
        "{ARCHITECTURE} defines {} invariants (`**[{}n] …**` list items): is the parse broken?",
        defined.len(),
        citations::marker()
    );
    let in_order: Vec<u32> = (1..).take(defined.len()).collect();
    assert_eq!(
        defined, in_order,
        "{ARCHITECTURE} must number its invariants 1, 2, … once each, in order"
    );
    let mut cited: HashMap<u32, BTreeSet<String>> = HashMap::new();
    let mut unknown = Vec::new();
    for (n, line) in citations::invariant_mentions(&doc) {
        if !defined.contains(&n) {
            unknown.push(format!("{ARCHITECTURE}:{line}: {}{n}", citations::marker()));
        }
    }
    for path in rust_files() {
        let text = fs::read_to_string(&path).unwrap_or_default();
        for (n, line) in citations::invariant_mentions(&text) {
            cited.entry(n).or_default().insert(shown(&path));
            if !defined.contains(&n) {
                unknown.push(format!(
                    "{}:{line}: {}{n}",
                    shown(&path),
                    citations::marker()
                ));
            }
        }
    }
    let uncited: Vec<String> = defined
        .iter()
        .filter(|n| !cited.contains_key(n))
        .map(|n| format!("{}{n}", citations::marker()))
        .collect();
    assert!(
        unknown.is_empty(),
        "invariants that {ARCHITECTURE} does not define:\n{}",
        unknown.join("\n")
    );
    assert!(
        uncited.is_empty(),
        "invariants no .rs file cites (cite `[{}n]` where the code keeps it): {uncited:?}",
        citations::marker()
    );
}

/// The lines of `text` (the file `path`) that contain one of `outside`, as
/// `file:line: names \`pattern\`, which is not in the repository: line`;
/// the lines [`OUTSIDE_ALLOWED`] lets name it are left out.
fn lines_naming(path: &Path, text: &str, outside: &[&str]) -> Vec<String> {
    let file = shown(path);
    let allowed = |line: &str| {
        OUTSIDE_ALLOWED
            .iter()
            .any(|(f, marker, _)| *f == file && line.contains(marker))
    };
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !allowed(l)) {
        for bad in outside.iter().filter(|b| line.contains(**b)) {
            found.push(format!(
                "{}:{}: names `{bad}`, which is not in the repository: {}",
                file,
                n + 1,
                line.trim()
            ));
        }
    }
    found
}

#[test]
fn citations_stay_in_the_repository() {
    let root = workspace_root();
    let mut found = Vec::new();
    let mut checked = 0;
    for path in rust_files() {
        let text = fs::read_to_string(&path).unwrap_or_default();
        found.extend(lines_naming(&path, &text, OUTSIDE_CITATIONS));
        for citation in citations::doc_citations(&text) {
            checked += 1;
            let doc = fs::read_to_string(root.join(&citation.path));
            let at = format!("{}:{}", shown(&path), citation.line);
            match (doc, &citation.section) {
                (Err(_), _) => found.push(format!("{at}: {} does not exist", citation.path)),
                (Ok(doc), Some(section)) if !citations::has_section(&doc, section) => {
                    found.push(format!("{at}: {} has no section {section}", citation.path))
                }
                _ => {}
            }
        }
    }
    for path in markdown_files() {
        let text = fs::read_to_string(&path).unwrap_or_default();
        found.extend(lines_naming(&path, &text, OUTSIDE_PATHS));
    }
    assert!(
        checked >= 20,
        "only {checked} citations of docs/ found in .rs files: is the parse broken?"
    );
    assert!(
        found.is_empty(),
        "citations that do not resolve in the repository (copy what the code relies on under \
         docs/reference/, or drop the citation):\n{}",
        found.join("\n")
    );
}

/// The crates of ours `name` may depend on by [`LAYERS`], spelled as the
/// dependency table spells them: `None` for any (`Allowed::All`).
fn allowed_crates(name: &str, allowed: Allowed) -> Option<BTreeSet<&'static str>> {
    let every = LAYERS.iter().map(|(n, _)| *n).filter(|n| *n != name);
    Some(match allowed {
        Allowed::Only(list) => list.iter().copied().collect(),
        Allowed::Lower { but, and } => LOWER_CRATES
            .iter()
            .copied()
            .filter(|c| !but.contains(c))
            .chain(and.iter().copied())
            .collect(),
        Allowed::AllBut(list) => every.filter(|c| !list.contains(c)).collect(),
        Allowed::All => return None,
    })
}

#[test]
fn architecture_names_what_exists() {
    let doc = read_root(ARCHITECTURE);
    let root = workspace_root();
    let paths = citations::repository_paths(&doc);
    assert!(
        paths.len() >= 20,
        "{ARCHITECTURE} names only {} repository paths: is the parse broken?",
        paths.len()
    );
    let mut found: Vec<String> = paths
        .into_iter()
        .filter(|(p, _)| !root.join(p).exists())
        .map(|(p, line)| format!("{ARCHITECTURE}:{line}: `{p}` does not exist"))
        .collect();

    let rows = citations::table_rows(&doc, DEPENDENCY_TABLE)
        .unwrap_or_else(|| panic!("{ARCHITECTURE} has no table opening `{DEPENDENCY_TABLE}`"));
    let mut seen = BTreeSet::new();
    for row in &rows {
        let (Some(krate), Some(deps)) = (row.first(), row.get(1)) else {
            found.push(format!("dependency table row {row:?}: two cells needed"));
            continue;
        };
        let krate = krate.trim_matches('`');
        seen.insert(krate.to_owned());
        let Some((_, allowed)) = LAYERS.iter().find(|(n, _)| *n == krate) else {
            found.push(format!(
                "dependency table row `{krate}`: no such row in LAYERS"
            ));
            continue;
        };
        let written: BTreeSet<&str> = citations::backticked(deps).into_iter().collect();
        match allowed_crates(krate, *allowed) {
            None if deps != "any" => found.push(format!(
                "dependency table row `{krate}`: LAYERS allows any crate of ours; write `any`"
            )),
            Some(want) if want != written => found.push(format!(
                "dependency table row `{krate}`: the table says {written:?}, LAYERS allows {want:?}"
            )),
            _ => {}
        }
    }
    for (name, _) in LAYERS {
        if !seen.contains(*name) {
            found.push(format!(
                "`{name}` has a row in LAYERS but none in the dependency table"
            ));
        }
    }
    assert!(
        found.is_empty(),
        "{ARCHITECTURE} is out of date:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_layering_is_spelled_out_for_the_dependency_table() {
    let runtime = allowed_crates(
        "imapvm",
        Allowed::Lower {
            but: &["imapvm-ami"],
            and: &["x"],
        },
    );
    assert!(
        runtime
            .as_ref()
            .is_some_and(|r| r.contains("x") && !r.contains("imapvm-ami"))
    );
    assert!(runtime.is_some_and(|r| r.contains("imapvm-proto")));
    let cli = allowed_crates("imapvm-cli", Allowed::AllBut(&["xtask"])).unwrap_or_default();
    assert!(cli.contains("imapvm") && !cli.contains("xtask") && !cli.contains("imapvm-cli"));
    assert_eq!(allowed_crates("xtask", Allowed::All), None);
    assert_eq!(
        allowed_crates("imapvm-types", Allowed::Only(&[])),
        Some(BTreeSet::new())
    );
}
