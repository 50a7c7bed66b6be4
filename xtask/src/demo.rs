//! `cargo xtask demo`: voicemail on the private Dovecot, end to end, in plain words.
//!
//! Starts the private Dovecot (unless it runs already), then, with the voicemail.conf it
//! generated, uses the `imapvm` command line to deposit three voicemails (tones written
//! here as WAV files), list them and count them; has an independent mail client (Python's
//! imaplib, not our code) mark one heard and delete another; counts again; plays one to a
//! file and checks the audio. Meanwhile `imapvm watch` runs with a webhook from the demo's
//! imapvm.conf (imapvm's own options, beside voicemail.conf by default, here given with
//! `--imapvm-conf`) and POSTs each change to a receiver in this process.
//! Stops the server it started unless `--keep`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use xtask::dovecot;
use xtask::mail_client;
use xtask::pbx::{WebhookReceiver, WebhookReceiverConfig};
use xtask::server::{HarnessError, Result, ServerInfo, mkdir, target_dir, workspace_root};

/// The mailbox of the generated voicemail.conf the demo uses.
const MAILBOX: &str = "1234@default";

/// A 16-bit mono 8 kHz WAV: a tone of `freq` Hz for `millis` ms, with a short fade.
fn tone(millis: u32, freq: f64) -> Vec<u8> {
    let rate = 8000u32;
    let samples = rate * millis / 1000;
    let mut data = Vec::with_capacity(samples as usize * 2);
    for i in 0..samples {
        let t = f64::from(i) / f64::from(rate);
        let edge = f64::from(i.min(samples - i)) / 400.0;
        let v = (t * freq * std::f64::consts::TAU).sin() * 9000.0 * edge.min(1.0);
        data.extend_from_slice(&(v as i16).to_le_bytes());
    }
    let mut out = Vec::with_capacity(44 + data.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// The `imapvm` binary, built first.
pub(crate) fn imapvm_binary() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--quiet",
            "--package",
            "imapvm-cli",
            "--bin",
            "imapvm",
        ])
        .status()
        .map_err(|e| HarnessError::io("building imapvm", e))?;
    if !status.success() {
        return Err(HarnessError(format!("building imapvm failed: {status}")));
    }
    Ok(target_dir().join("debug").join("imapvm"))
}

struct Cli {
    binary: PathBuf,
    config: PathBuf,
    imapvm_conf: PathBuf,
}

