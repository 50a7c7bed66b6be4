//! `cargo xtask dist [--check]`: the Debian package.
//!
//! Builds the release binary, has it write its man pages and shell completions
//! (`imapvm generate man|completions`, from its own clap definition) into
//! `target/release/dist/`, and runs cargo-deb (installed with `cargo install cargo-deb
//! --locked` when missing) with the `[package.metadata.deb]` table of
//! `crates/imapvm-cli/Cargo.toml`: the binary, the systemd units and the tmpfiles.d
//! snippet, the commented `/etc/asterisk/imapvm.conf` (a conffile), man pages,
//! completions, docs. The .deb lands in `target/debian/`.
//!
//! `--check` then unpacks it with `dpkg -x` into a scratch root and checks what an
//! operator would get: the binary runs (`--version`) and accepts the packaged imapvm.conf
//! (`config check`), the units pass `systemd-analyze verify` (where that command exists)
//! inside the scratch root, every man page and completion is there, and
//! `/etc/asterisk/imapvm.conf` is a conffile identical to `packaging/imapvm.conf`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use xtask::server::{
    HarnessError, Result, mkdir, run_checked as output, target_dir, workspace_root,
};

use crate::run_status as status;

/// The units the package installs (in `usr/lib/systemd/system/`).
const UNITS: &[&str] = &[
    "imapvm-watch.service",
    "imapvm-watch@.service",
    "imapvm-agi.service",
];

/// Runs `cargo xtask dist`; with `check`, verifies the package it built.
pub fn run(check: bool) -> Result<()> {
    let started = Instant::now();
    let deb = build()?;
    eprintln!(
        "dist: {} in {:.1}s",
        deb.display(),
        started.elapsed().as_secs_f64()
    );
    if check {
        let t = Instant::now();
        self::check(&deb)?;
        eprintln!("dist: checked in {:.1}s", t.elapsed().as_secs_f64());
    }
    Ok(())
}

fn cargo() -> Command {
    let mut cmd = Command::new(crate::cargo_bin());
    cmd.current_dir(workspace_root());
    cmd
}

fn ensure_cargo_deb() -> Result<()> {
    if cargo()
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Ok(());
    }
    eprintln!("installing cargo-deb (cargo install cargo-deb --locked)");
    status(cargo().args(["install", "cargo-deb", "--locked"]))
}

/// Builds the .deb; returns its path.
fn build() -> Result<PathBuf> {
    ensure_cargo_deb()?;
    status(cargo().args([
        "build",
        "--release",
        "--locked",
        "--package",
        "imapvm-cli",
        "--bin",
        "imapvm",
    ]))?;
    let release = target_dir().join("release");
    let binary = release.join("imapvm");
    // What cargo-deb packages as `target/release/dist/...`.
    let dist = release.join("dist");
    if dist.exists() {
        std::fs::remove_dir_all(&dist)
            .map_err(|e| HarnessError::io(format_args!("removing {}", dist.display()), e))?;
    }
    for what in ["man", "completions"] {
        output(
            Command::new(&binary)
                .args(["generate", what])
                .arg(dist.join(what)),
        )?;
    }
    // Debian policy: man pages gzipped (cargo-deb compresses only assets it did not see
    // built, and everything under target/release/ counts as built). `-n`: no name or time
    // stamp in the header, so the same page gives the same bytes.
    let mut gzip = Command::new("gzip");
    gzip.args(["-9", "-n", "-f"]);
    for entry in std::fs::read_dir(dist.join("man"))
        .map_err(|e| HarnessError::io("listing the man pages", e))?
    {
        gzip.arg(
            entry
                .map_err(|e| HarnessError::io("listing the man pages", e))?
                .path(),
        );
    }
    status(&mut gzip)?;
    let out_dir = target_dir().join("debian");
    mkdir(&out_dir)?;
    let printed = output(
        cargo()
            .args([
                "deb",
                "--package",
                "imapvm-cli",
                "--no-build",
                "--strip",
                "--output",
            ])
            .arg(&out_dir),
    )?;
    // cargo-deb prints the path of the package it wrote as its last line.
    let deb = printed
        .lines()
        .map(str::trim)
        .rfind(|l| l.ends_with(".deb"))
        .map(PathBuf::from)
        .ok_or_else(|| HarnessError(format!("cargo deb printed no .deb path: {printed}")))?;
    Ok(deb)
}

