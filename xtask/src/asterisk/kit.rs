//! The asterisk-peer kit (`../shared/reference/asterisk-peer`): where it is, and the copy of
//! it this task runs, patched at run time (nothing of the kit is in the repository).
//!
//! The patches, each checked so that a changed kit fails loudly instead of silently
//! running unpatched:
//! * `build.sh`: `func_dialplan` joins the module list (imapvm asks
//!   `${DIALPLAN_EXISTS(ctx,a,1)}` whether `*` and `0` may leave to extensions `a`/`o`);
//! * `conf/modules.conf`: `load => func_dialplan.so` (the kit loads modules by name);
//! * `conf/extensions.conf`: extensions `a` and `o` in the four voicemail contexts, each
//!   logging `KIT-EXIT uid=… exten=a|o` (drive.py reports it as a `kit-exit` event), so that
//!   `*` and `0` leave the same way on both sides;
//! * `conf/voicemail.conf`: [`BOXES`]' options (5678 with `review=yes|operator=yes`) and
//!   box 4321 (`maxmsg=1`, the full mailbox).
//!
//! [`voicemail_conf`] turns the patched kit `voicemail.conf` into imapvm's: the same
//! `[general]` options and boxes, plus where each box lives on IMAP.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::server::{HarnessError, Result, mkdir, workspace_root, write};

/// The environment variable that names the kit directory.
pub const KIT_ENV: &str = "IMAPVM_ASTERISK_KIT";

/// The kit, relative to the repository root.
const KIT_RELATIVE: &str = "../shared/reference/asterisk-peer";

/// The voicemail contexts of the kit's dialplan that get extensions `a` and `o`.
pub const VOICEMAIL_CONTEXTS: [&str; 4] = ["app-leave", "app-main", "agi-leave", "agi-main"];

/// A mailbox of the comparison, in `[default]` on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxDef {
    /// The mailbox number (= its PIN).
    pub number: &'static str,
    /// Its full name, for a box the kit does not have.
    pub name: &'static str,
    /// The IMAP user of the private server that holds it on imapvm's side.
    pub imap_user: &'static str,
    /// voicemail.conf options given to it on both sides (`|`-separated), or "".
    pub options: &'static str,
    /// Whether the kit's voicemail.conf already defines it.
    pub in_kit: bool,
}

/// The boxes: the kit's 1234 and 5678 (5678 reviews and has an operator) and 4321, which
/// holds one message at most (the full-mailbox scenario).
pub const BOXES: [BoxDef; 3] = [
    BoxDef {
        number: "1234",
        name: "Alice Mailbox",
        imap_user: "vm1234",
        options: "",
        in_kit: true,
    },
    BoxDef {
        number: "5678",
        name: "Bjorn Mailbox",
        imap_user: "vm5678",
        options: "review=yes|operator=yes",
        in_kit: true,
    },
    BoxDef {
        number: "4321",
        name: "Carol Full",
        imap_user: "vm4321",
        options: "maxmsg=1",
        in_kit: false,
    },
];

/// The kit directory: `$IMAPVM_ASTERISK_KIT`, else `../shared/reference/asterisk-peer` from
/// the repository root, else the same from the main worktree (when this checkout is a git
/// worktree beside it).
pub fn locate() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(KIT_ENV) {
        let dir = PathBuf::from(dir);
        return if is_kit(&dir) {
            Ok(dir)
        } else {
            Err(HarnessError(format!(
                "${KIT_ENV}={} is not the asterisk-peer kit (no run.sh, drive.py, conf/)",
                dir.display()
            )))
        };
    }
    let mut tried = vec![workspace_root().join(KIT_RELATIVE)];
    if let Some(main) = main_worktree() {
        tried.push(main.join(KIT_RELATIVE));
    }
    if let Some(found) = tried.iter().find(|d| is_kit(d)) {
        return Ok(found.clone());
    }
    Err(HarnessError(format!(
        "the asterisk-peer kit is not at {}; set ${KIT_ENV} to its directory",
        tried
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" nor ")
    )))
}

fn is_kit(dir: &Path) -> bool {
    ["run.sh", "drive.py", "build.sh", "conf/voicemail.conf"]
        .iter()
        .all(|f| dir.join(f).is_file())
}

