//! [`Prompt`]: Asterisk's sound files by name (`Prompt::VmMailboxfull` → `vm-mailboxfull`),
//! the `digits/N` files, and files the binding names ([`Prompt::File`]).
//!
//! The names and the "when played" notes follow the prompt table of the Asterisk 22
//! reference (`docs/reference/asterisk-voicemail-ivr.md` §3); [`Prompt::ALL`] lists every
//! name so a prompt table (docs/phone.md) can be generated from this enum and checked for
//! drift.

use crate::names::SpoolName;
use imapvm_policy::Folder;
use std::fmt;

/// One decimal digit, `0`-`9`, as the file `digits/N` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digit(u8);

impl Digit {
    /// The digit `n`; `None` above 9.
    pub const fn new(n: u8) -> Option<Digit> {
        if n <= 9 { Some(Digit(n)) } else { None }
    }

    /// Its value.
    pub const fn value(self) -> u8 {
        self.0
    }

    fn file(self) -> &'static str {
        const FILES: [&str; 10] = [
            "digits/0", "digits/1", "digits/2", "digits/3", "digits/4", "digits/5", "digits/6",
            "digits/7", "digits/8", "digits/9",
        ];
        FILES[usize::from(self.0)]
    }
}

macro_rules! prompts {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal, )*) => {
        /// A sound to play: one of Asterisk's prompts by name, a `digits/N` file, or a file the
        /// binding names.
        ///
        /// [`Prompt::as_str`] gives the name Asterisk's `STREAM FILE` takes. The named
        /// variants are the files of Debian's `asterisk-core-sounds-en` that `VoiceMail()` and
        /// `VoiceMailMain()` play; each variant's doc says when.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Prompt {
            $( $(#[doc = $doc])* $variant, )*
            /// `digits/0` … `digits/9`: one digit, as in the invented greeting
            /// (`vm-theperson` + the mailbox digit by digit).
            Digit(Digit),
            /// A file outside the prompt set: a greeting, the recorded name, the caller's
            /// recording (review key `2`), a custom beep (`t(file)`).
            File(SpoolName),
        }

        impl Prompt {
            /// Every prompt with a fixed name (all but [`Prompt::File`]), the ten digits last.
            pub const ALL: &'static [Prompt] = &[
                $( Prompt::$variant, )*
                Prompt::Digit(Digit(0)), Prompt::Digit(Digit(1)), Prompt::Digit(Digit(2)),
                Prompt::Digit(Digit(3)), Prompt::Digit(Digit(4)), Prompt::Digit(Digit(5)),
                Prompt::Digit(Digit(6)), Prompt::Digit(Digit(7)), Prompt::Digit(Digit(8)),
                Prompt::Digit(Digit(9)),
            ];

            /// The sound file name (`vm-mailboxfull`, `digits/4`, or the [`SpoolName`]).
            pub fn as_str(&self) -> &str {
                match self {
                    $( Prompt::$variant => $name, )*
                    Prompt::Digit(d) => d.file(),
                    Prompt::File(name) => name.as_str(),
                }
            }

            /// What the variant's documentation says about when Asterisk plays it (empty
            /// for [`Prompt::File`]); the text of a generated prompt table.
            pub fn when_played(&self) -> &'static str {
                match self {
                    $( Prompt::$variant => concat!($($doc),*).trim_ascii(), )*
                    Prompt::Digit(_) => "numbers, digit strings (the invented greeting), dates",
                    Prompt::File(_) => "",
                }
            }
        }
    };
}