/// Unpacks `deb` into a scratch root and checks its contents.
fn check(deb: &Path) -> Result<()> {
    let scratch = target_dir().join("dist-check");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .map_err(|e| HarnessError::io(format_args!("removing {}", scratch.display()), e))?;
    }
    let root = scratch.join("root");
    let control = scratch.join("control");
    mkdir(&root)?;
    status(Command::new("dpkg").arg("-x").arg(deb).arg(&root))?;
    status(Command::new("dpkg-deb").arg("-e").arg(deb).arg(&control))?;
    let mut problems = Vec::new();

    // The control data: the package, its conffile, the postinst.
    let info = output(Command::new("dpkg-deb").arg("-f").arg(deb))?;
    problems.extend(control_problems(
        &info,
        &read(&control.join("conffiles")).unwrap_or_default(),
    ));
    match std::fs::metadata(control.join("postinst")) {
        Ok(m) if std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0 => {}
        _ => problems.push("DEBIAN/postinst is missing or not executable".into()),
    }

    // The binary runs.
    let binary = root.join("usr/bin/imapvm");
    match output(Command::new(&binary).arg("--version")) {
        Ok(v) if v.starts_with("imapvm ") => {}
        Ok(v) => problems.push(format!("imapvm --version printed {v:?}")),
        Err(e) => problems.push(format!("the packaged binary does not run: {e}")),
    }

    // The conffile is the repository's sample, and the packaged binary accepts it.
    let conffile = root.join("etc/asterisk/imapvm.conf");
    let sample = read(&workspace_root().join("packaging/imapvm.conf"))?;
    if read(&conffile).ok().as_deref() != Some(sample.as_str()) {
        problems.push("etc/asterisk/imapvm.conf differs from packaging/imapvm.conf".into());
    }
    let voicemail_conf = scratch.join("voicemail.conf");
    std::fs::write(
        &voicemail_conf,
        "[default]\n1234 => 4242,Alice,,,imapuser=vm1234\n",
    )
    .map_err(|e| HarnessError::io("writing a voicemail.conf", e))?;
    match output(
        Command::new(&binary)
            .arg("--config")
            .arg(&voicemail_conf)
            .arg("--imapvm-conf")
            .arg(&conffile)
            .args(["config", "check"]),
    ) {
        Ok(text) if text.contains("0 error(s), 0 warning(s)") => {}
        Ok(text) => problems.push(format!("config check of the packaged imapvm.conf: {text}")),
        Err(e) => problems.push(format!("config check of the packaged imapvm.conf: {e}")),
    }

    // Units, man pages, completions, docs.
    let units = root.join("usr/lib/systemd/system");
    for unit in UNITS {
        if !units.join(unit).is_file() {
            problems.push(format!("usr/lib/systemd/system/{unit} is missing"));
        }
    }
    for file in [
        "usr/lib/tmpfiles.d/imapvm.conf",
        "usr/share/man/man1/imapvm.1.gz",
        "usr/share/man/man1/imapvm-watch.1.gz",
        "usr/share/man/man1/imapvm-agi.1.gz",
        "usr/share/man/man1/imapvm-config-check.1.gz",
        "usr/share/bash-completion/completions/imapvm",
        "usr/share/zsh/vendor-completions/_imapvm",
        "usr/share/fish/vendor_completions.d/imapvm.fish",
        "usr/share/doc/imapvm/operations.md",
        "usr/share/doc/imapvm/phone.md",
        "usr/share/doc/imapvm/examples/imapvm.conf",
    ] {
        if !root.join(file).is_file() {
            problems.push(format!("{file} is missing"));
        }
    }
    match output(
        Command::new("gzip")
            .arg("-dc")
            .arg(root.join("usr/share/man/man1/imapvm-watch.1.gz")),
    ) {
        Ok(page) if page.contains(".TH imapvm-watch 1") => {}
        Ok(page) => problems.push(format!("imapvm-watch.1 is not a man page: {:.80}", page)),
        Err(e) => problems.push(format!("imapvm-watch.1.gz: {e}")),
    }
    match read(&root.join("usr/share/bash-completion/completions/imapvm")) {
        Ok(text) if text.contains("complete -F") && text.contains("--imapvm-conf") => {}
        _ => problems.push("the bash completion does not complete imapvm's options".into()),
    }
    problems.extend(verify_units(&root)?);

    if problems.is_empty() {
        eprintln!(
            "dist --check: {} unpacked into {}: binary, {} units, conffile, man pages, completions ok",
            deb.display(),
            root.display(),
            UNITS.len()
        );
        Ok(())
    } else {
        Err(HarnessError(format!(
            "{} problem(s) in {}:\n  {}",
            problems.len(),
            deb.display(),
            problems.join("\n  ")
        )))
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| HarnessError::io(format_args!("reading {}", path.display()), e))
}

