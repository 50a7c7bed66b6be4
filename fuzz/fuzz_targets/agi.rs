//! Fuzz target `agi`: arbitrary bytes through imapvm-agi's environment and response parsers,
//! two `Channel`s, and the command encoder.
//!
//! The first input byte picks a chunk size (low 6 bits, so framing across reads is exercised)
//! and how far the clock moves after each chunk (high 2 bits: 10 ms, 3 s, 15 s, 40 min, so
//! the environment, response and media deadlines fire); the rest is the payload.
//! * Codec: what `Env::parse` / `Response::parse` accept encodes and parses back equal.
//! * Channel A reads the payload from the connect on (environment first).
//! * Channel B reads Asterisk's real environment, then the payload as responses, with a
//!   command in flight whenever it is ready (every third one sensitive).
//! * Encoder: texts and names made from the payload are refused or encode to one LF-ended
//!   line without CR within res_agi's limits.
//! Must never panic. Invariants: at most `max_line` bytes buffered; at most one environment;
//! nothing after `Failed`; a sensitive command's digits and values are redacted, a plain
//! one's are not, and a misbehaviour about a sensitive response keeps only `***`.
#![no_main]

use imapvm_agi::{
    AppName, Channel, Command, CommandId, Config, DateFormat, Digits, Dtmf, Env, Error, Event,
    Format, Limits, MAX_COMMAND_LINE, Outcome, Request, Response, SoundName, SpokenDigits, State,
    Text, Timeouts, VarName, Word,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const ENV: &[u8] = b"agi_network: yes\nagi_network_script: voicemail\n\
agi_request: agi://127.0.0.1:4573/voicemail\nagi_channel: Local/1234@agi-leave-00000003;2\n\
agi_language: en\nagi_type: Local\nagi_uniqueid: kit-1796587381-8252-vm\nagi_version: 22.10.1\n\
agi_callerid: 5551001\nagi_calleridname: Bob Caller\nagi_callingpres: 0\nagi_callingani2: 0\n\
agi_callington: 0\nagi_callingtns: 0\nagi_dnid: unknown\nagi_rdnis: unknown\n\
agi_context: agi-leave\nagi_extension: 1234\nagi_priority: 2\nagi_enhanced: 0.0\n\
agi_accountcode: \nagi_threadid: 140085402068672\nagi_arg_1: 1234@default\nagi_arg_2: u\n\n";

fn limits() -> Limits {
    Limits {
        max_line: 512,
        max_env_lines: 64,
        max_env_bytes: 4096,
        max_usage_lines: 8,
    }
}

fn codec(payload: &[u8]) {
    let limits = limits();
    if let Ok(mut env) = Env::parse(payload, &limits) {
        let bytes = env.encode().expect("a parsed environment encodes");
        let again = Env::parse(&bytes, &limits).expect("an encoded environment parses");
        // Lossy values were replaced once; the encoding is UTF-8.
        env.lossy.clear();
        assert_eq!(again, env, "environment round trip");
    }
    if let Ok(response) = Response::parse(payload, &limits) {
        let bytes = response.encode().expect("a parsed response encodes");
        assert_eq!(
            Response::parse(&bytes, &limits).expect("an encoded response parses"),
            response,
            "response round trip"
        );
    }
}

fn commands() -> Vec<Command> {
    let sound = |s| SoundName::new(s).expect("valid");
    let text = |s| Text::new(s).expect("valid");
    vec![
        Command::Answer,
        Command::StreamFile {
            file: sound("vm-intro"),
            escape: Digits::ANY,
            offset: None,
        },
        Command::GetData {
            file: sound("vm-password"),
            timeout: None,
            max_digits: Some(79),
        },
        Command::ControlStreamFile {
            file: sound("msg0000"),
            stop: Digits::new("123456789").expect("valid"),
            skip: Duration::from_secs(3),
            forward: Dtmf::Pound,
            rewind: Dtmf::Star,
            pause: Some(Dtmf::Zero),
            offset: None,
        },
        Command::GetOption {
            file: sound("vm-options"),
            escape: Digits::ANY,
            timeout: None,
        },
        Command::WaitForDigit {
            timeout: Some(Duration::from_secs(2)),
        },
        Command::RecordFile {
            file: sound("/tmp/rec1"),
            format: Format::new("wav").expect("valid"),
            escape: Digits::new("#0").expect("valid"),
            timeout: Some(Duration::from_secs(10)),
            offset: None,
            beep: true,
            silence: Some(3),
        },
        Command::SayNumber {
            number: 3,
            escape: Digits::ANY,
            gender: None,
        },
        Command::SayDigits {
            digits: SpokenDigits::new("1234").expect("valid"),
            escape: Digits::ANY,
        },
        Command::SayDateTime {
            time: 1_796_587_333,
            escape: Digits::ANY,
            format: Some(DateFormat {
                format: text("'vm-received' q 'digits/at' IMp"),
                zone: None,
            }),
        },
        Command::SetVariable {
            name: VarName::new("VMSTATUS").expect("valid"),
            value: text("SUCCESS"),
        },
        Command::GetVariable {
            name: VarName::new("VMSTATUS").expect("valid"),
        },
        Command::GetFullVariable {
            expression: text("${VMSTATUS}"),
            channel: None,
        },
        Command::Exec {
            application: AppName::new("Goto").expect("valid"),
            args: text("a,1"),
        },
        Command::Verbose {
            message: text("hi"),
            level: Some(1),
        },
        Command::ChannelStatus { channel: None },
        Command::SetContext {
            context: Word::new("vm-uut").expect("valid"),
        },
        Command::Hangup { channel: None },
        Command::Noop,
    ]
}

struct Run {
    ch: Channel,
    now: Instant,
    sensitive: HashMap<CommandId, bool>,
    awaiting: Option<CommandId>,
    envs: usize,
    failed: bool,
    next: usize,
    commands: Vec<Command>,
}

impl Run {
    fn drain(&mut self) {
        while self.ch.poll_transmit(self.now).is_some() {}
        while let Some(e) = self.ch.poll_event() {
            assert!(!self.failed, "an event after Failed: {e:?}");
            self.check(&e);
        }
        assert!(self.ch.buffered() <= limits().max_line, "unbounded buffer");
        if self.failed {
            assert_eq!(self.ch.state(), State::Failed);
        }
    }

    /// Checks one event against what was sent.
    fn check(&mut self, event: &Event) {
        let secret = |id: &CommandId| *self.sensitive.get(id).expect("a command that was sent");
        match event {
            Event::Environment(_) => {
                self.envs += 1;
                assert!(self.envs <= 1, "a second environment");
            }
            Event::Hangup => {}
            Event::Failed(e) => {
                if let (Error::Misbehaviour(m), Some(id)) = (e, &self.awaiting) {
                    if secret(id) {
                        assert_eq!(m.bytes.as_bytes(), b"***", "sensitive bytes kept");
                    }
                }
                self.failed = true;
            }
            Event::Response { id, outcome } => {
                assert_eq!(self.awaiting.take(), Some(*id), "lock-step");
                let secret = secret(id);
                match outcome {
                    Ok(Outcome::Digit { digit, .. }) => assert_eq!(digit.is_redacted(), secret),
                    Ok(Outcome::Entered { digits, .. }) => {
                        assert_eq!(digits.is_redacted(), secret);
                        if secret {
                            assert_eq!(format!("{digits:?}"), "***");
                        }
                    }
                    Ok(Outcome::Variable(value)) => assert_eq!(value.is_redacted(), secret),
                    Err(Error::Misbehaviour(m)) if secret => {
                        assert_eq!(m.bytes.as_bytes(), b"***");
                    }
                    _ => {}
                }
            }
        }
    }

    fn send_if_ready(&mut self) {
        if self.ch.state() != State::Ready {
            return;
        }
        let command = self.commands[self.next % self.commands.len()].clone();
        let secret = self.next % 3 == 2;
        self.next += 1;
        let request = if secret {
            Request::new(command).sensitive()
        } else {
            Request::new(command)
        };
        let id = self
            .ch
            .send(request, self.now)
            .expect("a ready channel sends");
        self.sensitive.insert(id, secret);
        self.awaiting = Some(id);
        self.drain();
    }

    fn feed(&mut self, payload: &[u8], chunk: usize, step: Duration) {
        for piece in payload.chunks(chunk) {
            self.send_if_ready();
            self.ch.handle_input(piece, self.now);
            self.drain();
            self.now += step;
            if self.ch.poll_timeout().is_some_and(|d| d <= self.now) {
                self.ch.handle_timeout(self.now);
                self.drain();
            }
        }
        self.send_if_ready();
        if let Some(deadline) = self.ch.poll_timeout() {
            self.ch.handle_timeout(deadline);
            self.drain();
        }
        self.ch.handle_eof();
        self.drain();
        if self.failed {
            assert!(self.ch.send(Command::Noop, self.now).is_err(), "not sticky");
        }
    }
}

fn channel(prefix: &[u8], payload: &[u8], chunk: usize, step: Duration) {
    let now = Instant::now();
    let config = Config {
        limits: limits(),
        timeouts: Timeouts {
            environment: Duration::from_secs(10),
            response: Duration::from_secs(10),
            media: Duration::from_secs(30 * 60),
            slack: Duration::from_secs(10),
        },
    };
    let mut run = Run {
        ch: Channel::new(config, now),
        now,
        sensitive: HashMap::new(),
        awaiting: None,
        envs: 0,
        failed: false,
        next: 0,
        commands: commands(),
    };
    run.ch.handle_input(prefix, now);
    run.drain();
    run.feed(payload, chunk, step);
}

fn encoder(payload: &[u8]) {
    let s = String::from_utf8_lossy(payload);
    let mut built = Vec::new();
    if let Ok(value) = Text::new(&s) {
        built.push(Command::Verbose {
            message: value.clone(),
            level: None,
        });
        built.push(Command::SetVariable {
            name: VarName::new("X").expect("valid"),
            value,
        });
    }
    if let Ok(file) = SoundName::new(&s) {
        built.push(Command::StreamFile {
            file,
            escape: Digits::NONE,
            offset: None,
        });
    }
    if let Ok(w) = Word::new(&s) {
        built.push(Command::Hangup { channel: Some(w) });
    }
    if let Ok(name) = VarName::new(&s) {
        built.push(Command::GetVariable { name });
    }
    if let Ok(digits) = SpokenDigits::new(&s) {
        built.push(Command::SayDigits {
            digits,
            escape: Digits::new(&s).unwrap_or(Digits::ANY),
        });
    }
    for c in built {
        if let Ok(line) = c.encode() {
            assert!(line.len() <= MAX_COMMAND_LINE);
            assert_eq!(
                line.iter().position(|&b| b == b'\n'),
                Some(line.len() - 1),
                "one line"
            );
            assert!(!line.contains(&b'\r') && !line.contains(&0), "no CR or NUL");
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&first, payload)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first % 64) + 1;
    let step = [
        Duration::from_millis(10),
        Duration::from_secs(3),
        Duration::from_secs(15),
        Duration::from_secs(40 * 60),
    ][usize::from(first >> 6)];
    codec(payload);
    channel(b"", payload, chunk, step);
    channel(ENV, payload, chunk, step);
    encoder(payload);
});
