//! The FastAGI wire, I/O-free: Asterisk's `agi_*` environment, typed commands, their
//! responses and the out-of-band `HANGUP` line, exactly as `res_agi.c` (Asterisk 22) speaks
//! them.
//!
//! A dialplan line such as `AGI(agi://127.0.0.1:4573/voicemail,1234@default,u)` makes
//! Asterisk connect to a FastAGI server, send the environment (`agi_key: value` lines up to a
//! blank line), then read one command line at a time and answer each with one response. This
//! crate is that conversation, in two layers (imap-codec and imap-next's split, in one crate):
//!
//! * [`codec`]: pure functions. [`Env::parse`] / [`EnvReader`] read the environment
//!   (typed fields, `agi_arg_N` as [`Env::args`], the script's path and `?query` as
//!   [`Script`]); [`Command`] is a typed enum of the commands the voicemail flows need,
//!   built from validated values ([`SoundName`], [`Digits`], [`VarName`], [`Text`]...) and
//!   encoded by `parse_args()`'s rules so that no value can add a word or a line;
//!   [`Response::parse`] / [`ResponseReader`] read `200 result=...`, `510`, `511`, the
//!   multi-line `520` and `HANGUP`; [`Outcome::read`] says what a result means for its
//!   command (a [`Dtmf`] key, a timeout, how a recording ended, `endpos` in samples or
//!   milliseconds).
//! * [`Channel`]: the sans-IO state machine of one connection, with the method families of
//!   quinn-proto and of the other imapvm cores ([`imapvm_types::sansio::Core`]). It waits for
//!   the environment, sends one command at a time (a second one while the first is in flight
//!   is [`Misuse::Busy`]: AGI is lock-step, and Asterisk would take the second line as an
//!   interruption of the first), accepts `HANGUP` wherever it comes, gives every wait a
//!   deadline, bounds every buffer ([`Limits`]), and fails stickily.
//!
//! **Driving it** (the drain order of [`imapvm_types::sansio`]): after every input
//! ([`Channel::handle_input`], [`Channel::handle_eof`], [`Channel::handle_timeout`]) or
//! [`Channel::send`], write every [`Channel::poll_transmit`], take every
//! [`Channel::poll_event`], and arm a timer at [`Channel::poll_timeout`]. `now` is a
//! monotonic instant that never goes backwards; the channel reads no clock.
//!
//! **Hang-up.** When the caller hangs up, the command running answers with its `-1` form
//! ([`Outcome::Failed`] or [`RecordEnd::Hangup`]), then a `HANGUP` line follows
//! ([`Event::Hangup`]), possibly after the next command went out; channel commands then get
//! `511` ([`Error::is_hangup`]). Variables, `EXEC`, `VERBOSE` and `NOOP` still work, so
//! `SET VARIABLE VMSTATUS ...` can still be sent.
//!
//! **Secrets.** A command sent as [`Request::sensitive`] (PIN entry) shows only its name in
//! its transmit's trace, and its response's digits show as `***` in `Debug` ([`Sensitive`]),
//! also in the bytes of an error about it [INV-6].
//!
//! What it does **not** do: no sockets, no tokio, no clock (time is passed in), no call
//! logic (that is `imapvm-ivr`), no AsyncAGI or EAGI audio, no pipelining, no retry.
//!
//! ```
//! use std::time::Instant;
//! use imapvm_agi::{Channel, Command, Config, Digits, Dtmf, Endpos, Event, Outcome, SoundName};
//!
//! let now = Instant::now();
//! let mut agi = Channel::new(Config::default(), now);
//! agi.handle_input(
//!     concat!(
//!         "agi_network: yes\nagi_network_script: voicemail\n",
//!         "agi_request: agi://127.0.0.1:4573/voicemail\n",
//!         "agi_channel: Local/1234@agi-leave-00000003;2\nagi_language: en\nagi_type: Local\n",
//!         "agi_uniqueid: kit-1796587381-8252-vm\nagi_version: 22.10.1\n",
//!         "agi_callerid: 5551001\nagi_calleridname: Bob Caller\nagi_callingpres: 0\n",
//!         "agi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\nagi_dnid: unknown\n",
//!         "agi_rdnis: unknown\nagi_context: agi-leave\nagi_extension: 1234\n",
//!         "agi_priority: 2\nagi_enhanced: 0.0\nagi_accountcode: \n",
//!         "agi_threadid: 140085402068672\nagi_arg_1: 1234@default\nagi_arg_2: u\n\n",
//!     )
//!     .as_bytes(),
//!     now,
//! );
//! let Some(Event::Environment(env)) = agi.poll_event() else { panic!("no environment") };
//! assert_eq!(env.script.map(|s| s.path).as_deref(), Some("voicemail"));
//! assert_eq!(env.args, ["1234@default", "u"]);
//! assert_eq!(env.dnid, None); // `unknown`
//!
//! let intro = Command::StreamFile {
//!     file: SoundName::new("vm-intro")?,
//!     escape: Digits::new("#")?,
//!     offset: None,
//! };
//! let id = agi.send(intro, now)?;
//! let line = agi.poll_transmit(now).expect("the command goes out");
//! assert_eq!(line.as_bytes(), b"STREAM FILE vm-intro \"#\"\n");
//!
//! agi.handle_input(b"200 result=35 endpos=45235\n", now);
//! match agi.poll_event() {
//!     Some(Event::Response { id: answered, outcome: Ok(Outcome::Digit { digit, endpos }) }) => {
//!         assert_eq!(answered, id);
//!         assert_eq!(*digit.value(), Some(Dtmf::Pound));
//!         assert_eq!(endpos, Some(Endpos::Samples(45235)));
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), imapvm_agi::Error>(())
//! ```
#![forbid(unsafe_code)]

mod channel;
pub mod codec;
mod error;
mod limits;

pub use channel::{Channel, CommandId, Config, Event, Request, State, Timeouts, Transmit};
pub use codec::command::{Command, DateFormat};
pub use codec::env::{Env, EnvReader, Script};
pub use codec::outcome::{ChannelState, Outcome, RecordEnd};
pub use codec::response::{Failure, Response, ResponseReader, Success, Usage};
pub use codec::values::{
    AppName, Digits, Endpos, Format, Gender, Sensitive, SoundName, SpokenDigits, Text, VarName,
    Word,
};
pub use error::{
    Closed, Error, LimitExceeded, LimitKind, Misbehaviour, MisbehaviourReason, Misuse, RawBytes,
    Refusal, RefusalKind, WaitingFor,
};
pub use imapvm_types::{Dtmf, DtmfSet, Secret};
pub use limits::{Limits, MAX_COMMAND_LINE, MAX_COMMAND_WORDS};