/// What is wrong with the package's control fields (`dpkg-deb -f`) and conffiles list.
fn control_problems(fields: &str, conffiles: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let field = |name: &str| {
        fields
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    if field("Package") != Some("imapvm") {
        problems.push(format!("Package is {:?}, not imapvm", field("Package")));
    }
    if !field("Depends").is_some_and(|d| d.contains("libc6")) {
        problems.push(format!(
            "Depends ({:?}) does not name libc6",
            field("Depends")
        ));
    }
    if !conffiles
        .lines()
        .any(|l| l.trim() == "/etc/asterisk/imapvm.conf")
    {
        problems.push(format!(
            "/etc/asterisk/imapvm.conf is not a conffile (conffiles: {conffiles:?})"
        ));
    }
    problems
}

/// `systemd-analyze verify` of every unit inside `root` (the template as an instance),
/// with the host's targets copied in so that dependencies resolve; any complaint is a
/// problem (it exits 0 on unknown keys, so its output counts). Skipped, said so, where the
/// command does not exist.
fn verify_units(root: &Path) -> Result<Vec<String>> {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("dist --check: no systemd-analyze here; the units are not verified");
        return Ok(Vec::new());
    }
    let units = root.join("usr/lib/systemd/system");
    for host in ["/usr/lib/systemd/system", "/lib/systemd/system"] {
        let Ok(entries) = std::fs::read_dir(host) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "target") && path.is_file() {
                let to = units.join(entry.file_name());
                if !to.exists() {
                    std::fs::copy(&path, &to).map_err(|e| {
                        HarnessError::io(format_args!("copying {}", path.display()), e)
                    })?;
                }
            }
        }
    }
    let instance = units.join("imapvm-watch@1-2.service");
    std::fs::copy(units.join("imapvm-watch@.service"), &instance)
        .map_err(|e| HarnessError::io("instantiating imapvm-watch@.service", e))?;
    let mut problems = Vec::new();
    for unit in [
        "imapvm-watch.service",
        "imapvm-watch@1-2.service",
        "imapvm-agi.service",
    ] {
        // man pages are checked above, in the package rather than on this host.
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg("--man=no")
            .arg(format!("--root={}", root.display()))
            .arg(units.join(unit))
            .output()
            .map_err(|e| HarnessError::io("running systemd-analyze verify", e))?;
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() || !said.trim().is_empty() {
            problems.push(format!(
                "systemd-analyze verify {unit} ({}): {}",
                out.status,
                said.trim()
            ));
        }
    }
    std::fs::remove_file(&instance)
        .map_err(|e| HarnessError::io("removing the unit instance", e))?;
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_fields_and_conffiles_are_checked() {
        let good = "Package: imapvm\nVersion: 0.1.0-1\nDepends: libc6 (>= 2.34)\n";
        assert!(control_problems(good, "/etc/asterisk/imapvm.conf\n").is_empty());
        let problems = control_problems("Package: imapvm-cli\n", "");
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn the_packaged_units_are_the_ones_in_the_repository() {
        for unit in UNITS {
            let text = std::fs::read_to_string(workspace_root().join("packaging").join(unit))
                .unwrap_or_default();
            assert!(text.contains("\nType=notify\n"), "{unit}");
            assert!(text.contains("\nWatchdogSec="), "{unit}");
            assert!(text.contains("ExecStart=/usr/bin/imapvm "), "{unit}");
        }
        let manifest =
            std::fs::read_to_string(workspace_root().join("crates/imapvm-cli/Cargo.toml"))
                .unwrap_or_default();
        for unit in UNITS {
            assert!(
                manifest.contains(&format!("\"../../packaging/{unit}\"")),
                "{unit} is an asset of the .deb"
            );
        }
    }
}
