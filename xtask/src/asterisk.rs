//! `cargo xtask asterisk`: imapvm's phone flows through a real Asterisk 22.10.1, compared
//! prompt by prompt with Asterisk's own `VoiceMail()` and `VoiceMailMain()` (file storage,
//! the same build).
//!
//! * `cargo xtask asterisk build [--mirror GITDIR]` copies the asterisk-peer kit
//!   (`../shared/reference/asterisk-peer`, or `$IMAPVM_ASTERISK_KIT`) to
//!   `target/imapvm-asterisk/kit`, patches it ([`kit`]) and runs its `build.sh` into the
//!   prefix (`$IMAPVM_ASTERISK_PREFIX`, else `target/imapvm-asterisk/prefix`).
//! * `cargo xtask asterisk [--prefix DIR] [--only NAME...]` finds that Asterisk (and says
//!   so, exiting non-zero, when there is none), starts the private Dovecot, `imapvm agi`
//!   on a free port and Asterisk (the kit's `run.sh`, in a short run directory under
//!   `/tmp`), then runs each of [`scenarios::SCENARIOS`] through drive.py twice: in
//!   Asterisk's own context (`app-leave`/`app-main`) and in the FastAGI one
//!   (`agi-leave`/`agi-main`), with the same keys and options. Before each scenario both
//!   boxes are emptied (Asterisk's spool directory, imapvm's IMAP folders of this run) and
//!   seeded alike. It prints, per scenario, both prompt lists, `VMSTATUS`, the extension the
//!   call left to, the box afterwards, and SAME or DIFFERENT with a short diff; then a
//!   summary. A difference is a finding, not a failure: the exit status is non-zero only
//!   when a side could not run.
//!
//! Everything of a run is kept in `target/imapvm-asterisk/runs/ID/`: imapvm's
//! voicemail.conf, its imapvm.conf (where `imapvm agi` listens and spools) and log, every call's drive.py JSON (with its AGI transcript), Asterisk's
//! `full.log`, and the printed report. It is not part of `cargo xtask ci`.

mod compare;
mod kit;
mod scenarios;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use xtask::dovecot;
use xtask::mail_client;
use xtask::server::{
    self, HarnessError, Result, ServerInfo, mkdir, run_checked, target_dir, write,
};

use compare::{Outcome, compare, diff, render_diff, show_state};
use kit::{BOXES, ImapSide};
use scenarios::{SEED_CID, SEED_OPTS, SEED_SCRIPT, Scenario};

/// The environment variable naming the Asterisk install prefix.
const PREFIX_ENV: &str = "IMAPVM_ASTERISK_PREFIX";

/// How long one drive.py call may take before it hangs up (seconds).
const CALL_TIMEOUT: u32 = 120;

/// `cargo xtask asterisk ...`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AsteriskArgs {
    #[command(subcommand)]
    action: Option<Action>,
    /// The Asterisk install prefix (default: $IMAPVM_ASTERISK_PREFIX, else
    /// target/imapvm-asterisk/prefix).
    #[arg(long, value_name = "DIR")]
    prefix: Option<PathBuf>,
    /// Run only these scenarios (`cargo xtask asterisk list` names them).
    #[arg(long, value_name = "NAME", num_args = 1..)]
    only: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Build Asterisk 22.10.1 (file storage, FastAGI, func_dialplan) with the kit's build.sh.
    Build {
        /// A git directory of github.com/asterisk/asterisk holding tag 22.10.1 (default:
        /// $AST_MIRROR).
        #[arg(long, value_name = "GITDIR")]
        mirror: Option<PathBuf>,
        /// The install prefix (default: $IMAPVM_ASTERISK_PREFIX, else
        /// target/imapvm-asterisk/prefix).
        #[arg(long, value_name = "DIR")]
        prefix: Option<PathBuf>,
    },
    /// List the scenarios.
    List,
}