prompts! {
    // ---- VoiceMail() (leave a message) ----
    /// VoiceMail without a mailbox argument: asks for a mailbox (not used by imapvm).
    VmWhichbox = "vm-whichbox",
    /// Invented greeting, before the mailbox digits.
    VmTheperson = "vm-theperson",
    /// Invented greeting, end, with option `b`.
    VmIsonphone = "vm-isonphone",
    /// Invented greeting, end, otherwise.
    VmIsunavail = "vm-isunavail",
    /// Instructions before the beep (skipped with `s`, or after `#`); also before a re-recording.
    VmIntro = "vm-intro",
    /// Before every recording.
    Beep = "beep",
    /// A recording ended by `#`, silence or the maximum length.
    AuthThankyou = "auth-thankyou",
    /// The operator exit to extension `o`.
    Transfer = "transfer",
    /// The mailbox is full or over quota (deposit, save, forward; IMAP login warning).
    VmMailboxfull = "vm-mailboxfull",
    /// Review menu: 1 accept, 2 listen, 3 re-record.
    VmReview = "vm-review",
    /// Review menu with `leaveurgent=yes`: 4 marks the message urgent.
    VmReviewUrgent = "vm-review-urgent",
    /// Review menu with `leaveurgent=yes`, message already urgent: 4 removes the mark.
    VmReviewNonurgent = "vm-review-nonurgent",
    /// Review menu with `operator=yes`: 0 reaches the operator.
    VmReachoper = "vm-reachoper",
    /// Review menu when no recording exists.
    VmTorerecord = "vm-torerecord",
    /// Review key 4: the message is now urgent.
    VmMarkedUrgent = "vm-marked-urgent",
    /// Review key 4: the message is no longer urgent.
    VmMarkedNonurgent = "vm-marked-nonurgent",
    /// Key 0 during or after the recording: 1 saves, 4 saves as urgent, anything else deletes.
    VmSaveoper = "vm-saveoper",
    /// Review key 1 (message or greeting): saved.
    VmMsgsaved = "vm-msgsaved",
    /// The operator path without saving; VoiceMailMain key 7.
    VmDeleted = "vm-deleted",
    /// An invalid choice.
    VmSorry = "vm-sorry",
    /// Exit; review timeout; login failure.
    VmGoodbye = "vm-goodbye",
    // ---- VoiceMailMain() (listen to messages) ----
    /// Mailbox prompt.
    VmLogin = "vm-login",
    /// Password prompt.
    VmPassword = "vm-password",
    /// Wrong login, last try or mailbox given.
    VmIncorrect = "vm-incorrect",
    /// Wrong login: asks for the mailbox again.
    VmIncorrectMailbox = "vm-incorrect-mailbox",
    /// New-user setup start.
    VmNewuser = "vm-newuser",
    /// Recording the name.
    VmRecName = "vm-rec-name",
    /// Recording the unavailable greeting.
    VmRecUnv = "vm-rec-unv",
    /// Recording the busy greeting.
    VmRecBusy = "vm-rec-busy",
    /// Recording the temporary greeting.
    VmRecTemp = "vm-rec-temp",
    /// Password change: enter the new password.
    VmNewpassword = "vm-newpassword",
    /// Password change: enter it again.
    VmReenterpassword = "vm-reenterpassword",
    /// Password change: the new password is refused.
    VmInvalidPassword = "vm-invalid-password",
    /// Password change: the two entries differ.
    VmMismatch = "vm-mismatch",
    /// Password change: try again.
    VmPlsTryAgain = "vm-pls-try-again",
    /// Password change: done.
    VmPasschanged = "vm-passchanged",
    /// `tempgreetwarn=yes` at login: a temporary greeting is active.
    VmTempgreetactive = "vm-tempgreetactive",
    /// Intro and empty-folder sentences: "you have".
    VmYouhave = "vm-youhave",
    /// Counts and folder names: "urgent"; also before an urgent message.
    VmUrgent = "vm-Urgent",
    /// Counts and folder names: "new".
    VmInbox = "vm-INBOX",
    /// Counts and folder names: "old".
    VmOld = "vm-Old",
    /// Folder name: work.
    VmWork = "vm-Work",
    /// Folder name: family.
    VmFamily = "vm-Family",
    /// Folder name: friends.
    VmFriends = "vm-Friends",
    /// Folder name: folder 5.
    VmCust1 = "vm-Cust1",
    /// Folder name: folder 6.
    VmCust2 = "vm-Cust2",
    /// Folder name: folder 7.
    VmCust3 = "vm-Cust3",
    /// Folder name: folder 8.
    VmCust4 = "vm-Cust4",
    /// Folder name: folder 9.
    VmCust5 = "vm-Cust5",
    /// Intro: "and".
    VmAnd = "vm-and",
    /// "message" (intro, message header, save confirmation).
    VmMessage = "vm-message",
    /// "messages".
    VmMessages = "vm-messages",
    /// "no" (intro, empty folder; also when the password is locked).
    VmNo = "vm-no",
    /// Main menu: "press 1 for …".
    VmOnefor = "vm-onefor",
    /// Main menu help variant.
    VmOneforFull = "vm-onefor-full",
    /// Main menu options at the start.
    VmOpts = "vm-opts",
    /// Main menu options, help variant.
    VmOptsFull = "vm-opts-full",
    /// After-message menu: previous message.
    VmPrev = "vm-prev",
    /// After-message menu: advanced options.
    VmAdvopts = "vm-advopts",
    /// After-message menu: repeat.
    VmRepeat = "vm-repeat",
    /// After-message menu: next message.
    VmNext = "vm-next",
    /// After-message menu: delete.
    VmDelete = "vm-delete",
    /// After-message menu: undelete.
    VmUndelete = "vm-undelete",
    /// After-message menu: forward.
    VmToforward = "vm-toforward",
    /// After-message menu: save.
    VmSavemessage = "vm-savemessage",
    /// Menus: help and exit.
    VmHelpexit = "vm-helpexit",
    /// Key 7 toggle: undeleted.
    VmUndeleted = "vm-undeleted",
    /// No previous or next message.
    VmNomore = "vm-nomore",
    /// Key 2: change to which folder.
    VmChangeto = "vm-changeto",
    /// Key 9: save to which folder.
    VmSavefolder = "vm-savefolder",
    /// Folder list: "press".
    VmPress = "vm-press",
    /// Folder list: "for".
    VmFor = "vm-for",
    /// Folder list: to cancel.
    VmTocancel = "vm-tocancel",
    /// After key 9: saved to.
    VmSavedto = "vm-savedto",
    /// Message header: first.
    VmFirst = "vm-first",
    /// Message header: last.
    VmLast = "vm-last",
    /// Envelope: received (date format).
    VmReceived = "vm-received",
    /// Envelope: from (a recorded name).
    VmFrom = "vm-from",
    /// Envelope: from extension.
    VmFromExtension = "vm-from-extension",
    /// Envelope: from phone number.
    VmFromPhonenumber = "vm-from-phonenumber",
    /// Envelope: unknown caller.
    VmUnknownCaller = "vm-unknown-caller",
    /// Envelope: duration (at least `saydurationm` minutes).
    VmDuration = "vm-duration",
    /// Envelope: minutes.
    VmMinutes = "vm-minutes",
    /// Forward with `usedirectory=yes`: 1 extension, 2 directory.
    VmForward = "vm-forward",
    /// Forward / send: enter the target extension.
    VmExtension = "vm-extension",
    /// Forward / send: invalid target.
    PbxInvalid = "pbx-invalid",
    /// Forward options: 1 prepend, 2 forward as is.
    VmForwardoptions = "vm-forwardoptions",
    /// Forward options and advanced menu: star for the main menu.
    VmStarmain = "vm-starmain",
    /// Forward: record a comment to prepend.
    VmRecordPrepend = "vm-record-prepend",
    /// Dial-out prompt; file-mode prepend timeout: then press pound.
    VmThenPound = "vm-then-pound",
    /// Forward done.
    VmMsgforwarded = "vm-msgforwarded",
    /// Advanced menu: reply.
    VmToreply = "vm-toreply",
    /// Advanced menu: call back.
    VmTocallback = "vm-tocallback",
    /// Advanced menu: hear the envelope.
    VmTohearenv = "vm-tohearenv",
    /// Advanced menu: make an outgoing call.
    VmTomakecall = "vm-tomakecall",
    /// Advanced menu: leave a message.
    VmLeavemsg = "vm-leavemsg",
    /// Reply / call back: no number.
    VmNonumber = "vm-nonumber",
    /// Reply: no such mailbox.
    VmNobox = "vm-nobox",
    /// Call back: the number I have is.
    VmNumIHave = "vm-num-i-have",
    /// Call back: to call this number.
    VmTocallnum = "vm-tocallnum",
    /// Call back: to call a different number.
    VmCalldiffnum = "vm-calldiffnum",
    /// Call back: to enter a number.
    VmToenternumber = "vm-toenternumber",
    /// Call back / dial-out: star to cancel.
    VmStarCancel = "vm-star-cancel",
    /// Dial-out: enter the number to call.
    VmEnterNumToCall = "vm-enter-num-to-call",
    /// Exit to a call (call back, dial-out).
    VmDialout = "vm-dialout",
    /// Mailbox options: 1 unavailable, 2 busy, 3 name, 4 temporary, 5 password.
    VmOptions = "vm-options",
    /// Mailbox options: a temporary greeting exists.
    VmTmpexists = "vm-tmpexists",
    /// Temporary greeting menu (never reached in Asterisk 22).
    VmTempgreeting = "vm-tempgreeting",
    /// Temporary greeting menu: 1 re-record, 2 erase.
    VmTempgreeting2 = "vm-tempgreeting2",
    /// Temporary greeting erased.
    VmTempremoved = "vm-tempremoved",
    /// A key said aloud: `*` (`ast_say_digit_str`).
    DigitsStar = "digits/star",
    /// A key said aloud: `#`.
    DigitsPound = "digits/pound",
    /// A `-` said aloud.
    DigitsMinus = "digits/minus",
    // ---- imapvm only: the store failed ----
    /// imapvm: an operation on the store failed ("I'm sorry."), before `please-try-again`
    /// mid-call, or `please-try-call-later` when the session cannot start.
    ImSorry = "im-sorry",
    /// imapvm: after `im-sorry` when a store operation failed mid-call; the menu follows.
    PleaseTryAgain = "please-try-again",
    /// imapvm: after `im-sorry` when the session cannot start (store down, mailbox locked
    /// after repeated wrong passwords); `vm-goodbye` follows.
    PleaseTryCallLater = "please-try-call-later",
}

