//! Repository checks that run as ordinary tests (`cargo test`, `cargo xtask tidy`).
//!
//! * every `.rs` file starts with a `//!` module doc;
//! * no test is ignored or expects a panic (a test must be able to fail, and
//!   bad input must give an error, not a panic);
//! * the four lower crates have neither tokio, rustls nor any socket crate in
//!   their normal dependency tree (architecture invariant 1);
//! * no aws-lc anywhere (rustls uses ring; both providers compiled in makes
//!   `ClientConfig::builder()` panic).

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::server::workspace_root;

/// The crates that must stay free of I/O runtimes (architecture invariant 1).
const LOWER_CRATES: &[&str] = &[
    "imapvm-config",
    "imapvm-message",
    "imapvm-proto",
    "imapvm-policy",
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

/// `cargo metadata` of the workspace, as JSON.
fn metadata() -> serde_json::Value {
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
}

/// Package names reachable from `root_name` through normal (non-dev,
/// non-build) dependency edges.
fn normal_dependency_tree(meta: &serde_json::Value, root_name: &str) -> BTreeSet<String> {
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
        .and_then(|p| p["id"].as_str())
        .unwrap_or_else(|| panic!("workspace package {root_name} not found"));

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
    names
}

#[test]
fn lower_crates_have_no_runtime_tls_or_sockets() {
    let meta = metadata();
    for krate in LOWER_CRATES {
        let tree = normal_dependency_tree(&meta, krate);
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
    // The check must be able to see such a dependency: the runtime has them.
    let runtime = normal_dependency_tree(&meta, "imapvm");
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