/// Runs `cargo xtask asterisk ...`.
pub fn run(args: &AsteriskArgs) -> Result<()> {
    match &args.action {
        Some(Action::Build { mirror, prefix }) => build(mirror.as_deref(), prefix.as_deref()),
        Some(Action::List) => {
            for s in scenarios::SCENARIOS {
                println!(
                    "{:<26} {}({}@default,{}) seed {}: {}",
                    s.name,
                    s.app.name(),
                    s.mailbox,
                    s.opts,
                    s.seed,
                    s.about
                );
            }
            Ok(())
        }
        None => compare_all(args.prefix.as_deref(), &args.only),
    }
}

/// `target/imapvm-asterisk`.
fn base_dir() -> PathBuf {
    target_dir().join("imapvm-asterisk")
}

/// The install prefix: the option, else `$IMAPVM_ASTERISK_PREFIX`, else the default; made
/// absolute (build.sh and run.sh change directory).
fn prefix(option: Option<&Path>) -> PathBuf {
    let chosen = option
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(PREFIX_ENV).map(PathBuf::from))
        .unwrap_or_else(|| base_dir().join("prefix"));
    if chosen.is_absolute() {
        chosen
    } else {
        std::env::current_dir()
            .map(|d| d.join(&chosen))
            .unwrap_or(chosen)
    }
}

fn build(mirror: Option<&Path>, prefix_option: Option<&Path>) -> Result<()> {
    let mirror = mirror
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("AST_MIRROR").map(PathBuf::from))
        .ok_or_else(|| {
            HarnessError(
                "give the git directory of asterisk/asterisk: cargo xtask asterisk build --mirror GITDIR (or $AST_MIRROR)"
                    .into(),
            )
        })?;
    let kit_dir = prepared_kit()?;
    let prefix = prefix(prefix_option);
    eprintln!(
        "building Asterisk from {} into {} with {} (takes minutes)",
        mirror.display(),
        prefix.display(),
        kit_dir.join("build.sh").display()
    );
    let started = Instant::now();
    let status = Command::new("bash")
        .arg(kit_dir.join("build.sh"))
        .arg(&mirror)
        .env("AST_PREFIX", &prefix)
        .status()
        .map_err(|e| HarnessError::io("running build.sh", e))?;
    if !status.success() {
        return Err(HarnessError(format!("build.sh failed: {status}")));
    }
    eprintln!(
        "Asterisk built into {} in {:.0} s; compare with: cargo xtask asterisk --prefix {}",
        prefix.display(),
        started.elapsed().as_secs_f64(),
        prefix.display()
    );
    Ok(())
}

/// The kit copied to `target/imapvm-asterisk/kit` and patched.
fn prepared_kit() -> Result<PathBuf> {
    let src = kit::locate()?;
    let dest = base_dir().join("kit");
    kit::prepare(&src, &dest)?;
    Ok(dest)
}

/// Everything a scenario needs.
struct Bench {
    kit: PathBuf,
    /// Asterisk's run directory (short: its control socket path must fit).
    run: PathBuf,
    records: PathBuf,
    server: ServerInfo,
    imap: ImapSide,
}

/// What this run started, stopped on drop (also when a step fails).
struct Started {
    kit: PathBuf,
    run: PathBuf,
    records: PathBuf,
    imapvm: Option<Child>,
    asterisk: bool,
    server: ServerInfo,
    imap_prefix: String,
}

