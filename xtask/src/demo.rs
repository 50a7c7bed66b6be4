//! `cargo xtask demo`: voicemail on the private Dovecot, end to end, in plain words.
//!
//! Starts the private Dovecot (unless it runs already), then, with the voicemail.conf it
//! generated, uses the `imapvm` command line to deposit three voicemails (tones written
//! here as WAV files), list them and count them; has an independent mail client (Python's
//! imaplib, not our code) mark one heard and delete another; counts again; plays one to a
//! file and checks the audio. Stops the server it started unless `--keep`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;
use xtask::dovecot;
use xtask::mail_client;
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
}

impl Cli {
    /// Runs `imapvm -c CONF ARGS`; returns stdout, or the one-line reason on failure.
    fn run(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(&self.binary)
            .arg("-c")
            .arg(&self.config)
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

fn scenario(binary: &Path, info: &ServerInfo) -> Result<()> {
    let cli = Cli {
        binary: binary.to_path_buf(),
        config: info.voicemail_conf.clone(),
    };
    let work = target_dir().join("imapvm-demo");
    mkdir(&work)?;
    println!("   voicemail.conf: {}", info.voicemail_conf.display());

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
