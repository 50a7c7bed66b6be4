//! Asterisk's voicemail call flows as a deterministic state machine: `VoiceMail()` (leave
//! a message) today, `VoiceMailMain()` next.
//!
//! A [`Call`] is driven like quinn-proto's connection: inputs in ([`Call::handle`]: a
//! digit, a timeout, a prompt finished, a recording finished, a hangup, a store reply),
//! actions out ([`Call::poll_action`]: play prompts, record, wait for a digit, ask the
//! store, finish with `VMSTATUS` and an exit). Time is passed in ([`Tick`]).
//!
//! This crate does **not** speak AGI (that is `imapvm-agi`), touch IMAP or files (the
//! binding maps [`StoreOp`]s onto the runtime and names the files), read a clock, or do
//! any I/O. `imapvm-phone` joins the three.
//!
//! ```
//! use imapvm_ivr::*;
//! use std::time::{Duration, Instant};
//!
//! let tick = Tick { mono: Instant::now(), wall: 1_796_587_333 };
//! let leave = Leave {
//!     args: LeaveArgs::parse(&["1234@default", "u"])?,
//!     recording: SpoolName::new("/var/spool/asterisk/imapvm/call-1")?,
//! };
//! let mut call = Call::new(Flow::Leave(leave), Settings::default(), tick);
//!
//! // Answer every action the way a binding would: no greetings exist, the box has room,
//! // the caller listens through and presses # after 7 s of speech.
//! let mut heard = Vec::new();
//! let mut status = None;
//! while status.is_none() {
//!     let action = call.poll_action().expect("the call waits for nothing but its answers");
//!     let input = match action {
//!         Action::Store { id, op: StoreOp::Admit { .. } } => {
//!             Input::StoreReply { id, reply: StoreReply::Admit(Admission::Admitted) }
//!         }
//!         Action::Store { id, op: StoreOp::Greeting { .. } } => {
//!             Input::StoreReply { id, reply: StoreReply::Greeting(None) }
//!         }
//!         Action::Store { id, op: StoreOp::Deposit(deposit) } => {
//!             assert_eq!(deposit.duration_secs, Some(7));
//!             Input::StoreReply { id, reply: StoreReply::Deposit(DepositOutcome::Queued) }
//!         }
//!         Action::Channel { id, action: ChannelAction::Play { prompts, .. } } => {
//!             heard.extend(prompts.iter().map(|p| p.to_string()));
//!             Input::PromptDone { id, interrupted_by: None }
//!         }
//!         Action::Channel { id, action: ChannelAction::Record(_) } => Input::Recorded {
//!             id,
//!             duration: Duration::from_secs(7),
//!             ended_by: RecordEnd::Dtmf(Dtmf::Pound),
//!         },
//!         Action::Finished { vmstatus, .. } => {
//!             status = vmstatus;
//!             continue;
//!         }
//!         other => panic!("unexpected {other}"),
//!     };
//!     call.handle(input, tick)?;
//! }
//! assert_eq!(status, Some(VmStatus::Success));
//! assert_eq!(
//!     heard,
//!     ["vm-theperson", "digits/1", "digits/2", "digits/3", "digits/4", "vm-isunavail",
//!      "vm-intro", "beep", "auth-thankyou"]
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod args;
mod call;
mod io;
mod keys;
mod leave;
mod names;
mod prompt;
mod settings;

pub use args::{
    ArgsError, Beep, GreetingOption, LeaveArgs, LeaveOptions, MAX_OPTIONS, MAX_RECIPIENTS,
};
pub use call::{Call, Flow, Misuse};
pub use imapvm_types::{MailboxId, Uid};
pub use io::{
    Action, ActionId, Admission, ChannelAction, Deposit, DepositOutcome, Exit, ExitExtension,
    FullBy, GreetingKind, Input, RecordEnd, RecordSpec, StoreOp, StoreReply, Tick, Urgency,
    VmStatus,
};
pub use keys::{Dtmf, Keys};
pub use leave::Leave;
pub use names::{MAX_FORMAT, MAX_SPOOL_NAME, NameError, RecordFormat, SpoolName};
pub use prompt::{Digit, Prompt};
pub use settings::{Dialplan, Settings};