impl Drop for Started {
    fn drop(&mut self) {
        if self.asterisk {
            let log = self.run.join("log/full.log");
            if let Err(e) = fs::copy(&log, self.records.join("full.log")) {
                eprintln!("asterisk: keeping {}: {e}", log.display());
            }
            match run_checked(
                Command::new("bash")
                    .arg(self.kit.join("run.sh"))
                    .arg("stop")
                    .arg(&self.run),
            ) {
                Ok(_) => {}
                Err(e) => eprintln!("asterisk: stopping Asterisk: {e}"),
            }
        }
        if let Some(mut child) = self.imapvm.take() {
            let pid = child.id();
            let _ = server::signal(pid, "TERM");
            if !server::wait_gone(pid, Duration::from_secs(10)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        if self.run.starts_with("/tmp")
            && self.run.exists()
            && let Err(e) = fs::remove_dir_all(&self.run)
        {
            eprintln!("asterisk: removing {}: {e}", self.run.display());
        }
        if let Err(e) = imap_drop_folders(&self.server, &self.imap_prefix) {
            eprintln!("asterisk: removing this run's IMAP folders: {e}");
        }
    }
}

fn no_asterisk(prefix: &Path) -> HarnessError {
    HarnessError(format!(
        "no Asterisk installed at {} (no sbin/asterisk); build one with `cargo xtask asterisk build --mirror <git dir of asterisk/asterisk>` \
         (tag 22.10.1, about 6 min on 2 cores), or point --prefix / ${PREFIX_ENV} at an install of the asterisk-peer kit's build.sh; \
         nothing was compared",
        prefix.display()
    ))
}

fn compare_all(prefix_option: Option<&Path>, only: &[String]) -> Result<()> {
    let prefix = prefix(prefix_option);
    if !prefix.join("sbin/asterisk").is_file() {
        return Err(no_asterisk(&prefix));
    }
    let chosen = scenarios::select(only).map_err(HarnessError)?;
    if !prefix
        .join("lib/asterisk/modules/func_dialplan.so")
        .is_file()
    {
        eprintln!(
            "asterisk: WARNING: {} has no func_dialplan.so: imapvm cannot see extensions a and o, so * and 0 stay in its flows \
             (rebuild with `cargo xtask asterisk build`)",
            prefix.display()
        );
    }
    let kit_dir = prepared_kit()?;
    let server = dovecot::ensure_running()?;
    let binary = crate::demo::imapvm_binary()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let id = format!("{now}-{}", std::process::id());
    let records = base_dir().join("runs").join(&id);
    mkdir(&records.join("calls"))?;
    let run = PathBuf::from(format!("/tmp/imapvm-ast-{}", std::process::id()));
    if run.exists() {
        fs::remove_dir_all(&run)
            .map_err(|e| HarnessError::io(format_args!("removing {}", run.display()), e))?;
    }
    mkdir(&run.join("var/spool"))?;
    let imap_prefix = format!("imapvm-ast-{id}");
    let imap = ImapSide {
        host: server.host.clone(),
        port: server.port,
        ca: server.cert.clone(),
        folder: imap_prefix.clone(),
        parent: format!("{imap_prefix}-folders"),
        outbox: records.join("outbox"),
        passwords: BOXES
            .iter()
            .map(|b| {
                let pw = server.users.get(b.imap_user).cloned().unwrap_or_default();
                (b.imap_user.to_owned(), pw)
            })
            .collect(),
    };
    let kit_vm = fs::read_to_string(kit_dir.join("conf/voicemail.conf"))
        .map_err(|e| HarnessError::io("reading the kit's voicemail.conf", e))?;
    let conf_text = kit::voicemail_conf(&kit_vm, &imap).map_err(HarnessError)?;
    let conf = records.join("voicemail.conf");
    write(&conf, conf_text)?;
    fs::set_permissions(&conf, fs::Permissions::from_mode(0o600))
        .map_err(|e| HarnessError::io("chmod voicemail.conf", e))?;
    mkdir(&imap.outbox)?;

    let mut started = Started {
        kit: kit_dir.clone(),
        run: run.clone(),
        records: records.clone(),
        imapvm: None,
        asterisk: false,
        server: server.clone(),
        imap_prefix: imap_prefix.clone(),
    };
    imap_reset(&server, &imap, true)?;
    let port = server::free_port("127.0.0.1")?;
    // The FastAGI server's place, in imapvm.conf beside voicemail.conf (where imapvm finds it).
    write(
        &records.join("imapvm.conf"),
        format!(
            "; imapvm's own options for `cargo xtask asterisk`\n[general]\nagi_listen = 127.0.0.1:{port}\nagi_spool = {}\n",
            run.join("var/spool/imapvm-agi").display()
        ),
    )?;
    let log = records.join("imapvm.log");
    // The phone crate's debug lines (every store op, why an AGI connection ended) help to
    // read a difference; RUST_LOG wins when set.
    let log_filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info,imapvm_phone=debug".into());
    let child = server::spawn_logged(
        Command::new(&binary)
            .env("RUST_LOG", log_filter)
            .env("NO_COLOR", "1")
            .arg("-c")
            .arg(&conf)
            .arg("agi")
            .arg("--vm-spool")
            .arg(run.join("var/spool/voicemail")),
        &log,
    )?;
    started.imapvm = Some(child);
    wait_for_line(&log, "FastAGI on", Duration::from_secs(30))?;
    run_checked(
        Command::new("bash")
            .arg(kit_dir.join("run.sh"))
            .arg("start")
            .arg(&run)
            .env("AST_PREFIX", &prefix)
            .env("AGI_PORT", port.to_string()),
    )?;
    started.asterisk = true;
    let version =
        run_checked(Command::new(prefix.join("sbin/asterisk")).arg("-V")).unwrap_or_default();
    let bench = Bench {
        kit: kit_dir,
        run,
        records: records.clone(),
        server,
        imap,
    };

    let mut report = String::new();
    let mut say = |text: &str| {
        println!("{text}");
        report.push_str(text);
        report.push('\n');
    };
    say(&format!(
        "asterisk: {} at {}, imapvm agi on 127.0.0.1:{port} (IMAP folder {imap_prefix} on {}:{}); {} scenario(s); records in {}",
        version.trim(),
        prefix.display(),
        bench.server.host,
        bench.server.port,
        chosen.len(),
        records.display()
    ));
    let t0 = Instant::now();
    let mut same = Vec::new();
    let mut different = Vec::new();
    let mut failed = Vec::new();
    for s in &chosen {
        let t = Instant::now();
        match run_scenario(&bench, s) {
            Ok((a, b)) => {
                let differ = compare(&a, &b);
                say(&render_scenario(s, &a, &b, &differ, t.elapsed()));
                if differ.is_empty() {
                    same.push(s.name);
                } else {
                    different.push(s.name);
                }
            }
            Err(e) => {
                say(&format!(
                    "── {} ── {}  [{:.1} s]\n   COULD NOT RUN: {e}\n",
                    s.name,
                    s.about,
                    t.elapsed().as_secs_f64()
                ));
                failed.push(s.name);
            }
        }
    }
    say(&format!(
        "asterisk: {} scenario(s) in {:.1} min: {} SAME, {} DIFFERENT{}, {} could not run{}",
        chosen.len(),
        t0.elapsed().as_secs_f64() / 60.0,
        same.len(),
        different.len(),
        listed(&different),
        failed.len(),
        listed(&failed),
    ));
    write(&records.join("report.txt"), &report)?;
    drop(started);
    if failed.is_empty() {
        Ok(())
    } else {
        Err(HarnessError(format!(
            "{} scenario(s) could not run on one side: {}",
            failed.len(),
            failed.join(", ")
        )))
    }
}

fn listed(names: &[&str]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!(" ({})", names.join(", "))
    }
}

/// One scenario: reset and seed both sides, then the call on each; the two outcomes.
fn run_scenario(b: &Bench, s: &Scenario) -> std::result::Result<(Outcome, Outcome), String> {
    let (app_ctx, agi_ctx) = s.app.contexts();
    asterisk_reset(&b.run).map_err(|e| e.to_string())?;
    imap_reset(&b.server, &b.imap, false).map_err(|e| e.to_string())?;
    for n in 0..s.seed {
        wait_for_a_fresh_minute();
        for ctx in ["app-leave", "agi-leave"] {
            let o = drive(
                b,
                ctx,
                s.mailbox,
                SEED_SCRIPT,
                SEED_OPTS,
                Some(SEED_CID),
                &format!("{}-seed{n}-{ctx}", s.name),
            )
            .map_err(|e| format!("seeding {ctx} {}: {e}", s.mailbox))?;
            if o.vmstatus != "SUCCESS" {
                return Err(format!(
                    "seeding {ctx} {} gave VMSTATUS={:?} (prompts {})",
                    s.mailbox,
                    o.vmstatus,
                    o.prompts.join(" ")
                ));
            }
        }
    }
    let call = |context: &str, side: &str| {
        drive(
            b,
            context,
            s.mailbox,
            s.script,
            s.opts,
            s.cid,
            &format!("{}-{side}", s.name),
        )
        .map_err(|e| format!("{context}: {e}"))
    };
    let mut asterisk = call(app_ctx, "asterisk")?;
    let mut imapvm = call(agi_ctx, "imapvm")?;
    asterisk.state = asterisk_state(&b.run, s.mailbox).map_err(|e| e.to_string())?;
    imapvm.state = imap_state(&b.server, &b.imap, s.mailbox).map_err(|e| e.to_string())?;
    Ok((asterisk, imapvm))
}

/// Seeded messages of both sides are said with their minute ("today at 10 oh 2 p-m"):
/// start seeding early enough in a minute that both land in it.
fn wait_for_a_fresh_minute() {
    let second = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() % 60)
        .unwrap_or(0);
    if second >= 45 {
        std::thread::sleep(Duration::from_secs(61 - second));
    }
}