/// The main worktree of this checkout (`git rev-parse --git-common-dir`'s parent).
fn main_worktree() -> Option<PathBuf> {
    let out = Command::new("git")
        .current_dir(workspace_root())
        .args(["rev-parse", "--path-format=absolute", "--git-common-dir"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let common = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    common.parent().map(Path::to_path_buf)
}

/// Copies the kit from `src` to `dest` (wiped first), patching `build.sh` and `conf/*`.
pub fn prepare(src: &Path, dest: &Path) -> Result<()> {
    if dest.exists() {
        fs::remove_dir_all(dest)
            .map_err(|e| HarnessError::io(format_args!("removing {}", dest.display()), e))?;
    }
    copy_dir(src, dest, Path::new(""))
}

fn copy_dir(src: &Path, dest: &Path, rel: &Path) -> Result<()> {
    mkdir(&dest.join(rel))?;
    let dir = src.join(rel);
    let entries = fs::read_dir(&dir)
        .map_err(|e| HarnessError::io(format_args!("reading {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| HarnessError::io("listing the kit", e))?;
        let name = entry.file_name();
        if name == "__pycache__" {
            continue;
        }
        let rel = rel.join(&name);
        let from = src.join(&rel);
        if from.is_dir() {
            copy_dir(src, dest, &rel)?;
            continue;
        }
        let text = fs::read_to_string(&from)
            .map_err(|e| HarnessError::io(format_args!("reading {}", from.display()), e))?;
        let text = patch(&rel, &text)
            .map_err(|e| HarnessError(format!("patching {}: {e}", from.display())))?;
        let to = dest.join(&rel);
        write(&to, text)?;
        let executable = fs::metadata(&from)
            .map(|m| m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        let mode = if executable { 0o755 } else { 0o644 };
        fs::set_permissions(&to, fs::Permissions::from_mode(mode))
            .map_err(|e| HarnessError::io(format_args!("chmod {}", to.display()), e))?;
    }
    Ok(())
}

/// The kit file at `rel`, patched if it is one this task changes.
fn patch(rel: &Path, text: &str) -> std::result::Result<String, String> {
    match rel.to_str() {
        Some("build.sh") => patch_build_sh(text),
        Some("conf/modules.conf") => patch_modules_conf(text),
        Some("conf/extensions.conf") => patch_extensions_conf(text),
        Some("conf/voicemail.conf") => patch_voicemail_conf(text),
        _ => Ok(text.to_owned()),
    }
}

/// `func_dialplan` after `func_callerid` in build.sh's module list.
pub fn patch_build_sh(text: &str) -> std::result::Result<String, String> {
    if text.split_whitespace().any(|w| w == "func_dialplan") {
        return Ok(text.to_owned());
    }
    let mut done = false;
    let out: Vec<String> = text
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            if !done && !line.trim_start().starts_with('#') && words.contains(&"func_callerid") {
                done = true;
                line.replacen("func_callerid", "func_callerid func_dialplan", 1)
            } else {
                line.to_owned()
            }
        })
        .collect();
    if done {
        Ok(rejoin(text, out))
    } else {
        Err("no func_callerid in the module list to put func_dialplan beside".into())
    }
}

/// `load => func_dialplan.so` before `load => app_voicemail.so`.
pub fn patch_modules_conf(text: &str) -> std::result::Result<String, String> {
    if text.lines().any(|l| l.trim() == "load => func_dialplan.so") {
        return Ok(text.to_owned());
    }
    let mut out = Vec::new();
    let mut done = false;
    for line in text.lines() {
        if !done && line.trim() == "load => app_voicemail.so" {
            out.push("load => func_dialplan.so".to_owned());
            done = true;
        }
        out.push(line.to_owned());
    }
    if done {
        Ok(rejoin(text, out))
    } else {
        Err("no `load => app_voicemail.so` line".into())
    }
}

/// Extensions `a` and `o` after the `h` extension of each of [`VOICEMAIL_CONTEXTS`].
pub fn patch_extensions_conf(text: &str) -> std::result::Result<String, String> {
    let mut out = Vec::new();
    let mut context = String::new();
    let mut patched = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.split(']').next()) {
            context = name.to_owned();
        }
        let ours = VOICEMAIL_CONTEXTS.contains(&context.as_str());
        if ours && (trimmed.starts_with("exten => a,") || trimmed.starts_with("exten => o,")) {
            return Err(format!("[{context}] already has extension a or o"));
        }
        out.push(line.to_owned());
        if ours && trimmed.starts_with("exten => h,1,") && !patched.contains(&context) {
            for exten in ["a", "o"] {
                out.push(format!(
                    "exten => {exten},1,Verbose(0,KIT-EXIT uid=${{UNIQUEID}} exten={exten})"
                ));
                out.push(" same => n,Hangup()".to_owned());
            }
            patched.push(context.clone());
        }
    }
    let missing: Vec<&str> = VOICEMAIL_CONTEXTS
        .iter()
        .copied()
        .filter(|c| !patched.iter().any(|p| p == c))
        .collect();
    if missing.is_empty() {
        Ok(rejoin(text, out))
    } else {
        Err(format!(
            "no `exten => h,1,` line in [{}]",
            missing.join("], [")
        ))
    }
}

/// [`BOXES`]' options on the kit's boxes, and the boxes the kit lacks, in `[default]`.
pub fn patch_voicemail_conf(text: &str) -> std::result::Result<String, String> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut seen = Vec::new();
    let mut in_default = false;
    let flush_new = |out: &mut Vec<String>| {
        for b in BOXES.iter().filter(|b| !b.in_kit) {
            out.push(format!(
                "{n} => {n},{name},,,{opts}",
                n = b.number,
                name = b.name,
                opts = b.options
            ));
        }
    };
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.split(']').next()) {
            if in_default {
                flush_new(&mut out);
            }
            section = name.to_owned();
            in_default = section == "default";
        }
        if section == "default"
            && let Some((number, _)) = box_line(line)
        {
            match BOXES.iter().find(|b| b.number == number) {
                Some(b) if b.in_kit => {
                    seen.push(number.to_owned());
                    out.push(with_box_options(line, b.options)?);
                    continue;
                }
                Some(_) => return Err(format!("box {number} is already in the kit")),
                None => {}
            }
        }
        out.push(line.to_owned());
    }
    if in_default {
        flush_new(&mut out);
    }
    let missing: Vec<&str> = BOXES
        .iter()
        .filter(|b| b.in_kit && !seen.iter().any(|s| s == b.number))
        .map(|b| b.number)
        .collect();
    if missing.is_empty() {
        Ok(rejoin(text, out))
    } else {
        Err(format!(
            "boxes {} not found in [default]",
            missing.join(", ")
        ))
    }
}

