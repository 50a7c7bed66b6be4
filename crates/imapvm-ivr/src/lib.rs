//! Asterisk's voicemail call flows as a deterministic state machine: `VoiceMail()` (leave
//! a message) today; `VoiceMailMain()` is to be added on the same [`Call`].
//!
//! A [`Call`] is driven like quinn-proto's connection. Inputs go in through
//! [`Call::handle`]: a digit, a timeout, a prompt finished, a recording finished, a hangup,
//! a store reply. Actions come out through [`Call::poll_action`]: play prompts, record,
//! wait for a digit, ask the store, and finally [`Action::Finished`] with `VMSTATUS` and
//! the dialplan exit. Every input carries a [`Tick`] with both clocks; the crate reads none.
//! [`Call`] documents the drain order and the invariants.
//!
//! What it does **not** do: it speaks no AGI (that is `imapvm-agi`: the binding turns a
//! [`ChannelAction`] into `STREAM FILE`, `RECORD FILE`, `WAIT FOR DIGIT`, …), touches no
//! IMAP server and no file (the binding maps each [`StoreOp`] onto the runtime, fetches
//! greetings into the spool and names the files, see [`SpoolName`]), reads no clock and
//! does no I/O. The binding also answers the channel before the call starts (VoiceMail
//! answers at once), sets `VMSTATUS` and the exit from [`Action::Finished`], and builds
//! the stored email from a [`Deposit`] exactly as `imapvm deposit` does.
//!
//! # The VoiceMail flow
//!
//! [`LeaveArgs::parse`] reads `agi://HOST:4573/voicemail,BOX@CONTEXT[&BOX2@CTX2…],OPTIONS`;
//! [`Flow::Leave`] runs it, step for step as Asterisk 22's `leave_voicemail` and
//! `play_record_review` (the reference is `asterisk-voicemail-ivr.md` §1):
//!
//! 1. The store is asked, concurrently, whether a message may be left
//!    ([`StoreOp::Admit`]) and which greetings exist ([`StoreOp::Greeting`]: `temp`, and
//!    `busy`/`unavail` for `b`/`u`; the name `greet` only once the `b`/`u` greeting is
//!    known to be missing). An unknown mailbox ends the call: `VMSTATUS=FAILED`, nothing
//!    played.
//! 2. The greeting: `temp` wins, even without `b`/`u`; else the `busy`/`unavail` file; else,
//!    for `b`/`u`, the invented one (the recorded name, or `vm-theperson` and the mailbox
//!    digit by digit, then `vm-isonphone`/`vm-isunavail`); else none at all. `#`, `*` (if
//!    extension `a` exists) and `0` (`operator=yes` and extension `o`) interrupt it.
//! 3. `vm-intro`, unless `s`, `S` after a greeting file, `#` in the greeting, or a
//!    greetings-only mailbox (`maxmsg=0`). The same keys; `#` cuts it short.
//! 4. `*` leaves to `a` (`USEREXIT`); `0` plays `transfer` and leaves to `o` (`USEREXIT`);
//!    a greetings-only mailbox ends with `SUCCESS`; a full mailbox (maxmsg or quota) hears
//!    `vm-mailboxfull` and ends with `FAILED`, nothing recorded.
//! 5. `beep` (or `t(file)`, or nothing for a bare `t`), uninterruptible, then the
//!    recording under `maxsecs`, `maxsilence` and `silencethreshold`. `#` accepts it; `0`
//!    (with `operator=yes`) goes to the operator save menu; other keys are ignored. After
//!    `#`, the maximum length or silence: `auth-thankyou`.
//! 6. With `review=yes` the review menu: `vm-review` (+ `vm-review-urgent` or
//!    `-nonurgent` with `leaveurgent=yes`, + `vm-reachoper` with `operator=yes`), a 6 s
//!    wait; `1` keeps it (`vm-msgsaved`), `2` plays it back, `3` records again (`vm-intro`,
//!    `beep`), `4` toggles Urgent, `0` reaches the operator, `5`-`9` `*` `#` get
//!    `vm-sorry`; four silent rounds keep it and say `vm-goodbye`. The operator save menu:
//!    `vm-saveoper`, a 3 s wait; `1` keeps, `4` keeps as Urgent, anything else deletes;
//!    then `transfer` and `o` if it exists.
//! 7. The recording is deposited ([`StoreOp::Deposit`]) the moment keeping it is decided
//!    (at the end of the recording without review, at the choice with review, at a
//!    hangup), or discarded ([`StoreOp::Discard`]) when it is shorter than `minsecs` or
//!    deleted. Exactly one of the two, once, for every call that started the recorder.
//!    `VMSTATUS` is `SUCCESS` if the deposit was stored or queued, else `FAILED`.
//!
//! A hangup before the recording gives `FAILED`; a hangup during or after it keeps the
//! message (if long enough) and gives `SUCCESS`.
//!
//! # Differences from Asterisk
//!
//! Deliberate, each with its reason:
//! * **Full mailbox and quota**: `vm-mailboxfull`, `VMSTATUS=FAILED`, and the dialplan goes
//!   on, as Asterisk's file storage does. Asterisk's IMAP storage hangs the call up
//!   instead, and on a quota leaves `VMSTATUS` unset: the dialplan cannot react.
//! * **One capacity decision**: the store's answer, asked at the start of the call (beside
//!   the greeting lookups, so that the caller waits for one round trip only) and acted on
//!   after the intro, where Asterisk checks. Nothing is checked again when storing: IMAP
//!   mode's second check loses the message recorded into the last free slot after the
//!   caller has spoken it. A box may thus end one message over `maxmsg` when two callers
//!   race for its last slot.
//! * **Store down at the start** ([`Admission::Unavailable`]): the caller may still leave
//!   the message; the deposit goes through the binding's outbox. IMAP mode hangs up with
//!   no `VMSTATUS`.
//! * **The deposit's outcome sets `VMSTATUS`**: `FAILED` if the message could be neither
//!   stored nor queued (Asterisk says `SUCCESS` even when its store-time check drops the
//!   message). The caller has heard the thank-you by then, as in Asterisk; nothing more is
//!   said.
//! * **Several recipients**: one [`Deposit`] naming them all; the binding appends one
//!   message per recipient. (IMAP mode's `COPY` on the sender's stream does not reach the
//!   other accounts.)
//! * **`0` with `operator=yes` but no extension `o`**: Asterisk leaves `VMSTATUS` unset;
//!   imapvm sets `SUCCESS` or `FAILED` from what became of the message.
//! * **What the caller said is never lost to a hangup**: a hangup in the operator save
//!   menu keeps the message (Asterisk takes it for "any other key" and deletes it); a
//!   hangup during the `vm-intro`/`beep` of a re-recording keeps the previous recording
//!   (Asterisk deletes it yet says `SUCCESS`); a hangup the recorder could not measure
//!   keeps the file with an unknown length ([`Deposit::duration_secs`] `None`), whatever
//!   `minsecs` says.
//! * **A hangup during the beep** records nothing and gives `FAILED` (Asterisk stores an
//!   empty message when `minsecs=0`).
//! * **A recorder failure** ([`RecordEnd::Failed`]) discards whatever is there and gives
//!   `FAILED`; the dialplan goes on. (Asterisk treats it as a hangup.) On a re-recording
//!   this gives up the previous take too, since the file may be half overwritten.
//! * **No exit after a hangup**: a dead channel cannot move in the dialplan; `VMSTATUS`
//!   is still given (AGI's `SET VARIABLE` works on a dead channel and the `h` extension
//!   sees it).
//! * IMAP mode's faults are not copied: "delete" in the operator menu really deletes the
//!   recording (`vm_imap_delete` looks for a greeting and leaves it), and a greetings-only
//!   mailbox does not crash.
//!
//! Forced by AGI, or left out:
//! * `minsecs` is compared with the length the recorder reports, in whole seconds.
//!   Asterisk compares the "sound duration", with silence subtracted; `RECORD FILE` does
//!   not report silence.
//! * The beep is its own uninterruptible prompt and `RECORD FILE` runs **without** its
//!   `BEEP` argument, which would play a second beep (`asterisk-peer/README.md`).
//!   Asterisk's recorder also gives up after 2 + 2 s without audio; `RECORD FILE` does not.
//! * The review menu waits once for 6.6 s after `vm-reachoper` where Asterisk waits 0.6 s
//!   and then 6 s: a key in either wait does the same.
//! * No mailbox argument: [`ArgsError::NoMailbox`] (Asterisk asks with `vm-whichbox`). A
//!   malformed `&` entry is an [`ArgsError`] too; a well-formed recipient the binding does
//!   not know is skipped at deposit time, as Asterisk skips it.
//! * Options `d(context)` (AGI cannot tell which keys start an extension), `g(gain)` (DAHDI
//!   only) and `e` (the AGI leg is already answered) are accepted and ignored, as are
//!   VoiceMailMain's `p`, `a(…)`, `r` and unknown letters ([`LeaveOptions::ignored`]).
//! * `VM_MESSAGEFILE` is not set, and the IMAP `expungeonhangup` step is not the IVR's.
//!
//! # Design notes
//!
//! Where this API differs from the design sketch (architecture review §6.1), and why:
//! * `VMSTATUS` and the dialplan exit travel only in [`Action::Finished`], not as
//!   `SetVariable`/`Goto` channel actions: `VMSTATUS` must be set after a hangup too, and
//!   no channel action may follow a hangup; one place for it keeps the two from
//!   disagreeing.
//! * Every answer names its action ([`ActionId`]), the digit and the timeout of a wait
//!   too, so a stale or crossed answer is a [`Misuse`] instead of a wrong turn.
//! * [`Call::poll_action`] cannot fail: the call decides its next channel action only from
//!   the answer to the previous one, so there is never a second one to hand out.
//! * The invented greeting is one [`ChannelAction::Play`] of [`Prompt::Digit`]s, exactly
//!   the files `ast_say_digit_str` plays, so that it stops at the first escape key like
//!   Asterisk's (and costs one action, not three). `SayNumber`, `SayDigits`,
//!   `SayDateTime` and `Hangup` are defined for VoiceMailMain; VoiceMail emits none.
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
mod listing;
mod login_guard;
mod names;
mod prompt;
mod retrieve;
mod settings;

