//! Benchmark payloads: wav49 (GSM 6.10 in WAV) audio of a given length, the
//! voicemail message Asterisk would APPEND for it (built by `imapvm-message`
//! in Asterisk-exact mode), and ordinary e-mails for shared folders.
//!
//! The audio is not speech: a real WAV/GSM header followed by pseudo-random
//! frames of the right size (65 bytes per 40 ms, 1,625 bytes per second), which
//! is what matters for the wire and for base64.

use imapvm_message::{AudioPart, Envelope, Flag, Mode, Settings, Voicemail, build};

use crate::error::{BenchError, Result};

/// wav49 bytes per second of audio (65-byte GSM frame pairs, 25 per second).
pub const WAV49_BYTES_PER_SEC: usize = 1625;

/// A fixed epoch for every generated message (2026-11-26 06:21:59 UTC).
pub const EPOCH: i64 = 1_795_674_119;

/// Deterministic xorshift64* bytes (no clock, no OS randomness).
#[derive(Debug, Clone)]
pub struct Noise(u64);

impl Noise {
    /// A generator seeded with `seed` (0 is replaced by a constant).
    pub fn new(seed: u64) -> Noise {
        Noise(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Fills `out`.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// A wav49 file of `secs` seconds: the 60-byte WAV header Asterisk's GSM
/// writer produces (format 0x31, 8 kHz, 1625 B/s, block align 65, 320
/// samples per block) and pseudo-random frames.
pub fn wav49(secs: u32, seed: u64) -> Vec<u8> {
    let data_len = WAV49_BYTES_PER_SEC * secs as usize;
    let samples = 8000 * secs;
    let mut out = Vec::with_capacity(60 + data_len);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((52 + data_len) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&20u32.to_le_bytes());
    out.extend_from_slice(&0x31u16.to_le_bytes()); // WAVE_FORMAT_GSM610
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&1625u32.to_le_bytes());
    out.extend_from_slice(&65u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&320u16.to_le_bytes());
    out.extend_from_slice(b"fact");
    out.extend_from_slice(&4u32.to_le_bytes());
    out.extend_from_slice(&samples.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data_len as u32).to_le_bytes());
    let start = out.len();
    out.resize(start + data_len, 0);
    Noise::new(seed).fill(&mut out[start..]);
    out
}

/// Who a generated voicemail is for, and how it looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoicemailSpec {
    /// Mailbox number (also the `X-Asterisk-VM-Extension`).
    pub mailbox: String,
    /// Context.
    pub context: String,
    /// Message number (1-based).
    pub msgnum: u32,
    /// Seconds of audio.
    pub secs: u32,
    /// Urgent (stored `\Flagged`).
    pub urgent: bool,
}

/// The settings generated messages are built with.
pub fn settings(mailbox: &str) -> Settings {
    Settings {
        full_name: format!("Bench Mailbox {mailbox}"),
        imap_user: format!("bench{mailbox}"),
        server_email: "asterisk-peer@vm.example.test".into(),
        ..Settings::default()
    }
}

/// The message Asterisk 22 would APPEND for `spec` (Asterisk-exact layout).
pub fn voicemail(spec: &VoicemailSpec) -> Result<Vec<u8>> {
    let settings = settings(&spec.mailbox);
    let time = EPOCH + i64::from(spec.msgnum);
    let fail = |e: &dyn std::fmt::Display| {
        BenchError::Scenario(format!("building voicemail {}: {e}", spec.msgnum))
    };
    let audio = wav49(spec.secs, u64::from(spec.msgnum) + 1);
    let voicemail = Voicemail {
        mailbox: spec.mailbox.clone(),
        context: spec.context.clone(),
        extension: spec.mailbox.clone(),
        msgnum: spec.msgnum,
        flag: if spec.urgent {
            Flag::Urgent
        } else {
            Flag::None
        },
        priority: 2,
        caller_id_num: format!("555{:04}", spec.msgnum % 10_000),
        caller_id_name: "Bench Caller".into(),
        duration_secs: spec.secs,
        orig_time: time,
        orig_date: settings.email_date(time).map_err(|e| fail(&e))?,
        msg_id: Some(format!("{time}-{:08}", spec.msgnum)),
        audio: vec![AudioPart::recording(spec.msgnum, "wav49", audio)],
        ..Voicemail::default()
    };
    let envelope = Envelope {
        date: time,
        message_id: Envelope::asterisk_message_id(
            spec.msgnum,
            719_206_884,
            &spec.mailbox,
            27960,
            "vm",
        ),
        boundary: Envelope::asterisk_boundary(spec.msgnum, &spec.mailbox, 27960, 1_097_739_035),
        hostname: "vm".into(),
    };
    build(&voicemail, &settings, &envelope, Mode::AsteriskExact).map_err(|e| fail(&e))
}

/// An ordinary e-mail (no voicemail headers), about 1 KB, numbered `n`.
pub fn ordinary_email(n: u32) -> Vec<u8> {
    let mut body = String::new();
    let mut noise = Noise::new(u64::from(n) + 7);
    for _ in 0..12 {
        let words: Vec<String> = (0..10)
            .map(|_| format!("w{:x}", noise.next_u64() % 0xfffff))
            .collect();
        body.push_str(&words.join(" "));
        body.push_str("\r\n");
    }
    format!(
        "Date: Thu, 26 Nov 2026 06:{:02}:{:02} +0000\r\n\
         From: Colleague {n} <colleague{n}@example.test>\r\n\
         To: Sales Desk <sales@example.test>\r\n\
         Subject: Re: quote request #{n}\r\n\
         Message-ID: <bench-{n}@example.test>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n{body}",
        (n / 60) % 60,
        n % 60
    )
    .into_bytes()
}