/// `(number, rest)` of a `NUMBER => pw,name,...` line.
fn box_line(line: &str) -> Option<(&str, &str)> {
    let trimmed = line.trim();
    if trimmed.starts_with(';') {
        return None;
    }
    let (number, rest) = trimmed.split_once("=>")?;
    let number = number.trim();
    (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())).then_some((number, rest))
}

/// A box line with `options` (`a=b|c=d`) added to its fifth field.
pub fn with_box_options(line: &str, options: &str) -> std::result::Result<String, String> {
    let (number, rest) = box_line(line).ok_or_else(|| format!("not a mailbox line: {line:?}"))?;
    if options.is_empty() {
        return Ok(line.to_owned());
    }
    let mut fields: Vec<String> = rest.trim().splitn(5, ',').map(str::to_owned).collect();
    while fields.len() < 5 {
        fields.push(String::new());
    }
    let last = &mut fields[4];
    if last.trim().is_empty() {
        *last = options.to_owned();
    } else {
        last.push('|');
        last.push_str(options);
    }
    Ok(format!("{number} => {}", fields.join(",")))
}

/// Where imapvm's side of the comparison keeps its boxes.
#[derive(Debug, Clone)]
pub struct ImapSide {
    /// The server.
    pub host: String,
    /// Its STARTTLS port.
    pub port: u16,
    /// The CA that signed its certificate.
    pub ca: PathBuf,
    /// `imapfolder`: this run's own folder.
    pub folder: String,
    /// `imapparentfolder`: where Work, Family… of this run go.
    pub parent: String,
    /// `imapvm_outbox`: this run's own outbox (never the machine-wide default).
    pub outbox: PathBuf,
    /// `(IMAP user, password)` of each box user.
    pub passwords: Vec<(String, String)>,
}