pub use args::{
    ArgsError, Beep, GreetingOption, LeaveArgs, LeaveOptions, MAX_OPTIONS, MAX_RECIPIENTS,
    MainArgs, MainOptions,
};
pub use call::{Call, Flow, Misuse};
pub use imapvm_policy::Folder;
pub use imapvm_types::{MailboxId, Secret, Uid, UidSet, UidValidity};
pub use io::{
    Action, ActionId, Admission, ChannelAction, Deposit, DepositOutcome, Exit, ExitExtension,
    FullBy, GreetingKind, Input, RecordEnd, RecordSpec, StoreOp, StoreReply, Tick, Urgency,
    VmStatus,
};
pub use keys::{Dtmf, Keys};
pub use leave::Leave;
pub use listing::{
    AuthReply, BoxLookup, Fetched, Granted, Listing, MAX_CALLER_ID, MAX_LISTED, Marked,
    MessageInfo, MessageRef, Moved, PasswordChange, StoreUnavailable, Summary, TargetCheck,
};
pub use login_guard::{Locked, LockoutPolicy, LoginGuard};
pub use names::{MAX_FORMAT, MAX_SPOOL_NAME, NameError, RecordFormat, SpoolName};
pub use prompt::{Digit, Prompt};
pub use retrieve::{Main, Recordings, WRONG_PIN_DELAY};
pub use settings::{DEFAULT_DATE_FORMAT, Dialplan, Settings, ZoneMessages};
