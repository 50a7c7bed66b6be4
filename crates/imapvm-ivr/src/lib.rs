//! Asterisk's voicemail call flows as a deterministic state machine: `VoiceMail()` (leave
//! a message, [`Flow::Leave`]) and `VoiceMailMain()` (log in and listen,
//! [`Flow::Main`]), on the same [`Call`].
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
//! does no I/O. The binding also answers the channel before the call starts (both
//! applications answer at once), sets `VMSTATUS` and the exit from [`Action::Finished`],
//! and builds the stored email from a [`Deposit`] exactly as `imapvm deposit` does. For
//! VoiceMailMain it also checks passwords against voicemail.conf (and runs `externpass`),
//! owns the lockout across calls ([`LoginGuard`]), removes the session's spool files after
//! [`Action::Finished`], and publishes the new MWI counts after it.
//!
//! # The VoiceMail flow
//!
//! [`LeaveArgs::parse`] reads `agi://HOST:4573/voicemail,BOX@CONTEXT[&BOX2@CTX2…],OPTIONS`;
//! [`Flow::Leave`] runs it, step for step as Asterisk 22's `leave_voicemail` and
//! `play_record_review` (the reference is `docs/reference/asterisk-voicemail-ivr.md` §1):
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
//! # The VoiceMailMain flow
//!
//! [`MainArgs::parse`] reads `agi://HOST:4573/voicemailmain,[BOX][@CONTEXT],OPTIONS` (`s`,
//! `p`, `a(folder)`, `r`; with a single field, leading `s` and `p` are options, Asterisk's
//! old syntax); [`Flow::Main`] runs it as Asterisk 22's `vm_execmain` does (reference
//! `docs/reference/asterisk-voicemail-ivr.md` §2), on UIDs:
//!
//! 1. **Login** (`vm_authenticate`). A given box the binding found ([`Main::named`]) is
//!    not asked for: `vm-password` only (nothing with `s` or an empty password). Otherwise
//!    `vm-login`, read while it plays (10 s for the first digit, 2 s for the others, `#`
//!    ends), then [`StoreOp::Lookup`] (voicemail.conf only) and `vm-password`. An empty
//!    entry logs in to the caller ID; `*` leaves to extension `a` of the current context;
//!    `p` puts the prefix in front. [`StoreOp::Authenticate`] checks the password. A
//!    wrong one is answered after [`WRONG_PIN_DELAY`] (the call's one deadline,
//!    [`Call::poll_timeout`]) by `vm-incorrect-mailbox` (the mailbox is asked again) or,
//!    for a given box or the last of `maxlogins` tries, `vm-incorrect`; after the last,
//!    `vm-goodbye`. A locked box ([`AuthReply::Locked`]) hears `im-sorry`
//!    `please-try-call-later` `vm-goodbye`. [`Call::expects_secret`] marks the answers
//!    that are password digits; they live in [`Secret`]s and are never shown.
//! 2. **Start**. One [`StoreOp::Summary`] gives the urgent, new and old messages of
//!    `imapfolder` (the counts and the starting list: urgent if any, else new, else old);
//!    `a(N)` lists folder N unless urgent messages come first. A new user (password =
//!    number, with `forcename`/`forcegreetings`) records the missing greetings and a new
//!    password first. `vm-mailboxfull` warns of a full box, `vm-tempgreetactive` of a
//!    temporary greeting (`tempgreetwarn`); then the intro, "you have N urgent and N new
//!    and N old messages" as `vm_intro_en` says it. Login plus intro cost two store ops
//!    with the box given (Authenticate, Summary): at most three IMAP round trips warm.
//! 3. **Main menu**, Asterisk's keys: `1` first message, `5` repeat, `4`/`6` previous and
//!    next (`messagewrap`; from the urgent list on to the new one and back), `7`
//!    delete/undelete (`nextaftercmd`), `8` forward, `9` save, `2` change folder, `3`
//!    advanced, `0` mailbox options, `*` help, `#` goodbye; any key during a prompt is the
//!    next command. The instructions wait 6 s; three silences per session end it.
//! 4. **A message**: `vm-first`/`vm-last`/"message N", `vm-Urgent`, the category, the date
//!    ([`ChannelAction::SayDateTime`], the box's `[zonemessages]` zone and format or
//!    `'vm-received' q 'digits/at' IMp`), the caller (`saycid`, `cidinternalcontexts`),
//!    the length (`sayduration`, `saydurationm`). `1` during it plays the audio at once,
//!    another key skips the audio and is a command. The audio is fetched
//!    ([`StoreOp::Fetch`]) while the header plays and plays with the listen controls
//!    ([`ChannelAction::ControlStream`]: `#` `*` skip by `skipms`, `0` pauses, `2` plays it
//!    again, other digits stop it and are commands), after the forward comment if any;
//!    it is marked `\Seen` ([`StoreOp::MarkSeen`]) when it starts.
//! 5. **Deletes** are marks until the session ends: at `#`, a goodbye, a call out or a
//!    hangup, one [`StoreOp::Expunge`] per folder names exactly the marked UIDs
//!    ([`Call::pending_deletes`]). **Save** is [`StoreOp::Move`]; the folder prompt
//!    (`vm-savefolder`/`vm-changeto`, then up to four rounds of the list) takes 0-9, `#`
//!    cancels. **Change folder** lists it ([`StoreOp::List`]).
//! 6. **Forward** (`8`): `vm-extension`, targets separated by `*`, each checked
//!    ([`StoreOp::CheckTarget`], in the argument's context) and confirmed by name or
//!    number; `vm-forwardoptions`: `1` records a comment (`vm-record-prepend`, beep, review
//!    with the urgent choice), `2` forwards as is, `*` cancels; [`StoreOp::Forward`].
//! 7. **Advanced** (`3`): `1` reply (VoiceMail to the caller's box of the same context,
//!    run inside the session by the leave-message flow), `2` call back (`callback`), `3`
//!    the envelope, `4` dial out (`dialout`), `5` send a new message (`sendvoicemail`, the
//!    forward's target entry, then the leave-message flow); `*` back, `#` goodbye. A call
//!    out leaves with `vm-dialout` and [`Exit`] `{context},{number},1`.
//! 8. **Mailbox options** (`0`): `1`-`3` record the unavailable, busy and name greetings,
//!    `4` the temporary one (its menu: `1` record, `2` erase), `5` the password
//!    (`vm-newpassword`, `vm-reenterpassword`, `minpassword`; `vm-no` when it starts with
//!    `-`); `*` back. A greeting plays `vm-rec-*`, the beep, records (`maxgreet`), then the
//!    review menu: `1` stores it ([`StoreOp::GreetingSet`]), `2` plays it, `3` records
//!    again; four silences drop it.
//! 9. **The end**: VoiceMailMain sets no `VMSTATUS`; [`Action::Finished`] carries the exit
//!    of a call out, of `*` at login, or of the operator from a reply.
//!
//! Each store op maps onto the runtime's existing operations: `Lookup` and
//! `Authenticate` onto voicemail.conf (and [`LoginGuard`]), `Summary` onto the listing of
//! all of `imapfolder` (one warm round trip) with the quota, `List` onto a folder's
//! listing, `Fetch` onto `play` with peek, `MarkSeen` onto `set_flag` mark-read, `Expunge`
//! onto `delete` of exactly those UIDs, `Move` onto `move_to`, `Forward` onto `forward`,
//! `CheckTarget` onto voicemail.conf and the target's admission count, with its `greet`
//! fetched for the confirmation, `Greeting` (the temporary greeting's existence, a
//! caller's recorded name, the new user's greetings), `GreetingSet` and `GreetingDelete`
//! onto the greeting operations, `ChangePassword` onto the `passwordlocation` write, and
//! `Admit`/`Deposit`/`Discard` (reply, send) as for VoiceMail.
//!
//! # Differences from Asterisk
//!
//! In VoiceMail, deliberate, each with its reason:
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
//! In VoiceMail, forced by AGI, or left out:
//! * `minsecs` is compared with the length the recorder reports, in whole seconds.
//!   Asterisk compares the "sound duration", with silence subtracted; `RECORD FILE` does
//!   not report silence.
//! * The beep is its own uninterruptible prompt and `RECORD FILE` runs **without** its
//!   `BEEP` argument, which would play a second beep (`docs/reference/asterisk-peer.md`).
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
//! In VoiceMailMain, deliberate, each with its reason:
//! * **Lockout** ([`LoginGuard`], the binding's): five wrong passwords within 15 minutes
//!   lock the box for 15 minutes, the right password included; the caller hears
//!   `im-sorry` `please-try-call-later` `vm-goodbye`. Asterisk has none.
//! * **A pause after a wrong password**: [`WRONG_PIN_DELAY`] (2 s) before the answer.
//!   Asterisk answers at once.
//! * **Outages are said**: a store op that fails mid-call gives `im-sorry`
//!   `please-try-again`, nothing done, and the menu it came from; a session that cannot
//!   start gives `im-sorry` `please-try-call-later` `vm-goodbye`. Asterisk is silent or
//!   hangs up.
//! * **Deletes are applied once, at the end** (exit, call out or hangup), one `Expunge`
//!   of exactly the marked UIDs per folder. Asterisk expunges whenever it closes a folder
//!   (a folder change, the urgent/new switches), and `0` re-opens the folder without
//!   closing it, which loses the marks. In imapvm a mark survives a folder change and the
//!   options (`0` keeps the list, the current message and the marks; Asterisk re-opens the
//!   folder, and the new list instead of the urgent one).
//! * **`\Seen` when the audio starts**, not when the envelope starts: a message skipped at
//!   its envelope stays new. (Asterisk's IMAP fetch marks it either way.)
//! * **Save moves** (MOVE, or UID COPY and UID EXPUNGE of it): the message leaves its
//!   folder, as in Asterisk's file storage (IMAP storage copies and keeps it). It stays in
//!   the session's list, as in Asterisk; once it is in another folder, playing it again
//!   plays the copy already fetched, forwarding or saving it again finds it gone, and
//!   deleting it changes nothing.
//! * **Confirmations follow the store**: "message N saved to …", `vm-msgforwarded`,
//!   `vm-msgsaved` (a greeting), `vm-tempremoved`, `vm-passchanged` come after the store
//!   said yes (Asterisk says `vm-msgsaved` before storing a greeting).
//! * **No misleading turns**: `4` at the first new message plays the last urgent one
//!   (Asterisk plays the one before it, or says `vm-nomore` with a single urgent
//!   message), and only from the new list (Asterisk jumps to the urgent list from any
//!   folder); `nextaftercmd` at the last urgent message plays the first new one (Asterisk
//!   is left with no current message); a digit in the fourth round of the folder list
//!   chooses (Asterisk cancels); the empty old list is "no old messages" (Asterisk's IMAP
//!   storage says "no new messages"); the warning of a full box counts urgent + new + old,
//!   as the deposit does, and is said once (Asterisk counts new + old and may say it
//!   twice); a message without `Orig-time` plays without a date (Asterisk skips it).
//! * **Send reaches every target** entered (Asterisk sends to the first only), looked up
//!   in the argument's context or `default` (Asterisk's send without `@context` looks up
//!   `box@(null)`).
//! * **The call-back menu gives up** after four silences (Asterisk asks forever).
//! * **Reply and send** run the leave-message flow with the session's settings (Asterisk
//!   uses the target's per-box limits) and set no `VMSTATUS` (Asterisk's `leave_voicemail`
//!   sets it); `*` in their greeting gives up the message and returns to the menu (Asterisk
//!   returns too, but leaves to `a` when the session ends); the operator (`0`, `operator=yes`
//!   and extension `o`) ends the session at `o` as in Asterisk, and without extension `o`
//!   the menu comes back (Asterisk ends the session).
//! * **No operator** while recording a greeting or a forward comment, and in the comment's
//!   review `0` is `vm-sorry` (Asterisk offers its operator save menu there, which for a
//!   greeting saves without storing it).
//! * **The target's name is not interruptible** in a forward (Asterisk's `#` there ends
//!   the whole session).
//! * Where Asterisk overwrites a prompt's result, the key is lost here too (`vm-first`
//!   before "urgent", `vm-from…`, `vm-duration`, the category, the warnings, the new
//!   user's prompts, `vm-marked-urgent` in a review, `vm-tempremoved`); in the help, a
//!   key during `vm-onefor-full` acts (Asterisk loses it there).
//!
//! In VoiceMailMain, forced by AGI, or left out:
//! * `usedirectory` is not acted on: a forward always asks for the extension
//!   (`Directory()` cannot be run over AGI and read back).
//! * `CONTROL STREAM FILE` has no restart key: `2` stops the audio and the IVR plays it
//!   again from the start.
//! * `saycid` does not look for `recordings/callerids/{number}`: an outside caller is said
//!   as "from phone number" and the digits.
//! * `externpasscheck` answers at [`StoreOp::ChangePassword`], after the password was
//!   typed twice (Asterisk checks before the second entry).
//! * English only: a box's `language=` is not applied; option `g(gain)`, ADSI and
//!   `expungeonhangup` (deletes are expunged anyway) have no effect.
//!
//! # Design notes
//!
//! Where this API differs from the design it was first sketched with, and why:
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
//!   Asterisk's (and costs one action, not three). VoiceMailMain says counts with
//!   `SayNumber` but the folder list's 0-4 as `digits/N` in its `Play`s, the files
//!   `ast_say_number` plays for them in English.
//! * VoiceMailMain's sequences of prompts are *speeches*: consecutive prompts a key ends
//!   are one `Play`; a prompt whose key Asterisk ignores is its own `Play` (the key stops
//!   it, the next one plays).
//! * Its store ops name messages by [`MessageRef`] (list folder, UIDVALIDITY, UID) and
//!   carry [`Folder`] from `imapvm-policy`; a reply names its op's outcome in a type of
//!   its own ([`Fetched`], [`Moved`], [`TargetCheck`], …), with
//!   [`StoreUnavailable`] for a store that could not be asked.
//! * The deadline after a wrong password is the IVR's ([`Call::poll_timeout`]); no action
//!   is outstanding meanwhile, so that the binding need not invent a silent prompt.
//! * The lockout is [`LoginGuard`], a pure type the binding owns across calls: a call's
//!   state dies with the call.
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
mod leave;
mod listing;
mod login_guard;
mod names;
mod outbox;
mod prompt;
mod retrieve;
mod settings;