/// imapvm's voicemail.conf from the patched kit one: the same `[general]` options (plus
/// the IMAP ones, `imapgreetings=no`: greetings stay in Asterisk's spool, shared by both
/// sides) and the same boxes, each on its [`BoxDef::imap_user`].
pub fn voicemail_conf(kit_conf: &str, imap: &ImapSide) -> std::result::Result<String, String> {
    let mut out = vec![
        "; imapvm's side of `cargo xtask asterisk`: the kit's voicemail.conf, on IMAP.".to_owned(),
    ];
    let mut section = String::new();
    let mut general = false;
    for line in kit_conf.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.split(']').next()) {
            section = name.to_owned();
            out.push(line.to_owned());
            if section == "general" {
                general = true;
                out.extend([
                    format!("imapserver = {}", imap.host),
                    format!("imapport = {}", imap.port),
                    "imapflags = tls".to_owned(),
                    format!("imapcafile = {}", imap.ca.display()),
                    format!("imapfolder = {}", imap.folder),
                    format!("imapparentfolder = {}", imap.parent),
                    "imapgreetings = no".to_owned(),
                    format!("imapvm_outbox = {}", imap.outbox.display()),
                ]);
            }
            continue;
        }
        if section == "default"
            && let Some((number, _)) = box_line(line)
        {
            let b = BOXES
                .iter()
                .find(|b| b.number == number)
                .ok_or_else(|| format!("box {number} has no IMAP user"))?;
            let password = imap
                .passwords
                .iter()
                .find(|(u, _)| u == b.imap_user)
                .map(|(_, p)| p.as_str())
                .ok_or_else(|| format!("no password for {}", b.imap_user))?;
            out.push(with_box_options(
                line,
                &format!("imapuser={}|imappassword={password}", b.imap_user),
            )?);
            continue;
        }
        out.push(line.to_owned());
    }
    if general {
        Ok(rejoin(kit_conf, out))
    } else {
        Err("the kit's voicemail.conf has no [general]".into())
    }
}