/// One call through drive.py (`--json`); its JSON is kept as `calls/NAME.json`.
fn drive(
    b: &Bench,
    context: &str,
    mailbox: &str,
    script: &str,
    opts: &str,
    cid: Option<&str>,
    name: &str,
) -> std::result::Result<Outcome, String> {
    let mut cmd = Command::new("python3");
    cmd.arg(b.kit.join("drive.py"))
        .arg("--env")
        .arg(b.run.join("run.env"))
        .arg(context)
        .arg(mailbox)
        .args(script.split_whitespace())
        .arg("--opts")
        .arg(opts)
        .arg("--timeout")
        .arg(CALL_TIMEOUT.to_string())
        .arg("--json");
    if let Some(cid) = cid {
        cmd.arg("--cid").arg(cid);
    }
    let out = cmd.output().map_err(|e| format!("running drive.py: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let _ = write(
        &b.records.join("calls").join(format!("{name}.json")),
        stdout.as_bytes(),
    );
    Outcome::from_drive_json(&stdout).map_err(|e| {
        format!(
            "{e} (drive.py {}: {})",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

/// Empties every box of Asterisk's file spool (greetings too: imapvm reads them there).
fn asterisk_reset(run: &Path) -> Result<()> {
    for b in &BOXES {
        let dir = run.join("var/spool/voicemail/default").join(b.number);
        if dir.exists() {
            fs::remove_dir_all(&dir)
                .map_err(|e| HarnessError::io(format_args!("removing {}", dir.display()), e))?;
        }
    }
    Ok(())
}

/// Messages per folder of a box in Asterisk's file spool.
fn asterisk_state(run: &Path, mailbox: &str) -> Result<BTreeMap<String, usize>> {
    let dir = run.join("var/spool/voicemail/default").join(mailbox);
    let mut state = BTreeMap::new();
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(state);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let count = fs::read_dir(&path)
            .map_err(|e| HarnessError::io(format_args!("reading {}", path.display()), e))?
            .flatten()
            .filter(|f| {
                let n = f.file_name();
                let n = n.to_string_lossy();
                n.starts_with("msg") && n.ends_with(".txt")
            })
            .count();
        if count > 0 {
            state.insert(entry.file_name().to_string_lossy().into_owned(), count);
        }
    }
    Ok(state)
}

/// The Python list of the IMAP users of the boxes.
fn imap_users() -> String {
    let users: Vec<String> = BOXES.iter().map(|b| format!("{:?}", b.imap_user)).collect();
    format!("[{}]", users.join(", "))
}

/// Empties this run's IMAP folders of every box user (`create`: makes `imapfolder` first).
fn imap_reset(server: &ServerInfo, imap: &ImapSide, create: bool) -> Result<()> {
    let script = format!(
        r#"
for user in {users}:
    m = connect(user)
    if {create}:
        m.create('"{folder}"')
    typ, names = m.list('""', '"{folder}*"')
    for raw in names or []:
        if raw is None:
            continue
        name = raw.decode().rsplit(' ', 1)[-1].strip('"')
        typ, data = m.select('"%s"' % name)
        if typ == "OK" and int(data[0]) > 0:
            check(m.store("1:*", "+FLAGS.SILENT", "(\\Deleted)"), "store")
            check(m.expunge(), "expunge")
    m.logout()
"#,
        users = imap_users(),
        create = if create { "True" } else { "False" },
        folder = imap.folder,
    );
    mail_client::run(server, &script).map(drop)
}

/// Deletes every IMAP folder whose name starts with `prefix`, of every box user.
fn imap_drop_folders(server: &ServerInfo, prefix: &str) -> Result<()> {
    let script = format!(
        r#"
for user in {users}:
    m = connect(user)
    typ, names = m.list('""', '"{prefix}*"')
    found = [raw.decode().rsplit(' ', 1)[-1].strip('"') for raw in names or [] if raw is not None]
    for name in sorted(found, key=len, reverse=True):
        m.delete('"%s"' % name)
    m.logout()
"#,
        users = imap_users(),
    );
    mail_client::run(server, &script).map(drop)
}

/// Messages per folder of a box on IMAP, in Asterisk's folder names: in `imapfolder`,
/// unseen and unflagged is INBOX, unseen and flagged Urgent, seen Old; the folders under
/// `imapparentfolder` by their last name.
fn imap_state(
    server: &ServerInfo,
    imap: &ImapSide,
    mailbox: &str,
) -> Result<BTreeMap<String, usize>> {
    let user = BOXES
        .iter()
        .find(|b| b.number == mailbox)
        .map(|b| b.imap_user)
        .ok_or_else(|| HarnessError(format!("no IMAP user for box {mailbox}")))?;
    let script = format!(
        r#"
m = connect("{user}")
state = {{}}
check(m.select('"{folder}"', readonly=True), "select")
for name, query in (("INBOX", "UNSEEN UNFLAGGED UNDELETED"), ("Urgent", "UNSEEN FLAGGED UNDELETED"), ("Old", "SEEN UNDELETED")):
    n = len(check(m.search(None, query), "search")[0].split())
    if n:
        state[name] = n
typ, names = m.list('""', '"{parent}/*"')
for raw in names or []:
    if raw is None:
        continue
    name = raw.decode().rsplit(' ', 1)[-1].strip('"')
    data = check(m.status('"%s"' % name, "(MESSAGES)"), "status")
    n = int(data[0].decode().rsplit("MESSAGES", 1)[1].strip(" )"))
    if n:
        state[name.rsplit("/", 1)[-1]] = n
m.logout()
print(json.dumps(state))
"#,
        folder = imap.folder,
        parent = imap.parent,
    );
    let out = mail_client::run(server, &script)?;
    serde_json::from_str(out.trim())
        .map_err(|e| HarnessError(format!("reading the IMAP state {out:?}: {e}")))
}

/// Waits until `log` has a line containing `needle`.
fn wait_for_line(log: &Path, needle: &str, limit: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if fs::read_to_string(log).is_ok_and(|t| t.contains(needle)) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = fs::read_to_string(log).unwrap_or_default();
    Err(HarnessError(format!(
        "no `{needle}` in {} after {:.0} s: {}",
        log.display(),
        limit.as_secs_f64(),
        text.trim()
    )))
}

/// A scenario's report: both prompt lists, `VMSTATUS`, the exit, the box, the verdict.
fn render_scenario(
    s: &Scenario,
    a: &Outcome,
    b: &Outcome,
    differ: &[&str],
    took: Duration,
) -> String {
    let mut out = String::new();
    let (app_ctx, agi_ctx) = s.app.contexts();
    let _ = writeln!(
        out,
        "── {} ── {}({}@default,{}): {}  [{:.1} s]",
        s.name,
        s.app.name(),
        s.mailbox,
        s.opts,
        s.about,
        took.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "   keys: {}{}   ({app_ctx} / {agi_ctx})",
        s.script,
        if s.seed > 0 {
            format!("   after {} seeded message(s)", s.seed)
        } else {
            String::new()
        }
    );
    let _ = writeln!(out, "   asterisk: {}", prompts(&a.prompts));
    let _ = writeln!(out, "   imapvm:   {}", prompts(&b.prompts));
    let _ = writeln!(
        out,
        "   VMSTATUS: asterisk {}, imapvm {} (AGISTATUS {})   exit: asterisk {}, imapvm {}",
        or_unset(&a.vmstatus),
        or_unset(&b.vmstatus),
        or_unset(&b.agistatus),
        a.exit.as_deref().unwrap_or("-"),
        b.exit.as_deref().unwrap_or("-"),
    );
    let _ = writeln!(
        out,
        "   box after: asterisk {} | imapvm {}",
        show_state(&a.state),
        show_state(&b.state)
    );
    for (side, o) in [("asterisk", a), ("imapvm", b)] {
        for p in &o.problems {
            let _ = writeln!(out, "   drive.py ({side}): {p}");
        }
    }
    if differ.is_empty() {
        let _ = writeln!(out, "   SAME");
    } else {
        let _ = writeln!(
            out,
            "   DIFFERENT ({}){}",
            differ.join(", "),
            if differ.contains(&"prompts") { ":" } else { "" }
        );
        if differ.contains(&"prompts") {
            out.push_str(&render_diff(&diff(&a.prompts, &b.prompts), 2, "     "));
        }
    }
    out
}

fn prompts(list: &[String]) -> String {
    if list.is_empty() {
        "(nothing played)".to_owned()
    } else {
        list.join(" ")
    }
}

fn or_unset(s: &str) -> &str {
    if s.is_empty() { "(unset)" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_asterisk_says_where_it_looked_how_to_build_and_that_nothing_ran() {
        let text = no_asterisk(Path::new("/nowhere/prefix")).to_string();
        assert!(
            text.starts_with("no Asterisk installed at /nowhere/prefix"),
            "{text}"
        );
        assert!(
            text.contains("cargo xtask asterisk build --mirror"),
            "{text}"
        );
        assert!(text.ends_with("nothing was compared"), "{text}");
    }

    #[test]
    fn a_scenario_report_shows_both_sides_and_the_diff() {
        let s = scenarios::SCENARIOS[0];
        let a = Outcome {
            prompts: vec!["vm-intro".into(), "beep".into(), "auth-thankyou".into()],
            vmstatus: "SUCCESS".into(),
            state: BTreeMap::from([("INBOX".to_owned(), 1)]),
            ..Outcome::default()
        };
        let mut b = a.clone();
        b.agistatus = "SUCCESS".into();
        let text = render_scenario(&s, &a, &b, &compare(&a, &b), Duration::from_secs(3));
        assert!(text.contains("   asterisk: vm-intro beep auth-thankyou\n   imapvm:   vm-intro beep auth-thankyou\n"), "{text}");
        assert!(text.contains("VMSTATUS: asterisk SUCCESS, imapvm SUCCESS (AGISTATUS SUCCESS)   exit: asterisk -, imapvm -"), "{text}");
        assert!(text.ends_with("   SAME\n"), "{text}");
        b.prompts.pop();
        b.vmstatus.clear();
        let text = render_scenario(&s, &a, &b, &compare(&a, &b), Duration::from_secs(3));
        assert!(
            text.contains("   DIFFERENT (prompts, VMSTATUS):\n"),
            "{text}"
        );
        assert!(text.contains("     - auth-thankyou\n"), "{text}");
        assert!(text.contains("imapvm (unset)"), "{text}");
    }
}