impl Cli {
    /// `imapvm -c CONF --imapvm-conf FILE`.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("-c")
            .arg(&self.config)
            .arg("--imapvm-conf")
            .arg(&self.imapvm_conf);
        cmd
    }

    /// Runs `imapvm -c CONF --imapvm-conf FILE ARGS`; returns stdout, or the one-line
    /// reason on failure.
    fn run(&self, args: &[&str]) -> Result<String> {
        let out = self
            .command()
            .args(args)
            .output()
            .map_err(|e| HarnessError::io("running imapvm", e))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(HarnessError(format!(
                "imapvm {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    fn json(&self, args: &[&str]) -> Result<Value> {
        let mut all = args.to_vec();
        all.push("--json");
        let text = self.run(&all)?;
        serde_json::from_str(&text)
            .map_err(|e| HarnessError(format!("imapvm {}: not JSON ({e}): {text}", args.join(" "))))
    }

    fn counts(&self) -> Result<(u64, u64, u64)> {
        let v = self.json(&["count", MAILBOX])?;
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        Ok((n("new"), n("urgent"), n("old")))
    }
}

fn say(text: &str) {
    println!("\n== {text}");
}

fn indent(text: &str) {
    for line in text.lines() {
        println!("   {line}");
    }
}

/// Runs the demo. With `keep`, the server stays up afterwards.
pub fn run(keep: bool) -> Result<()> {
    let started = Instant::now();
    say("Building the imapvm command line");
    let binary = imapvm_binary()?;
    println!("   built in {:.1} s", started.elapsed().as_secs_f64());
    let demo_started = Instant::now();

    say("Starting the private Dovecot (loopback only, its own config and mail store)");
    let (info, child) = dovecot::start()?;
    let we_started = child.is_some();
    println!(
        "   IMAP with STARTTLS on {}:{}, {}",
        info.host,
        info.port,
        if we_started {
            "started now"
        } else {
            "it was already running"
        }
    );
    let result = scenario(&binary, &info);
    if we_started && !keep {
        say("Stopping the Dovecot this demo started");
        dovecot::stop(child)?;
    } else if we_started {
        println!(
            "\nThe server keeps running (--keep). Try: {} -c {} list {MAILBOX}\nStop it with: cargo xtask dovecot stop",
            binary.display(),
            info.voicemail_conf.display()
        );
    }
    result?;
    println!(
        "\nDone in {:.1} s ({:.1} s after the build).",
        started.elapsed().as_secs_f64(),
        demo_started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `imapvm --json watch --mailbox MAILBOX` in the background, its event lines in a channel.
struct Watch {
    child: Child,
    events: mpsc::Receiver<Value>,
}

impl Watch {
    fn start(cli: &Cli) -> Result<Watch> {
        let mut child = cli
            .command()
            .args(["--json", "watch", "--mailbox", MAILBOX])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| HarnessError::io("starting imapvm watch", e))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| HarnessError("imapvm watch has no stdout".into()))?;
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        Ok(Watch { child, events })
    }

    /// SIGTERM, as systemd stops it; waits for the exit.
    fn stop(mut self) -> Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(HarnessError("imapvm watch did not stop on SIGTERM".into()))
    }
}

fn scenario(binary: &Path, info: &ServerInfo) -> Result<()> {
    let work = target_dir().join("imapvm-demo");
    mkdir(&work)?;
    let hooks = WebhookReceiver::start(WebhookReceiverConfig::default())
        .map_err(|e| HarnessError::io("starting the webhook receiver", e))?;
    let imapvm_conf = work.join("imapvm.conf");
    std::fs::write(
        &imapvm_conf,
        format!(
            "; imapvm's own options for the demo (the real one is /etc/asterisk/imapvm.conf)\n\
             [general]\nwebhook = {}\n",
            hooks.url("/mwi")
        ),
    )
    .map_err(|e| HarnessError::io("writing imapvm.conf", e))?;
    let cli = Cli {
        binary: binary.to_path_buf(),
        config: info.voicemail_conf.clone(),
        imapvm_conf,
    };
    println!("   voicemail.conf: {}", info.voicemail_conf.display());
    println!("   imapvm.conf:    {}", cli.imapvm_conf.display());

    say("imapvm config check: voicemail.conf and imapvm.conf");
    let check = cli.run(&["config", "check"])?;
    indent(check.lines().last().unwrap_or_default());

    let watch = Watch::start(&cli)?;
    let result = with_watch(&cli, info, &work, &watch, &hooks);
    let stopped = watch.stop();
    result?;
    stopped
}

fn with_watch(
    cli: &Cli,
    info: &ServerInfo,
    work: &Path,
    watch: &Watch,
    hooks: &WebhookReceiver,
) -> Result<()> {
    let first = watch
        .events
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| HarnessError("imapvm watch printed no event in 30 s".into()))?;
    say(&format!(
        "imapvm watch runs in the background (webhook from imapvm.conf); it starts with {}@{}: {} new, {} old",
        first["mailbox"].as_str().unwrap_or("?"),
        first["context"].as_str().unwrap_or("?"),
        first["new"],
        first["old"]
    ));

    let (new0, urgent0, old0) = cli.counts()?;
    say(&format!(
        "Mailbox {MAILBOX} (IMAP user vm1234) before: {new0} new, {urgent0} urgent, {old0} heard"
    ));

    say("Leaving three voicemails (tones generated by this demo, written as WAV files)");
    let callers = [
        ("\"Bob Builder\" <5551001>", 1800, 440.0, false),
        ("\"Carol Urgent\" <5551002>", 1200, 660.0, true),
        ("\"Dave Later\" <5551003>", 2400, 330.0, false),
    ];
    let mut uids = Vec::new();
    let mut recordings = Vec::new();
    for (i, (caller, millis, freq, urgent)) in callers.iter().enumerate() {
        let wav = tone(*millis, *freq);
        let path = work.join(format!("recording-{}.wav", i + 1));
        std::fs::write(&path, &wav).map_err(|e| HarnessError::io("writing a WAV", e))?;
        let path_text = path.to_string_lossy().into_owned();
        let mut args = vec![
            "deposit", MAILBOX, "--audio", &path_text, "--caller", caller,
        ];
        if *urgent {
            args.push("--urgent");
        }
        let v = cli.json(&args)?;
        let r = &v["results"][0];
        let uid = r["uid"].as_u64().unwrap_or(0);
        println!(
            "   {caller}: {:.1} s{}, stored as message {} (IMAP UID {uid}); the box now has {} new, {} urgent",
            f64::from(*millis) / 1000.0,
            if *urgent { ", urgent" } else { "" },
            r["msgnum"],
            r["new"],
            r["urgent"]
        );
        uids.push(uid);
        recordings.push(wav);
    }

    say("imapvm list: what the mailbox holds now");
    indent(&cli.run(&["list", MAILBOX])?);
    let (new1, urgent1, old1) = cli.counts()?;
    println!("   count: {new1} new, {urgent1} urgent, {old1} heard");

    say(
        "The user's mail client (Python imaplib, not imapvm) marks Bob's message read and deletes Dave's",
    );
    let script = format!(
        r#"
m = connect("vm1234")
check(m.select("INBOX"), "select")
check(m.uid("STORE", "{read}", "+FLAGS", "(\\Seen)"), "mark read")
check(m.uid("STORE", "{gone}", "+FLAGS", "(\\Deleted)"), "delete")
check(m.uid("EXPUNGE", "{gone}"), "expunge")
print("marked UID {read} \\Seen; deleted and expunged UID {gone}")
m.logout()
"#,
        read = uids[0],
        gone = uids[2]
    );
    indent(&mail_client::run(info, &script)?);

    let (new2, urgent2, old2) = cli.counts()?;
    say(&format!(
        "imapvm count sees it: {new2} new (was {new1}), {urgent2} urgent (was {urgent1}), {old2} heard (was {old1})"
    ));
    // The same counts as `count`'s, in the JSON `watch --json` prints.
    let shows = |r: &xtask::pbx::HttpRequest| {
        serde_json::from_slice::<Value>(&r.body).is_ok_and(|v| {
            (v["new"].as_u64(), v["urgent"].as_u64(), v["old"].as_u64())
                == (Some(new2), Some(urgent2), Some(old2))
        })
    };
    let (ok, requests) = hooks.wait_for(Duration::from_secs(15), |r| r.iter().any(shows));
    match requests.iter().rev().find(|r| shows(r)) {
        Some(r) if ok => println!(
            "   imapvm watch saw the mail client's change too and POSTed it to the webhook: {}",
            String::from_utf8_lossy(&r.body)
        ),
        _ => {
            return Err(HarnessError(format!(
                "the webhook got no event with the new counts in 15 s ({} request(s))",
                requests.len()
            )));
        }
    }
    indent(&cli.run(&["list", MAILBOX])?);
    indent(&cli.run(&["count", MAILBOX, "--message-summary"])?);

    say("Playing Carol's urgent message to a file (this marks it heard)");
    let out = work.join("played.wav");
    let out_text = out.to_string_lossy().into_owned();
    let uid_text = uids[1].to_string();
    indent(&cli.run(&["play", MAILBOX, "--uid", &uid_text, "-o", &out_text])?);
    let played = std::fs::read(&out).map_err(|e| HarnessError::io("reading the played file", e))?;
    if played == recordings[1] {
        println!(
            "   {} holds exactly the {} bytes that were deposited.",
            out.display(),
            played.len()
        );
    } else {
        return Err(HarnessError(format!(
            "the played audio ({} bytes) differs from the deposited recording ({} bytes)",
            played.len(),
            recordings[1].len()
        )));
    }
    let (new3, urgent3, old3) = cli.counts()?;
    say(&format!(
        "In the end: {new3} new, {urgent3} urgent, {old3} heard. Bob's message was heard in the mail client, \
         Dave's is gone, Carol's urgent message was played by imapvm."
    ));
    let expected = (new1.saturating_sub(2), urgent1.saturating_sub(1), old1 + 2);
    if (new3, urgent3, old3) != expected {
        return Err(HarnessError(format!(
            "counts ended at {:?}, expected {:?}",
            (new3, urgent3, old3),
            expected
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tones_are_valid_pcm_wavs_of_the_asked_length() {
        let wav = tone(1500, 440.0);
        assert_eq!(&wav[0..4], b"RIFF");
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        // 1.5 s at 8 kHz, 16 bit mono.
        assert_eq!(wav.len(), 44 + 12_000 * 2);
        assert_ne!(tone(100, 440.0), tone(100, 660.0));
    }
}