/// Lines joined with `\n`, ending in one if `original` did.
fn rejoin(original: &str, lines: Vec<String>) -> String {
    let mut s = lines.join("\n");
    if original.ends_with('\n') {
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILD: &str = "MODS=(app_voicemail app_senddtmf\n  app_originate pbx_config\n  func_callerid func_strings func_logic\n  res_agi)\n# func_callerid in a comment\n";

    #[test]
    fn build_sh_gets_func_dialplan_once() {
        let patched = patch_build_sh(BUILD).unwrap();
        assert!(patched.contains("  func_callerid func_dialplan func_strings func_logic\n"));
        assert_eq!(patched.matches("func_dialplan").count(), 1);
        assert_eq!(patch_build_sh(&patched).unwrap(), patched);
        assert!(patch_build_sh("MODS=(app_voicemail)\n").is_err());
    }

    #[test]
    fn modules_conf_loads_func_dialplan_before_app_voicemail() {
        let conf = "[modules]\nautoload = no\nload => pbx_config.so\nload => app_voicemail.so\n";
        let patched = patch_modules_conf(conf).unwrap();
        assert_eq!(
            patched,
            "[modules]\nautoload = no\nload => pbx_config.so\nload => func_dialplan.so\nload => app_voicemail.so\n"
        );
        assert_eq!(patch_modules_conf(&patched).unwrap(), patched);
        assert!(patch_modules_conf("[modules]\n").is_err());
    }

    const EXTENSIONS: &str = "[globals]\nX = 1\n\n[app-leave]\nexten => _X.,1,Gosub(kit-sub,start,1)\n same => n,VoiceMail(${EXTEN}@default,${OPTS})\nexten => h,1,Gosub(kit-sub,result,1)\n\n[app-main]\nexten => h,1,Gosub(kit-sub,result,1)\n[agi-leave]\nexten => h,1,Gosub(kit-sub,result,1)\n[agi-main]\nexten => h,1,Gosub(kit-sub,result,1)\n\n[kit-sub]\nexten => h,1,NoOp()\n";

    #[test]
    fn extensions_a_and_o_go_into_the_four_voicemail_contexts_only() {
        let patched = patch_extensions_conf(EXTENSIONS).unwrap();
        assert_eq!(
            patched.matches("exten => a,1,Verbose(0,KIT-EXIT uid=${UNIQUEID} exten=a)\n same => n,Hangup()\nexten => o,1,Verbose(0,KIT-EXIT uid=${UNIQUEID} exten=o)\n same => n,Hangup()\n").count(),
            4
        );
        let kit_sub = &patched[patched.find("[kit-sub]").unwrap()..];
        assert!(!kit_sub.contains("exten => a,"), "{kit_sub}");
        assert!(
            patched.contains("exten => h,1,Gosub(kit-sub,result,1)\nexten => a,1,"),
            "{patched}"
        );
        // Patching twice is refused rather than doubling the extensions.
        assert!(patch_extensions_conf(&patched).is_err());
        // A context without its h extension is reported by name.
        let err = patch_extensions_conf(
            &EXTENSIONS.replace("[agi-main]\nexten => h", "[agi-main]\nexten => x"),
        )
        .unwrap_err();
        assert!(err.contains("[agi-main]"), "{err}");
    }

    const VOICEMAIL: &str = "[general]\nformat = wav\nmaxlogins = 3\n\n[zonemessages]\neastern = America/New_York|'vm-received' Q 'digits/at' IMp\n\n[default]\n1234 => 1234,Alice Mailbox\n5678 => 5678,Bjorn Mailbox\n";

    #[test]
    fn voicemail_conf_gets_the_box_options_and_the_full_box() {
        let patched = patch_voicemail_conf(VOICEMAIL).unwrap();
        assert!(patched.ends_with(
            "[default]\n1234 => 1234,Alice Mailbox\n5678 => 5678,Bjorn Mailbox,,,review=yes|operator=yes\n4321 => 4321,Carol Full,,,maxmsg=1\n"
        ), "{patched}");
        assert!(patch_voicemail_conf("[general]\n[default]\n1234 => 1234,A\n").is_err());
        assert!(patch_voicemail_conf(&patched).is_err(), "4321 twice");
    }

    #[test]
    fn box_options_append_to_the_fifth_field() {
        assert_eq!(
            with_box_options("5678 => 5678,Bjorn", "review=yes").unwrap(),
            "5678 => 5678,Bjorn,,,review=yes"
        );
        assert_eq!(
            with_box_options("5678 => 5678,Bjorn,b@x,,tz=eastern", "review=yes").unwrap(),
            "5678 => 5678,Bjorn,b@x,,tz=eastern|review=yes"
        );
        assert_eq!(with_box_options("1 => 1,A", "").unwrap(), "1 => 1,A");
        assert!(with_box_options("; 1 => 1", "x=y").is_err());
    }

    #[test]
    fn voicemail_conf_mirrors_the_kit_with_each_box_on_its_imap_user() {
        let kit = patch_voicemail_conf(VOICEMAIL).unwrap();
        let imap = ImapSide {
            host: "127.0.0.1".into(),
            port: 10143,
            ca: "/t/ca.pem".into(),
            folder: "imapvm-ast-1".into(),
            parent: "imapvm-ast-1-folders".into(),
            outbox: "/t/outbox".into(),
            passwords: BOXES
                .iter()
                .map(|b| (b.imap_user.to_owned(), format!("pw-{}", b.imap_user)))
                .collect(),
        };
        let conf = voicemail_conf(&kit, &imap).unwrap();
        assert!(conf.contains("[general]\nimapserver = 127.0.0.1\nimapport = 10143\nimapflags = tls\nimapcafile = /t/ca.pem\nimapfolder = imapvm-ast-1\nimapparentfolder = imapvm-ast-1-folders\nimapgreetings = no\nimapvm_outbox = /t/outbox\nformat = wav\nmaxlogins = 3\n"), "{conf}");
        assert!(conf.contains("eastern = America/New_York|'vm-received' Q 'digits/at' IMp\n"));
        assert!(
            conf.contains("1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword=pw-vm1234\n")
        );
        assert!(conf.contains("5678 => 5678,Bjorn Mailbox,,,review=yes|operator=yes|imapuser=vm5678|imappassword=pw-vm5678\n"));
        assert!(conf.contains(
            "4321 => 4321,Carol Full,,,maxmsg=1|imapuser=vm4321|imappassword=pw-vm4321\n"
        ));
        let mut no_pw = imap.clone();
        no_pw.passwords.pop();
        assert!(voicemail_conf(&kit, &no_pw).unwrap_err().contains("vm4321"));
    }
}