impl Prompt {
    /// `vm-{Folder}`: a folder's name as VoiceMailMain says it (`vm-INBOX` is "new").
    /// `Deleted` and `Greetings` have no prompt and are never said; they map to `vm-INBOX`.
    pub(crate) fn folder(folder: Folder) -> Prompt {
        match folder {
            Folder::Old => Prompt::VmOld,
            Folder::Work => Prompt::VmWork,
            Folder::Family => Prompt::VmFamily,
            Folder::Friends => Prompt::VmFriends,
            Folder::Cust1 => Prompt::VmCust1,
            Folder::Cust2 => Prompt::VmCust2,
            Folder::Cust3 => Prompt::VmCust3,
            Folder::Cust4 => Prompt::VmCust4,
            Folder::Cust5 => Prompt::VmCust5,
            Folder::Urgent => Prompt::VmUrgent,
            Folder::Inbox | Folder::Deleted | Folder::Greetings => Prompt::VmInbox,
        }
    }

    /// `digits/N` for a decimal digit `n` (0-9); what `ast_say_number` plays for it in
    /// English.
    pub(crate) fn digit(n: u8) -> Option<Prompt> {
        Digit::new(n).map(Prompt::Digit)
    }

    /// The files Asterisk's `ast_say_digit_str` plays for `text`: `digits/0`-`digits/9`,
    /// `digits/star`, `digits/pound`, `digits/minus`; other characters are skipped, as
    /// Asterisk skips them.
    pub fn say_digits(text: &str) -> impl Iterator<Item = Prompt> + '_ {
        text.chars().filter_map(|c| match c {
            '0'..='9' => Digit::new(c as u8 - b'0').map(Prompt::Digit),
            '*' => Some(Prompt::DigitsStar),
            '#' => Some(Prompt::DigitsPound),
            '-' => Some(Prompt::DigitsMinus),
            _ => None,
        })
    }
}

impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_asterisks_and_unique() {
        assert_eq!(Prompt::VmMailboxfull.as_str(), "vm-mailboxfull");
        assert_eq!(Prompt::VmInbox.as_str(), "vm-INBOX");
        assert_eq!(Prompt::Digit(Digit::new(7).unwrap()).as_str(), "digits/7");
        let names: HashSet<&str> = Prompt::ALL.iter().map(Prompt::as_str).collect();
        assert_eq!(names.len(), Prompt::ALL.len(), "a name appears twice");
        for p in Prompt::ALL {
            assert!(!p.when_played().is_empty(), "{p} has no description");
            let name = p.as_str();
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_graphic()),
                "{name:?}"
            );
        }
        assert_eq!(
            Prompt::VmSaveoper.when_played(),
            "Key 0 during or after the recording: 1 saves, 4 saves as urgent, anything else deletes."
        );
    }

    #[test]
    fn digits_are_said_as_ast_say_digit_str_says_them() {
        let said: Vec<String> = Prompt::say_digits("12*#-x9")
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            said,
            [
                "digits/1",
                "digits/2",
                "digits/star",
                "digits/pound",
                "digits/minus",
                "digits/9"
            ]
        );
        assert_eq!(Digit::new(10), None);
        assert_eq!(Digit::new(9).map(Digit::value), Some(9));
    }
}