pub use args::{
    ArgsError, Beep, GreetingOption, LeaveArgs, LeaveOptions, MAX_OPTIONS, MAX_RECIPIENTS,
    MainArgs, MainOptions,
};
pub use call::{Call, Flow};
pub use imapvm_policy::Folder;
pub use imapvm_types::{Dtmf, DtmfSet, MailboxId, Secret, Uid, UidSet, UidValidity};
pub use io::{
    Action, ActionId, Admission, ChannelAction, Deposit, DepositOutcome, Exit, ExitExtension,
    FullBy, GreetingKind, Input, RecordEnd, RecordSpec, StoreOp, StoreReply, Tick, Urgency,
    VmStatus,
};
pub use leave::Leave;
pub use listing::{
    AuthReply, BoxLookup, Fetched, Granted, Listing, MAX_CALLER_ID, MAX_LISTED, Marked,
    MessageInfo, MessageRef, Moved, PasswordChange, StoreUnavailable, Summary, TargetCheck,
};
pub use login_guard::{Locked, LockoutPolicy, LoginGuard};
pub use names::{MAX_FORMAT, MAX_SPOOL_NAME, NameError, RecordFormat, SpoolName};
pub use outbox::Misuse;
pub use prompt::{Digit, Prompt};
pub use retrieve::{Main, Recordings, WRONG_PIN_DELAY};
pub use settings::{DEFAULT_DATE_FORMAT, Dialplan, Settings, ZoneMessages};
